#include "core/tokenizer/sentencepiece_json.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <tuple>
#include <unordered_map>

#include "core/runtime/error.h"
#include "core/tokenizer/utf8.h"

namespace gp {
namespace {

using Json = nlohmann::ordered_json;

constexpr const char* kSpace = "\xE2\x96\x81";  // "▁"

struct Merge {
    std::string left, right;
    float score = 0.0f;
    int32_t id = 0;  // of the joined piece
    size_t leftChars = 0, rightChars = 0;
};

// Byte offsets of the code point boundaries inside a piece (0 and size() excluded).
std::vector<size_t> codePointCuts(const std::string& piece) {
    std::vector<size_t> cuts;
    for (size_t at = utf8SequenceLength(static_cast<unsigned char>(piece[0])); at < piece.size();
         at += utf8SequenceLength(static_cast<unsigned char>(piece[at])))
        cuts.push_back(at);
    return cuts;
}

bool scoresCarryOrder(const std::vector<float>& scores) {
    return !scores.empty() &&
           std::any_of(scores.begin(), scores.end(), [&](float s) { return s != scores[0]; });
}

Json addedToken(int32_t id, const std::string& content) {
    return {{"id", id},          {"content", content}, {"single_word", false}, {"lstrip", false},
            {"rstrip", false},   {"normalized", false}, {"special", true}};
}

}  // namespace

std::vector<std::pair<std::string, std::string>> sentencePieceMerges(
    const std::vector<std::string>& pieces, const std::vector<float>& scores) {
    std::unordered_map<std::string, int32_t> idOf;
    for (size_t id = 0; id < pieces.size(); ++id) idOf.emplace(pieces[id], int32_t(id));
    const bool byScore = scoresCarryOrder(scores);
    std::vector<Merge> merges;
    for (size_t id = 0; id < pieces.size(); ++id) {
        const std::string& piece = pieces[id];
        if (piece.empty() || idOf.at(piece) != int32_t(id)) continue;  // a duplicate piece
        std::vector<Merge> local;
        const std::vector<size_t> cuts = codePointCuts(piece);
        for (size_t k = 0; k < cuts.size(); ++k) {
            std::string left = piece.substr(0, cuts[k]), right = piece.substr(cuts[k]);
            if (!idOf.count(left) || !idOf.count(right)) continue;
            local.push_back({std::move(left), std::move(right), byScore ? scores[id] : 0.0f,
                             int32_t(id), k + 1, cuts.size() - k});
        }
        // Within a piece, by the parts' ids (generate_merges' first sort).
        std::stable_sort(local.begin(), local.end(), [&](const Merge& a, const Merge& b) {
            return std::make_pair(idOf.at(a.left), idOf.at(a.right)) <
                   std::make_pair(idOf.at(b.left), idOf.at(b.right));
        });
        merges.insert(merges.end(), local.begin(), local.end());
    }
    // generate_merges' second sort, stable: (score, left length, right length) descending with
    // scores; (id, left length, right length) ascending without.
    std::stable_sort(merges.begin(), merges.end(), [&](const Merge& a, const Merge& b) {
        if (byScore)
            return std::make_tuple(a.score, a.leftChars, a.rightChars) >
                   std::make_tuple(b.score, b.leftChars, b.rightChars);
        return std::make_tuple(a.id, a.leftChars, a.rightChars) <
               std::make_tuple(b.id, b.leftChars, b.rightChars);
    });
    std::vector<std::pair<std::string, std::string>> pairs;
    pairs.reserve(merges.size());
    for (Merge& merge : merges) pairs.emplace_back(std::move(merge.left), std::move(merge.right));
    return pairs;
}

std::string sentencePieceTokenizerJson(const SentencePieceVocab& vocab) {
    Json added = Json::array();
    for (int32_t id : vocab.specialIds) added.push_back(addedToken(id, vocab.pieces.at(size_t(id))));

    Json pieces = Json::object();
    for (size_t id = 0; id < vocab.pieces.size(); ++id)
        if (!pieces.contains(vocab.pieces[id])) pieces[vocab.pieces[id]] = int32_t(id);
    Json merges = Json::array();
    for (const auto& [left, right] : sentencePieceMerges(vocab.pieces, vocab.scores))
        merges.push_back(Json::array({left, right}));

    Json model = {{"type", "BPE"},
                  {"dropout", nullptr},
                  {"unk_token", vocab.pieces.at(size_t(vocab.unkId))},
                  {"continuing_subword_prefix", nullptr},
                  {"end_of_word_suffix", nullptr},
                  {"fuse_unk", true},
                  {"byte_fallback", true},
                  {"ignore_merges", false},
                  {"vocab", pieces},
                  {"merges", merges}};
    const Json normalizer = {
        {"type", "Sequence"},
        {"normalizers",
         Json::array({{{"type", "Prepend"}, {"prepend", kSpace}},
                      {{"type", "Replace"}, {"pattern", {{"String", " "}}}, {"content", kSpace}}})}};
    const Json decoder = {
        {"type", "Sequence"},
        {"decoders",
         Json::array({{{"type", "Replace"}, {"pattern", {{"String", kSpace}}}, {"content", " "}},
                      {{"type", "ByteFallback"}},
                      {{"type", "Fuse"}},
                      {{"type", "Strip"}, {"content", " "}, {"start", 1}, {"stop", 0}}})}};
    Json postProcessor = nullptr;
    if (vocab.bosId) {
        const std::string bos = vocab.pieces.at(size_t(*vocab.bosId));
        const Json special = {{"SpecialToken", {{"id", bos}, {"type_id", 0}}}};
        postProcessor = {
            {"type", "TemplateProcessing"},
            {"single", Json::array({special, {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}})},
            {"pair", Json::array({special,
                                  {{"Sequence", {{"id", "A"}, {"type_id", 0}}}},
                                  {{"SpecialToken", {{"id", bos}, {"type_id", 1}}}},
                                  {{"Sequence", {{"id", "B"}, {"type_id", 1}}}}})},
            {"special_tokens", {{bos, {{"id", bos}, {"ids", {*vocab.bosId}}, {"tokens", {bos}}}}}}};
    }
    const Json tokenizer = {{"version", "1.0"},       {"truncation", nullptr},
                            {"padding", nullptr},     {"added_tokens", added},
                            {"normalizer", normalizer}, {"pre_tokenizer", nullptr},
                            {"post_processor", postProcessor}, {"decoder", decoder},
                            {"model", model}};
    return tokenizer.dump(2) + "\n";
}

std::optional<SentencePieceVocab> sentencePieceVocabOfJson(const std::string& jsonText,
                                                           const std::string& source) {
    const nlohmann::json tokenizer = nlohmann::json::parse(jsonText, nullptr, false);
    if (!tokenizer.is_object() || !tokenizer.contains("model") || !tokenizer["model"].is_object())
        throw badInput(source, "model", "is not a tokenizer.json (no \"model\" object)");
    const nlohmann::json& model = tokenizer["model"];
    if (model.value("type", std::string("BPE")) != "BPE" || !model.contains("vocab") ||
        !model["vocab"].is_object())
        return std::nullopt;
    const std::string dump = tokenizer.value("pre_tokenizer", nlohmann::json()).dump() +
                             tokenizer.value("normalizer", nlohmann::json()).dump();
    const bool byteLevel = dump.find("\"ByteLevel\"") != std::string::npos;
    const bool spaces = dump.find(kSpace) != std::string::npos;
    if (byteLevel || !(model.value("byte_fallback", false) || spaces)) return std::nullopt;

    SentencePieceVocab vocab;
    const auto place = [&](const std::string& piece, int64_t id) {
        if (id < 0 || id > (int64_t(1) << 24))
            throw badInput(source, piece, "implausible id " + std::to_string(id));
        if (vocab.pieces.size() <= size_t(id)) vocab.pieces.resize(size_t(id) + 1);
        vocab.pieces[size_t(id)] = piece;
    };
    for (const auto& [piece, id] : model["vocab"].items()) place(piece, id.get<int64_t>());
    for (const auto& added : tokenizer.value("added_tokens", nlohmann::json::array())) {
        const int64_t id = added.value("id", int64_t(-1));
        place(added.value("content", std::string()), id);
        if (added.value("special", false)) vocab.specialIds.push_back(int32_t(id));
    }
    std::unordered_map<std::string, float> scoreOf;
    int64_t rank = 0;
    for (const auto& merge : model.value("merges", nlohmann::json::array())) {
        std::string joined;
        if (merge.is_string()) {  // "left right"
            const std::string text = merge.get<std::string>();
            const size_t space = text.find(' ');
            joined = space == std::string::npos ? text : text.substr(0, space) + text.substr(space + 1);
        } else if (merge.is_array() && merge.size() == 2) {
            joined = merge[0].get<std::string>() + merge[1].get<std::string>();
        }
        scoreOf.emplace(joined, -float(rank++));
    }
    vocab.scores.assign(vocab.pieces.size(), kUnmergedPieceScore);
    for (size_t id = 0; id < vocab.pieces.size(); ++id) {
        const auto found = scoreOf.find(vocab.pieces[id]);
        if (found != scoreOf.end()) vocab.scores[id] = found->second;
    }
    const std::string unk = model.value("unk_token", nlohmann::json()).is_string()
                                ? model["unk_token"].get<std::string>()
                                : std::string();
    for (size_t id = 0; id < vocab.pieces.size(); ++id)
        if (!unk.empty() && vocab.pieces[id] == unk) vocab.unkId = int32_t(id);
    return vocab;
}

std::string sentencePieceTokenizerConfigJson(const SentencePieceVocab& vocab) {
    Json config = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                   {"add_bos_token", vocab.bosId.has_value()},
                   {"add_eos_token", false},
                   {"clean_up_tokenization_spaces", false},
                   {"legacy", true},
                   {"unk_token", vocab.pieces.at(size_t(vocab.unkId))}};
    if (vocab.bosId) config["bos_token"] = vocab.pieces.at(size_t(*vocab.bosId));
    if (vocab.eosId) config["eos_token"] = vocab.pieces.at(size_t(*vocab.eosId));
    return config.dump(2) + "\n";
}

}  // namespace gp
