// Added tokens of a Hugging Face tokenizer (special ones such as "<|endoftext|>" and "<s>", and
// plain added words): the text is cut at them before any normalizer or pre-tokenizer runs.
// INTERNAL to the tokenizer.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/tokenizer/unicode_regex.h"

namespace gp {

struct AddedToken {
    std::string content;
    int32_t id = 0;
    bool special = false;
    bool normalized = false;  // matched in the normalized text rather than the raw text
    bool lstrip = false;      // the match swallows white space on its left
    bool rstrip = false;      // ... and on its right
    bool singleWord = false;  // matches only when no word character touches it
};

// A stretch of text, or one added token (tokenId >= 0) found there.
struct TextSegment {
    size_t begin = 0;
    size_t end = 0;
    int32_t tokenId = -1;
};

class AddedVocabulary {
public:
    AddedVocabulary() = default;
    explicit AddedVocabulary(std::vector<AddedToken> tokens);

    // Cuts `text` at the tokens whose `normalized` flag equals `normalizedPass`, scanning left to
    // right and taking the longest token at the first place where any matches (Hugging Face's
    // leftmost-longest rule). The segments cover the text in order, empty stretches left out.
    // "White space" for lstrip/rstrip is ASCII white space.
    std::vector<TextSegment> split(std::string_view text, bool normalizedPass) const;
    bool hasTokens(bool normalizedPass) const;

    std::optional<int32_t> idOf(const std::string& content) const;
    const AddedToken* tokenOf(int32_t id) const;
    const std::vector<AddedToken>& tokens() const { return m_tokens; }

private:
    size_t longestMatchAt(std::string_view text, size_t at, bool normalizedPass,
                          const AddedToken** token) const;

    std::vector<AddedToken> m_tokens;
    // Token indices by first byte, longest first (256 lists, also when there are no tokens).
    std::vector<std::vector<size_t>> m_byFirstByte = std::vector<std::vector<size_t>>(256);
    std::unordered_map<std::string, size_t> m_byContent;
    std::unordered_map<int32_t, size_t> m_byId;
    std::shared_ptr<const UnicodeRegex> m_wordCharacter;  // for single_word tokens
};

}  // namespace gp
