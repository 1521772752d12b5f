#include "core/eval/perplexity.h"

#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>

#include "core/dist/collectives.h"
#include "core/runtime/error.h"

namespace gp {

namespace {

void checkWindows(const CausalLM& model, const at::Tensor& windows) {
    if (windows.dim() != 2 || windows.size(1) < 2 || windows.size(0) < 1)
        throw badArgument("windows", "expected [windows >= 1, seqlen >= 2] token ids, got " +
                                         std::to_string(windows.dim()) + "-D");
    if (at::isFloatingType(windows.scalar_type()))
        throw badArgument("windows", "token ids must be integers");
    const int64_t lowest = windows.min().item<int64_t>();
    const int64_t highest = windows.max().item<int64_t>();
    const int64_t vocab = model.config().vocabSize;
    if (lowest < 0 || highest >= vocab)
        throw badInput("", "token ids",
                       "id " + std::to_string(lowest < 0 ? lowest : highest) +
                           " lies outside the model's vocabulary of " + std::to_string(vocab) +
                           " (does the tokenizer belong to this model?)");
}

}  // namespace

at::Tensor windowsToEvaluate(const CausalLM& model, const at::Tensor& windows,
                             const PerplexityOptions& options, at::Device device) {
    if (options.batchSize < 1)
        throw badArgument("batch-size",
                          "must be at least 1, got " + std::to_string(options.batchSize));
    checkWindows(model, windows);
    int64_t count = windows.size(0);
    if (options.maxWindows > 0) count = std::min(count, options.maxWindows);
    return windows.slice(0, 0, count).to(device, at::kLong);
}

double summedNll(const at::Tensor& logits, const at::Tensor& windows) {
    const at::Tensor targets = windows.slice(1, 1, windows.size(1));  // [b, L-1]
    const at::Tensor logProbabilities = at::log_softmax(logits.to(at::kFloat), -1);
    const at::Tensor picked = logProbabilities.gather(-1, targets.unsqueeze(-1));  // [b, L-1, 1]
    return -picked.to(at::kDouble).sum().item<double>();
}

namespace {

// The forward pass of one batch of windows [b, L]: its first L-1 ids in, logits out.
at::Tensor windowLogits(const CausalLM& model, const at::Tensor& windows) {
    return model.forward(windows.slice(1, 0, windows.size(1) - 1));
}

}  // namespace

at::Tensor cutWindows(const std::vector<int32_t>& ids, int64_t seqlen, int64_t maxWindows,
                      const std::string& sourceForErrors) {
    if (seqlen < 2)
        throw badArgument("seqlen", "must be at least 2, got " + std::to_string(seqlen));
    if (maxWindows < 0)
        throw badArgument("max-windows",
                          "must be 0 (all) or positive, got " + std::to_string(maxWindows));
    int64_t count = int64_t(ids.size()) / seqlen;
    if (count == 0)
        throw badInput(sourceForErrors, "",
                       "the text has " + std::to_string(ids.size()) +
                           " tokens, fewer than one window of " + std::to_string(seqlen));
    if (maxWindows > 0) count = std::min(count, maxWindows);
    const at::Tensor stream =
        at::from_blob(const_cast<int32_t*>(ids.data()), {count * seqlen}, at::kInt);
    return stream.to(at::kLong).view({count, seqlen});  // a copy: `ids` may go away
}

PerplexityResult evaluatePerplexity(const CausalLM& model, const at::Tensor& windows,
                                    const PerplexityOptions& options, ObserverRef observer,
                                    const CancelToken* cancel, DistGroup* group) {
    const auto started = std::chrono::steady_clock::now();
    c10::InferenceMode inference;
    const at::Tensor every = windowsToEvaluate(model, windows, options, model.device());
    const at::Tensor all = windowsShare(group, every, options.batchSize);
    const int64_t count = all.size(0);

    std::vector<double> nll;  // per batch, summed in batch order (across the ranks too)
    for (int64_t start = 0; start < count; start += options.batchSize) {
        throwIfCancelled(cancel);
        const int64_t end = std::min(count, start + options.batchSize);
        const at::Tensor batch = all.slice(0, start, end);
        nll.push_back(summedNll(windowLogits(model, batch), batch));
        observer->onProgress({Stage::Evaluate, end, count, "windows"});
    }
    const int64_t batches = (every.size(0) + options.batchSize - 1) / options.batchSize;
    return perplexityOf(sumInBatchOrder(group, nll, batches, "evaluate"), every.size(0),
                        windows.size(1), started);
}

PerplexityResult perplexityOf(double summedNll, int64_t windows, int64_t seqlen,
                              std::chrono::steady_clock::time_point started) {
    PerplexityResult result;
    result.windows = windows;
    result.tokens = windows * (seqlen - 1);
    result.nll = summedNll / double(result.tokens);
    result.ppl = std::exp(result.nll);
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return result;
}

}  // namespace gp
