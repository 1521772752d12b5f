#include "core/tokenizer/llama2c_tokenizer.h"

#include <cmath>
#include <cstring>
#include <fstream>
#include <sstream>

#include "core/runtime/error.h"
#include "core/tokenizer/pair_merge.h"
#include "core/tokenizer/token_decoder.h"

namespace gp {
namespace {

// run.c starts best_score at -1e10: merges scoring at or below it never happen.
constexpr float kNoMergeScore = -1e10f;

// A little-endian reader that reports where a file ends early.
class BinaryCursor {
public:
    BinaryCursor(const std::string& bytes, const std::string& source)
        : m_bytes(bytes), m_source(source) {}

    template <class T>
    T read(const std::string& what) {
        T value;
        need(sizeof(T), what);
        std::memcpy(&value, m_bytes.data() + m_offset, sizeof(T));
        m_offset += sizeof(T);
        return value;
    }
    std::string readBytes(size_t count, const std::string& what) {
        need(count, what);
        std::string out = m_bytes.substr(m_offset, count);
        m_offset += count;
        return out;
    }
    bool atEnd() const { return m_offset == m_bytes.size(); }
    size_t offset() const { return m_offset; }

private:
    void need(size_t count, const std::string& what) {
        if (m_bytes.size() - m_offset < count)
            throw badInput(m_source, what,
                           "file truncated: needs " + std::to_string(count) + " bytes at offset " +
                               std::to_string(m_offset) + ", the file has " +
                               std::to_string(m_bytes.size()));
    }

