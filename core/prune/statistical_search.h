// The upstream threshold search (GRADPROBE.md, "Threshold search"; GradProbe's
// optimized magnitude/WANDA strategies), kept as a selectable method: the GUI shows its normal
// fit and each of its steps, the benchmark holds it beside the exact selection.
// INTERNAL to core/prune; call it through selectScores().
//
// Per group (global, or each layer):
//  1. one streaming pass over the layers: count, sum and sum of squares (accumulated in double
//     across layers), min and max; mean and population standard deviation;
//  2. first guess t = mean + z * std, z = inverseNormalCdf(sparsity), clamped to [min, max];
//  3. bisection with low = min, high = max: count the scores <= t (one pass), error =
//     |count / total - sparsity|; keep the t with the smallest error seen; stop when the error is
//     below the tolerance (0.001), after maxSteps (20) steps, or when high - low < 1e-10; else
//     low = t if the count is short of the target, high = t otherwise, t = (low + high) / 2;
//  4. the selection is every score <= the best t.
// As upstream, each pass runs LibTorch operations per layer (sum, square().sum(), aminmax,
// (scores <= t).sum()). Thresholds are fp32 (upstream compares an fp32 tensor with a Python float,
// which rounds it to fp32); 16-bit scores are compared in their own dtype with t rounded down to
// it (the same set as score <= t) and widened only for the moments. Upstream's z came
// from the Abramowitz-Stegun 26.2.23 approximation (error < 4.5e-4); ours is exact to ~1e-15,
// so the first guess can differ from upstream's by at most 4.5e-4 standard deviations.
#pragma once

#include "core/prune/score_source.h"
#include "core/prune/selection_options.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

// The standard normal quantile: x with Phi(x) = p, for 0 < p < 1 (BadArgument otherwise).
// Acklam's rational approximation refined by one Halley step on erfc (|error| ~ 1e-15).
double inverseNormalCdf(double p);

Selection statisticalSelect(const ScoreSource& source, const SelectionOptions& options,
                            ObserverRef observer, const CancelToken* cancel);

}  // namespace gp
