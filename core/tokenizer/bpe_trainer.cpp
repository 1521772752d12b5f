#include "core/tokenizer/bpe_trainer.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "core/runtime/error.h"
#include "core/tokenizer/added_vocabulary.h"
#include "core/tokenizer/byte_level_alphabet.h"
#include "core/tokenizer/unicode_regex.h"
#include "core/tokenizer/utf8.h"

namespace gp {
namespace {

using PairKey = uint64_t;

PairKey pairKey(int32_t left, int32_t right) {
    return (uint64_t(uint32_t(left)) << 32) | uint32_t(right);
}
int32_t leftOf(PairKey key) {
    return int32_t(key >> 32);
}
int32_t rightOf(PairKey key) {
    return int32_t(key & 0xFFFFFFFFu);
}

struct Word {
    std::vector<int32_t> symbols;
    int64_t count = 0;
};

// Distinct pre-tokenized words of the text (GPT-2 pattern) with their counts, in byte order so
// the result does not depend on hash-map iteration.
std::vector<Word> countWords(std::string_view text, const std::vector<std::string>& specials) {
    std::vector<AddedToken> cutAt;
    for (size_t i = 0; i < specials.size(); ++i) cutAt.push_back({specials[i], int32_t(i)});
    const AddedVocabulary cutter(std::move(cutAt));
    const UnicodeRegex pattern(kGpt2SplitPattern, false);
    std::unordered_map<std::string, int64_t> counts;
    for (const TextSegment& segment : cutter.split(text, false)) {
        if (segment.tokenId >= 0) continue;
        const std::string_view stretch = text.substr(segment.begin, segment.end - segment.begin);
        for (const TextSpan& span : pattern.findAll(stretch))
            ++counts[std::string(stretch.substr(span.begin, span.end - span.begin))];
    }
    std::map<std::string, int64_t> ordered(counts.begin(), counts.end());
    std::vector<Word> words;
    words.reserve(ordered.size());
    for (const auto& [bytes, count] : ordered) {
        Word word;
        word.count = count;
        for (unsigned char byte : bytes) word.symbols.push_back(byte);
        words.push_back(std::move(word));
    }
    return words;
}

class MergeLearner {
public:
    explicit MergeLearner(std::vector<Word> words) : m_words(std::move(words)) {
        for (int byte = 0; byte < 256; ++byte) addPiece(std::string(1, char(byte)));
        for (size_t w = 0; w < m_words.size(); ++w) {
            const auto& symbols = m_words[w].symbols;
            for (size_t i = 0; i + 1 < symbols.size(); ++i) {
                const PairKey key = pairKey(symbols[i], symbols[i + 1]);
                m_pairCounts[key] += m_words[w].count;
                m_pairWords[key].push_back(int32_t(w));
            }
        }
        for (const auto& [key, count] : m_pairCounts) m_queue.push({count, key});
    }

    // Learns merges until the vocabulary holds `pieceTarget` pieces or no pair is left.
    void learn(size_t pieceTarget) {
        while (m_pieces.size() < pieceTarget) {
            const std::optional<PairKey> best = popBestPair();
            if (!best) break;
            applyMerge(*best);
        }
    }

    const std::vector<std::string>& pieces() const { return m_pieces; }
    const std::vector<std::pair<int32_t, int32_t>>& merges() const { return m_merges; }

private:
    struct Candidate {
        int64_t count;
        PairKey pair;
    };
    // The queue's top is the highest count, then the smallest (left, right): the tie rule.
    struct LowerPriority {
        bool operator()(const Candidate& a, const Candidate& b) const {
            if (a.count != b.count) return a.count < b.count;
            return a.pair > b.pair;
        }
    };

    int32_t addPiece(const std::string& bytes) {
        const auto [it, inserted] = m_idOfPiece.emplace(bytes, int32_t(m_pieces.size()));
        if (inserted) m_pieces.push_back(bytes);
        return it->second;
    }

    // Entries are never updated in place: a count change pushes a new entry, and an entry whose
    // count no longer matches is stale.
    std::optional<PairKey> popBestPair() {
        while (!m_queue.empty()) {
            const Candidate top = m_queue.top();
            m_queue.pop();
            const auto it = m_pairCounts.find(top.pair);
            if (it != m_pairCounts.end() && it->second == top.count) return top.pair;
        }
        return std::nullopt;
    }

