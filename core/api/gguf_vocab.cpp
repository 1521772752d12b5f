#include "core/api/gguf_vocab.h"

#include <nlohmann/json.hpp>

#include <cctype>
#include <optional>

#include "core/io/text_file.h"
#include "core/runtime/error.h"
#include "core/tokenizer/llama2c_tokenizer.h"
#include "core/tokenizer/sentencepiece_json.h"

namespace gp {
namespace {

constexpr int32_t kNormal = 1, kUnknown = 2, kControl = 3, kUserDefined = 4, kByte = 6;

bool isBytePiece(const std::string& piece) {
    return piece.size() == 6 && piece.compare(0, 3, "<0x") == 0 && piece[5] == '>' &&
           std::isxdigit(static_cast<unsigned char>(piece[3])) &&
           std::isxdigit(static_cast<unsigned char>(piece[4]));
}

EmbeddedVocab embeddedOf(const SentencePieceVocab& pieces, const Tokenizer& tokenizer,
                         const ModelConfig& config) {
    EmbeddedVocab vocab;
    vocab.model = "llama";
    vocab.tokens = pieces.pieces;
    vocab.scores = pieces.scores;
    vocab.types.assign(vocab.tokens.size(), kNormal);
    for (size_t id = 0; id < vocab.tokens.size(); ++id)
        if (isBytePiece(vocab.tokens[id])) vocab.types[id] = kByte;
    for (int32_t id : pieces.specialIds) vocab.types.at(size_t(id)) = kControl;
    vocab.unkId = pieces.unkId;
    vocab.types.at(size_t(pieces.unkId)) = kUnknown;
    const auto bos = tokenizer.bosId(), eos = tokenizer.eosId();
    vocab.bosId = bos ? *bos : config.bosTokenId;
    vocab.eosId = eos ? *eos : config.eosTokenId;
    vocab.addBos = vocab.bosId >= 0;
    return vocab;
}

}  // namespace

// llama.cpp's pre-tokenizer regex for "qwen2" (llama-vocab.cpp), as Qwen2's tokenizer.json
// writes it in its Split pre-tokenizer.
constexpr const char* kQwen2Pattern =
    "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|"
    "\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

// A byte-level BPE vocabulary (GGUF model "gpt2") as tokenizer.json: GPT-2's pre-tokenizer for
// pre "gpt-2" / "default", Qwen2's split for "qwen2"; "" for another pre-tokenizer.
std::string byteLevelTokenizerJson(const EmbeddedVocab& vocab) {
    using Json = nlohmann::ordered_json;
    Json byteLevel = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true},
                      {"use_regex", true}};
    Json pre;
    if (vocab.pre == "gpt-2" || vocab.pre == "default") {
        pre = byteLevel;
    } else if (vocab.pre == "qwen2") {
        Json noRegex = byteLevel;
        noRegex["use_regex"] = false;
        pre = {{"type", "Sequence"},
               {"pretokenizers",
                Json::array({{{"type", "Split"}, {"pattern", {{"Regex", kQwen2Pattern}}},
                              {"behavior", "Isolated"}, {"invert", false}},
                             noRegex})}};
    } else {
        return "";
    }
    Json added = Json::array(), pieces = Json::object(), merges = Json::array();
    for (size_t id = 0; id < vocab.tokens.size(); ++id) {
        if (!pieces.contains(vocab.tokens[id])) pieces[vocab.tokens[id]] = int64_t(id);
        if (id < vocab.types.size() && vocab.types[id] == kControl)
            added.push_back({{"id", int64_t(id)}, {"content", vocab.tokens[id]},
                             {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                             {"normalized", false}, {"special", true}});
    }
    for (const std::string& merge : vocab.merges) {
        const size_t space = merge.find(' ', 1);
        if (space == std::string::npos) continue;
        merges.push_back(Json::array({merge.substr(0, space), merge.substr(space + 1)}));
    }
    Json model = {{"type", "BPE"}, {"dropout", nullptr}, {"unk_token", nullptr},
                  {"continuing_subword_prefix", nullptr}, {"end_of_word_suffix", nullptr},
                  {"fuse_unk", false}, {"byte_fallback", false}, {"vocab", pieces},
                  {"merges", merges}};
    const Json tokenizer = {{"version", "1.0"}, {"truncation", nullptr}, {"padding", nullptr},
                            {"added_tokens", added}, {"normalizer", nullptr},
                            {"pre_tokenizer", pre}, {"post_processor", byteLevel},
                            {"decoder", byteLevel}, {"model", model}};
    return tokenizer.dump(2) + "\n";
}

