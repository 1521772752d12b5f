// UTF-8 encoding rules (not Unicode properties: those come from PCRE2). INTERNAL to the tokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gp {

// Byte length of the sequence a lead byte starts (1 for ASCII and for stray bytes).
inline size_t utf8SequenceLength(unsigned char lead) {
    if (lead < 0xC0) return 1;
    if (lead < 0xE0) return 2;
    if (lead < 0xF0) return 3;
    return 4;
}

// Offset of the first byte that breaks strict UTF-8 (overlong forms, surrogates and code points
// past U+10FFFF count as broken), or nullopt when the whole text is valid.
std::optional<size_t> firstInvalidUtf8(std::string_view text);

// Appends the UTF-8 form of a code point (assumed valid).
void appendUtf8(std::string& out, char32_t codePoint);

// Decodes the (valid) sequence starting at text[offset]; sets *length to its byte count.
char32_t decodeUtf8At(std::string_view text, size_t offset, size_t* length);

}  // namespace gp
