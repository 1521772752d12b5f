#include "core/io/gguf_model.h"

#include <nlohmann/json.hpp>

#include <map>
#include <set>
#include <utility>

#include "core/io/llama2c_checkpoint.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

constexpr const char* kBlockPrefix = "model.layers.";
constexpr const char* kGgufBlockPrefix = "blk.";

// Per-block tensors: Hugging Face suffix after "model.layers.N." -> GGUF suffix after "blk.N.".
const std::vector<std::pair<std::string, std::string>>& blockNames() {
    static const std::vector<std::pair<std::string, std::string>> kNames = {
        {"input_layernorm.weight", "attn_norm.weight"},
        {"self_attn.q_proj.weight", "attn_q.weight"},
        {"self_attn.k_proj.weight", "attn_k.weight"},
        {"self_attn.v_proj.weight", "attn_v.weight"},
        {"self_attn.q_proj.bias", "attn_q.bias"},
        {"self_attn.k_proj.bias", "attn_k.bias"},
        {"self_attn.v_proj.bias", "attn_v.bias"},
        {"self_attn.o_proj.weight", "attn_output.weight"},
        {"post_attention_layernorm.weight", "ffn_norm.weight"},
        {"mlp.gate_proj.weight", "ffn_gate.weight"},
        {"mlp.up_proj.weight", "ffn_up.weight"},
        {"mlp.down_proj.weight", "ffn_down.weight"}};
    return kNames;
}

const std::vector<std::pair<std::string, std::string>>& globalNames() {
    static const std::vector<std::pair<std::string, std::string>> kNames = {
        {"model.embed_tokens.weight", "token_embd.weight"},
        {"model.norm.weight", "output_norm.weight"},
        {"lm_head.weight", "output.weight"}};
    return kNames;
}

