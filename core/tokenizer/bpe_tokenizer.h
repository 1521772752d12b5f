// A Hugging Face tokenizer.json with a BPE model, assembled from its parts: added tokens, then
// normalizer, pre-tokenizer, BPE model, and the decoder on the way back. Both families run
// through it: byte-level (GPT-2, GPT-Neo: ByteLevel pre-tokenizer and decoder) and SentencePiece
// style (LLaMA, Mistral: "▁" normalizer or Metaspace, byte fallback). INTERNAL: others use
// Tokenizer and loadTokenizerJson (tokenizer.h). Immutable after construction, so encode and
// decode may run on several threads at once.
#pragma once

#include <optional>

#include "core/tokenizer/added_vocabulary.h"
#include "core/tokenizer/bpe_model.h"
#include "core/tokenizer/pre_tokenizer.h"
#include "core/tokenizer/text_normalizer.h"
#include "core/tokenizer/token_decoder.h"
#include "core/tokenizer/tokenizer.h"

namespace gp {

struct BpePipeline {
    AddedVocabulary added;
    TextNormalizer normalizer;
    PreTokenizer preTokenizer;
    TokenDecoder decoder;
    std::optional<int32_t> bos;
    std::optional<int32_t> eos;
};

class BpeTokenizer final : public Tokenizer {
public:
    BpeTokenizer(BpeModel model, BpePipeline pipeline);

    // Throws gp::Error (BadInput, object "text") when the text is not valid UTF-8.
    std::vector<int32_t> encode(std::string_view text) const override;
    // Ids without a piece (beyond the vocabulary) are skipped, as Hugging Face does.
    std::string decode(const std::vector<int32_t>& ids) const override;

    int32_t vocabSize() const override { return m_vocabSize; }
    std::optional<int32_t> bosId() const override { return m_pipeline.bos; }
    std::optional<int32_t> eosId() const override { return m_pipeline.eos; }
    std::optional<int32_t> pieceId(std::string_view piece) const override;
    std::string piece(int32_t id) const override;

private:
    class WordCache;
    void encodeStretch(std::string text, bool atStart, WordCache& cache,
                       std::vector<int32_t>& ids) const;

    BpeModel m_model;
    BpePipeline m_pipeline;
    int32_t m_vocabSize = 0;
};

}  // namespace gp
