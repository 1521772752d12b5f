// Tiny hand-made checkpoints of every architecture for engine tests: a config.json text and
// seeded random weights under the Hugging Face tensor names, written out here by hand (not taken
// from the model's own tables, so a naming or shape slip in the engine shows up as an error).
// INTERNAL to the tests: includes ATen and nlohmann_json.
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <nlohmann/json.hpp>

#include <memory>
#include <string>

#include "core/model/causal_lm.h"
#include "core/model/model_config.h"

namespace gp::test {

// The config.json of a tiny model of `modelType`, with `overrides` merged over the defaults.
inline nlohmann::json tinyConfigJson(const std::string& modelType,
                                     const nlohmann::json& overrides = nlohmann::json::object()) {
    nlohmann::json config;
    if (modelType == "llama" || modelType == "mistral") {
        config = {{"vocab_size", 23},
                  {"hidden_size", 16},
                  {"intermediate_size", 24},
                  {"num_hidden_layers", 2},
                  {"num_attention_heads", 4},
                  {"num_key_value_heads", 2},
                  {"max_position_embeddings", 64},
                  {"rms_norm_eps", 1e-5},
                  {"rope_theta", 10000.0},
                  {"tie_word_embeddings", false}};
        if (modelType == "mistral") config["sliding_window"] = 4;
    } else if (modelType == "gpt_neo") {
        config = {{"vocab_size", 23},
                  {"hidden_size", 16},
                  {"num_layers", 2},
                  {"num_heads", 4},
                  {"intermediate_size", 32},
                  {"max_position_embeddings", 32},
                  {"window_size", 3},
                  {"layer_norm_epsilon", 1e-5},
                  {"attention_types", nlohmann::json::parse(R"([[["global", "local"], 1]])")}};
    } else if (modelType == "gpt2") {
        config = {{"vocab_size", 23}, {"n_embd", 16},      {"n_layer", 2},
                  {"n_head", 4},      {"n_positions", 32}, {"layer_norm_epsilon", 1e-5}};
    } else if (modelType == "mlp") {
        config = {{"vocab_size", 23},
                  {"hidden_size", 16},
                  {"intermediate_size", 24},
                  {"num_hidden_layers", 2}};
    }
    config["model_type"] = modelType;
    config.update(overrides);
    return config;
}

inline ModelConfig tinyConfig(const std::string& modelType,
                              const nlohmann::json& overrides = nlohmann::json::object()) {
    return parseModelConfig(tinyConfigJson(modelType, overrides).dump(), "tiny/config.json");
}

// Seeded random weights for `config`, under the names a Hugging Face checkpoint uses.
class TinyWeights {
public:
    TinyWeights(uint64_t seed, at::ScalarType dtype)
        : m_generator(at::detail::createCPUGenerator(seed)), m_dtype(dtype) {}

    void matrix(const std::string& name, int64_t rows, int64_t columns, double scale = 0.4) {
        add(name, {rows, columns}, scale, 0.0);
    }
    void vector(const std::string& name, int64_t size, double scale = 0.1, double offset = 0.0) {
        add(name, {size}, scale, offset);
    }
    WeightMap take() { return std::move(m_weights); }

private:
    void add(const std::string& name, std::vector<int64_t> shape, double scale, double offset) {
        const at::Tensor values = at::randn(shape, m_generator, at::TensorOptions(at::kDouble));
        m_weights[name] = (values * scale + offset).to(m_dtype);
    }

