// Causal self-attention and activations shared by the transformer families. INTERNAL to core.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>

namespace gp {

struct AttentionSpec {
    double scale = 1.0;  // multiplies q . k (GPT-Neo: 1, no 1/sqrt(d))
    // 0: all positions j <= i; else only 0 <= i - j < window, i.e. `window` keys including the
    // query's own position. That is GPT-Neo's local mask (bias xor tril(bias, -window_size)) and
    // Mistral's in transformers' masking_utils (kv_idx > q_idx - sliding_window); the eager mask
    // of some earlier transformers releases (tril(..., -window - 1)) let one more key through.
    int64_t window = 0;
    bool upcastScores = false;  // compute q . k in fp32 (GPT-Neo does)
    // > 0: scaled scores soft-capped to cap * tanh(score / cap) before the mask and softmax
    // (Gemma 2's attn_logit_softcapping); 0: off.
    double logitSoftcap = 0.0;
    // Bytes of fp32 scores one query chunk may hold (0: kScoreBlockBytes, 32 MB); tests set it
    // small to cut small inputs into many chunks.
    int64_t scoreBlockBytes = 0;
};

// [B, T, H * hd] -> [B, H, T, hd]
at::Tensor splitHeads(const at::Tensor& x, int64_t heads);

// q: [B, H, T, hd]; k, v: [B, KV, T, hd] with KV dividing H (query head h reads kv head
// h / (H / KV), as Hugging Face's repeat_kv). Softmax in at least fp32, the result in v's dtype.
// -> [B, T, H * hd]
at::Tensor causalSelfAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const AttentionSpec& spec);

// Bytes of the fp32 scores of one query chunk (batchHeads x rows x tokens): what
// causalSelfAttention holds at once on the CPU, twice with the probabilities (memory estimates).
int64_t attentionScoreBlockBytes(int64_t batchHeads, int64_t tokens, int64_t blockBytes = 0);

// The [T, T] bool mask of allowed (query i, key j) pairs.
at::Tensor allowedPositions(int64_t tokens, int64_t window, const at::Device& device);

// Hugging Face's ACT2FN by name: silu, relu, gelu (erf), gelu_new / gelu_pytorch_tanh (tanh).
at::Tensor activate(const std::string& name, const at::Tensor& x);

}  // namespace gp
