// The importance histograms a selection reports (HistogramEvent), on log-spaced bins.
//
// The bins follow the keys: a non-negative float's top bits are its exponent and leading mantissa
// bits, so key >> 21 (exponent + two mantissa bits) splits every octave into four bins, with edges
// at 1, 1.25, 1.5 and 1.75 times a power of two (1,024 bins cover every finite float). Each layer
// is counted on those bins, selected scores apart (from the layer's mask); then every layer and
// the whole model are reported on one common grid: the key bins
// from the smallest to the largest non-zero score, merged in equal runs so there are at most
// kMaxDisplayBins. Exact zeros sit apart (HistogramEvent::zeros). One pass over the scores after
// the selection, outside its timing. INTERNAL to core/prune.
#pragma once

#include "core/prune/score_source.h"
#include "core/prune/selection_options.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

constexpr int kMaxDisplayBins = 160;

// Reports, per layer in order, NormalFitEvent (mean and std of the layer's scores; not for the
// statistical method, which reports its own fits) and HistogramEvent; then the same for the
// whole model (layer "").
void reportHistograms(const ScoreSource& source, const Selection& selection, ObserverRef observer,
                      const CancelToken* cancel);

}  // namespace gp
