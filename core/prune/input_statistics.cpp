#include "core/prune/input_statistics.h"

#include <c10/core/GradMode.h>

#include <algorithm>

#include "core/eval/calibration.h"

namespace gp {

void gatherInputStatistics(CausalLM& model, const at::Tensor& windows, int64_t batchSize,
                           InputStatistic& statistic, ObserverRef observer,
                           const CancelToken* cancel) {
    const TapScope tapped(model, statistic.tap());
    // No-grad rather than inference mode: statistics are used later next to autograd tensors.
    at::NoGradGuard noGrad;
    const int64_t count = windows.size(0);
    const int64_t batches = (count + batchSize - 1) / batchSize;
    for (int64_t b = 0; b < batches; ++b) {
        throwIfCancelled(cancel);
        const int64_t start = b * batchSize;
        const at::Tensor batch =
            windows.narrow(0, start, std::min(batchSize, count - start)).to(model.device());
        model.forward(statisticsInputs(batch));
        statistic.endBatch();
        observer->onProgress({Stage::Calibrate, b + 1, batches, "batches"});
    }
}

std::vector<at::Tensor> embedStatisticsBatches(const CausalLM& model, const at::Tensor& windows,
                                               int64_t batchSize) {
    std::vector<at::Tensor> states;
    for (int64_t start = 0; start < windows.size(0); start += batchSize) {
        const at::Tensor batch =
            windows.slice(0, start, std::min(windows.size(0), start + batchSize));
        states.push_back(model.embed(statisticsInputs(batch)));
    }
    return states;
}

}  // namespace gp
