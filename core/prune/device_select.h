// The exact selection and its masks with ATen kernels on the scores' own device (a GPU): the
// same radix selection as exact_select.h — keys are the fp32 bit patterns, pass 1 counts the top
// 16 bits into 65,536 bins, pass 2 the low 16 bits inside the chosen bin, ties shared in layer
// order then row-major index — but every per-element step is a device kernel (bincount,
// comparisons, kthvalue, cumsum) and only bin counts (65,536 per pass), one tie count per layer
// and one cut per row cross to the host. Same results, bit for bit, as the CPU kernels
// (tests/core/tst_select.cpp runs both on the CPU). INTERNAL to core/prune: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include "core/prune/score_source.h"
#include "core/prune/selection_options.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

// exactSelect for scores on any device. Extra memory: the bins and one layer's keys (int32) on
// the device.
Selection exactSelectOnDevice(const ScoreSource& source, const SelectionOptions& options,
                              ObserverRef observer, const CancelToken* cancel);

// maskFromScores for scores on any device: bool [out, in] on that device.
at::Tensor maskOnDevice(const Selection& selection, int64_t layer, const at::Tensor& scores,
                        bool absolute);

}  // namespace gp
