// Trains a byte-level BPE tokenizer (GPT-2 style) on a text: the tokenizer of the built-in demo
// model. Plain C++, deterministic.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace gp {

// Learns merges on `text` and returns a Hugging Face tokenizer.json (model BPE, ByteLevel
// pre-tokenizer with the GPT-2 pattern, ByteLevel decoder) that loadTokenizerJson and Hugging
// Face `tokenizers` both read. Ids: 0..255 the bytes (id = byte value), then one id per new
// piece in the order learned, then `specialTokens` as special added tokens (also in the vocab).
// The text is cut at the special tokens first, so they are never learned as ordinary words.
//
// Each step merges the most frequent adjacent pair over all words (counted with their
// multiplicity); ties go to the smallest (left id, right id). Merging stops when
// 256 + new pieces + specialTokens.size() == vocabSize, or earlier when no pair is left. Pair
// counts are updated incrementally from the words that hold the merged pair.
//
// Errors: vocabSize < 256 + specialTokens.size(), an empty or repeated special token
// (BadArgument); text that is not UTF-8 (BadInput).
std::string trainByteLevelBpe(std::string_view text, int32_t vocabSize,
                              const std::vector<std::string>& specialTokens);

}  // namespace gp
