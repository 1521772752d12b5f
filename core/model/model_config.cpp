#include "core/model/model_config.h"

#include <nlohmann/json.hpp>

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

// rope_scaling: null or {"rope_type"|"type": "default"} changes nothing; "linear" divides the
// positions by "factor". Other schemes (dynamic, yarn, llama3, ...) change the frequencies in
// ways we do not implement, so they are refused rather than silently ignored.
double ropeLinearFactor(const ConfigReader& in) {
    if (!in.has("rope_scaling")) return 1.0;
    const Json& scaling = in.at("rope_scaling");
    if (!scaling.is_object()) throw in.error("rope_scaling", "expected an object or null");
    const char* typeKey = scaling.contains("rope_type") ? "rope_type" : "type";
    const std::string type = scaling.value(typeKey, std::string("default"));
    if (type == "default") return 1.0;
    if (type != "linear")
        throw in.error("rope_scaling", "scaling type \"" + type +
                                           "\" is not supported; supported: default, linear");
    if (!scaling.contains("factor") || !scaling.at("factor").is_number() ||
        !(scaling.at("factor").get<double>() > 0.0))
        throw in.error("rope_scaling", "linear scaling needs a positive \"factor\"");
    return scaling.at("factor").get<double>();
}

void parseLlama(const ConfigReader& in, ModelConfig& config) {
    const bool mistral = config.architecture == Architecture::Mistral;
    config.vocabSize = in.positiveInt("vocab_size");
    config.hiddenSize = in.positiveInt("hidden_size");
    config.intermediateSize = in.positiveInt("intermediate_size");
    config.numLayers = in.positiveInt("num_hidden_layers");
    config.numHeads = in.positiveInt("num_attention_heads");
    config.numKvHeads = in.positiveInt("num_key_value_heads", config.numHeads);
    requireDivides(in, "num_key_value_heads", config.numKvHeads, "num_attention_heads",
                   config.numHeads);
    if (in.has("head_dim")) {
        config.headDim = in.positiveInt("head_dim");
    } else {
        requireDivides(in, "num_attention_heads", config.numHeads, "hidden_size",
                       config.hiddenSize);
        config.headDim = config.hiddenSize / config.numHeads;
    }
    if (config.headDim % 2 != 0)
        throw in.error(
            in.has("head_dim") ? "head_dim" : "num_attention_heads",
            "rotary embeddings need an even head dimension, got " + std::to_string(config.headDim));
    config.maxPositions = in.positiveInt("max_position_embeddings", mistral ? 4096 * 32 : 2048);
    config.normEps = in.positiveNumber("rms_norm_eps", 1e-6);
    config.ropeTheta = in.positiveNumber("rope_theta", 10000.0);
    config.ropeLinearFactor = ropeLinearFactor(in);
    config.attentionBias = in.boolean("attention_bias", false);
    config.mlpBias = in.boolean("mlp_bias", false);
    config.activation = activation(in, "hidden_act", "silu");
    config.tieWordEmbeddings = in.boolean("tie_word_embeddings", false);
    // MistralConfig's default window is 4096; an explicit null turns it off.
    if (mistral)
        config.slidingWindow =
            in.isNull("sliding_window") ? 0 : in.positiveInt("sliding_window", 4096);
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
