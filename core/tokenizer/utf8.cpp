#include "core/tokenizer/utf8.h"

namespace gp {

std::optional<size_t> firstInvalidUtf8(std::string_view text) {
    const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
    const size_t n = text.size();
    size_t i = 0;
    while (i < n) {
        const unsigned char lead = bytes[i];
        if (lead < 0x80) {
            ++i;
            continue;
        }
        size_t length = 0;
        char32_t minimum = 0;
        char32_t codePoint = 0;
        if (lead >= 0xC2 && lead <= 0xDF) {
            length = 2, minimum = 0x80, codePoint = lead & 0x1F;
        } else if (lead >= 0xE0 && lead <= 0xEF) {
            length = 3, minimum = 0x800, codePoint = lead & 0x0F;
        } else if (lead >= 0xF0 && lead <= 0xF4) {
            length = 4, minimum = 0x10000, codePoint = lead & 0x07;
        } else {
            return i;
        }
        if (i + length > n) return i;
        for (size_t k = 1; k < length; ++k) {
            if ((bytes[i + k] & 0xC0) != 0x80) return i;
            codePoint = (codePoint << 6) | (bytes[i + k] & 0x3F);
        }
        if (codePoint < minimum || codePoint > 0x10FFFF) return i;
        if (codePoint >= 0xD800 && codePoint <= 0xDFFF) return i;
        i += length;
    }
    return std::nullopt;
}

void appendUtf8(std::string& out, char32_t codePoint) {
    if (codePoint < 0x80) {
        out += char(codePoint);
    } else if (codePoint < 0x800) {
        out += char(0xC0 | (codePoint >> 6));
        out += char(0x80 | (codePoint & 0x3F));
    } else if (codePoint < 0x10000) {
        out += char(0xE0 | (codePoint >> 12));
        out += char(0x80 | ((codePoint >> 6) & 0x3F));
        out += char(0x80 | (codePoint & 0x3F));
    } else {
        out += char(0xF0 | (codePoint >> 18));
        out += char(0x80 | ((codePoint >> 12) & 0x3F));
        out += char(0x80 | ((codePoint >> 6) & 0x3F));
        out += char(0x80 | (codePoint & 0x3F));
    }
}

char32_t decodeUtf8At(std::string_view text, size_t offset, size_t* length) {
    const auto lead = static_cast<unsigned char>(text[offset]);
    size_t n = utf8SequenceLength(lead);
    if (offset + n > text.size()) n = 1;
    char32_t codePoint = n == 1   ? lead
                         : n == 2 ? (lead & 0x1F)
                         : n == 3 ? (lead & 0x0F)
                                  : (lead & 0x07);
    for (size_t k = 1; k < n; ++k)
        codePoint = (codePoint << 6) | (static_cast<unsigned char>(text[offset + k]) & 0x3F);
    *length = n;
    return codePoint;
}

}  // namespace gp
