// The collective steps the data-parallel passes and the exact selection take, on tensors.
// Each one is a reduction point of a pass: the partial statistics of this rank are complete and
// become the whole job's. Results equal one process's bits: gathered rows come back in rank
// order (so a sum folded in unit order is the single-process sum), maxima and integer counts
// reduce exactly in any order. INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/dist/dist_group.h"

namespace gp {

// Every rank's rows, in rank order: `mine` is [counts[rank], ...] (any dtype, any device);
// counts[r] is rank r's row count (known to all, e.g. from shareOf). Result on mine's device.
at::Tensor gatherRows(DistGroup& group, const at::Tensor& mine, const std::vector<int64_t>& counts,
                      const std::string& stage);
// Elementwise maximum over the ranks, in place (floating or integer).
void allReduceMaximum(DistGroup& group, at::Tensor& values, const std::string& stage);
// Elementwise sum over the ranks, in place; exact for integer tensors (histogram counts).
void allReduceSum(DistGroup& group, at::Tensor& values, const std::string& stage);

// The rows of every rank's share of `units` units, when each rank holds [share size, ...].
std::vector<int64_t> shareCounts(int64_t units, int worldSize);
// This rank's batches of a data-parallel pass over `batches` batches; all of them without a group.
inline Share batchShare(const DistGroup* group, int64_t batches) {
    return group ? shareOf(batches, group->rank(), group->worldSize()) : Share{0, batches};
}

// The elementwise maxima of every rank's tensors, in place (one all-reduce for the list; fp16
// maxima travel as fp32 and come back exactly). Nothing without a group.
void maximumAcrossRanks(DistGroup* group, std::vector<at::Tensor>& maxima,
                        const std::string& stage);

// This rank's windows [N, L] of a data-parallel pass in batches of `batchSize`: whole batches,
// so every batch holds the same windows as in one process (all windows without a group).
at::Tensor windowsShare(const DistGroup* group, const at::Tensor& windows, int64_t batchSize);
// The sum, in batch order from 0.0, of one number per batch over the whole job (`mine`: this
// rank's share of `batches`): the single-process loop's bits. Without a group, of `mine`.
double sumInBatchOrder(DistGroup* group, const std::vector<double>& mine, int64_t batches,
                       const std::string& stage);

}  // namespace gp
