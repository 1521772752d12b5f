// Hugging Face decoders that BPE tokenizers use: ByteLevel, Replace, ByteFallback, Fuse, Strip,
// Metaspace, in sequence; they turn the vocabulary pieces of ids back into text. INTERNAL.
//
// One deliberate difference from Hugging Face: bytes that do not form valid UTF-8 (a prefix of a
// multi-byte character cut by the end of the ids, or a stray byte-fallback piece) are returned as
// the bytes themselves, where Hugging Face substitutes U+FFFD. Decoding ids piece by piece and
// concatenating then gives exactly the bytes of decoding them all at once.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "core/tokenizer/byte_level_alphabet.h"
#include "core/tokenizer/unicode_regex.h"

namespace gp {

class TokenDecoder {
public:
    void addByteLevel();
    void addReplace(std::shared_ptr<const UnicodeRegex> pattern, std::string content);
    void addByteFallback();
    void addFuse();
    // Removes up to `start` leading and `stop` trailing copies of `content` from every token.
    void addStrip(std::string content, size_t start, size_t stop);
    // "▁" -> " "; in the first token the "▁" are dropped when stripFirst (the prefix the
    // pre-tokenizer added).
    void addMetaspace(std::string replacement, bool stripFirst);

    // With no decoder at all, Hugging Face joins the pieces with single spaces.
    std::string decode(std::vector<std::string> tokens) const;

private:
    enum class Kind { ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace };
    struct Step {
        explicit Step(Kind stepKind) : kind(stepKind) {}
        Kind kind;
        std::shared_ptr<const UnicodeRegex> pattern;
        std::string text;  // Replace content, Strip content, Metaspace replacement
        size_t start = 0, stop = 0;
        bool stripFirst = false;
    };
    void applyStep(const Step& step, std::vector<std::string>& tokens) const;

    std::vector<Step> m_steps;
    ByteLevelAlphabet m_alphabet;
};

// The byte a "<0xNN>" piece stands for, or -1.
int byteOfFallbackPiece(const std::string& piece);

}  // namespace gp
