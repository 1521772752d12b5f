// Weights with the shapes of real models and seeded heavy-tailed values, for benchmarks that
// need no checkpoint. INTERNAL to core: includes ATen.
//
// Values: 0.02 * t, t Student-t with 3 degrees of freedom, t = z0 / sqrt((z1^2 + z2^2 + z3^2) / 3)
// with z ~ N(0, 1) from at::randn on a LibTorch CPU generator (mt19937) seeded with `seed`; layer
// by layer in the order listed, each drawn in fp32 and then cast to the model's dtype.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace gp {

// "gpt-neo-33m": TinyStories-33M's prunable linear layers, fp32: 4 blocks of attention q, k, v,
//   out [768, 768], mlp c_fc [3072, 768], c_proj [768, 3072] (28,311,552 weights).
// "mistral-7b-layer": one Mistral-7B block, bf16: q [4096, 4096], k and v [1024, 4096],
//   o [4096, 4096], gate and up [14336, 4096], down [4096, 14336] (218,103,808 weights).
const std::vector<std::string>& syntheticModelNames();

// Named [out, in] weights; an Error (BadArgument naming --synthetic) for an unknown name.
std::vector<std::pair<std::string, at::Tensor>> syntheticWeights(const std::string& name,
                                                                 uint64_t seed);

}  // namespace gp
