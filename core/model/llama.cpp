// LLaMA and Mistral (Hugging Face LlamaForCausalLM / MistralForCausalLM): pre-norm blocks with
// RMSNorm, rotary embeddings (rotate-half convention, rope_scaling: rotary.cpp), grouped-query
// attention (Mistral: with a sliding window) and a SwiGLU MLP; biases where attention_bias /
// mlp_bias say; the head tied to the embedding or lm_head. The forward is the shared rotary
// decoder skeleton (rotary_decoder.cpp).
#include "core/model/architectures.h"
#include "core/model/rotary_decoder.h"

namespace gp {

std::unique_ptr<CausalLM> createLlama(ModelConfig config, WeightMap weights) {
    DecoderStyle style;
    style.queryKeyValueBias = config.attentionBias;
    style.outputBias = config.attentionBias;
    style.mlpBias = config.mlpBias;
    return createRotaryDecoder(std::move(config), std::move(weights), style);
}

}  // namespace gp
