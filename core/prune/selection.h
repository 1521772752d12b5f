// Selecting the k lowest scores of every group, and the masks that follow from a selection.
// INTERNAL to core: includes ATen. Called on the thread that runs the job.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/prune/score_source.h"
#include "core/prune/selection_options.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

// Runs options.method over the source's scores, asking it again for each layer at each pass.
// Reports SearchStepEvent (statistical: every bisection step; exact and sort: their passes),
// NormalFitEvent (statistical), ThresholdEvent, and with options.histograms the histograms.
// Errors: sparsity outside [0, 1), a bad N:M, a statistical search on row or nm groups
// (BadArgument); a NaN, infinite or negative score (BadInput naming the layer and position).
Selection selectScores(const ScoreSource& source, const SelectionOptions& options,
                       RunObserver* observer = nullptr, const CancelToken* cancel = nullptr);

// One layer's mask, bool [out, in] on the scores' device (true = selected), from the scores the
// selection was made on. The second form asks the source (reading |t| in place when it can).
at::Tensor layerMask(const Selection& selection, int64_t layer, const at::Tensor& scores,
                     bool absolute = false);
at::Tensor layerMask(const Selection& selection, const ScoreSource& source, int64_t layer);

// Throws BadArgument unless 0 <= sparsity < 1 (and N:M is valid for the nm group).
void checkSelectionOptions(const SelectionOptions& options);

}  // namespace gp
