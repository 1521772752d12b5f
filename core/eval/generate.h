// Text generation from a causal LM: the user's first sanity check of a (pruned) model.
// INTERNAL to core: includes ATen.
//
// No KV cache: every step runs the model over the whole context again (the last maxPositions ids
// when it grows past the model's context). For the small models this is for, and a few hundred
// tokens, that costs little and keeps the forward the one the evaluation uses.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/runtime/cancel.h"

namespace gp {

struct GenerationOptions {
    int64_t steps = 256;         // new tokens at most
    double temperature = 0.0;    // 0: greedy (argmax); > 0: sample from softmax(logits / T)
    uint64_t seed = 0;           // sampling generator seed (same seed, same text)
    std::vector<int32_t> stopIds;  // stop after generating one of these (it is not returned)
};

struct Generation {
    std::vector<int32_t> ids;  // the new tokens, without the stop token
    bool stopped = false;      // ended at a stop id (else: after `steps` tokens)
};

// Continues `context` (non-empty; e.g. BOS + prompt ids). Runs under inference mode on the
// model's device; polls `cancel` between tokens. Ties in argmax go to the lowest id.
Generation generateTokens(const CausalLM& model, const std::vector<int32_t>& context,
                          const GenerationOptions& options, const CancelToken* cancel = nullptr);

}  // namespace gp
