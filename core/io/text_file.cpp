#include "core/io/text_file.h"

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

#include "core/runtime/error.h"

namespace gp {
namespace {

constexpr char kByteOrderMark[] = "\xEF\xBB\xBF";

std::string hexByte(unsigned char byte) {
    static const char digits[] = "0123456789ABCDEF";
    return std::string("0x") + digits[byte >> 4] + digits[byte & 15];
}

// Length of the well-formed UTF-8 sequence starting at `at` (RFC 3629: no overlong forms, no
// surrogates, nothing above U+10FFFF), or 0 if it is not one.
size_t utf8SequenceLength(const std::string& text, size_t at) {
    const auto byte = [&](size_t i) { return static_cast<unsigned char>(text[i]); };
    const unsigned char lead = byte(at);
    if (lead < 0x80) return 1;
    size_t length = 0;
    unsigned char low = 0x80, high = 0xBF;  // allowed range of the second byte
    if (lead >= 0xC2 && lead <= 0xDF) {
        length = 2;
    } else if (lead >= 0xE0 && lead <= 0xEF) {
        length = 3;
        if (lead == 0xE0) low = 0xA0;
        if (lead == 0xED) high = 0x9F;
    } else if (lead >= 0xF0 && lead <= 0xF4) {
        length = 4;
        if (lead == 0xF0) low = 0x90;
        if (lead == 0xF4) high = 0x8F;
    } else {
        return 0;
    }
    if (at + length > text.size()) return 0;
    if (byte(at + 1) < low || byte(at + 1) > high) return 0;
    for (size_t i = 2; i < length; ++i)
        if (byte(at + i) < 0x80 || byte(at + i) > 0xBF) return 0;
    return length;
}

bool isAsciiSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

}  // namespace

void validateText(const std::string& text, const std::string& sourceForErrors) {
    const std::string& source = sourceForErrors;
    bool onlySpace = true;
    for (size_t at = 0; at < text.size();) {
        if (text[at] == '\0')
            throw badInput(source, "",
                           "holds a NUL byte at byte offset " + std::to_string(at) +
                               ": a binary file, not text");
        const size_t length = utf8SequenceLength(text, at);
        if (length == 0)
            throw badInput(source, "",
                           "is not valid UTF-8 text: byte " +
                               hexByte(static_cast<unsigned char>(text[at])) + " at byte offset " +
                               std::to_string(at));
        const bool byteOrderMark = at == 0 && text.compare(0, 3, kByteOrderMark) == 0;
        if (!byteOrderMark && (length > 1 || !isAsciiSpace(text[at]))) onlySpace = false;
        at += length;
    }
    if (text.empty()) throw badInput(source, "", "is empty");
    if (onlySpace) throw badInput(source, "", "holds only white space");
}

std::string readTextFile(const std::string& path) {
    std::error_code error;
    if (!std::filesystem::exists(path, error)) throw badInput(path, "", "file not found");
    if (std::filesystem::is_directory(path, error))
        throw badInput(path, "", "is a folder, not a text file");
    std::ifstream in(path, std::ios::binary);
    if (!in)
        throw badInput(path, "",
                       std::string("cannot open the file (") + std::strerror(errno) + ")");
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) throw badInput(path, "", "cannot read the file");
    validateText(text, path);
    // A byte-order mark is an encoding signature, not text: a tokenizer would see a stray token.
    if (text.compare(0, 3, kByteOrderMark) == 0) text.erase(0, 3);
    return text;
}

}  // namespace gp
