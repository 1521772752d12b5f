// Statistics of the prunable layers' inputs over the calibration windows — WANDA's activation
// norms (activation_norms.h) and any other such statistic (SparseGPT's Hessians, OWL's outlier
// ratios) — gathered the one way the reference implementations gather them: every id of every
// window goes through the model (statisticsInputs(), core/eval/calibration.h), not the L-1
// inputs of next-token prediction. A statistic sees each linear input through the model's tap
// and is told where a batch ends. INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "core/model/causal_lm.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

class InputStatistic {
public:
    virtual ~InputStatistic() = default;
    // Receives every linear input ([..., in]) of the layers it gathers; ignores the others.
    virtual LinearInputTap tap() = 0;
    // One batch of windows is through (statistics that fold per batch, e.g. a maximum).
    virtual void endBatch() = 0;
};

// Sets the model's linear-input tap for a scope and clears it when the scope ends, however.
class TapScope {
public:
    TapScope(CausalLM& model, LinearInputTap tap) : m_model(model) {
        m_model.setLinearInputTap(std::move(tap));
    }
    ~TapScope() { m_model.setLinearInputTap({}); }
    TapScope(const TapScope&) = delete;
    TapScope& operator=(const TapScope&) = delete;

private:
    CausalLM& m_model;
};

// Whole model: the windows [N, L] in batches of `batchSize`, all L ids of each, forward with
// `statistic` tapped (no grad). Progress as Stage::Calibrate batches.
void gatherInputStatistics(CausalLM& model, const at::Tensor& windows, int64_t batchSize,
                           InputStatistic& statistic, ObserverRef observer = ObserverRef(),
                           const CancelToken* cancel = nullptr);

// Block-wise passes start here: the embedded inputs of every batch, all L ids of each window
// ([b, L, hidden] per batch, on the windows' device), in batch order.
std::vector<at::Tensor> embedStatisticsBatches(const CausalLM& model, const at::Tensor& windows,
                                               int64_t batchSize);

}  // namespace gp