// "<prefix>N.<rest>" -> {N, rest}; nullopt when `name` does not have that form.
std::optional<std::pair<std::string, std::string>> splitBlock(const std::string& name,
                                                              const std::string& prefix) {
    if (name.rfind(prefix, 0) != 0) return std::nullopt;
    const size_t dot = name.find('.', prefix.size());
    if (dot == std::string::npos || dot == prefix.size()) return std::nullopt;
    const std::string block = name.substr(prefix.size(), dot - prefix.size());
    if (block.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
    return std::make_pair(block, name.substr(dot + 1));
}

std::string translate(const std::string& name, bool toGguf) {
    for (const auto& [hf, gguf] : globalNames())
        if (name == (toGguf ? hf : gguf)) return toGguf ? gguf : hf;
    const auto split = splitBlock(name, toGguf ? kBlockPrefix : kGgufBlockPrefix);
    if (!split) return "";
    for (const auto& [hf, gguf] : blockNames())
        if (split->second == (toGguf ? hf : gguf))
            return (toGguf ? kGgufBlockPrefix : kBlockPrefix) + split->first + "." +
                   (toGguf ? gguf : hf);
    return "";
}

// llama.cpp's architectures we map, and the model_type / class they stand for.
struct ArchitectureEntry {
    const char* gguf;
    const char* modelType;
    const char* hfClass;
    bool permuteQk;  // convert_hf_to_gguf's LlamaModel permutes q and k; Qwen2Model does not
};

const ArchitectureEntry* architectureEntry(const std::string& gguf) {
    static const ArchitectureEntry kEntries[] = {{"llama", "llama", "LlamaForCausalLM", true},
                                                 {"qwen2", "qwen2", "Qwen2ForCausalLM", false}};
    for (const ArchitectureEntry& entry : kEntries)
        if (gguf == entry.gguf) return &entry;
    return nullptr;
}

std::vector<std::string> stringsOf(const GgufFile& file, const std::string& key) {
    std::vector<std::string> out;
    const GgufValue* value = file.find(key);
    if (!value) return out;
    if (value->type != GgufValueType::Array || value->elementType != GgufValueType::String)
        throw badInput(file.path(), key, "must be an array of strings");
    for (const GgufValue& item : value->items) out.push_back(item.text);
    return out;
}

template <class T>
std::vector<T> numbersOf(const GgufFile& file, const std::string& key) {
    std::vector<T> out;
    const GgufValue* value = file.find(key);
    if (!value) return out;
    if (value->type != GgufValueType::Array || value->elementType == GgufValueType::String ||
        value->elementType == GgufValueType::Array)
        throw badInput(file.path(), key, "must be an array of numbers");
    const bool real = value->elementType == GgufValueType::Float32 ||
                      value->elementType == GgufValueType::Float64;
    for (const GgufValue& item : value->items) out.push_back(T(real ? item.real : double(item.integer)));
    return out;
}

EmbeddedVocab readVocab(const GgufFile& file) {
    EmbeddedVocab vocab;
    vocab.model = file.string("tokenizer.ggml.model");
    if (file.find("tokenizer.ggml.pre")) vocab.pre = file.string("tokenizer.ggml.pre");
    vocab.tokens = stringsOf(file, "tokenizer.ggml.tokens");
    vocab.scores = numbersOf<float>(file, "tokenizer.ggml.scores");
    vocab.types = numbersOf<int32_t>(file, "tokenizer.ggml.token_type");
    vocab.merges = stringsOf(file, "tokenizer.ggml.merges");
    const size_t count = vocab.tokens.size();
    if ((!vocab.scores.empty() && vocab.scores.size() != count) ||
        (!vocab.types.empty() && vocab.types.size() != count))
        throw badInput(file.path(), "tokenizer.ggml.scores",
                       "tokens, scores and token types differ in length");
    vocab.bosId = file.integerOr("tokenizer.ggml.bos_token_id", -1);
    vocab.eosId = file.integerOr("tokenizer.ggml.eos_token_id", -1);
    vocab.unkId = file.integerOr("tokenizer.ggml.unknown_token_id", -1);
    vocab.padId = file.integerOr("tokenizer.ggml.padding_token_id", -1);
    vocab.addBos = file.integerOr("tokenizer.ggml.add_bos_token", 1) != 0;
    vocab.addEos = file.integerOr("tokenizer.ggml.add_eos_token", 0) != 0;
    for (int64_t id : {vocab.bosId, vocab.eosId, vocab.unkId, vocab.padId})
        if (id >= int64_t(count))
            throw badInput(file.path(), "tokenizer.ggml", "special token id " + std::to_string(id) +
                                                              " is outside the " +
                                                              std::to_string(count) + " tokens");
    return vocab;
}

std::string configJson(const GgufFile& file, const ArchitectureEntry& arch, const WeightMap& weights,
                       int64_t vocabSize, bool halfPrecision) {
    const std::string a = arch.gguf;
    const int64_t hidden = file.integer(a + ".embedding_length");
    const int64_t heads = file.integer(a + ".attention.head_count");
    nlohmann::ordered_json config;
    config["architectures"] = {arch.hfClass};
    config["model_type"] = arch.modelType;
    config["vocab_size"] = vocabSize;
    config["hidden_size"] = hidden;
    config["intermediate_size"] = file.integer(a + ".feed_forward_length");
    config["num_hidden_layers"] = file.integer(a + ".block_count");
    config["num_attention_heads"] = heads;
    config["num_key_value_heads"] = file.integerOr(a + ".attention.head_count_kv", heads);
    const int64_t headDim = file.integerOr(a + ".attention.key_length", heads ? hidden / heads : 0);
    if (heads && headDim != hidden / heads) config["head_dim"] = headDim;
    config["max_position_embeddings"] = file.integer(a + ".context_length");
    config["rms_norm_eps"] = file.real(a + ".attention.layer_norm_rms_epsilon");
    config["rope_theta"] = file.realOr(a + ".rope.freq_base", 10000.0);
    config["hidden_act"] = "silu";
    config["tie_word_embeddings"] = !weights.count("lm_head.weight");
    config["attention_bias"] = weights.count("model.layers.0.self_attn.q_proj.bias") > 0;
    config["torch_dtype"] = halfPrecision ? "float16" : "float32";
    if (const GgufValue* bos = file.find("tokenizer.ggml.bos_token_id")) config["bos_token_id"] = bos->integer;
    if (const GgufValue* eos = file.find("tokenizer.ggml.eos_token_id")) config["eos_token_id"] = eos->integer;
    return config.dump(2) + "\n";
}

void requireShape(const std::string& path, const std::string& name, const at::Tensor& tensor,
                  const std::vector<int64_t>& shape) {
    if (tensor.sizes().vec() == shape) return;
    std::string expected;
    for (int64_t n : shape) expected += (expected.empty() ? "" : ", ") + std::to_string(n);
    throw badInput(path, name, "has shape " + std::string(c10::str(tensor.sizes())) +
                                   ", the header's sizes need [" + expected + "]");
}

}  // namespace

std::string ggufTensorName(const std::string& hfName) { return translate(hfName, true); }
std::string hfTensorName(const std::string& ggufName) { return translate(ggufName, false); }

