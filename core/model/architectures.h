// The factories of the architectures (one .cpp each). INTERNAL to core/model: callers use
// createCausalLM, which also validates the tensors.
#pragma once

#include <memory>

#include "core/model/causal_lm.h"

namespace gp {

std::unique_ptr<CausalLM> createLlama(ModelConfig config, WeightMap weights);  // and Mistral
std::unique_ptr<CausalLM> createGptNeo(ModelConfig config, WeightMap weights);
std::unique_ptr<CausalLM> createGpt2(ModelConfig config, WeightMap weights);
std::unique_ptr<CausalLM> createMlp(ModelConfig config, WeightMap weights);
std::unique_ptr<CausalLM> createQwen2(ModelConfig config, WeightMap weights);
std::unique_ptr<CausalLM> createQwen3(ModelConfig config, WeightMap weights);
std::unique_ptr<CausalLM> createPhi3(ModelConfig config, WeightMap weights);
std::unique_ptr<CausalLM> createGemma2(ModelConfig config, WeightMap weights);

}  // namespace gp