// A byte-level BPE tokenizer.json as GGUF model "gpt2": tokens by id, merges "left right",
// added special tokens as control tokens; nullopt when it is not one or llama.cpp would
// pre-tokenize it differently.
std::optional<EmbeddedVocab> byteLevelVocabOfJson(const std::string& jsonText,
                                                  const ModelConfig& config) {
    const nlohmann::json tokenizer = nlohmann::json::parse(jsonText, nullptr, false);
    if (!tokenizer.is_object() || !tokenizer.contains("model")) return std::nullopt;
    const nlohmann::json& model = tokenizer["model"];
    const nlohmann::json pre = tokenizer.value("pre_tokenizer", nlohmann::json());
    if (model.value("type", std::string("BPE")) != "BPE" || !pre.is_object()) return std::nullopt;
    EmbeddedVocab vocab;
    vocab.model = "gpt2";
    if (pre.value("type", std::string()) == "ByteLevel" && pre.value("use_regex", true))
        vocab.pre = "gpt-2";
    else if (config.architecture == Architecture::Qwen2 && pre.dump().find("Split") != std::string::npos)
        vocab.pre = "qwen2";
    else
        return std::nullopt;
    const auto place = [&](const std::string& piece, int64_t id, int32_t type) {
        if (id < 0 || id > (int64_t(1) << 24)) return;
        if (vocab.tokens.size() <= size_t(id)) {
            vocab.tokens.resize(size_t(id) + 1);
            vocab.types.resize(size_t(id) + 1, kNormal);
        }
        vocab.tokens[size_t(id)] = piece;
        vocab.types[size_t(id)] = type;
    };
    const nlohmann::json pieces = model.value("vocab", nlohmann::json::object());
    for (const auto& [piece, id] : pieces.items()) place(piece, id.get<int64_t>(), kNormal);
    for (const auto& token : tokenizer.value("added_tokens", nlohmann::json::array()))
        place(token.value("content", std::string()), token.value("id", int64_t(-1)),
              token.value("special", false) ? kControl : kUserDefined);
    for (const auto& merge : model.value("merges", nlohmann::json::array()))
        vocab.merges.push_back(merge.is_string() ? merge.get<std::string>()
                                                 : merge[0].get<std::string>() + " " +
                                                       merge[1].get<std::string>());
    return vocab;
}

std::string tokenizerJsonOfVocab(const EmbeddedVocab& vocab) {
    if (vocab.model == "gpt2" && !vocab.tokens.empty()) return byteLevelTokenizerJson(vocab);
    if (vocab.model != "llama" || vocab.tokens.empty()) return "";
    SentencePieceVocab pieces;
    pieces.pieces = vocab.tokens;
    pieces.scores = vocab.scores;
    for (size_t id = 0; id < vocab.types.size(); ++id)
        if (vocab.types[id] == kControl || vocab.types[id] == kUnknown)
            pieces.specialIds.push_back(int32_t(id));
    pieces.unkId = vocab.unkId >= 0 ? int32_t(vocab.unkId) : 0;
    if (vocab.addBos && vocab.bosId >= 0) pieces.bosId = int32_t(vocab.bosId);
    if (vocab.eosId >= 0) pieces.eosId = int32_t(vocab.eosId);
    return sentencePieceTokenizerJson(pieces);
}

EmbeddedVocab ggufVocabOf(const ModelSession::Impl& session) {
    if (!session.tokenizer)
        throw badArgument("--format", "GGUF export needs the model's tokenizer (llama.cpp reads it "
                                      "from the file): give --tokenizer");
    if (const auto* llama2c = dynamic_cast<const Llama2cTokenizer*>(session.tokenizer.get()))
        return embeddedOf(llama2c->sentencePieceVocab(), *session.tokenizer, session.config);
    const std::string source = session.checkpoint.tokenizerPath.empty()
                                   ? session.checkpoint.path
                                   : session.checkpoint.tokenizerPath;
    const std::string json = !session.tokenizerJson.empty()
                                 ? session.tokenizerJson
                                 : readTextFile(session.checkpoint.tokenizerPath);
    if (const std::optional<SentencePieceVocab> pieces = sentencePieceVocabOfJson(json, source))
        return embeddedOf(*pieces, *session.tokenizer, session.config);
    std::optional<EmbeddedVocab> byteLevel = byteLevelVocabOfJson(json, session.config);
    if (!byteLevel)
        throw badArgument("--format", "GGUF export writes SentencePiece-style BPE tokenizers (LLaMA, "
                                      "Mistral) and byte-level BPE with GPT-2's or Qwen2's "
                                      "pre-tokenizer; " + source + " is another kind");
    const auto bos = session.tokenizer->bosId(), eos = session.tokenizer->eosId();
    byteLevel->bosId = bos ? *bos : session.config.bosTokenId;
    byteLevel->eosId = eos ? *eos : session.config.eosTokenId;
    byteLevel->addBos = false;  // as convert_hf_to_gguf for GPT-2-style vocabularies
    return *byteLevel;
}

}  // namespace gp
