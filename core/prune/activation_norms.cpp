#include "core/prune/activation_norms.h"

#include <set>

#include "core/runtime/error.h"

namespace gp {
NormStatistic parseNormStatistic(const std::string& text) {
    if (text == "paper") return NormStatistic::Paper;
    if (text == "library") return NormStatistic::Library;
    throw badArgument("--wanda-norm", "unknown '" + text + "' (expected paper or library)");
}

NormAccumulator::NormAccumulator(const std::vector<PrunableWeight>& layers, at::Device device,
                                 NormStatistic statistic)
    : m_statistic(statistic) {
    const auto options = at::TensorOptions().dtype(at::kDouble).device(device);
    for (const PrunableWeight& layer : layers) {
        m_batchSums[layer.name] = at::zeros({layer.matrix.size(1)}, options);
        m_result[layer.name] = at::zeros({layer.matrix.size(1)}, options);
    }
}

LinearInputTap NormAccumulator::tap() {
    return [this](const std::string& name, const at::Tensor& input) {
        auto found = m_batchSums.find(name);
        if (found == m_batchSums.end()) return;
        const at::Tensor rows = input.reshape({-1, input.size(-1)});
        found->second.add_(rows.to(at::kDouble).square().sum(0));
    };
}

void NormAccumulator::endBatch() {
    for (auto& [name, sums] : m_batchSums) {
        at::Tensor& accumulated = m_result[name];
        if (m_statistic == NormStatistic::Paper)
            accumulated.add_(sums);
        else
            accumulated = at::maximum(accumulated, sums.sqrt());
        sums.zero_();
    }
}

std::map<std::string, at::Tensor> NormAccumulator::finish() {
    std::map<std::string, at::Tensor> norms;
    for (const auto& [name, accumulated] : m_result)
        norms[name] =
            (m_statistic == NormStatistic::Paper ? accumulated.sqrt() : accumulated).to(at::kFloat);
    return norms;
}

std::map<std::string, at::Tensor> collectActivationNorms(
    CausalLM& model, const std::vector<PrunableWeight>& layers, const at::Tensor& windows,
    int64_t batchSize, NormStatistic statistic, ObserverRef observer, const CancelToken* cancel) {
    NormAccumulator accumulator(layers, model.device(), statistic);
    gatherInputStatistics(model, windows, batchSize, accumulator, observer, cancel);
    return accumulator.finish();
}

}  // namespace gp
