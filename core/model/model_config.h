// The architecture facts of a causal language model, parsed from a Hugging Face config.json.
// Plain C++ (no LibTorch): the facade reports these to the CLI and the GUI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gp {

enum class Architecture { Llama, Mistral, GptNeo, Gpt2, Mlp };

struct ModelConfig {
    Architecture architecture = Architecture::Llama;
    std::string modelType;  // config.json model_type: llama, mistral, gpt_neo, gpt2, mlp

    int64_t vocabSize = 0;
    int64_t hiddenSize = 0;        // d_model
    int64_t numLayers = 0;         // transformer blocks
    int64_t numHeads = 0;          // 0 for mlp (no attention)
    int64_t numKvHeads = 0;        // grouped-query attention; == numHeads when absent
    int64_t headDim = 0;           // hiddenSize / numHeads unless config says otherwise
    int64_t intermediateSize = 0;  // MLP width
    int64_t maxPositions = 0;      // context length the model was trained for; 0 = none (mlp)

    double normEps = 1e-5;          // RMSNorm / LayerNorm epsilon
    double ropeTheta = 10000.0;     // llama/mistral rotary base
    double ropeLinearFactor = 1.0;  // llama/mistral rope_scaling {"type": "linear"}: positions / it
    int64_t slidingWindow = 0;      // mistral: attend to the last N positions; 0 = unlimited
    bool tieWordEmbeddings = false;
    std::string activation;  // "silu", "gelu_new", "gelu_pytorch_tanh", "gelu", "relu"

    // llama/mistral: whether q/k/v/o (attention_bias) and gate/up/down (mlp_bias) carry biases.
    bool attentionBias = false;
    bool mlpBias = false;

    // gpt2: scores scaled by 1/sqrt(headDim) (scale_attn_weights) and additionally by
    // 1/(layer index + 1) (scale_attn_by_inverse_layer_idx).
    bool scaleAttnWeights = true;
    bool scaleAttnByInverseLayerIdx = false;

    // gpt_neo: per-layer "global" or "local", and the local window.
    std::vector<std::string> attentionLayers;
    int64_t localWindow = 0;

    int64_t bosTokenId = -1;  // -1: none given
    int64_t eosTokenId = -1;
};

// Parses config.json text. fileForErrors names the file in error messages. Unknown or missing
// model_type is an Error listing the supported ones; missing or inconsistent sizes name the key.
// Optional keys take the defaults of the Hugging Face config classes.
ModelConfig parseModelConfig(const std::string& jsonText, const std::string& fileForErrors);

// The model_type values we can run, for error messages and `gradprobe info`.
const std::vector<std::string>& supportedModelTypes();

const char* architectureName(Architecture architecture);

}  // namespace gp
