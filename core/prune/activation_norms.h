// WANDA's activation statistic: for every prunable linear layer, the norm of each input channel j
// over every calibration token (all ids of each window: input_statistics.h), collected in one
// streaming forward pass through the model's linear-input tap; no activations are kept, only a
// running sum per channel.
// INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "core/dist/dist_group.h"
#include "core/model/causal_lm.h"
#include "core/prune/input_statistics.h"
#include "core/prune/layer_statistics.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

enum class NormStatistic {
    Paper,    // "paper": ||X_j||_2 over all calibration tokens (the Wanda paper)
    Library,  // "library": per batch ||X_j||_2 over the batch's tokens, maximum over batches
              // (the GradProbe library)
};
NormStatistic parseNormStatistic(const std::string& text);

// The running statistic of a set of layers: the model's tap adds every linear input of theirs to
// this batch's fp64 sums of squares; endBatch() folds them into the statistic, in batch order
// (so a block-wise pass that feeds the same batches in the same order gets the same bits).
class NormAccumulator final : public LayerStatistics {
public:
    NormAccumulator(const std::vector<PrunableWeight>& layers, at::Device device,
                    NormStatistic statistic);
    LinearInputTap tap() override;
    void endBatch() override;
    // Data-parallel: this rank feeds its share of `batches` batches (shareOf); each batch's sums
    // are kept and finish() gathers every rank's in batch order and folds them as one process
    // would, so the norms are the single-process bits.
    void shareWith(DistGroup* group, int64_t batches);
    // fp32 [in] norms by layer name, on `device`.
    std::map<std::string, at::Tensor> finish() override;

private:
    void fold(const std::map<std::string, at::Tensor>& batchSums);

    NormStatistic m_statistic;
    DistGroup* m_group = nullptr;
    int64_t m_batches = 0;
    std::vector<at::Tensor> m_kept;  // data-parallel: this rank's batches, layers concatenated
    std::map<std::string, at::Tensor> m_batchSums;  // this batch's sum of squares, fp64 [in]
    std::map<std::string, at::Tensor> m_result;     // paper: running sum; library: running max
};

// Windows [N, L]; the model reads all L ids of each (gatherInputStatistics).
// Sums are accumulated in fp64 whatever the model's dtype (fp16 sums overflow on large inputs).
// Returns layer name -> fp32 [in] norms on the model's device. With `group`, each rank feeds its
// share of the batches and the norms are the whole job's (NormAccumulator::shareWith).
std::map<std::string, at::Tensor> collectActivationNorms(
    CausalLM& model, const std::vector<PrunableWeight>& layers, const at::Tensor& windows,
    int64_t batchSize, NormStatistic statistic, ObserverRef observer = ObserverRef(),
    const CancelToken* cancel = nullptr, DistGroup* group = nullptr);

}  // namespace gp