Checkpoint loadGgufCheckpoint(const std::string& path) {
    const auto file = GgufFile::open(path);
    const std::string archName = file->string("general.architecture");
    const ArchitectureEntry* arch = architectureEntry(archName);
    if (!arch)
        throw badInput(path, "general.architecture",
                       "\"" + archName + "\" is not read: GGUF import takes llama (LLaMA, Mistral) "
                                         "and qwen2 models");
    // Rotary scaling is not mapped back to config.json: refused rather than run unscaled.
    const std::string scaling = archName + ".rope.scaling.type";
    if (file->find(scaling) && file->string(scaling) != "none")
        throw badInput(path, scaling, "\"" + file->string(scaling) +
                                          "\" rope scaling is not read (only unscaled rope)");
    Checkpoint checkpoint;
    checkpoint.format = CheckpointFormat::Gguf;
    checkpoint.path = path;
    checkpoint.weightFiles = {path};
    bool allHalf = true;
    for (const GgufTensorInfo& info : file->tensors()) {
        const std::string name = hfTensorName(info.name);
        if (info.name == "rope_freqs.weight")
            throw badInput(path, info.name, "Llama 3 rope frequency factors are not read "
                                            "(only unscaled rope)");
        if (name.empty())
            throw badInput(path, info.name, "is not a tensor of a " + archName + " model");
        if (info.ne.size() >= 2 && GgmlType(info.type) != GgmlType::F16) allHalf = false;
        checkpoint.weights[name] = file->tensor(info);
    }
    if (!checkpoint.weights.count("model.embed_tokens.weight"))
        throw badInput(path, "token_embd.weight", "missing");
    if (file->find("tokenizer.ggml.model")) checkpoint.embeddedVocab = readVocab(*file);
    const int64_t vocabSize = file->integerOr(
        archName + ".vocab_size",
        checkpoint.embeddedVocab && !checkpoint.embeddedVocab->tokens.empty()
            ? int64_t(checkpoint.embeddedVocab->tokens.size())
            : checkpoint.weights.at("model.embed_tokens.weight").size(0));
    checkpoint.configText = configJson(*file, *arch, checkpoint.weights, vocabSize, allHalf);

    // Back from Meta's interleaved rotary pairs to Hugging Face's rotate-half rows.
    const int64_t heads = file->integer(archName + ".attention.head_count");
    const int64_t kvHeads = file->integerOr(archName + ".attention.head_count_kv", heads);
    const int64_t hidden = file->integer(archName + ".embedding_length");
    const int64_t headDim = file->integerOr(archName + ".attention.key_length", hidden / heads);
    for (auto& [name, tensor] : checkpoint.weights) {
        const auto block = splitBlock(name, kBlockPrefix);
        if (!block) continue;
        const bool q = block->second == "self_attn.q_proj.weight";
        const bool k = block->second == "self_attn.k_proj.weight";
        if (!q && !k) continue;
        requireShape(path, ggufTensorName(name), tensor, {(q ? heads : kvHeads) * headDim, hidden});
        if (arch->permuteQk) tensor = interleavedToRotateHalf(tensor, q ? heads : kvHeads);
    }
    return checkpoint;
}

