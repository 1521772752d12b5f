// The architecture facts of a causal language model, parsed from a Hugging Face config.json.
// Plain C++ (no LibTorch): the facade reports these to the CLI and the GUI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gp {

enum class Architecture { Llama, Mistral, GptNeo, Gpt2, Mlp, Qwen2, Qwen3, Phi3, Gemma2 };

// How rotary position embeddings scale their frequencies: Hugging Face's rope_scaling (or
// rope_parameters) block, with the defaults of modeling_rope_utils.py. core/model/rotary.cpp
// computes the frequencies.
struct RopeScaling {
    std::string type = "default";  // default, linear, dynamic, yarn, llama3, longrope
    double factor = 1.0;           // linear, dynamic, yarn, llama3 (longrope: 0 = derived)
    int64_t originalMaxPositions = 0;  // llama3, yarn, longrope: pre-training context length
    double lowFreqFactor = 1.0;        // llama3
    double highFreqFactor = 4.0;       // llama3
    double attentionFactor = 0.0;      // yarn, longrope: multiplies cos/sin; 0 = derived
    double betaFast = 32.0;            // yarn
    double betaSlow = 1.0;             // yarn
    double mscale = 0.0;               // yarn: with mscaleAllDim, derives attentionFactor
    double mscaleAllDim = 0.0;
    bool truncate = true;              // yarn: round the correction range to whole dimensions
    std::vector<double> shortFactor;   // longrope: per frequency, for contexts up to original
    std::vector<double> longFactor;    // longrope: per frequency, beyond it
};

struct ModelConfig {
    Architecture architecture = Architecture::Llama;
    std::string modelType;  // config.json model_type: llama, mistral, qwen2, qwen3, phi3, gemma2, ...

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
    RopeScaling rope;               // llama/mistral/qwen2/qwen3/phi3 (gemma2: default only)
    double partialRotaryFactor = 1.0;  // phi3: rotary on the first int(headDim * it) dims only
    int64_t slidingWindow = 0;      // attend to the last N positions; 0 = unlimited
    // Which blocks use slidingWindow (qwen2/qwen3: max_window_layers or layer_types; gemma2:
    // alternating); empty = every block (mistral, phi3).
    std::vector<bool> slidingLayers;
    bool tieWordEmbeddings = false;
    std::string activation;  // "silu", "gelu_new", "gelu_pytorch_tanh", "gelu", "relu"

    // llama/mistral/qwen3/gemma2: whether q/k/v/o (attention_bias) and gate/up/down (mlp_bias,
    // llama only) carry biases. qwen2 always has q/k/v biases (and no o bias).
    bool attentionBias = false;
    bool mlpBias = false;

    // gemma2: scores scaled by query_pre_attn_scalar^-1/2 (0: headDim^-1/2), attention scores
    // and final logits soft-capped as cap * tanh(x / cap) (0: off).
    double queryPreAttnScalar = 0.0;
    double attnLogitSoftcap = 0.0;
    double finalLogitSoftcap = 0.0;

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

// The longest window of ids the model is run on: maxPositions, times the factor under dynamic
// NTK scaling (which exists to stretch it: transformers recomputes the frequencies for longer
// sequences); 0 when the model has no position limit (mlp).
int64_t contextLength(const ModelConfig& config);

// The attention window of block `block`: slidingWindow where that block slides, else 0.
int64_t attentionWindow(const ModelConfig& config, int64_t block);

}  // namespace gp
