// The reference selection: concatenate (global group) or take whole (layer, row), find the k-th
// smallest with kthvalue and break ties by index with nonzero/cumsum, all in LibTorch value
// comparisons (fp32), independent of the bit-pattern keys the exact selection uses. The tests and
// the benchmark hold the exact selection's masks against these; the benchmark times sortSelect()
// as the baseline. INTERNAL to core/prune.
#pragma once

#include <ATen/ATen.h>

#include <vector>

#include "core/prune/score_source.h"
#include "core/prune/selection_options.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

// The selection as cuts (call it through selectScores()).
Selection sortSelect(const ScoreSource& source, const SelectionOptions& options,
                     ObserverRef observer, const CancelToken* cancel);

// Every layer's mask, bool [out, in] on the scores' device, computed directly: the tie rule is
// the same (layer order, then row-major index), the code path is not. N:M: a stable sort of each
// group of M, the M - N smallest selected (equal scores: the lower index first).
std::vector<at::Tensor> sortReferenceMasks(const ScoreSource& source,
                                           const SelectionOptions& options);

}  // namespace gp
