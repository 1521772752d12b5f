#include "core/prune/activation_norms.h"

#include <set>

#include "core/dist/collectives.h"
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
    if (m_group) {
        std::vector<at::Tensor> parts;
        for (const auto& [name, sums] : m_batchSums) parts.push_back(sums);
        m_kept.push_back(at::cat(parts));
    } else {
        fold(m_batchSums);
    }
    for (auto& [name, sums] : m_batchSums) sums.zero_();
}

void NormAccumulator::fold(const std::map<std::string, at::Tensor>& batchSums) {
    for (const auto& [name, sums] : batchSums) {
        at::Tensor& accumulated = m_result[name];
        if (m_statistic == NormStatistic::Paper)
            accumulated.add_(sums);
        else
            accumulated = at::maximum(accumulated, sums.sqrt());
    }
}

void NormAccumulator::shareWith(DistGroup* group, int64_t batches) {
    m_group = group;
    m_batches = batches;
}

std::map<std::string, at::Tensor> NormAccumulator::finish() {
    if (m_group && !m_batchSums.empty()) {
        // One all-gather of [batches of this rank, every layer's channels], then the fold in
        // batch order: the sums of one process, bit for bit.
        int64_t channels = 0;
        for (const auto& [name, sums] : m_batchSums) channels += sums.numel();
        const at::Tensor mine =
            m_kept.empty() ? at::zeros({0, channels}, m_batchSums.begin()->second.options())
                           : at::stack(m_kept);
        const at::Tensor all =
            gatherRows(*m_group, mine, shareCounts(m_batches, m_group->worldSize()), "calibrate");
        for (int64_t b = 0; b < all.size(0); ++b) {
            std::map<std::string, at::Tensor> batchSums;
            int64_t offset = 0;
            for (const auto& [name, sums] : m_batchSums) {
                batchSums[name] = all[b].narrow(0, offset, sums.numel());
                offset += sums.numel();
            }
            fold(batchSums);
        }
        m_kept.clear();
    }
    std::map<std::string, at::Tensor> norms;
    for (const auto& [name, accumulated] : m_result)
        norms[name] =
            (m_statistic == NormStatistic::Paper ? accumulated.sqrt() : accumulated).to(at::kFloat);
    return norms;
}

std::map<std::string, at::Tensor> collectActivationNorms(
    CausalLM& model, const std::vector<PrunableWeight>& layers, const at::Tensor& windows,
    int64_t batchSize, NormStatistic statistic, ObserverRef observer, const CancelToken* cancel,
    DistGroup* group) {
    NormAccumulator accumulator(layers, model.device(), statistic);
    const int64_t batches = (windows.size(0) + batchSize - 1) / batchSize;
    if (group) accumulator.shareWith(group, batches);
    gatherInputStatistics(model, windowsShare(group, windows, batchSize), batchSize, accumulator,
                          observer, cancel);
    return accumulator.finish();
}

}  // namespace gp