    at::Generator m_generator;
    at::ScalarType m_dtype;
    WeightMap m_weights;
};

inline WeightMap tinyWeights(const ModelConfig& c, uint64_t seed,
                             at::ScalarType dtype = at::kFloat) {
    TinyWeights w(seed, dtype);
    const int64_t d = c.hiddenSize, inner = c.intermediateSize, v = c.vocabSize;
    const auto layer = [](const char* prefix, int64_t index, const char* rest) {
        return std::string(prefix) + std::to_string(index) + rest;
    };
    switch (c.architecture) {
        case Architecture::Llama:
        case Architecture::Mistral: {
            const int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
            w.matrix("model.embed_tokens.weight", v, d, 1.0);
            for (int64_t i = 0; i < c.numLayers; ++i) {
                const auto name = [&](const char* rest) { return layer("model.layers.", i, rest); };
                w.vector(name(".input_layernorm.weight"), d, 0.1, 1.0);
                w.matrix(name(".self_attn.q_proj.weight"), q, d, 0.5);
                w.matrix(name(".self_attn.k_proj.weight"), kv, d, 0.5);
                w.matrix(name(".self_attn.v_proj.weight"), kv, d);
                w.matrix(name(".self_attn.o_proj.weight"), d, q);
                if (c.attentionBias) {
                    w.vector(name(".self_attn.q_proj.bias"), q);
                    w.vector(name(".self_attn.k_proj.bias"), kv);
                    w.vector(name(".self_attn.v_proj.bias"), kv);
                    w.vector(name(".self_attn.o_proj.bias"), d);
                }
                w.vector(name(".post_attention_layernorm.weight"), d, 0.1, 1.0);
                w.matrix(name(".mlp.gate_proj.weight"), inner, d);
                w.matrix(name(".mlp.up_proj.weight"), inner, d);
                w.matrix(name(".mlp.down_proj.weight"), d, inner);
                if (c.mlpBias) {
                    w.vector(name(".mlp.gate_proj.bias"), inner);
                    w.vector(name(".mlp.up_proj.bias"), inner);
                    w.vector(name(".mlp.down_proj.bias"), d);
                }
            }
            w.vector("model.norm.weight", d, 0.1, 1.0);
            if (!c.tieWordEmbeddings) w.matrix("lm_head.weight", v, d);
            break;
        }
        case Architecture::GptNeo: {
            w.matrix("transformer.wte.weight", v, d, 1.0);
            w.matrix("transformer.wpe.weight", c.maxPositions, d, 0.3);
            for (int64_t i = 0; i < c.numLayers; ++i) {
                const auto name = [&](const char* rest) {
                    return layer("transformer.h.", i, rest);
                };
                w.vector(name(".ln_1.weight"), d, 0.1, 1.0);
                w.vector(name(".ln_1.bias"), d);
                w.matrix(name(".attn.attention.q_proj.weight"), d, d, 0.3);
                w.matrix(name(".attn.attention.k_proj.weight"), d, d, 0.3);
                w.matrix(name(".attn.attention.v_proj.weight"), d, d);
                w.matrix(name(".attn.attention.out_proj.weight"), d, d);
                w.vector(name(".attn.attention.out_proj.bias"), d);
                w.vector(name(".ln_2.weight"), d, 0.1, 1.0);
                w.vector(name(".ln_2.bias"), d);
                w.matrix(name(".mlp.c_fc.weight"), inner, d);
                w.vector(name(".mlp.c_fc.bias"), inner);
                w.matrix(name(".mlp.c_proj.weight"), d, inner, 0.3);
                w.vector(name(".mlp.c_proj.bias"), d);
            }
            w.vector("transformer.ln_f.weight", d, 0.1, 1.0);
            w.vector("transformer.ln_f.bias", d);
            if (!c.tieWordEmbeddings) w.matrix("lm_head.weight", v, d);
            break;
        }
        case Architecture::Gpt2: {  // Conv1D weights stored [in, out]
            w.matrix("transformer.wte.weight", v, d, 1.0);
            w.matrix("transformer.wpe.weight", c.maxPositions, d, 0.3);
            for (int64_t i = 0; i < c.numLayers; ++i) {
                const auto name = [&](const char* rest) {
                    return layer("transformer.h.", i, rest);
                };
                w.vector(name(".ln_1.weight"), d, 0.1, 1.0);
                w.vector(name(".ln_1.bias"), d);
                w.matrix(name(".attn.c_attn.weight"), d, 3 * d, 0.5);
                w.vector(name(".attn.c_attn.bias"), 3 * d);
                w.matrix(name(".attn.c_proj.weight"), d, d);
                w.vector(name(".attn.c_proj.bias"), d);
                w.vector(name(".ln_2.weight"), d, 0.1, 1.0);
                w.vector(name(".ln_2.bias"), d);
                w.matrix(name(".mlp.c_fc.weight"), d, inner);
                w.vector(name(".mlp.c_fc.bias"), inner);
                w.matrix(name(".mlp.c_proj.weight"), inner, d, 0.2);
                w.vector(name(".mlp.c_proj.bias"), d);
            }
            w.vector("transformer.ln_f.weight", d, 0.1, 1.0);
            w.vector("transformer.ln_f.bias", d);
            if (!c.tieWordEmbeddings) w.matrix("lm_head.weight", v, d);
            break;
        }
        case Architecture::Mlp: {
            w.matrix("embed.weight", v, d, 1.0);
            for (int64_t i = 0; i < c.numLayers; ++i) {
                w.matrix(layer("blocks.", i, ".fc1.weight"), inner, d);
                w.vector(layer("blocks.", i, ".fc1.bias"), inner);
                w.matrix(layer("blocks.", i, ".fc2.weight"), d, inner);
                w.vector(layer("blocks.", i, ".fc2.bias"), d);
            }
            w.matrix("lm_head.weight", v, d);
            break;
        }
        default:  // qwen2, qwen3, phi3, gemma2: tst_architectures.cpp writes its own
            break;
    }
    return w.take();
}

inline std::unique_ptr<CausalLM> tinyModel(
    const std::string& modelType, const nlohmann::json& overrides = nlohmann::json::object(),
    uint64_t seed = 7, at::ScalarType dtype = at::kFloat) {
    const ModelConfig config = tinyConfig(modelType, overrides);
    return createCausalLM(config, tinyWeights(config, seed, dtype), "tiny");
}

// Seeded token ids [batch, tokens] below `vocab`.
inline at::Tensor tinyIds(int64_t batch, int64_t tokens, int64_t vocab, uint64_t seed = 3) {
    at::Generator generator = at::detail::createCPUGenerator(seed);
    return at::randint(vocab, {batch, tokens}, generator, at::TensorOptions(at::kLong));
}

}  // namespace gp::test
