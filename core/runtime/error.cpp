#include "core/runtime/error.h"

#include <c10/util/Exception.h>

#include <new>

namespace gp {
namespace {

std::string composeMessage(const std::string& file, const std::string& object,
                           const std::string& problem) {
    std::string message;
    if (!file.empty()) message += file + ": ";
    if (!object.empty()) message += object + ": ";
    return message + problem;
}

std::string firstLine(const std::string& text) {
    return text.substr(0, text.find('\n'));
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

Error currentError() {
    try {
        throw;
    } catch (const Error& error) {
        return error;
    } catch (const std::bad_alloc&) {
        return outOfMemory("", "an allocation failed: not enough memory");
    } catch (const c10::Error& error) {
        // what() carries a C++ backtrace ("frame #0 ..."): only the message's first line is kept.
        const std::string message = firstLine(error.what_without_backtrace());
        const bool allocation = dynamic_cast<const c10::OutOfMemoryError*>(&error) ||
                                message.find("can't allocate memory") != std::string::npos ||
                                message.find("not enough memory") != std::string::npos;
        if (allocation) return outOfMemory("", message);
        return Error(ErrorKind::Internal, "", "LibTorch", message);
    } catch (const std::exception& error) {
        return Error(ErrorKind::Internal, "", "", firstLine(error.what()));
    } catch (...) {
        return Error(ErrorKind::Internal, "", "", "an unknown exception");
    }
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
