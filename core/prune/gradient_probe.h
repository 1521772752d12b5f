// The GradProbe probe (GRADPROBE.md): the score proposes candidates, the gradient decides.
// Record G0 = max over B calibration batches of |dL/dW| per weight; scale the candidates by the
// reduction factor; record G1 the same way; prune a candidate where G1 <= G0 * (1 + tau) and
// restore it where its gradient rose beyond that. A weight whose gradient is zero both times is
// prunable (0 <= 0). Non-candidates are never touched. INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/dist/dist_group.h"
#include "core/model/causal_lm.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

struct GradientRecording {
    int64_t batches = 8;     // B
    int64_t batchSize = 8;   // windows per batch
    bool fp16 = false;       // keep the maxima in fp16 (memory); compared in fp32
};

// The stored tensor behind a prunable weight (the [out, in] view may be its transpose, as for
// GPT-2's Conv1D): gradients live on the stored tensor. An Internal error if the model lacks it.
struct StoredWeight {
    at::Tensor tensor;
    bool transposed = false;
};
StoredWeight storedWeightOf(CausalLM& model, const PrunableWeight& layer);

// Sets requires_grad on the listed tensors for the scope of one recording; clears it and their
// gradients at the end.
class GradientScope {
public:
    explicit GradientScope(std::vector<StoredWeight>& weights);
    ~GradientScope();
    GradientScope(const GradientScope&) = delete;
    GradientScope& operator=(const GradientScope&) = delete;

private:
    std::vector<StoredWeight>& m_weights;
};

// maximum = max(maximum, |grad|) with the stored tensor's gradient seen as [out, in], converted
// to the maximum's device and dtype; then clears the gradient.
void foldGradientMaximum(at::Tensor& maximum, StoredWeight& stored);

// Batch `batch` of a recording: windows batch * batchSize ... (wrapping around), on `device`.
at::Tensor recordingBatch(const at::Tensor& windows, int64_t batch, int64_t batchSize,
                          at::Device device);

// G = elementwise max over batches of |grad| for the layers in `which` (indices into `layers`),
// each as an [out, in] tensor on the model's device. Batches are taken in order from `windows`
// (wrapping around when B * batchSize exceeds them). The loss is the mean next-token
// cross-entropy (calibration.h windowLoss). Only the listed layers require gradients. With
// `group`, each rank records its share of the B batches and the maxima are max-reduced (exact).
std::vector<at::Tensor> recordGradientMaxima(CausalLM& model,
                                             const std::vector<PrunableWeight>& layers,
                                             const std::vector<int64_t>& which,
                                             const at::Tensor& windows,
                                             const GradientRecording& recording,
                                             ObserverRef observer = ObserverRef(),
                                             const CancelToken* cancel = nullptr,
                                             DistGroup* group = nullptr);

// Candidates the probe prunes: candidate & (G1 <= G0 * (1 + tau)), compared in fp32.
at::Tensor probeDecision(const at::Tensor& candidates, const at::Tensor& g0, const at::Tensor& g1,
                         double tau);

// The gradient threshold of one layer under the layer-wise forms: per-name map, per-position
// list, adaptive (base * sqrt(numel / 38,597,376), TinyStories-33M's embedding size), or the
// single value. Errors (BadArgument) for a list of the wrong length or an unknown layer name.
struct ThresholdRule {
    double threshold = 0.0;
    std::vector<double> list;
    std::map<std::string, double> byLayer;
    bool adaptive = false;
};
constexpr double kAdaptiveReferenceNumel = 38'597'376.0;
double thresholdFor(const ThresholdRule& rule, const std::string& layer, int64_t position,
                    int64_t numel);
// Validates the rule against the layers it will be applied to (list length, map keys).
void checkThresholdRule(const ThresholdRule& rule, const std::vector<PrunableWeight>& layers);

}  // namespace gp
