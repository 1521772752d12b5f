// Materialises one layer's mask from a selection and that layer's scores. INTERNAL to core/prune:
// others call layerMask() in selection.h.
#pragma once

#include <ATen/ATen.h>

#include "core/prune/selection_options.h"

namespace gp {

// bool [out, in] on the scores' device. Global/layer cut: keys below the cut, then the first
// `ties` keys equal to it in row-major order; row group: the same per row with the row's cut;
// nm: in each group of M consecutive keys of a row, the M - N smallest (equal keys: lower index
// first). CPU scores: row by row in parallel, read in place where they can be (see
// forEachKeyRows), so the only allocation the size of the layer is the mask itself; scores on a
// GPU: maskOnDevice (device_select.h), computed there.
at::Tensor maskFromScores(const Selection& selection, int64_t layer, const at::Tensor& scores,
                          bool absolute);

}  // namespace gp
