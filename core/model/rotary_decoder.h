// The block skeleton every rotary decoder family shares (LLaMA, Mistral, Qwen2, Qwen3, Phi-3,
// Gemma 2): token embedding -> blocks of RMSNorm, rotary grouped-query attention and a gated MLP
// with residuals -> final RMSNorm -> head. A family is this skeleton with its options
// (DecoderStyle) and its tensor names (architecture_table.cpp); its factory (llama.cpp, qwen.cpp,
// phi3.cpp, gemma2.cpp) says which options. INTERNAL to core/model: includes ATen.
#pragma once

#include <memory>

#include "core/model/causal_lm.h"

namespace gp {

enum class RmsNormKind {
    Weight,        // w * (x / rms(x)) with the normalised x back in x's dtype (LlamaRMSNorm)
    OffsetWeight,  // (x / rms(x)) * (1 + w), all in fp32, then x's dtype (Gemma2RMSNorm)
};

struct DecoderStyle {
    RmsNormKind norm = RmsNormKind::Weight;
    bool queryKeyValueBias = false;   // q/k/v projections carry biases
    bool outputBias = false;          // o_proj carries a bias
    bool mlpBias = false;             // gate/up/down carry biases
    bool queryKeyNorm = false;        // Qwen3: RMSNorm over each head of q and k, before RoPE
    bool fusedQueryKeyValue = false;  // Phi-3: one qkv_proj, rows q, then k, then v
    bool fusedGateUp = false;         // Phi-3: one gate_up_proj, rows gate, then up
    bool sandwichNorms = false;       // Gemma 2: the attention and MLP outputs normed too
    bool scaledEmbedding = false;     // Gemma: embeddings times sqrt(hidden) in their dtype
};

std::unique_ptr<CausalLM> createRotaryDecoder(ModelConfig config, WeightMap weights,
                                              const DecoderStyle& style);

}  // namespace gp
