// The exact selection: radix selection on the scores' bit patterns (DESIGN.md, "Exact global
// threshold"). INTERNAL to core/prune; call it through selectScores().
//
// Global and layer groups: pass 1 counts the top 16 bits of every key into 65,536 bins (per
// thread, merged at the end of the pass) and finds the bin holding the k-th smallest; pass 2 counts
// the low 16 bits of only the keys inside that bin. Scores that are all bf16, or all fp16, need
// pass 1 only (for fp16 the bins are the fp16 bit patterns themselves). The threshold is the exact
// k-th smallest score; when more scores equal it than are needed, one more counting pass walks the
// layers in order (stopping when the ties are spent) to give each layer its share. Memory: the
// bins, the per-thread bins, and nothing the size of a layer (inputs that cannot be read in place
// are copied in blocks of at most kBlockElements).
//
// Row group: each row's keys are copied into a per-thread buffer of one row and the k-th found
// with std::nth_element (rows are short: 65,536 bins per row would cost more than the row).
// N:M group: one pass that checks every score; the masks follow from the scores alone.
#pragma once

#include <cstdint>
#include <string>
#include <utility>

#include "core/prune/score_source.h"
#include "core/prune/selection_options.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

Selection exactSelect(const ScoreSource& source, const SelectionOptions& options,
                      ObserverRef observer, const CancelToken* cancel);

// Shared with the device kernels (device_select.h): the bin of 65,536 counts that holds the k-th
// smallest key (k >= 1) and how many keys lie in the bins below it; and the SearchStepEvent of a
// radix pass (`key` its threshold so far, `countBelow` the keys at or below it).
constexpr int64_t kRadixBins = 65536;
std::pair<int64_t, int64_t> findRadixBin(const int64_t* totals, int64_t k);
void reportExactStep(ObserverRef observer, const std::string& group, int step, uint32_t key,
                     int64_t countBelow, int64_t target, int64_t groupTotal);

}  // namespace gp
