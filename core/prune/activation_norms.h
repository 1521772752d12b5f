// WANDA's activation statistic: for every prunable linear layer, the norm of each input channel j
// over the calibration tokens, collected in one streaming forward pass (inference mode) through
// the model's linear-input tap; no activations are kept, only a running sum per channel.
// INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

enum class NormStatistic {
    Paper,    // "paper": ||X_j||_2 over all calibration tokens (the Wanda paper)
    Library,  // "library": per batch ||X_j||_2 over the batch's tokens, maximum over batches
              // (the GradProbe library)
};
NormStatistic parseNormStatistic(const std::string& text);

// Windows [N, L]; the model reads [:, :-1] of each batch (the same tokens the probe's loss sees).
// Sums are accumulated in fp64 whatever the model's dtype (fp16 sums overflow on large inputs).
// Returns layer name -> fp32 [in] norms on the model's device.
std::map<std::string, at::Tensor> collectActivationNorms(
    CausalLM& model, const std::vector<PrunableWeight>& layers, const at::Tensor& windows,
    int64_t batchSize, NormStatistic statistic, ObserverRef observer = ObserverRef(),
    const CancelToken* cancel = nullptr);

}  // namespace gp
