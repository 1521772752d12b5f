#include "core/tokenizer/bpe_tokenizer.h"

#include <algorithm>
#include <unordered_map>

#include "core/runtime/error.h"
#include "core/tokenizer/utf8.h"

namespace gp {

// Ids of the words already met in this encode() call. Natural text repeats its words, so most
// pre-tokens skip the merge loop; being per call, the cache needs no lock and no eviction.
class BpeTokenizer::WordCache {
public:
    // Words longer than this are merged every time: they rarely repeat, and a SentencePiece-style
    // text without pre-tokenizer is one long "word" that must not be stored.
    static constexpr size_t kMaxWordBytes = 128;

    const std::vector<int32_t>* find(const std::string& word) const {
        const auto it = m_ids.find(word);
        return it == m_ids.end() ? nullptr : &it->second;
    }
    void store(const std::string& word, std::vector<int32_t> ids) {
        m_ids.emplace(word, std::move(ids));
    }

private:
    std::unordered_map<std::string, std::vector<int32_t>> m_ids;
};

BpeTokenizer::BpeTokenizer(BpeModel model, BpePipeline pipeline)
    : m_model(std::move(model)), m_pipeline(std::move(pipeline)) {
    int32_t maxId = m_model.maxId();
    for (const AddedToken& token : m_pipeline.added.tokens()) maxId = std::max(maxId, token.id);
    m_vocabSize = maxId + 1;
}

std::vector<int32_t> BpeTokenizer::encode(std::string_view text) const {
    if (const auto bad = firstInvalidUtf8(text))
        throw badInput("", "text",
                       "not valid UTF-8 at byte offset " + std::to_string(*bad) +
                           " (the tokenizer reads UTF-8 text)");
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 1);
    WordCache cache;
    // Added tokens are found twice, as Hugging Face does: those with normalized=false in the raw
    // text, the others in each normalized stretch between them.
    for (const TextSegment& raw : m_pipeline.added.split(text, false)) {
        if (raw.tokenId >= 0) {
            ids.push_back(raw.tokenId);
            continue;
        }
        const std::string normalized =
            m_pipeline.normalizer.apply(text.substr(raw.begin, raw.end - raw.begin));
        for (const TextSegment& part : m_pipeline.added.split(normalized, true)) {
            if (part.tokenId >= 0) {
                ids.push_back(part.tokenId);
                continue;
            }
            encodeStretch(normalized.substr(part.begin, part.end - part.begin),
                          raw.begin == 0 && part.begin == 0, cache, ids);
        }
    }
    return ids;
}

void BpeTokenizer::encodeStretch(std::string text, bool atStart, WordCache& cache,
                                 std::vector<int32_t>& ids) const {
    std::vector<TextPiece> pieces;
    pieces.push_back({std::move(text), atStart});
    m_pipeline.preTokenizer.apply(pieces);
    std::vector<int32_t> wordIds;
    for (const TextPiece& piece : pieces) {
        if (piece.text.size() > WordCache::kMaxWordBytes) {
            m_model.tokenize(piece.text, ids);
            continue;
        }
        if (const std::vector<int32_t>* known = cache.find(piece.text)) {
            ids.insert(ids.end(), known->begin(), known->end());
            continue;
        }
        wordIds.clear();
        m_model.tokenize(piece.text, wordIds);
        ids.insert(ids.end(), wordIds.begin(), wordIds.end());
        cache.store(piece.text, wordIds);
    }
}

std::string BpeTokenizer::decode(const std::vector<int32_t>& ids) const {
    std::vector<std::string> pieces;
    pieces.reserve(ids.size());
    for (int32_t id : ids) {
        if (const AddedToken* token = m_pipeline.added.tokenOf(id))
            pieces.push_back(token->content);
        else if (const std::string* piece = m_model.pieceOf(id))
            pieces.push_back(*piece);
    }
    return m_pipeline.decoder.decode(std::move(pieces));
}

std::optional<int32_t> BpeTokenizer::pieceId(std::string_view piece) const {
    const std::string key(piece);
    if (const auto id = m_pipeline.added.idOf(key)) return id;
    return m_model.idOf(key);
}

std::string BpeTokenizer::piece(int32_t id) const {
    if (const AddedToken* token = m_pipeline.added.tokenOf(id)) return token->content;
    const std::string* piece = m_model.pieceOf(id);
    return piece ? *piece : std::string();
}

}  // namespace gp
