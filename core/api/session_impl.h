// The engine-side state behind gp::ModelSession. INTERNAL to core: includes ATen.
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/api/engine.h"
#include "core/eval/perplexity.h"
#include "core/io/checkpoint.h"
#include "core/model/causal_lm.h"
#include "core/runtime/compute.h"
#include "core/tokenizer/tokenizer.h"

namespace gp {

struct ModelSession::Impl {
    LoadOptions options;
    Checkpoint checkpoint;
    ModelConfig config;
    ComputeSpec compute;
    std::unique_ptr<CausalLM> model;
    std::unique_ptr<Tokenizer> tokenizer;  // null when the model ships none
    std::string tokenizerJson;  // tokenizer.json text made from the model file's own vocabulary
                                // (GGUF), "" otherwise
    ModelInfo info;

    // Pruning state (core/api/prune_session.cpp).
    std::vector<PrunableWeight> prunable;      // live [out, in] views, in model order
    std::vector<at::Tensor> originals;         // copies of `prunable` as loaded (taken lazily)
    std::map<int, std::vector<at::Tensor>> runMasks;  // run id -> bool "is zero" per layer
    // run id -> the weights a run that also changes the kept weights (SparseGPT) left, per layer
    std::map<int, std::vector<at::Tensor>> runWeights;
    int nextRunId = 1;
    int appliedRunId = 0;                      // the run whose masks the weights carry (0: none)
    bool blockwiseRunStarted = false;          // a block-wise session's one run has begun
    std::string normsKey;                      // calibration settings the cached norms belong to
    std::map<std::string, at::Tensor> activationNorms;

    const Tokenizer& requireTokenizer() const;
    // An Error for a job on a session opened with LoadOptions::headersOnly (no weights to run).
    void requireWeights() const;
    // The token stream of a text file for this model (BOS per document when a separator is set).
    // skipBytes: start past this many bytes of the file (at the next UTF-8 character).
    std::vector<int32_t> tokenizeFile(const std::string& path, const std::string& docSeparator,
                                      int64_t skipBytes = 0) const;
    // BOS of the tokenizer, else the config's bos_token_id; none when neither has one.
    std::optional<int32_t> bosId() const;
    // EvalOptions::perDocument: lm-eval's scoring of each document of the file alone.
    EvalResult evaluateDocuments(const std::string& path, const EvalOptions& options,
                                 const PerplexityOptions& perplexity, RunObserver* observer,
                                 const CancelToken* cancel);
};

// The ModelInfo of an open session (engine.cpp).
ModelInfo describeSession(const ModelSession::Impl& session);

}  // namespace gp
