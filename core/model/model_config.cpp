#include "core/model/model_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>

#include "core/runtime/error.h"

namespace gp {
namespace {

using Json = nlohmann::json;

std::string joined(const std::vector<std::string>& items) {
    std::string text;
    for (const std::string& item : items) text += (text.empty() ? "" : ", ") + item;
    return text;
}

// Reads typed values out of config.json; every error names the file and the key.
class ConfigReader {
public:
    ConfigReader(const Json& json, const std::string& file, std::string modelType)
        : m_json(json), m_file(file), m_modelType(std::move(modelType)) {}

    Error error(const std::string& key, const std::string& problem) const {
        return badInput(m_file, key, problem);
    }

    // Present and not null (Hugging Face writes null for "use the default").
    bool has(const char* key) const { return m_json.contains(key) && !m_json.at(key).is_null(); }
    bool isNull(const char* key) const { return m_json.contains(key) && m_json.at(key).is_null(); }

    int64_t positiveInt(const char* key) const {
        if (!has(key)) throw error(key, "missing (required for model_type " + m_modelType + ")");
        return positive(key);
    }
    int64_t positiveInt(const char* key, int64_t fallback) const {
        return has(key) ? positive(key) : fallback;
    }

    double number(const char* key, double fallback) const {
        if (!has(key)) return fallback;
        const Json& value = m_json.at(key);
        if (!value.is_number()) throw error(key, "expected a number, got " + value.dump());
        return value.get<double>();
    }
    double positiveNumber(const char* key, double fallback) const {
        const double value = number(key, fallback);
        if (!(value > 0.0)) throw error(key, "must be positive, got " + std::to_string(value));
        return value;
    }

    bool boolean(const char* key, bool fallback) const {
        if (!has(key)) return fallback;
        const Json& value = m_json.at(key);
        if (!value.is_boolean()) throw error(key, "expected true or false, got " + value.dump());
        return value.get<bool>();
    }

    std::string string(const char* key, const std::string& fallback) const {
        if (!has(key)) return fallback;
        const Json& value = m_json.at(key);
        if (!value.is_string()) throw error(key, "expected a string, got " + value.dump());
        return value.get<std::string>();
    }

    // bos_token_id / eos_token_id: an integer, a list (the first is taken) or absent (-1).
    int64_t tokenId(const char* key) const {
        if (!has(key)) return -1;
        const Json& value = m_json.at(key);
        const Json& first = value.is_array() && !value.empty() ? value.front() : value;
        if (!first.is_number_integer())
            throw error(key, "expected a token id, got " + value.dump());
        return first.get<int64_t>();
    }

    const Json& at(const char* key) const { return m_json.at(key); }

private:
    int64_t positive(const char* key) const {
        const Json& value = m_json.at(key);
        if (!value.is_number_integer())
            throw error(key, "expected a positive integer, got " + value.dump());
        const int64_t number = value.get<int64_t>();
        if (number <= 0) throw error(key, "must be a positive integer, got " + value.dump());
        return number;
    }

