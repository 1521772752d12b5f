// Per-document scoring as lm-evaluation-harness scores a text (loglikelihood_rolling with its
// perplexity metrics): every document alone, BOS then the document, cut into rolling windows
// that never cross into another document. INTERNAL to core: includes ATen.
//
// Windows (lm-eval's get_rolling_token_windows with context_len 1, as make_disjoint_window uses
// them): with P positions per forward, the first window feeds BOS + the first P-1 ids and scores
// P predictions; each later window feeds the P ids before its end and scores only the ids no
// window scored yet. Every id of the document is predicted exactly once, from at most P ids of
// its own document before it.
//
// Beside the token perplexity, the tokenizer-independent measures of lm-eval's perplexity tasks
// (process_results of wikitext): with LL the summed log-likelihood of all documents,
// word_perplexity = exp(-LL / words), byte_perplexity = exp(-LL / bytes) and bits_per_byte =
// -LL / (bytes ln 2), where a document has len(re.split(r"\s+", text)) words and its UTF-8 length
// in bytes.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"
#include "core/tokenizer/tokenizer.h"

namespace gp {

struct Document {
    std::vector<int32_t> ids;  // the document's tokens, without BOS
    int64_t words = 0;         // lm-eval's count: pieces of re.split(r"\s+", text)
    int64_t bytes = 0;         // UTF-8 length of the text
};

// The documents of `text` split at `separator` as the token stream splits them (token_stream.h:
// the separator dropped, each document's ends trimmed, blank ones skipped). An Error naming
// `sourceForErrors` when no document yields a token.
std::vector<Document> splitDocuments(const Tokenizer& tokenizer, const std::string& text,
                                     const std::string& separator,
                                     const std::string& sourceForErrors);

// One rolling window: `ids` [m + 1] (int64, CPU) feeds its first m ids and predicts its last m;
// the last `scored` predictions count.
struct RollingWindow {
    at::Tensor ids;
    int64_t scored = 0;
};

std::vector<RollingWindow> rollingWindows(const std::vector<int32_t>& document, int32_t bos,
                                          int64_t positions);

struct DocumentPerplexityResult {
    int64_t documents = 0;
    int64_t windows = 0;
    int64_t tokens = 0;  // predicted tokens (every document's ids)
    int64_t words = 0;
    int64_t bytes = 0;
    double loglikelihood = 0.0;  // summed over every predicted token (nats, <= 0)
    double nll = 0.0;            // mean NLL per predicted token
    double ppl = 0.0;            // exp(nll)
    double wordPerplexity = 0.0;
    double bytePerplexity = 0.0;
    double bitsPerByte = 0.0;
    double seconds = 0.0;
};

// Scores the documents on the model's device (inference mode, log-softmax in fp32, sums in
// double). Windows of one length go through the model together, `batchSize` at a time; windows
// are never padded (a forward's length is what the rotary scalings see). Reports Stage::Evaluate
// progress in windows and polls `cancel` before every forward.
DocumentPerplexityResult evaluateDocuments(const CausalLM& model,
                                           const std::vector<Document>& documents, int32_t bos,
                                           int64_t positions, int64_t batchSize,
                                           ObserverRef observer = ObserverRef(),
                                           const CancelToken* cancel = nullptr);

}  // namespace gp
