// Reading the user's text files (calibration and evaluation corpora). Plain C++.
#pragma once

#include <string>

namespace gp {

// The whole file as UTF-8 text (a leading UTF-8 byte-order mark removed). Errors (BadInput) naming
// the file: missing or unreadable, empty (or only white space), binary (a NUL byte or invalid
// UTF-8, with the byte offset).
std::string readTextFile(const std::string& path);

// The same checks for text already in memory (the fuzz target's entry point).
void validateText(const std::string& text, const std::string& sourceForErrors);

}  // namespace gp