    const Json& m_json;
    const std::string& m_file;
    std::string m_modelType;
};

void requireDivides(const ConfigReader& in, const char* divisorKey, int64_t divisor,
                    const char* dividendKey, int64_t dividend) {
    if (dividend % divisor != 0)
        throw in.error(divisorKey, std::to_string(divisor) + " does not divide " + dividendKey +
                                       " " + std::to_string(dividend));
}

std::string activation(const ConfigReader& in, const char* key, const std::string& fallback) {
    static const std::vector<std::string> supported = {"silu", "gelu_new", "gelu_pytorch_tanh",
                                                       "gelu", "relu"};
    const std::string name = in.string(key, fallback);
    for (const std::string& known : supported)
        if (name == known) return name;
    throw in.error(key, "unsupported activation \"" + name + "\"; supported: " + joined(supported));
}

// ---- rotary embeddings (the config side of transformers' modeling_rope_utils.py) ----

const char* const kRopeTypes = "default, linear, dynamic, yarn, llama3, longrope";

double ropeNumber(const ConfigReader& in, const char* blockKey, const Json& scaling,
                  const char* key, double fallback, bool required = false) {
    if (!scaling.contains(key) || scaling.at(key).is_null()) {
        if (required) throw in.error(blockKey, std::string("needs \"") + key + "\"");
        return fallback;
    }
    if (!scaling.at(key).is_number())
        throw in.error(blockKey, std::string("\"") + key + "\" must be a number, got " +
                                     scaling.at(key).dump());
    return scaling.at(key).get<double>();
}

std::vector<double> ropeFactors(const ConfigReader& in, const char* blockKey, const Json& scaling,
                                const char* key) {
    const std::string problem = std::string("longrope needs \"") + key + "\", a list of numbers";
    if (!scaling.contains(key) || !scaling.at(key).is_array()) throw in.error(blockKey, problem);
    std::vector<double> factors;
    for (const Json& value : scaling.at(key)) {
        if (!value.is_number()) throw in.error(blockKey, problem);
        factors.push_back(value.get<double>());
    }
    return factors;
}

void parseRopeScaling(const ConfigReader& in, const char* blockKey, const Json& scaling,
                      ModelConfig& config) {
    RopeScaling& rope = config.rope;
    const char* typeKey = scaling.contains("rope_type") ? "rope_type" : "type";
    rope.type = scaling.value(typeKey, std::string("default"));
    if (rope.type == "su") rope.type = "longrope";  // Phi-3's first name for it
    if (rope.type != "default" && rope.type != "linear" && rope.type != "dynamic" &&
        rope.type != "yarn" && rope.type != "llama3" && rope.type != "longrope")
        throw in.error(blockKey, "scaling type \"" + rope.type + "\" is not supported; supported: " +
                                     kRopeTypes);
    const bool needsFactor = rope.type != "default" && rope.type != "longrope";
    rope.factor = ropeNumber(in, blockKey, scaling, "factor",
                             rope.type == "longrope" ? 0.0 : 1.0, needsFactor);
    if (needsFactor && !(rope.factor > 0.0))
        throw in.error(blockKey, rope.type + " scaling needs a positive \"factor\"");
    // Phi-3 keeps the pre-training length beside max_position_embeddings; that one wins, as in
    // transformers' standardize_rope_params; else the block's, else max_position_embeddings.
    const double blockOriginal =
        ropeNumber(in, blockKey, scaling, "original_max_position_embeddings",
                   double(config.maxPositions), rope.type == "llama3");
    rope.originalMaxPositions = int64_t(in.number("original_max_position_embeddings", blockOriginal));
    if (rope.originalMaxPositions <= 0)
        throw in.error(blockKey, "\"original_max_position_embeddings\" must be positive");
    const bool llama3 = rope.type == "llama3";
    rope.lowFreqFactor = ropeNumber(in, blockKey, scaling, "low_freq_factor", 1.0, llama3);
    rope.highFreqFactor = ropeNumber(in, blockKey, scaling, "high_freq_factor", 4.0, llama3);
    if (llama3 && !(rope.highFreqFactor > rope.lowFreqFactor))
        throw in.error(blockKey, "llama3 scaling needs high_freq_factor > low_freq_factor");
    rope.attentionFactor = ropeNumber(in, blockKey, scaling, "attention_factor", 0.0);
    // transformers reads beta_fast / beta_slow with `or`: 0 and null give the defaults.
    rope.betaFast = ropeNumber(in, blockKey, scaling, "beta_fast", 0.0);
    rope.betaSlow = ropeNumber(in, blockKey, scaling, "beta_slow", 0.0);
    if (rope.betaFast == 0.0) rope.betaFast = 32.0;
    if (rope.betaSlow == 0.0) rope.betaSlow = 1.0;
    rope.mscale = ropeNumber(in, blockKey, scaling, "mscale", 0.0);
    rope.mscaleAllDim = ropeNumber(in, blockKey, scaling, "mscale_all_dim", 0.0);
    if (scaling.contains("truncate") && scaling.at("truncate").is_boolean())
        rope.truncate = scaling.at("truncate").get<bool>();
    if (rope.type == "longrope") {
        rope.shortFactor = ropeFactors(in, blockKey, scaling, "short_factor");
        rope.longFactor = ropeFactors(in, blockKey, scaling, "long_factor");
    }
}

// rope_theta, partial_rotary_factor and the scaling block: rope_parameters (transformers 5,
// which also holds rope_theta and may hold partial_rotary_factor) or rope_scaling (earlier
// releases and most checkpoints). null, absent or {"rope_type"|"type": "default"} change
// nothing; a type we do not implement is refused by name rather than silently ignored.
void parseRope(const ConfigReader& in, ModelConfig& config) {
    const char* blockKey = in.has("rope_parameters") ? "rope_parameters" : "rope_scaling";
    config.ropeTheta = in.positiveNumber("rope_theta", 10000.0);
    config.partialRotaryFactor = in.number("partial_rotary_factor", 1.0);
    if (in.has(blockKey)) {
        const Json& scaling = in.at(blockKey);
        if (!scaling.is_object()) throw in.error(blockKey, "expected an object or null");
        config.ropeTheta = ropeNumber(in, blockKey, scaling, "rope_theta", config.ropeTheta);
        config.partialRotaryFactor = ropeNumber(in, blockKey, scaling, "partial_rotary_factor",
                                                config.partialRotaryFactor);
        parseRopeScaling(in, blockKey, scaling, config);
    }
    if (!(config.ropeTheta > 1.0))
        throw in.error("rope_theta", "must be > 1, got " + std::to_string(config.ropeTheta));
    if (!(config.partialRotaryFactor > 0.0 && config.partialRotaryFactor <= 1.0))
        throw in.error("partial_rotary_factor",
                       "must be in (0, 1], got " + std::to_string(config.partialRotaryFactor));
    const int64_t rotary = int64_t(double(config.headDim) * config.partialRotaryFactor);
    if (rotary % 2 != 0 || rotary == 0)
        throw in.error(in.has("head_dim") ? "head_dim" : "num_attention_heads",
                       "rotary embeddings need an even rotary dimension, got " +
                           std::to_string(rotary));
    const size_t frequencies = size_t(rotary / 2);
    if (config.rope.type == "longrope" && (config.rope.shortFactor.size() != frequencies ||
                                           config.rope.longFactor.size() != frequencies))
        throw in.error(blockKey, "longrope short_factor and long_factor need " +
                                     std::to_string(frequencies) + " entries each (rotary dim / 2)");
}

// num_attention_heads, num_key_value_heads and head_dim (explicit, the family's default, or
// hidden / heads).
void parseHeads(const ConfigReader& in, ModelConfig& config, int64_t defaultHeadDim) {
    config.numHeads = in.positiveInt("num_attention_heads");
    config.numKvHeads = in.positiveInt("num_key_value_heads", config.numHeads);
    requireDivides(in, "num_key_value_heads", config.numKvHeads, "num_attention_heads",
                   config.numHeads);
    if (in.has("head_dim") || defaultHeadDim > 0) {
        config.headDim = in.positiveInt("head_dim", defaultHeadDim);
    } else {
        requireDivides(in, "num_attention_heads", config.numHeads, "hidden_size",
                       config.hiddenSize);
        config.headDim = config.hiddenSize / config.numHeads;
    }
}

// The defaults of a rotary decoder family's config class where config.json leaves a key out.
struct DecoderDefaults {
    int64_t maxPositions = 2048;
    double normEps = 1e-6;
    int64_t headDim = 0;  // 0: hidden / heads
    const char* activationKey = "hidden_act";
    const char* activation = "silu";
    bool tieWordEmbeddings = false;
};

// What every rotary decoder (llama, mistral, qwen2, qwen3, phi3, gemma2) reads.
void parseDecoder(const ConfigReader& in, ModelConfig& config, const DecoderDefaults& defaults) {
    config.vocabSize = in.positiveInt("vocab_size");
    config.hiddenSize = in.positiveInt("hidden_size");
    config.intermediateSize = in.positiveInt("intermediate_size");
    config.numLayers = in.positiveInt("num_hidden_layers");
    parseHeads(in, config, defaults.headDim);
    config.maxPositions = in.positiveInt("max_position_embeddings", defaults.maxPositions);
    config.normEps = in.positiveNumber("rms_norm_eps", defaults.normEps);
    parseRope(in, config);
    config.activation = activation(in, defaults.activationKey, defaults.activation);
    config.tieWordEmbeddings = in.boolean("tie_word_embeddings", defaults.tieWordEmbeddings);
}

// layer_types ["full_attention" | "sliding_attention", ...] -> which blocks slide.
std::vector<bool> slidingLayerTypes(const ConfigReader& in, int64_t layers) {
    const Json& types = in.at("layer_types");
    if (!types.is_array() || int64_t(types.size()) != layers)
        throw in.error("layer_types", "expected " + std::to_string(layers) +
                                          " entries of \"full_attention\" or \"sliding_attention\"");
    std::vector<bool> sliding;
    for (const Json& type : types) {
        if (type != "full_attention" && type != "sliding_attention")
            throw in.error("layer_types", "unknown layer type " + type.dump() +
                                              "; supported: full_attention, sliding_attention");
        sliding.push_back(type == "sliding_attention");
    }
    return sliding;
}

void parseLlama(const ConfigReader& in, ModelConfig& config) {
    const bool mistral = config.architecture == Architecture::Mistral;
    DecoderDefaults defaults;
    defaults.maxPositions = mistral ? 4096 * 32 : 2048;
    parseDecoder(in, config, defaults);
    config.attentionBias = in.boolean("attention_bias", false);
    config.mlpBias = in.boolean("mlp_bias", false);
    // MistralConfig's default window is 4096; an explicit null turns it off.
    if (mistral)
        config.slidingWindow =
            in.isNull("sliding_window") ? 0 : in.positiveInt("sliding_window", 4096);
}

// Qwen2Config / Qwen3Config: the window is used only with use_sliding_window (else none,
// whatever sliding_window says), and then by the blocks from max_window_layers on; layer_types,
// when given, says it per block instead.
void parseQwen(const ConfigReader& in, ModelConfig& config) {
    const bool qwen3 = config.architecture == Architecture::Qwen3;
    DecoderDefaults defaults;
    defaults.maxPositions = 32768;
    defaults.headDim = qwen3 ? 128 : 0;  // Qwen3Config's head_dim defaults to 128
    parseDecoder(in, config, defaults);
    if (qwen3) config.attentionBias = in.boolean("attention_bias", false);
    if (!in.boolean("use_sliding_window", false) || in.isNull("sliding_window")) return;
    config.slidingWindow = in.positiveInt("sliding_window", 4096);
    if (in.has("layer_types")) {
        config.slidingLayers = slidingLayerTypes(in, config.numLayers);
        return;
    }
    const int64_t firstSliding = int64_t(in.number("max_window_layers", 28));
    for (int64_t block = 0; block < config.numLayers; ++block)
        config.slidingLayers.push_back(block >= firstSliding);
}

// Phi3Config: fused qkv_proj and gate_up_proj, partial rotary, a window on every block when
// sliding_window is set (Phi-3-mini ships 2047).
void parsePhi3(const ConfigReader& in, ModelConfig& config) {
    DecoderDefaults defaults;
    defaults.maxPositions = 4096;
    defaults.normEps = 1e-5;
    parseDecoder(in, config, defaults);
    if (in.has("sliding_window")) config.slidingWindow = in.positiveInt("sliding_window");
}

// Gemma2Config: (1 + w) RMSNorm, GeGLU (hidden_activation), scaled embeddings, soft-capping,
// query_pre_attn_scalar, and the window on every other block from block 0 (layer_types
// "sliding_attention" where (i + 1) % 2; earlier releases: not layer_idx % 2, the same blocks).
void parseGemma2(const ConfigReader& in, ModelConfig& config) {
    DecoderDefaults defaults;
    defaults.maxPositions = 8192;
    defaults.headDim = 256;
    defaults.activationKey = in.has("hidden_activation") ? "hidden_activation" : "hidden_act";
    defaults.activation = "gelu_pytorch_tanh";
    defaults.tieWordEmbeddings = true;
    parseDecoder(in, config, defaults);
    if (config.rope.type != "default")
        throw in.error("rope_scaling", "gemma2 uses plain rotary embeddings; got scaling type \"" +
                                           config.rope.type + "\"");
    config.attentionBias = in.boolean("attention_bias", false);
    config.queryPreAttnScalar = in.positiveNumber("query_pre_attn_scalar", 256.0);
    config.attnLogitSoftcap = in.isNull("attn_logit_softcapping")
                                  ? 0.0
                                  : in.positiveNumber("attn_logit_softcapping", 50.0);
    config.finalLogitSoftcap = in.isNull("final_logit_softcapping")
                                   ? 0.0
                                   : in.positiveNumber("final_logit_softcapping", 30.0);
    config.slidingWindow = in.isNull("sliding_window") ? 0 : in.positiveInt("sliding_window", 4096);
    if (in.has("layer_types")) {
        config.slidingLayers = slidingLayerTypes(in, config.numLayers);
        return;
    }
    for (int64_t block = 0; block < config.numLayers; ++block)
        config.slidingLayers.push_back(block % 2 == 0);
}

// attention_types [[["global", "local"], 12]] -> 24 entries alternating global, local.
std::vector<std::string> expandAttentionTypes(const ConfigReader& in) {
    const Json fallback = Json::parse(R"([[["global", "local"], 12]])");
    const Json& types = in.has("attention_types") ? in.at("attention_types") : fallback;
    const std::string shape = "expected [[[\"global\"|\"local\", ...], repeats], ...], got ";
    if (!types.is_array()) throw in.error("attention_types", shape + types.dump());
    std::vector<std::string> layers;
    for (const Json& item : types) {
        if (!item.is_array() || item.size() != 2 || !item[0].is_array() ||
            !item[1].is_number_integer() || item[1].get<int64_t>() < 0)
            throw in.error("attention_types", shape + types.dump());
        for (int64_t repeat = 0; repeat < item[1].get<int64_t>(); ++repeat) {
            for (const Json& kind : item[0]) {
                if (kind != "global" && kind != "local")
                    throw in.error("attention_types", "unknown attention type " + kind.dump() +
                                                          "; supported: global, local");
                layers.push_back(kind.get<std::string>());
            }
        }
    }
    return layers;
}

void parseGptNeo(const ConfigReader& in, ModelConfig& config) {
    config.vocabSize = in.positiveInt("vocab_size");
    config.hiddenSize = in.positiveInt("hidden_size");
    config.numLayers = in.positiveInt("num_layers");
    config.numHeads = in.positiveInt("num_heads");
    requireDivides(in, "num_heads", config.numHeads, "hidden_size", config.hiddenSize);
    config.numKvHeads = config.numHeads;
    config.headDim = config.hiddenSize / config.numHeads;
    config.intermediateSize = in.positiveInt("intermediate_size", 4 * config.hiddenSize);
    config.maxPositions = in.positiveInt("max_position_embeddings", 2048);
    config.localWindow = in.positiveInt("window_size", 256);
    config.attentionLayers = expandAttentionTypes(in);
    if (int64_t(config.attentionLayers.size()) != config.numLayers)
        throw in.error("attention_types",
                       "expands to " + std::to_string(config.attentionLayers.size()) +
                           " layers but num_layers is " + std::to_string(config.numLayers));
    config.normEps = in.positiveNumber("layer_norm_epsilon", 1e-5);
    config.activation = activation(in, "activation_function", "gelu_new");
    config.tieWordEmbeddings = in.boolean("tie_word_embeddings", true);
}

void parseGpt2(const ConfigReader& in, ModelConfig& config) {
    config.vocabSize = in.positiveInt("vocab_size");
    config.hiddenSize = in.positiveInt("n_embd");
    config.numLayers = in.positiveInt("n_layer");
    config.numHeads = in.positiveInt("n_head");
    requireDivides(in, "n_head", config.numHeads, "n_embd", config.hiddenSize);
    config.numKvHeads = config.numHeads;
    config.headDim = config.hiddenSize / config.numHeads;
    config.intermediateSize = in.positiveInt("n_inner", 4 * config.hiddenSize);
    config.maxPositions = in.positiveInt("n_positions", 1024);
    config.normEps = in.positiveNumber("layer_norm_epsilon", 1e-5);
    config.activation = activation(in, "activation_function", "gelu_new");
    config.scaleAttnWeights = in.boolean("scale_attn_weights", true);
    config.scaleAttnByInverseLayerIdx = in.boolean("scale_attn_by_inverse_layer_idx", false);
    config.tieWordEmbeddings = in.boolean("tie_word_embeddings", true);
}

void parseMlp(const ConfigReader& in, ModelConfig& config) {
    config.vocabSize = in.positiveInt("vocab_size");
    config.hiddenSize = in.positiveInt("hidden_size");
    config.intermediateSize = in.positiveInt("intermediate_size");
    config.numLayers = in.positiveInt("num_hidden_layers");
    config.maxPositions = in.positiveInt("max_position_embeddings", 0);
    config.activation = "relu";
    config.tieWordEmbeddings = false;
}

struct ModelType {
    const char* name;
    Architecture architecture;
    void (*parse)(const ConfigReader&, ModelConfig&);
};

const std::vector<ModelType>& modelTypes() {
    static const std::vector<ModelType> types = {
        {"llama", Architecture::Llama, parseLlama},
        {"mistral", Architecture::Mistral, parseLlama},
        {"gpt_neo", Architecture::GptNeo, parseGptNeo},
        {"gpt2", Architecture::Gpt2, parseGpt2},
        {"mlp", Architecture::Mlp, parseMlp},
        {"qwen2", Architecture::Qwen2, parseQwen},
        {"qwen3", Architecture::Qwen3, parseQwen},
        {"phi3", Architecture::Phi3, parsePhi3},
        {"gemma2", Architecture::Gemma2, parseGemma2},
    };
    return types;
}

}  // namespace

const std::vector<std::string>& supportedModelTypes() {
    static const std::vector<std::string> names = [] {
        std::vector<std::string> list;
        for (const ModelType& type : modelTypes()) list.emplace_back(type.name);
        return list;
    }();
    return names;
}

const char* architectureName(Architecture architecture) {
    for (const ModelType& type : modelTypes())
        if (type.architecture == architecture) return type.name;
    return "unknown";
}

int64_t contextLength(const ModelConfig& config) {
    if (config.rope.type != "dynamic") return config.maxPositions;
    return int64_t(double(config.maxPositions) * std::max(1.0, config.rope.factor));
}

int64_t attentionWindow(const ModelConfig& config, int64_t block) {
    if (config.slidingLayers.empty()) return config.slidingWindow;
    return config.slidingLayers.at(size_t(block)) ? config.slidingWindow : 0;
}

ModelConfig parseModelConfig(const std::string& jsonText, const std::string& fileForErrors) {
    Json json;
    try {
        json = Json::parse(jsonText);
    } catch (const Json::exception& error) {  // parse_error, or out_of_range for 1e400
        throw badInput(fileForErrors, "", std::string("not valid JSON: ") + error.what());
    }
    if (!json.is_object()) throw badInput(fileForErrors, "", "expected a JSON object");

    const std::string supported = "supported: " + joined(supportedModelTypes());
    if (!json.contains("model_type") || !json.at("model_type").is_string())
        throw badInput(fileForErrors, "model_type", "missing; " + supported);
    const std::string modelType = json.at("model_type").get<std::string>();
    for (const ModelType& type : modelTypes()) {
        if (modelType != type.name) continue;
        ModelConfig config;
        config.architecture = type.architecture;
        config.modelType = modelType;
        const ConfigReader reader(json, fileForErrors, modelType);
        type.parse(reader, config);
        config.bosTokenId = reader.tokenId("bos_token_id");
        config.eosTokenId = reader.tokenId("eos_token_id");
        return config;
    }
    throw badInput(fileForErrors, "model_type",
                   "unsupported model_type \"" + modelType + "\"; " + supported);
}

}  // namespace gp
