// Perplexity of a causal LM on a token stream. INTERNAL to core: includes ATen.
//
// The stream is cut into non-overlapping windows of `seqlen` ids; a window of L ids is fed as its
// first L-1 ids and predicts its last L-1 ids (so llama2.c's "513 ids predicting 512 tokens" is
// seqlen 513). NLL is the mean over every predicted token of every window; ppl = exp(nll).
// A trailing remainder shorter than seqlen is dropped (as Wanda and llama.cpp do).
#pragma once

#include <ATen/ATen.h>

#include <chrono>
#include <cstdint>
#include <vector>

#include "core/dist/dist_group.h"
#include "core/model/causal_lm.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

struct PerplexityOptions {
    int64_t seqlen = 512;    // ids per window (>= 2), for cutWindows; evaluatePerplexity reads the
                             // length off the windows themselves
    int64_t maxWindows = 0;  // 0 = all
    int64_t batchSize = 4;   // windows per forward pass
};

struct PerplexityResult {
    int64_t tokens = 0;  // predicted tokens
    int64_t windows = 0;
    double nll = 0.0;
    double ppl = 0.0;
    double seconds = 0.0;
};

// Windows [N, seqlen] int64 (CPU) from a stream; Error if the stream is shorter than one window.
at::Tensor cutWindows(const std::vector<int32_t>& ids, int64_t seqlen, int64_t maxWindows,
                      const std::string& sourceForErrors);

// Runs under inference mode on the model's device and dtype (log-softmax in fp32, the NLL summed
// in double). Uses the first maxWindows windows when that is > 0. Reports Stage::Evaluate
// progress (unit "windows") after every batch; polls `cancel` before every batch and throws
// Cancelled. An Error if a token id lies outside the model's vocabulary. With `group`, each rank
// evaluates its share of the batches and the per-batch sums are added in batch order across the
// ranks (the single-process bits).
PerplexityResult evaluatePerplexity(const CausalLM& model, const at::Tensor& windows,
                                    const PerplexityOptions& options,
                                    ObserverRef observer = ObserverRef(),
                                    const CancelToken* cancel = nullptr,
                                    DistGroup* group = nullptr);

// The pieces, for the block-wise evaluation (core/prune/blockwise.h), which must agree exactly:
// the sum over a batch of -log p(next token) in double from its logits [b, L-1, V] (log-softmax in fp32);
// the result from the sum over `windows` windows of `seqlen` ids.
// windowsToEvaluate: the options and windows checked (batch size >= 1; [N, L >= 2] integer ids
// inside the vocabulary), then the first maxWindows of them (all when 0) as int64 on `device`.
at::Tensor windowsToEvaluate(const CausalLM& model, const at::Tensor& windows,
                             const PerplexityOptions& options, at::Device device);
double summedNll(const at::Tensor& logits, const at::Tensor& windows);
PerplexityResult perplexityOf(double summedNll, int64_t windows, int64_t seqlen,
                              std::chrono::steady_clock::time_point started);

}  // namespace gp
