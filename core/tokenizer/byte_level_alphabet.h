// GPT-2's reversible map from bytes to printable characters: printable Latin-1 bytes stand for
// themselves, the 68 others (controls, space, soft hyphen...) become U+0100.. in byte order, so
// every byte string is a visible string the BPE vocabulary can spell. INTERNAL to the tokenizer.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace gp {

class ByteLevelAlphabet {
public:
    ByteLevelAlphabet();

    // UTF-8 form of the character standing for `byte` (e.g. 0x20 -> "Ġ", 0x0A -> "Ċ").
    const std::string& charFor(uint8_t byte) const { return m_charOfByte[byte]; }
    // Appends the byte-level spelling of raw bytes.
    void encode(std::string_view bytes, std::string& out) const;
    // The byte a character stands for, nullopt for characters outside the alphabet.
    std::optional<uint8_t> byteFor(char32_t codePoint) const;
    // Decodes a byte-level string back to bytes; nullopt if any character is outside the alphabet.
    std::optional<std::string> decode(std::string_view text) const;

private:
    std::array<std::string, 256> m_charOfByte;
    std::array<int16_t, 324> m_byteOfCodePoint{};  // -1 where no byte maps; max code point 323
};

}  // namespace gp
