#include "core/eval/calibration.h"

#include <random>

#include "core/runtime/error.h"

namespace gp {

at::Tensor sampleCalibrationWindows(const std::vector<int32_t>& ids,
                                    const CalibrationOptions& options, const std::string& source) {
    if (options.nsamples < 1) throw badArgument("--nsamples", "must be at least 1");
    if (options.seqlen < 2) throw badArgument("--seqlen", "must be at least 2");
    const int64_t length = static_cast<int64_t>(ids.size());
    if (length < options.seqlen)
        throw badInput(source, "calibration",
                       "the text has " + std::to_string(length) +
                           " tokens, fewer than one calibration window of " +
                           std::to_string(options.seqlen) + "; give a longer text or a smaller --seqlen");
    std::mt19937_64 random(options.seed);
    const uint64_t starts = static_cast<uint64_t>(length - options.seqlen + 1);
    at::Tensor windows = at::empty({options.nsamples, options.seqlen}, at::kLong);
    auto rows = windows.accessor<int64_t, 2>();
    for (int64_t n = 0; n < options.nsamples; ++n) {
        const uint64_t start = random() % starts;
        for (int64_t t = 0; t < options.seqlen; ++t) rows[n][t] = ids[start + t];
    }
    return windows;
}

at::Tensor statisticsInputs(const at::Tensor& windows) { return windows; }

at::Tensor lossInputs(const at::Tensor& windows) {
    return windows.narrow(1, 0, windows.size(1) - 1);
}

at::Tensor windowLoss(const at::Tensor& logits, const at::Tensor& windows) {
    const int64_t predicted = windows.size(1) - 1;
    const at::Tensor scores = logits.narrow(1, 0, predicted).to(at::kFloat);
    const at::Tensor targets = windows.narrow(1, 1, predicted);
    return at::cross_entropy_loss(scores.reshape({-1, scores.size(-1)}), targets.reshape({-1}));
}

}  // namespace gp
