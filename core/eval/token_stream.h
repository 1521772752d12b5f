// Text -> one stream of token ids, for perplexity and calibration. Plain C++.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/tokenizer/tokenizer.h"

namespace gp {

struct TokenStreamOptions {
    // When non-empty, the text is split at every occurrence of this string (which is dropped),
    // each document loses the whitespace at its ends, blank ones are skipped, and every other
    // document starts with `bos` when given (TinyStories marks stories with "<|endoftext|>").
    // When empty the text is one document, encoded as it is, and no BOS is added.
    std::string docSeparator;
    std::optional<int32_t> bos;
};

// Calls `document` with every document of `text` split at `separator` (dropped), its ends
// trimmed of whitespace, blank ones skipped; an empty separator makes the whole text one
// document, untrimmed.
void forEachDocument(const std::string& text, const std::string& separator,
                     const std::function<void(std::string_view)>& document);

// Tokenizes `text`; sourceForErrors names the file. Error if it yields no tokens.
std::vector<int32_t> tokenizeText(const Tokenizer& tokenizer, const std::string& text,
                                  const TokenStreamOptions& options,
                                  const std::string& sourceForErrors);

}  // namespace gp
