// Phi-3 (Hugging Face Phi3ForCausalLM): LLaMA's block with q, k and v in one qkv_proj (rows: q,
// then k, then v) and gate and up in one gate_up_proj (rows: gate, then up; the output is
// up * act(gate)), rotary embeddings on the first int(head_dim * partial_rotary_factor) dims of
// each head only, longrope ("su") scaling for the 128k models, and a sliding window on every
// block when the config has one. A fused tensor is one prunable layer whose parts say which rows
// hold what (TensorSpec::parts).
#include "core/model/architectures.h"
#include "core/model/rotary_decoder.h"

namespace gp {

std::unique_ptr<CausalLM> createPhi3(ModelConfig config, WeightMap weights) {
    DecoderStyle style;
    style.fusedQueryKeyValue = true;
    style.fusedGateUp = true;
    return createRotaryDecoder(std::move(config), std::move(weights), style);
}

}  // namespace gp
