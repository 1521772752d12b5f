// Training a causal LM from scratch on a token stream: the built-in demo model is made with this,
// and tests train small models on real text. Plain AdamW with warm-up and cosine decay.
// INTERNAL to core: includes ATen.
#pragma once

#include <cstdint>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

struct TrainOptions {
    int64_t steps = 1000;
    int64_t batchSize = 16;      // windows per step
    int64_t seqlen = 128;        // tokens per window (the model sees seqlen, predicts seqlen)
    double learningRate = 3e-3;  // peak, after warm-up
    double minLearningRate = 3e-4;
    int64_t warmupSteps = 100;
    double weightDecay = 0.1;    // 2-D weights only
    double gradClip = 1.0;       // max global gradient norm
    uint64_t seed = 1;           // window sampling (weight init has its own seed)
};

struct TrainReport {
    std::vector<double> lossPerStep;
    double finalLoss = 0.0;  // mean loss of the last 5% of steps
    double seconds = 0.0;
};

// Random initial weights for `config` in the layout createCausalLM expects: linear and embedding
// weights ~ N(0, 0.02), norm weights 1, biases 0 (as Hugging Face initialises).
WeightMap initialWeights(const ModelConfig& config, uint64_t seed);

// Trains `model` in place on random windows of `ids` (Stage::Train progress every step).
TrainReport trainCausalLM(CausalLM& model, const std::vector<int32_t>& ids,
                          const TrainOptions& options, ObserverRef observer = ObserverRef(),
                          const CancelToken* cancel = nullptr);

}  // namespace gp
