// The block-wise scheme, for models larger than memory (the loop of the Wanda and SparseGPT
// code): the weights stay where they were loaded — memory-mapped host tensors in their stored
// dtype, for a model opened block-wise — and one transformer block at a time is materialised on
// the compute device in the compute dtype, run over the hidden states of every batch (held on
// the device), then released; the next block receives its outputs. The embedding, final norm and
// head stay resident for the run. Peak memory: one block, the globals, the hidden states.
//
// Each pass feeds the same batches through the same kernels in the same order as the
// whole-model pass it replaces, so the results are the same bits (tests/core/tst_blockwise.cpp).
// INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "core/eval/perplexity.h"
#include "core/model/causal_lm.h"
#include "core/prune/activation_norms.h"
#include "core/prune/gradient_probe.h"
#include "core/runtime/cancel.h"
#include "core/runtime/compute.h"
#include "core/runtime/observer.h"

namespace gp {

// Puts some of the model's tensors on the compute device and dtype (floating ones; others keep
// their dtype) for the life of this object, and the host tensors back into the model when it
// ends. A tensor already there in that dtype is used as it is, not copied (writes go straight to
// the host tensor); `copy` forces copies (for changing them without touching the host).
class ResidentTensors {
public:
    ResidentTensors(CausalLM& model, const std::vector<std::string>& names,
                    const ComputeSpec& compute, bool copy = false);
    ~ResidentTensors();
    ResidentTensors(const ResidentTensors&) = delete;
    ResidentTensors& operator=(const ResidentTensors&) = delete;

    // Copies the resident values (e.g. after pruning them) into the host tensors: all of them,
    // or those named in `only`.
    void writeBack(const std::vector<std::string>& only = {});

private:
    CausalLM& m_model;
    std::vector<std::pair<std::string, at::Tensor>> m_host;
};

// The tensors outside the blocks: embeddings, final norm, head.
std::vector<std::string> globalTensorNames(const CausalLM& model);

// With `group` (data-parallel), each rank runs its share of the batches and the results are the
// whole job's, as in evaluatePerplexity and collectActivationNorms.
// Perplexity as evaluatePerplexity, one block resident at a time. Hidden states of every
// window are held on the device between blocks ([windows, L-1, hidden] in the compute dtype).
PerplexityResult evaluatePerplexityBlockwise(CausalLM& model, const ComputeSpec& compute,
                                             const at::Tensor& windows,
                                             const PerplexityOptions& options,
                                             ObserverRef observer = ObserverRef(),
                                             const CancelToken* cancel = nullptr,
                                             DistGroup* group = nullptr);

// WANDA's activation norms as collectActivationNorms, one block resident at a time, each block's
// layers reading the outputs of the blocks before it as loaded. Norms on compute.device.
std::map<std::string, at::Tensor> collectActivationNormsBlockwise(
    CausalLM& model, const ComputeSpec& compute, const std::vector<PrunableWeight>& layers,
    const at::Tensor& windows, int64_t batchSize, NormStatistic statistic,
    ObserverRef observer = ObserverRef(), const CancelToken* cancel = nullptr,
    DistGroup* group = nullptr);

// The probe's gradient maxima as recordGradientMaxima, without the model resident: for each
// batch the forward pass keeps only the hidden states at the block boundaries, then the
// backward pass runs from the loss through the head and back one block at a time (each block
// materialised again and differentiated from its stored input). Maxima on the host ([out, in]
// beside the layer's weight).
// `scaled` (G1): candidates (bool [out, in]) by index into `layers`, multiplied by `reduction`
// in the resident copies, in the compute dtype, as the whole-model probe scales its live weights;
// the host tensors are not touched.
struct ScaledCandidates {
    std::map<int64_t, at::Tensor> candidates;
    double reduction = 0.1;
};
std::vector<at::Tensor> recordGradientMaximaBlockwise(
    CausalLM& model, const ComputeSpec& compute, const std::vector<PrunableWeight>& layers,
    const std::vector<int64_t>& which, const at::Tensor& windows,
    const GradientRecording& recording, const ScaledCandidates* scaled = nullptr,
    ObserverRef observer = ObserverRef(), const CancelToken* cancel = nullptr,
    DistGroup* group = nullptr);

// The sequential scheme (block inputs "pruned"): block by block, the calibration hidden states
// that reached the block through the pruned blocks before it give its layers' statistics (WANDA's
// norms, SparseGPT's Hessians: what `statistics` makes; none when it is empty), `pruneBlock`
// changes the block's resident layers, the block is written back to the host tensors, and the
// states go on through the pruned block. The output head, when among `layers`, comes last with
// the final states. `pruneBlock` receives the indices (into `layers`) of the block's layers,
// their resident [out, in] views and the statistics by layer name.
using BlockPruner =
    std::function<void(const std::vector<int64_t>& indices,
                       const std::vector<PrunableWeight>& resident,
                       const std::map<std::string, at::Tensor>& statistics)>;
void pruneBlocksSequentially(CausalLM& model, const ComputeSpec& compute,
                             const std::vector<PrunableWeight>& layers, const at::Tensor& windows,
                             int64_t batchSize, const StatisticsFactory& statistics,
                             const BlockPruner& pruneBlock, ObserverRef observer = ObserverRef(),
                             const CancelToken* cancel = nullptr, DistGroup* group = nullptr);

}  // namespace gp
