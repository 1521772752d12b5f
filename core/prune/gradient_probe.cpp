#include "core/prune/gradient_probe.h"

#include <cmath>
#include <set>

#include "core/eval/calibration.h"
#include "core/runtime/error.h"

namespace gp {
StoredWeight storedWeightOf(CausalLM& model, const PrunableWeight& layer) {
    auto found = model.weights().find(layer.name);
    if (found == model.weights().end())
        throw Error(ErrorKind::Internal, "", layer.name, "prunable weight missing from the model");
    StoredWeight stored{found->second, false};
    stored.transposed = !(layer.matrix.sizes() == stored.tensor.sizes() &&
                          layer.matrix.strides() == stored.tensor.strides());
    return stored;
}

GradientScope::GradientScope(std::vector<StoredWeight>& weights) : m_weights(weights) {
    for (StoredWeight& weight : m_weights) weight.tensor.requires_grad_(true);
}

GradientScope::~GradientScope() {
    for (StoredWeight& weight : m_weights) {
        weight.tensor.mutable_grad() = at::Tensor();
        weight.tensor.requires_grad_(false);
    }
}

void foldGradientMaximum(at::Tensor& maximum, StoredWeight& stored) {
    at::NoGradGuard noGrad;
    at::Tensor grad = stored.tensor.grad();
    if (stored.transposed) grad = grad.t();
    maximum = at::maximum(maximum, grad.abs().to(maximum.device(), maximum.scalar_type()));
    stored.tensor.mutable_grad() = at::Tensor();
}

at::Tensor recordingBatch(const at::Tensor& windows, int64_t batch, int64_t batchSize,
                          at::Device device) {
    std::vector<at::Tensor> rows;
    for (int64_t i = 0; i < batchSize; ++i)
        rows.push_back(windows[(batch * batchSize + i) % windows.size(0)]);
    return at::stack(rows).to(device);
}

std::vector<at::Tensor> recordGradientMaxima(CausalLM& model,
                                             const std::vector<PrunableWeight>& layers,
                                             const std::vector<int64_t>& which,
                                             const at::Tensor& windows,
                                             const GradientRecording& recording,
                                             ObserverRef observer, const CancelToken* cancel) {
    std::vector<StoredWeight> stored;
    std::vector<at::Tensor> maxima;
    for (int64_t index : which) {
        stored.push_back(storedWeightOf(model, layers[index]));
        maxima.push_back(at::zeros(layers[index].matrix.sizes(),
                                   layers[index].matrix.options().dtype(
                                       recording.fp16 ? at::kHalf : at::kFloat)));
    }
    GradientScope scope(stored);
    at::AutoGradMode gradients(true);
    for (int64_t b = 0; b < recording.batches; ++b) {
        throwIfCancelled(cancel);
        const at::Tensor batch = recordingBatch(windows, b, recording.batchSize, model.device());
        const at::Tensor logits = model.forward(lossInputs(batch));
        windowLoss(logits, batch).backward();
        for (size_t i = 0; i < stored.size(); ++i) foldGradientMaximum(maxima[i], stored[i]);
        observer->onProgress({Stage::Probe, b + 1, recording.batches, "batches"});
    }
    return maxima;
}

at::Tensor probeDecision(const at::Tensor& candidates, const at::Tensor& g0, const at::Tensor& g1,
                         double tau) {
    const at::Tensor limit = g0.to(at::kFloat) * static_cast<float>(1.0 + tau);
    return candidates.logical_and(g1.to(at::kFloat) <= limit);
}

double thresholdFor(const ThresholdRule& rule, const std::string& layer, int64_t position,
                    int64_t numel) {
    if (auto found = rule.byLayer.find(layer); found != rule.byLayer.end()) return found->second;
    if (!rule.list.empty()) return rule.list.at(static_cast<size_t>(position));
    if (rule.adaptive) return rule.threshold * std::sqrt(double(numel) / kAdaptiveReferenceNumel);
    return rule.threshold;
}

void checkThresholdRule(const ThresholdRule& rule, const std::vector<PrunableWeight>& layers) {
    if (!rule.list.empty() && rule.list.size() != layers.size())
        throw badArgument("--probe-threshold",
                          "a list of " + std::to_string(rule.list.size()) +
                              " thresholds for " + std::to_string(layers.size()) +
                              " prunable layers; give one per layer in processing order");
    std::set<std::string> names;
    for (const PrunableWeight& layer : layers) names.insert(layer.name);
    for (const auto& [name, value] : rule.byLayer)
        if (!names.count(name))
            throw badArgument("--probe-threshold", "no prunable layer named '" + name + "'");
}

}  // namespace gp
