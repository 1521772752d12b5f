// A SentencePiece-style BPE vocabulary (pieces with "▁" for a space, "<0xNN>" byte pieces) written
// as a Hugging Face tokenizer.json that transformers' AutoTokenizer and our own loader read: the
// layout transformers' LlamaConverter writes for a legacy LLaMA tokenizer (normalizer: prepend
// "▁", spaces to "▁"; no pre-tokenizer; BPE with byte_fallback and fuse_unk; decoder: "▁" to
// space, byte fallback, fuse, strip one leading space; <s> before each sequence).
//
// The merges are derived from the pieces as transformers' generate_merges (and tokenizers'
// SentencePieceExtractor) derive them: every split of a piece into two pieces of the vocabulary
// is a merge, and the merges are ordered
//   - by the pieces' scores, highest first (llama2.c tokenizer.bin, a GGUF with real SentencePiece
//     scores), ties by longer left then longer right part, else in id order; or
//   - when the scores carry no order (all equal, as llama.cpp's converter writes -1000 for a BPE
//     tokenizer with byte fallback), by the piece's id, lowest first: a BPE trainer appends each
//     merged piece to the vocabulary, so the id order is the merge order (ties: shorter left
//     part first).
// Either way, applying the lowest-ranked merge first gives what SentencePiece's (and llama2.c's,
// and llama.cpp's "llama" tokenizer's) "merge the adjacent pair whose joined piece scores best"
// gives. Plain C++.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace gp {

struct SentencePieceVocab {
    std::vector<std::string> pieces;  // by id; "▁" for a space
    std::vector<float> scores;        // by id; empty or all equal: the id order is the merge order
    std::vector<int32_t> specialIds;  // control tokens written as added tokens (<unk>, <s>, </s>)
    int32_t unkId = 0;
    std::optional<int32_t> bosId;     // put before each sequence by the post-processor
    std::optional<int32_t> eosId;
};

// The merges, as pairs of pieces, in rank order (see above).
std::vector<std::pair<std::string, std::string>> sentencePieceMerges(
    const std::vector<std::string>& pieces, const std::vector<float>& scores);

// tokenizer.json text (pretty-printed) for the vocabulary.
std::string sentencePieceTokenizerJson(const SentencePieceVocab& vocab);

// The other way, for llama.cpp's "llama" tokenizer (which merges the adjacent pair whose joined
// piece has the best score, leftmost first): a SentencePiece-style BPE tokenizer.json (no
// ByteLevel pre-tokenizer; byte_fallback, or spaces normalised to "▁") as pieces by id (added
// tokens included) with score = -(rank of the first merge that makes the piece), so that rule
// applies the merges in tokenizer.json's order; pieces no merge makes (single characters, added
// tokens) score -1e9. nullopt for another kind of tokenizer (byte-level BPE, WordPiece, ...). An
// Error (BadInput) naming `source` for text that is not a tokenizer.json.
std::optional<SentencePieceVocab> sentencePieceVocabOfJson(const std::string& jsonText,
                                                           const std::string& source);
constexpr float kUnmergedPieceScore = -1e9f;

// tokenizer_config.json text naming the special tokens (PreTrainedTokenizerFast).
std::string sentencePieceTokenizerConfigJson(const SentencePieceVocab& vocab);

}  // namespace gp
