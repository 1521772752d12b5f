#include "core/runtime/error.h"

namespace gp {
namespace {

std::string composeMessage(const std::string& file, const std::string& object,
                           const std::string& problem) {
    std::string message;
    if (!file.empty()) message += file + ": ";
    if (!object.empty()) message += object + ": ";
    return message + problem;
}

}  // namespace

Error::Error(ErrorKind kind, std::string file, std::string object, std::string problem)
    : std::runtime_error(composeMessage(file, object, problem)),
      m_kind(kind),
      m_file(std::move(file)),
      m_object(std::move(object)),
      m_problem(std::move(problem)) {}

Error badInput(const std::string& file, const std::string& object, const std::string& problem) {
    return Error(ErrorKind::BadInput, file, object, problem);
}

Error badArgument(const std::string& option, const std::string& problem) {
    return Error(ErrorKind::BadArgument, "", option, problem);
}

Error outOfMemory(const std::string& what, const std::string& problem) {
    return Error(ErrorKind::OutOfMemory, "", what, problem);
}

int exitCodeFor(ErrorKind kind) {
    switch (kind) {
        case ErrorKind::BadArgument: return 2;
        case ErrorKind::BadInput: return 3;
        case ErrorKind::OutOfMemory: return 4;
        case ErrorKind::Internal: return 1;
        case ErrorKind::PeerLost: return 5;
    }
    return 1;
}

}  // namespace gp
