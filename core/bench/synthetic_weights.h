// Weights with the shapes of real models and seeded heavy-tailed values, for benchmarks that
// need no checkpoint. INTERNAL to core: includes ATen.
//
// Values: 0.02 * t, t Student-t with 3 degrees of freedom, t = z0 / sqrt((z1^2 + z2^2 + z3^2) / 3)
// with z ~ N(0, 1) from at::randn on a LibTorch CPU generator (mt19937) seeded with `seed`; layer
// by layer in the order listed, each drawn in fp32 and then cast to the model's dtype.
//
// "mistral-7b" is too large to hold: it is written block by block into a safetensors file and
// used through a memory map (writeSyntheticModelFile). Its values come from a seeded pool of
// 2^24 such Student-t draws, each layer reading the pool in its own seeded order (an odd stride
// from a random start): the same distribution, 40x cheaper to make than 7.2 billion fresh draws,
// and in bf16 only ~32,000 distinct magnitudes exist anyway.
#pragma once

#include <ATen/ATen.h>

#include <functional>

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

// "mistral-7b": Mistral-7B's 32 blocks of prunable linear layers in bf16 (q and o [4096, 4096],
// k and v [1024, 4096], gate and up [14336, 4096], down [4096, 14336]: 6,979,321,856 weights,
// 14.0 GB). Made only as a file, never in memory.
bool isStreamedSyntheticModel(const std::string& name);

struct SyntheticFile {
    std::string path;
    bool reused = false;   // a valid file from an earlier run with the same name and seed
    double seconds = 0.0;  // writing it (0 when reused)
};

// Writes the streamed synthetic model `name` as `<folder>/gradprobe-synthetic-<name>-seed<seed>
// .safetensors` (atomically, one layer in memory at a time), or reuses that file when its
// metadata says it was made by this generator with this seed. `layerDone(done, total)` reports
// progress; it may throw to cancel. Errors name the file (disk full included).
SyntheticFile writeSyntheticModelFile(const std::string& name, uint64_t seed,
                                      const std::string& folder,
                                      const std::function<void(int64_t, int64_t)>& layerDone);

}  // namespace gp
