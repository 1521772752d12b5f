#include "core/prune/activation_norms.h"

#include <c10/core/GradMode.h>

#include <set>

#include "core/runtime/error.h"

namespace gp {
namespace {

// Clears the model's tap when the collection ends, however it ends.
struct TapScope {
    CausalLM& model;
    ~TapScope() { model.setLinearInputTap({}); }
};

}  // namespace

NormStatistic parseNormStatistic(const std::string& text) {
    if (text == "paper") return NormStatistic::Paper;
    if (text == "library") return NormStatistic::Library;
    throw badArgument("--wanda-norm", "unknown '" + text + "' (expected paper or library)");
}

std::map<std::string, at::Tensor> collectActivationNorms(
    CausalLM& model, const std::vector<PrunableWeight>& layers, const at::Tensor& windows,
    int64_t batchSize, NormStatistic statistic, ObserverRef observer, const CancelToken* cancel) {
    std::map<std::string, at::Tensor> batchSums;  // this batch's sum of squares, fp64 [in]
    std::map<std::string, at::Tensor> result;     // paper: running sum; library: running max
    for (const PrunableWeight& layer : layers) {
        const auto options = at::TensorOptions().dtype(at::kDouble).device(model.device());
        batchSums[layer.name] = at::zeros({layer.matrix.size(1)}, options);
        result[layer.name] = at::zeros({layer.matrix.size(1)}, options);
    }
    model.setLinearInputTap([&batchSums](const std::string& name, const at::Tensor& input) {
        auto found = batchSums.find(name);
        if (found == batchSums.end()) return;
        const at::Tensor rows = input.reshape({-1, input.size(-1)});
        found->second.add_(rows.to(at::kDouble).square().sum(0));
    });
    TapScope clearTap{model};

    // No-grad rather than inference mode: the norms are used later next to autograd tensors.
    at::NoGradGuard noGrad;
    const int64_t count = windows.size(0);
    const int64_t batches = (count + batchSize - 1) / batchSize;
    for (int64_t b = 0; b < batches; ++b) {
        throwIfCancelled(cancel);
        const int64_t start = b * batchSize;
        const at::Tensor batch =
            windows.narrow(0, start, std::min(batchSize, count - start)).to(model.device());
        model.forward(batch.narrow(1, 0, batch.size(1) - 1));
        for (auto& [name, sums] : batchSums) {
            at::Tensor& accumulated = result[name];
            if (statistic == NormStatistic::Paper)
                accumulated.add_(sums);
            else
                accumulated = at::maximum(accumulated, sums.sqrt());
            sums.zero_();
        }
        observer->onProgress({Stage::Calibrate, b + 1, batches, "batches"});
    }
    for (auto& [name, accumulated] : result) {
        accumulated = statistic == NormStatistic::Paper ? accumulated.sqrt() : accumulated;
        accumulated = accumulated.to(at::kFloat);
    }
    return result;
}

}  // namespace gp
