// Hugging Face normalizers that BPE tokenizers use: Prepend (SentencePiece's "▁" dummy prefix)
// and Replace (" " -> "▁"), in sequence. INTERNAL to the tokenizer.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/unicode_regex.h"

namespace gp {

class TextNormalizer {
public:
    // Prepends `text` to every non-empty input (as Hugging Face's Prepend normalizer).
    void addPrepend(std::string text);
    // Replaces every match of `pattern` with `content`.
    void addReplace(std::shared_ptr<const UnicodeRegex> pattern, std::string content);

    bool empty() const { return m_steps.empty(); }
    std::string apply(std::string_view text) const;

private:
    struct Step {
        std::shared_ptr<const UnicodeRegex> pattern;  // null for Prepend
        std::string text;                             // prefix, or the replacement
    };
    std::vector<Step> m_steps;
};

}  // namespace gp
