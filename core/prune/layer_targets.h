// Per-layer sparsity targets: OWL's outlier-weighted allocation (Yin et al. 2024, as luuyin/OWL
// computes it) and the targets a user sets by name. INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/prune/prune_options.h"

namespace gp {

// OWL. Per transformer block, the outlier ratio: the percentage of the WANDA scores |W_ij|·‖X_j‖
// of all its layers together that exceed M × their mean. Ratios are min-max scaled to [0, 2λ],
// shifted to mean 0 over the blocks (unweighted, as OWL's code: every block of a decoder has the
// same size, so this is also the parameter-weighted mean), and a block's target is S minus that:
// more outliers, less pruning; every layer of a block gets its block's target. OWL's band is 2λ
// wide around the mean, not around S: where it leaves [S - λ, S + λ] the deviations are scaled
// down to fit (the mean stays S). The output head (block -1) keeps S. `norms` by layer name.
struct OwlAllocation {
    std::vector<double> layerTargets;  // per layer of `layers`
    std::map<int64_t, double> blockRatio;   // outlier percentage by block
    std::map<int64_t, double> blockTarget;  // target by block
};
OwlAllocation owlAllocation(const std::vector<PrunableWeight>& layers,
                            const std::map<std::string, at::Tensor>& norms, double sparsity,
                            double lambda, double m);

// The targets of `layers` under `options`: empty when every layer is at options.sparsity
// (no OWL, no named target). A named layer that is not among `layers`, or a target outside
// [0, 1), is an Error (BadArgument) naming it. `owl`: OWL's targets, when layerSparsity is "owl".
std::vector<double> resolveLayerTargets(const std::vector<PrunableWeight>& layers,
                                        const PruneOptions& options,
                                        const std::vector<double>& owl);

}  // namespace gp
