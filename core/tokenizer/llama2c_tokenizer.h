// llama2.c's tokenizer.bin: the SentencePiece BPE vocabulary of a stories model exported for
// run.c. INTERNAL: others use Tokenizer and loadLlama2cTokenizer (tokenizer.h).
//
// Encoding is run.c's encode(): a " " dummy prefix when the text is non-empty, each UTF-8 code
// point looked up as a piece (unknown ones as byte pieces, id = byte + 3), then the adjacent pair
// whose concatenation is the piece of best score is merged, the leftmost on ties, until none is
// left. Decoding concatenates the pieces, "<0xNN>" pieces as raw bytes, and drops the leading
// space of a piece that follows BOS or opens the ids (run.c strips it after BOS; opening ids are
// what encode() returns, so decode(encode(text)) == text).
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "core/tokenizer/sentencepiece_json.h"
#include "core/tokenizer/tokenizer.h"

namespace gp {

class Llama2cTokenizer final : public Tokenizer {
public:
    static constexpr int32_t kBos = 1;
    static constexpr int32_t kEos = 2;
    static constexpr int32_t kFirstBytePiece = 3;  // <0x00>; needs 3 + 256 pieces at least

    // The parsed file: pieces, their scores, and the longest piece length it declares.
    Llama2cTokenizer(std::vector<std::string> pieces, std::vector<float> scores,
                     uint32_t maxTokenLength);

    std::vector<int32_t> encode(std::string_view text) const override;
    std::string decode(const std::vector<int32_t>& ids) const override;
    int32_t vocabSize() const override { return int32_t(m_pieces.size()); }
    std::optional<int32_t> bosId() const override { return kBos; }
    std::optional<int32_t> eosId() const override { return kEos; }
    std::optional<int32_t> pieceId(std::string_view piece) const override;
    std::string piece(int32_t id) const override;

    float score(int32_t id) const { return m_scores.at(size_t(id)); }
    // The vocabulary in SentencePiece's own terms, for a tokenizer.json that encodes alike:
    // "▁" for the spaces llama2.c's export wrote, "<s>" / "</s>" for its "\n<s>\n" /
    // "\n</s>\n", <unk> <s> </s> as special tokens, the scores as they are.
    SentencePieceVocab sentencePieceVocab() const;
    uint32_t maxTokenLength() const { return m_maxTokenLength; }

private:
    std::vector<std::string> m_pieces;
    std::vector<float> m_scores;
    uint32_t m_maxTokenLength;
    // run.c looks pieces up by binary search over the sorted vocabulary; with duplicate pieces
    // (none in the stories vocabularies) the lowest id is kept here.
    std::unordered_map<std::string, int32_t> m_idOfPiece;
};

// Parses a tokenizer.bin held in memory; `source` names it in errors. vocabSize <= 0 reads every
// piece up to the end of the file.
std::unique_ptr<Llama2cTokenizer> parseLlama2cTokenizer(const std::string& bytes, int32_t vocabSize,
                                                        const std::string& source);

}  // namespace gp