    const std::string& m_bytes;
    const std::string& m_source;
    size_t m_offset = 0;
};

}  // namespace

Llama2cTokenizer::Llama2cTokenizer(std::vector<std::string> pieces, std::vector<float> scores,
                                   uint32_t maxTokenLength)
    : m_pieces(std::move(pieces)), m_scores(std::move(scores)), m_maxTokenLength(maxTokenLength) {
    for (size_t id = 0; id < m_pieces.size(); ++id) m_idOfPiece.emplace(m_pieces[id], int32_t(id));
}

std::vector<int32_t> Llama2cTokenizer::encode(std::string_view text) const {
    std::vector<int32_t> ids;
    if (text.empty()) return ids;
    const auto lookup = [&](const std::string& piece) {
        const auto it = m_idOfPiece.find(piece);
        return it == m_idOfPiece.end() ? -1 : it->second;
    };
    const auto pushUnit = [&](const std::string& unit) {
        const int32_t id = lookup(unit);
        if (id >= 0) {
            ids.push_back(id);
            return;
        }
        for (unsigned char byte : unit) ids.push_back(kFirstBytePiece + byte);
    };
    pushUnit(" ");  // the dummy prefix (SentencePiece's add_dummy_prefix)
    // Cut at code points as run.c does: a unit is a lead byte and up to 3 continuation bytes.
    std::string unit;
    for (size_t i = 0; i < text.size(); ++i) {
        const auto byte = static_cast<unsigned char>(text[i]);
        if ((byte & 0xC0) != 0x80) unit.clear();
        unit += char(byte);
        const bool continues =
            i + 1 < text.size() && (static_cast<unsigned char>(text[i + 1]) & 0xC0) == 0x80;
        if (continues && unit.size() < 4) continue;
        pushUnit(unit);
        unit.clear();
    }
    std::string pair;
    mergeAdjacentPairs(ids, [&](int32_t left, int32_t right) -> std::optional<PairMerge> {
        pair.assign(m_pieces[size_t(left)]).append(m_pieces[size_t(right)]);
        const int32_t merged = lookup(pair);
        if (merged < 0 || !(m_scores[size_t(merged)] > kNoMergeScore)) return std::nullopt;
        return PairMerge{-double(m_scores[size_t(merged)]), merged};
    });
    return ids;
}

std::string Llama2cTokenizer::decode(const std::vector<int32_t>& ids) const {
    std::string text;
    for (size_t i = 0; i < ids.size(); ++i) {
        const int32_t id = ids[i];
        if (id < 0 || size_t(id) >= m_pieces.size()) continue;
        const std::string& piece = m_pieces[size_t(id)];
        const int byte = byteOfFallbackPiece(piece);
        if (byte >= 0) {
            text += char(byte);
            continue;
        }
        const bool opening = i == 0 || ids[i - 1] == kBos;
        text.append(piece, opening && !piece.empty() && piece[0] == ' ' ? 1 : 0, std::string::npos);
    }
    return text;
}

SentencePieceVocab Llama2cTokenizer::sentencePieceVocab() const {
    SentencePieceVocab vocab;
    vocab.pieces.reserve(m_pieces.size());
    for (const std::string& piece : m_pieces) {
        std::string converted;
        for (char c : piece) converted += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
        vocab.pieces.push_back(std::move(converted));
    }
    vocab.pieces[0] = "<unk>";
    vocab.pieces[size_t(kBos)] = "<s>";
    vocab.pieces[size_t(kEos)] = "</s>";
    vocab.scores = m_scores;
    vocab.specialIds = {0, kBos, kEos};
    vocab.unkId = 0;
    vocab.bosId = kBos;
    vocab.eosId = kEos;
    return vocab;
}

std::optional<int32_t> Llama2cTokenizer::pieceId(std::string_view piece) const {
    const auto it = m_idOfPiece.find(std::string(piece));
    if (it == m_idOfPiece.end()) return std::nullopt;
    return it->second;
}

std::string Llama2cTokenizer::piece(int32_t id) const {
    return id >= 0 && size_t(id) < m_pieces.size() ? m_pieces[size_t(id)] : std::string();
}

std::unique_ptr<Llama2cTokenizer> parseLlama2cTokenizer(const std::string& bytes, int32_t vocabSize,
                                                        const std::string& source) {
    BinaryCursor cursor(bytes, source);
    const auto maxTokenLength = cursor.read<uint32_t>("max_token_length");
    if (maxTokenLength == 0 || maxTokenLength > (1u << 20))
        throw badInput(source, "max_token_length",
                       "implausible value " + std::to_string(maxTokenLength) +
                           " (not a llama2.c tokenizer.bin?)");
    std::vector<std::string> pieces;
    std::vector<float> scores;
    while (vocabSize > 0 ? int32_t(pieces.size()) < vocabSize : !cursor.atEnd()) {
        const std::string what = "piece " + std::to_string(pieces.size());
        if (cursor.atEnd())  // ends cleanly between pieces, but short of the model's vocabulary
            throw badInput(source, what,
                           "file truncated: it holds " + std::to_string(pieces.size()) +
                               " pieces but the model's vocabulary has " +
                               std::to_string(vocabSize) + ": tokenizer and model do not match");
        const auto score = cursor.read<float>(what);
        const auto length = cursor.read<int32_t>(what);
        if (!std::isfinite(score)) throw badInput(source, what, "score is not a finite number");
        if (length < 0 || uint32_t(length) > maxTokenLength)
            throw badInput(source, what,
                           "length " + std::to_string(length) + " outside 0.." +
                               std::to_string(maxTokenLength) + " (max_token_length)");
        pieces.push_back(cursor.readBytes(size_t(length), what));
        scores.push_back(score);
    }
    if (!cursor.atEnd())
        throw badInput(source, "",
                       "the file holds more than the model's " + std::to_string(vocabSize) +
                           " pieces (" + std::to_string(bytes.size() - cursor.offset()) +
                           " bytes left after piece " + std::to_string(vocabSize - 1) +
                           "): tokenizer and model do not match");
    if (pieces.size() < size_t(Llama2cTokenizer::kFirstBytePiece + 256))
        throw badInput(source, "",
                       "only " + std::to_string(pieces.size()) +
                           " pieces; llama2.c needs <unk>, <s>, </s> and the 256 byte pieces");
    return std::make_unique<Llama2cTokenizer>(std::move(pieces), std::move(scores), maxTokenLength);
}

std::unique_ptr<Tokenizer> loadLlama2cTokenizer(const std::string& path, int32_t vocabSize) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw badInput(path, "", "cannot open the file");
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (in.bad()) throw badInput(path, "", "cannot read the file");
    return parseLlama2cTokenizer(bytes.str(), vocabSize, path);
}

}  // namespace gp
