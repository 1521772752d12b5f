// Qwen2 and Qwen3 (Hugging Face Qwen2ForCausalLM / Qwen3ForCausalLM): LLaMA's block with
// - Qwen2: biases on q, k and v (never on o);
// - Qwen3: an RMSNorm over each head of q and k (q_norm, k_norm; weight [head_dim]) before the
//   rotary embedding, an explicit head_dim that may differ from hidden / heads, and biases on
//   q/k/v/o only where attention_bias says;
// and, for both, a sliding window only with use_sliding_window, on the blocks from
// max_window_layers on (model_config.cpp).
#include "core/model/architectures.h"
#include "core/model/rotary_decoder.h"

namespace gp {

std::unique_ptr<CausalLM> createQwen2(ModelConfig config, WeightMap weights) {
    DecoderStyle style;
    style.queryKeyValueBias = true;
    return createRotaryDecoder(std::move(config), std::move(weights), style);
}

std::unique_ptr<CausalLM> createQwen3(ModelConfig config, WeightMap weights) {
    DecoderStyle style;
    style.queryKeyNorm = true;
    style.queryKeyValueBias = config.attentionBias;
    style.outputBias = config.attentionBias;
    return createRotaryDecoder(std::move(config), std::move(weights), style);
}

}  // namespace gp
