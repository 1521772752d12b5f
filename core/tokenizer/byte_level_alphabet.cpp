#include "core/tokenizer/byte_level_alphabet.h"

#include "core/tokenizer/utf8.h"

namespace gp {
namespace {

bool standsForItself(int byte) {
    return (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
           (byte >= 0xAE && byte <= 0xFF);
}

}  // namespace

ByteLevelAlphabet::ByteLevelAlphabet() {
    m_byteOfCodePoint.fill(-1);
    char32_t nextShifted = 256;
    for (int byte = 0; byte < 256; ++byte) {
        const char32_t codePoint = standsForItself(byte) ? char32_t(byte) : nextShifted++;
        appendUtf8(m_charOfByte[byte], codePoint);
        m_byteOfCodePoint[codePoint] = int16_t(byte);
    }
}

void ByteLevelAlphabet::encode(std::string_view bytes, std::string& out) const {
    for (char c : bytes) out += m_charOfByte[static_cast<unsigned char>(c)];
}

std::optional<uint8_t> ByteLevelAlphabet::byteFor(char32_t codePoint) const {
    if (codePoint >= m_byteOfCodePoint.size() || m_byteOfCodePoint[codePoint] < 0)
        return std::nullopt;
    return uint8_t(m_byteOfCodePoint[codePoint]);
}

std::optional<std::string> ByteLevelAlphabet::decode(std::string_view text) const {
    std::string bytes;
    bytes.reserve(text.size());
    for (size_t i = 0; i < text.size();) {
        size_t length = 0;
        const auto byte = byteFor(decodeUtf8At(text, i, &length));
        if (!byte) return std::nullopt;
        bytes += char(*byte);
        i += length;
    }
    return bytes;
}

}  // namespace gp