void writeGgufModel(const std::string& path, const GgufModelHeader& header,
                    const WeightMap& weights, const std::string& type) {
    static const std::map<std::string, std::pair<uint32_t, GgmlType>> kTypes = {
        {"f32", {0, GgmlType::F32}}, {"f16", {1, GgmlType::F16}},
        {"bf16", {32, GgmlType::BF16}}, {"q8_0", {7, GgmlType::Q8_0}}};
    const auto chosen = kTypes.find(type);
    if (chosen == kTypes.end())
        throw badArgument("--gguf-type", "\"" + type + "\" is not a GGUF type: f32, f16, bf16 or q8_0");
    const ArchitectureEntry* arch = architectureEntry(header.architecture);
    if (!arch) throw badArgument("--format", "GGUF export writes llama and qwen2 models");
    const std::string a = header.architecture;
    using V = GgufValue;
    std::vector<std::pair<std::string, GgufValue>> kvs = {
        {"general.architecture", V::string(a)},
        {"general.type", V::string("model")},
        {"general.name", V::string(header.name)},
        {"general.file_type", V::u32(chosen->second.first)},
        {"general.quantization_version", V::u32(2)},
        {a + ".vocab_size", V::u32(uint32_t(header.vocabSize))},
        {a + ".context_length", V::u32(uint32_t(header.contextLength))},
        {a + ".embedding_length", V::u32(uint32_t(header.hiddenSize))},
        {a + ".block_count", V::u32(uint32_t(header.numLayers))},
        {a + ".feed_forward_length", V::u32(uint32_t(header.intermediateSize))},
        {a + ".attention.head_count", V::u32(uint32_t(header.numHeads))},
        {a + ".attention.head_count_kv", V::u32(uint32_t(header.numKvHeads))},
        {a + ".rope.freq_base", V::f32(float(header.ropeTheta))},
        {a + ".attention.layer_norm_rms_epsilon", V::f32(float(header.normEps))},
        {a + ".rope.dimension_count", V::u32(uint32_t(header.headDim))}};
    if (header.headDim * header.numHeads != header.hiddenSize) {
        kvs.emplace_back(a + ".attention.key_length", V::u32(uint32_t(header.headDim)));
        kvs.emplace_back(a + ".attention.value_length", V::u32(uint32_t(header.headDim)));
    }
    const EmbeddedVocab& vocab = header.vocab;
    if (!vocab.tokens.empty()) {
        std::vector<GgufValue> tokens, scores, types, merges;
        for (size_t id = 0; id < vocab.tokens.size(); ++id) {
            tokens.push_back(V::string(vocab.tokens[id]));
            if (!vocab.scores.empty()) scores.push_back(V::f32(vocab.scores[id]));
            types.push_back(V::i32(vocab.types.empty() ? 1 : vocab.types[id]));
        }
        for (const std::string& merge : vocab.merges) merges.push_back(V::string(merge));
        kvs.emplace_back("tokenizer.ggml.model", V::string(vocab.model));
        kvs.emplace_back("tokenizer.ggml.pre", V::string(vocab.pre));
        kvs.emplace_back("tokenizer.ggml.tokens", V::array(GgufValueType::String, std::move(tokens)));
        if (!scores.empty())
            kvs.emplace_back("tokenizer.ggml.scores", V::array(GgufValueType::Float32, std::move(scores)));
        kvs.emplace_back("tokenizer.ggml.token_type", V::array(GgufValueType::Int32, std::move(types)));
        if (!merges.empty())
            kvs.emplace_back("tokenizer.ggml.merges", V::array(GgufValueType::String, std::move(merges)));
        const std::pair<const char*, int64_t> ids[] = {{"bos", vocab.bosId}, {"eos", vocab.eosId},
                                                       {"unknown", vocab.unkId}, {"padding", vocab.padId}};
        for (const auto& [what, id] : ids)
            if (id >= 0)
                kvs.emplace_back(std::string("tokenizer.ggml.") + what + "_token_id", V::u32(uint32_t(id)));
        kvs.emplace_back("tokenizer.ggml.add_bos_token", V::boolean(vocab.addBos));
        kvs.emplace_back("tokenizer.ggml.add_eos_token", V::boolean(vocab.addEos));
    }

    std::vector<GgufTensorOut> tensors;
    for (const auto& [name, live] : weights) {
        const std::string ggufName = ggufTensorName(name);
        if (ggufName.empty())
            throw badArgument("--format", "GGUF has no name for the tensor " + name + " of a " + a + " model");
        at::Tensor values = live.detach().to(at::kCPU);
        const auto block = splitBlock(name, kBlockPrefix);
        if (arch->permuteQk && block && (block->second == "self_attn.q_proj.weight" ||
                                         block->second == "self_attn.k_proj.weight")) {
            const bool q = block->second == "self_attn.q_proj.weight";
            values = rotateHalfToInterleaved(values, q ? header.numHeads : header.numKvHeads);
        }
        GgufTensorOut out;
        out.name = ggufName;
        out.shape = values.sizes().vec();
        GgmlType ggml = values.dim() < 2 ? GgmlType::F32 : chosen->second.second;
        if (ggml == GgmlType::Q8_0 && values.size(-1) % kQ8BlockValues != 0) ggml = GgmlType::F16;
        out.type = ggml;
        switch (ggml) {
            case GgmlType::F32: out.bytes = values.to(at::kFloat).contiguous(); break;
            case GgmlType::F16: out.bytes = values.to(at::kHalf).contiguous(); break;
            case GgmlType::BF16: out.bytes = values.to(at::kBFloat16).contiguous(); break;
            case GgmlType::Q8_0:
                out.bytes = quantizeQ8_0(values.reshape({-1, values.size(-1)}));
                break;
        }
        tensors.push_back(std::move(out));
    }
    writeGguf(path, kvs, tensors);
}

}  // namespace gp
