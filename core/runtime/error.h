// The one family of exceptions the engine throws. Each carries the file, the object inside it
// (tensor, layer, key, option) and what was wrong, so the CLI can print one line and pick an exit
// code, and the GUI can show a dialog. Plain C++: safe to include from ui/ and app/.
#pragma once

#include <stdexcept>
#include <string>

namespace gp {

enum class ErrorKind {
    BadArgument,  // an option the user gave is invalid (CLI exit 2)
    BadInput,     // a file is missing, malformed or inconsistent (CLI exit 3)
    OutOfMemory,  // the job does not fit, or an allocation failed (CLI exit 4)
    Internal,     // a bug or an unexpected library failure (CLI exit 1)
    PeerLost,     // a distributed run lost a rank: it died or hung (CLI exit 5)
};

class Error : public std::runtime_error {
public:
    // file: the path involved ("" if none); object: the tensor/layer/key/option ("" if none).
    Error(ErrorKind kind, std::string file, std::string object, std::string problem);

    ErrorKind kind() const { return m_kind; }
    const std::string& file() const { return m_file; }
    const std::string& object() const { return m_object; }
    const std::string& problem() const { return m_problem; }

private:
    ErrorKind m_kind;
    std::string m_file;
    std::string m_object;
    std::string m_problem;
};

// Shorthands for the common cases.
Error badInput(const std::string& file, const std::string& object, const std::string& problem);
Error badArgument(const std::string& option, const std::string& problem);
Error outOfMemory(const std::string& what, const std::string& problem);

// What the exception in flight amounts to (call it inside a catch block): a gp::Error as it is;
// an allocation failure (std::bad_alloc, LibTorch's allocator errors) as OutOfMemory; anything
// else as Internal with the first line of its message (never LibTorch's C++ backtrace).
Error currentError();

// Exit code of the CLI for an error kind (DESIGN.md): 2, 3, 4, or 1.
int exitCodeFor(ErrorKind kind);

// Exit code of a cancelled run.
constexpr int kCancelledExitCode = 130;

}  // namespace gp
