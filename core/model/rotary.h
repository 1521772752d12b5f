// Rotary position embeddings and their scalings, as transformers' modeling_rope_utils.py and the
// families' RotaryEmbedding modules compute them: inverse frequencies in fp32 (default, linear,
// dynamic NTK, yarn, llama3, longrope), cos/sin of position * frequency times the attention
// scaling, applied in the rotate-half convention to the first rotaryDim dimensions of each head
// (all of them unless partial_rotary_factor < 1). Used by every rotary family (llama, mistral,
// qwen2, qwen3, phi3, gemma2). INTERNAL to core/model: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

#include "core/model/model_config.h"

namespace gp {

// cos and sin, [T, rotaryDim] fp32, each frequency repeated for both halves (cat(freqs, freqs))
// and multiplied by the scaling's attention factor (yarn, longrope; 1 otherwise).
struct RotaryTables {
    at::Tensor cos, sin;
};

// int(headDim * partialRotaryFactor).
int64_t rotaryDimension(const ModelConfig& config);

// The inverse frequencies [rotaryDim / 2] (fp32) and the attention factor for a forward pass over
// positions 0..tokens-1. Only dynamic and longrope depend on `tokens` (transformers recomputes
// them in dynamic_rope_update from max(position_ids) + 1).
at::Tensor inverseFrequencies(const ModelConfig& config, int64_t tokens, const at::Device& device,
                              double* attentionFactor);

RotaryTables rotaryTables(const ModelConfig& config, int64_t tokens, const at::Device& device);

// x: [B, heads, T, hd]. The first rotaryDim dims rotated, the rest passed through.
at::Tensor applyRotary(const at::Tensor& x, const RotaryTables& tables);

}  // namespace gp
