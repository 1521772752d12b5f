// A prune run: scores, selection, the optional probe, and the schedule around them (one-shot,
// layer-wise, iterative), with per-layer accounting, stage times and perplexity before and after.
// Works on the live weights of a model; the caller (the facade) keeps the original weights and
// restores them when the run is cancelled or fails. INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/dist/dist_group.h"
#include "core/model/causal_lm.h"
#include "core/prune/prune_options.h"
#include "core/prune/prune_result.h"
#include "core/runtime/cancel.h"
#include "core/runtime/compute.h"
#include "core/runtime/observer.h"

namespace gp {

struct PruneInputs {
    CausalLM* model = nullptr;
    std::vector<PrunableWeight> layers;   // what may be pruned, in model order
    at::Tensor calibration;               // [N, L] windows; needed by wanda and the probe
    std::function<double()> perplexity;   // on the evaluation text; empty = no evaluation
    // WANDA's activation norms: reused when the map is given and filled, collected into it when
    // given and empty (the session caches them across runs with the same calibration).
    std::map<std::string, at::Tensor>* activationNorms = nullptr;
    // Block-wise runs: where and in which dtype each block is computed (the weights themselves
    // may be memory-mapped host tensors in their stored dtype).
    ComputeSpec compute;
    // Data-parallel runs: the calibration and evaluation batches are split across the group's
    // ranks and reduced at the end of each pass; every rank then holds the same weights.
    DistGroup* dist = nullptr;
};

// Throws BadArgument for an option out of range or a word not understood, before any work.
void checkPruneOptions(const PruneOptions& options);

PruneResult runPrune(const PruneInputs& inputs, const PruneOptions& options,
                     RunObserver* observer = nullptr, const CancelToken* cancel = nullptr);

}  // namespace gp
