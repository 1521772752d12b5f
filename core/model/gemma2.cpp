// Gemma 2 (Hugging Face Gemma2ForCausalLM): embeddings times sqrt(hidden) (in their dtype);
// RMSNorm computing x * (1 + w) in fp32; four norms per block (input, post_attention,
// pre_feedforward, post_feedforward: the attention and MLP outputs are normed before their
// residual adds); attention scaled by query_pre_attn_scalar^-1/2 and soft-capped
// (cap * tanh(score / cap)) before the mask; a sliding window on blocks 0, 2, 4, ...; GeGLU
// (gelu tanh: hidden_activation); final logits soft-capped; the head tied to the embedding.
#include "core/model/architectures.h"
#include "core/model/rotary_decoder.h"

namespace gp {

std::unique_ptr<CausalLM> createGemma2(ModelConfig config, WeightMap weights) {
    DecoderStyle style;
    style.norm = RmsNormKind::OffsetWeight;
    style.sandwichNorms = true;
    style.scaledEmbedding = true;
    style.queryKeyValueBias = config.attentionBias;
    style.outputBias = config.attentionBias;
    return createRotaryDecoder(std::move(config), std::move(weights), style);
}

}  // namespace gp
