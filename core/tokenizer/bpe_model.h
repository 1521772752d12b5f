// The BPE model of a Hugging Face tokenizer.json: vocabulary, merges by rank, unknown token and
// byte fallback. Turns one pre-tokenized word into ids. INTERNAL to the tokenizer.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace gp {

struct BpeModelOptions {
    std::optional<std::string> unkToken;
    bool byteFallback = false;  // characters outside the vocabulary become "<0xNN>" pieces
    bool fuseUnk = false;       // consecutive unknown characters give one unk id
    bool ignoreMerges = false;  // a word found whole in the vocabulary is taken as it is
};

class BpeModel {
public:
    BpeModel(std::unordered_map<std::string, int32_t> vocab, BpeModelOptions options);

    // Adds the merge of rank mergeCount(). Throws std::invalid_argument naming the piece that is
    // not in the vocabulary (left, right or their concatenation).
    void addMerge(const std::string& left, const std::string& right);
    int32_t mergeCount() const { return m_mergeCount; }

    // Appends the ids of one word: its characters (or fallback pieces) merged by rank.
    void tokenize(std::string_view word, std::vector<int32_t>& out) const;

    std::optional<int32_t> idOf(const std::string& piece) const;
    // The piece of an id, nullptr when the vocabulary has none.
    const std::string* pieceOf(int32_t id) const;
    int32_t maxId() const { return int32_t(m_pieces.size()) - 1; }

private:
    struct Merge {
        int32_t rank;
        int32_t mergedId;
    };
    static uint64_t pairKey(int32_t left, int32_t right) {
        return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
    }
    void appendCharacters(std::string_view word, std::vector<int32_t>& ids) const;
    int32_t requireId(const std::string& piece) const;

    std::unordered_map<std::string, int32_t> m_vocab;
    std::vector<std::string> m_pieces;
    std::vector<bool> m_hasPiece;
    std::unordered_map<uint64_t, Merge> m_merges;
    int32_t m_mergeCount = 0;
    BpeModelOptions m_options;
    std::optional<int32_t> m_unkId;
    std::array<int32_t, 256> m_byteIds{};  // "<0xNN>" ids, -1 where missing
};

}  // namespace gp