    void applyMerge(PairKey pair) {
        const int32_t left = leftOf(pair), right = rightOf(pair);
        // Two merges can spell the same piece ("a"+"bc", "ab"+"c"): it keeps its first id.
        const int32_t merged = addPiece(m_pieces[size_t(left)] + m_pieces[size_t(right)]);
        m_merges.emplace_back(left, right);

        std::vector<int32_t> holders = std::move(m_pairWords[pair]);
        m_pairWords.erase(pair);
        std::sort(holders.begin(), holders.end());
        holders.erase(std::unique(holders.begin(), holders.end()), holders.end());

        std::unordered_map<PairKey, int64_t> delta;
        for (int32_t w : holders) {
            Word& word = m_words[size_t(w)];
            std::vector<int32_t>& symbols = word.symbols;
            for (size_t i = 0; i + 1 < symbols.size(); ++i)
                delta[pairKey(symbols[i], symbols[i + 1])] -= word.count;
            size_t kept = 0;
            for (size_t i = 0; i < symbols.size(); ++i) {
                if (i + 1 < symbols.size() && symbols[i] == left && symbols[i + 1] == right) {
                    symbols[kept++] = merged;
                    ++i;
                } else {
                    symbols[kept++] = symbols[i];
                }
            }
            symbols.resize(kept);
            for (size_t i = 0; i + 1 < symbols.size(); ++i) {
                const PairKey key = pairKey(symbols[i], symbols[i + 1]);
                delta[key] += word.count;
                if (symbols[i] == merged || symbols[i + 1] == merged) m_pairWords[key].push_back(w);
            }
        }
        for (const auto& [key, change] : delta) {
            if (change == 0) continue;
            const int64_t count = (m_pairCounts[key] += change);
            if (count > 0) {
                m_queue.push({count, key});
            } else {
                m_pairCounts.erase(key);
            }
        }
    }

    std::vector<Word> m_words;
    std::vector<std::string> m_pieces;  // raw bytes of each id
    std::unordered_map<std::string, int32_t> m_idOfPiece;
    std::vector<std::pair<int32_t, int32_t>> m_merges;
    std::unordered_map<PairKey, int64_t> m_pairCounts;
    std::unordered_map<PairKey, std::vector<int32_t>> m_pairWords;  // may list stale words
    std::priority_queue<Candidate, std::vector<Candidate>, LowerPriority> m_queue;
};

nlohmann::ordered_json byteLevelComponent(bool addPrefixSpace, bool trimOffsets) {
    return {{"type", "ByteLevel"},
            {"add_prefix_space", addPrefixSpace},
            {"trim_offsets", trimOffsets},
            {"use_regex", true}};
}

std::string tokenizerJson(const MergeLearner& learner, const std::vector<std::string>& specials) {
    using Json = nlohmann::ordered_json;
    const ByteLevelAlphabet alphabet;
    const auto spelled = [&](const std::string& bytes) {
        std::string text;
        alphabet.encode(bytes, text);
        return text;
    };
    Json vocab = Json::object();
    for (size_t id = 0; id < learner.pieces().size(); ++id)
        vocab[spelled(learner.pieces()[id])] = id;
    Json added = Json::array();
    for (size_t i = 0; i < specials.size(); ++i) {
        const size_t id = learner.pieces().size() + i;
        vocab[specials[i]] = id;
        added.push_back({{"id", id},
                         {"content", specials[i]},
                         {"single_word", false},
                         {"lstrip", false},
                         {"rstrip", false},
                         {"normalized", false},
                         {"special", true}});
    }
    // "left right" strings: every version of `tokenizers` reads them, and byte-level pieces
    // never hold a space (it is spelled "Ġ").
    Json merges = Json::array();
    for (const auto& [left, right] : learner.merges())
        merges.push_back(spelled(learner.pieces()[size_t(left)]) + " " +
                         spelled(learner.pieces()[size_t(right)]));
    Json root = {{"version", "1.0"},
                 {"truncation", nullptr},
                 {"padding", nullptr},
                 {"added_tokens", added},
                 {"normalizer", nullptr},
                 {"pre_tokenizer", byteLevelComponent(false, true)},
                 {"post_processor", byteLevelComponent(true, false)},
                 {"decoder", byteLevelComponent(true, true)},
                 {"model",
                  {{"type", "BPE"},
                   {"dropout", nullptr},
                   {"unk_token", nullptr},
                   {"continuing_subword_prefix", nullptr},
                   {"end_of_word_suffix", nullptr},
                   {"fuse_unk", false},
                   {"byte_fallback", false},
                   {"vocab", vocab},
                   {"merges", merges}}}};
    return root.dump(1) + "\n";
}

}  // namespace

std::string trainByteLevelBpe(std::string_view text, int32_t vocabSize,
                              const std::vector<std::string>& specialTokens) {
    const int64_t minimum = 256 + int64_t(specialTokens.size());
    if (vocabSize < minimum)
        throw badArgument("vocab size", std::to_string(vocabSize) + " is below the " +
                                            std::to_string(minimum) +
                                            " of the 256 bytes and the special tokens");
    std::unordered_set<std::string> seen;
    for (const std::string& special : specialTokens) {
        if (special.empty()) throw badArgument("special tokens", "an empty special token");
        if (!seen.insert(special).second)
            throw badArgument("special tokens", "\"" + special + "\" is given twice");
    }
    if (const auto bad = firstInvalidUtf8(text))
        throw badInput("", "training text",
                       "not valid UTF-8 at byte offset " + std::to_string(*bad));
    MergeLearner learner(countWords(text, specialTokens));
    learner.learn(size_t(vocabSize) - specialTokens.size());
    return tokenizerJson(learner, specialTokens);
}

}  // namespace gp
