#include "core/tokenizer/bpe_model.h"

#include <cstdio>
#include <stdexcept>

#include "core/tokenizer/pair_merge.h"
#include "core/tokenizer/utf8.h"

namespace gp {

BpeModel::BpeModel(std::unordered_map<std::string, int32_t> vocab, BpeModelOptions options)
    : m_vocab(std::move(vocab)), m_options(std::move(options)) {
    int32_t maxId = -1;
    for (const auto& entry : m_vocab) maxId = std::max(maxId, entry.second);
    m_pieces.resize(size_t(maxId + 1));
    m_hasPiece.assign(size_t(maxId + 1), false);
    for (const auto& [piece, id] : m_vocab) {
        m_pieces[size_t(id)] = piece;
        m_hasPiece[size_t(id)] = true;
    }
    if (m_options.unkToken) {
        const auto it = m_vocab.find(*m_options.unkToken);
        if (it == m_vocab.end())
            throw std::invalid_argument("unk_token \"" + *m_options.unkToken +
                                        "\" is not in the vocabulary");
        m_unkId = it->second;
    }
    for (int byte = 0; byte < 256; ++byte) {
        char name[8];
        std::snprintf(name, sizeof(name), "<0x%02X>", byte);
        const auto it = m_vocab.find(name);
        m_byteIds[size_t(byte)] = it == m_vocab.end() ? -1 : it->second;
    }
}

int32_t BpeModel::requireId(const std::string& piece) const {
    const auto it = m_vocab.find(piece);
    if (it == m_vocab.end())
        throw std::invalid_argument("\"" + piece + "\" is not in the vocabulary");
    return it->second;
}

void BpeModel::addMerge(const std::string& left, const std::string& right) {
    const int32_t leftId = requireId(left), rightId = requireId(right);
    const int32_t mergedId = requireId(left + right);
    // A repeated pair takes its last rank, as Hugging Face's map built from the list does.
    m_merges[pairKey(leftId, rightId)] = Merge{m_mergeCount++, mergedId};
}

std::optional<int32_t> BpeModel::idOf(const std::string& piece) const {
    const auto it = m_vocab.find(piece);
    if (it == m_vocab.end()) return std::nullopt;
    return it->second;
}

const std::string* BpeModel::pieceOf(int32_t id) const {
    if (id < 0 || size_t(id) >= m_pieces.size() || !m_hasPiece[size_t(id)]) return nullptr;
    return &m_pieces[size_t(id)];
}

void BpeModel::appendCharacters(std::string_view word, std::vector<int32_t>& ids) const {
    std::optional<int32_t> pendingUnk;  // only with fuse_unk: one unk for a run of unknowns
    std::string character;
    for (size_t at = 0; at < word.size();) {
        const size_t length =
            std::min(utf8SequenceLength(static_cast<unsigned char>(word[at])), word.size() - at);
        character.assign(word.data() + at, length);
        at += length;
        if (const auto it = m_vocab.find(character); it != m_vocab.end()) {
            if (pendingUnk) ids.push_back(*pendingUnk), pendingUnk.reset();
            ids.push_back(it->second);
            continue;
        }
        if (m_options.byteFallback) {
            bool complete = true;
            for (char c : character) complete = complete && m_byteIds[uint8_t(c)] >= 0;
            if (complete) {
                if (pendingUnk) ids.push_back(*pendingUnk), pendingUnk.reset();
                for (char c : character) ids.push_back(m_byteIds[uint8_t(c)]);
                continue;
            }
        }
        // Without an unk token Hugging Face drops the character; so do we.
        if (!m_unkId) continue;
        if (m_options.fuseUnk) {
            pendingUnk = m_unkId;
        } else {
            ids.push_back(*m_unkId);
        }
    }
    if (pendingUnk) ids.push_back(*pendingUnk);
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
    if (m_options.ignoreMerges) {
        if (const auto it = m_vocab.find(std::string(word)); it != m_vocab.end()) {
            out.push_back(it->second);
            return;
        }
    }
    std::vector<int32_t> ids;
    ids.reserve(word.size());
    appendCharacters(word, ids);
    mergeAdjacentPairs(ids, [this](int32_t left, int32_t right) -> std::optional<PairMerge> {
        const auto it = m_merges.find(pairKey(left, right));
        if (it == m_merges.end()) return std::nullopt;
        return PairMerge{double(it->second.rank), it->second.mergedId};
    });
    out.insert(out.end(), ids.begin(), ids.end());
}

}  // namespace gp
