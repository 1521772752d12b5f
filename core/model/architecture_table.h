// The one place that knows each family's checkpoint tensor names (as llama.cpp's llama-arch):
// a role (what a tensor does) maps to a Hugging Face module path per family; ".weight" and
// ".bias" are appended. Block-level paths hold "{}" where the block index goes.
// INTERNAL to core: includes ATen (through WeightMap).
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "core/io/weight_map.h"
#include "core/model/model_config.h"

namespace gp {

enum class TensorRole {
    // Outside the blocks.
    TokenEmbedding,
    PositionEmbedding,
    FinalNorm,
    OutputHead,
    // Inside block N.
    AttentionNorm,
    Query,
    Key,
    Value,
    QueryKeyValue,  // GPT-2's packed c_attn; Phi-3's fused qkv_proj
    QueryNorm,      // Qwen3's per-head q_norm
    KeyNorm,        // Qwen3's per-head k_norm
    AttentionOutput,
    PostAttentionNorm,  // Gemma 2's norm of the attention output (post_attention_layernorm)
    MlpNorm,            // the norm before the MLP (Gemma 2: pre_feedforward_layernorm)
    MlpGate,
    MlpUp,      // llama up_proj; GPT c_fc; mlp fc1
    MlpGateUp,  // Phi-3's fused gate_up_proj
    MlpDown,    // llama down_proj; GPT c_proj; mlp fc2
    PostMlpNorm,  // Gemma 2's norm of the MLP output (post_feedforward_layernorm)
};

class TensorNames {
public:
    // The family's table, resolved against a checkpoint: GPT-2 files saved from GPT2Model (as
    // openai-community/gpt2 is) name "wte.weight" where GPT2LMHeadModel names
    // "transformer.wte.weight"; whichever form the token embedding has is used for all tensors.
    TensorNames(Architecture architecture, const WeightMap& weights);

    std::string module(TensorRole role, int64_t block = -1) const;
    std::string weight(TensorRole role, int64_t block = -1) const;
    std::string bias(TensorRole role, int64_t block = -1) const;

private:
    const std::map<TensorRole, std::string>* m_table;
    std::string m_droppedPrefix;  // removed from every name that starts with it ("" = none)
};

}  // namespace gp
