#include "core/eval/document_perplexity.h"

#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <map>

#include "core/eval/perplexity.h"
#include "core/eval/token_stream.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

bool isSpace(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

// len(re.split(r"\s+", text)): one more piece than there are runs of whitespace (an empty piece
// at either end counts, though documents here are trimmed).
int64_t wordCount(std::string_view text) {
    int64_t runs = 0;
    for (size_t i = 0; i < text.size(); ++i)
        if (isSpace(text[i]) && (i == 0 || !isSpace(text[i - 1]))) ++runs;
    return runs + 1;
}

at::Tensor idsTensor(const std::vector<int64_t>& ids) {
    return at::tensor(ids, at::TensorOptions(at::kLong));
}

}  // namespace

std::vector<Document> splitDocuments(const Tokenizer& tokenizer, const std::string& text,
                                     const std::string& separator,
                                     const std::string& sourceForErrors) {
    std::vector<Document> documents;
    forEachDocument(text, separator, [&](std::string_view document) {
        Document item;
        item.ids = tokenizer.encode(document);
        item.words = wordCount(document);
        item.bytes = int64_t(document.size());
        if (!item.ids.empty()) documents.push_back(std::move(item));
    });
    if (documents.empty()) throw badInput(sourceForErrors, "", "the text yields no tokens");
    return documents;
}

std::vector<RollingWindow> rollingWindows(const std::vector<int32_t>& document, int32_t bos,
                                          int64_t positions) {
    if (positions < 1) throw badArgument("seqlen", "a window needs at least one position");
    std::vector<RollingWindow> windows;
    const int64_t count = int64_t(document.size());
    // The stream BOS + document: id i of the document is stream id i + 1.
    const auto stream = [&](int64_t index) { return index == 0 ? int64_t(bos) : document[index - 1]; };
    int64_t predicted = 0;  // document ids scored so far
    while (predicted < count) {
        const int64_t end = std::min(count, predicted + positions);  // predict ids [predicted, end)
        const int64_t first = std::max<int64_t>(0, end - positions);  // stream index fed first
        std::vector<int64_t> ids;
        for (int64_t index = first; index <= end; ++index) ids.push_back(stream(index));
        windows.push_back({idsTensor(ids), end - predicted});
        predicted = end;
    }
    return windows;
}

DocumentPerplexityResult evaluateDocuments(const CausalLM& model,
                                           const std::vector<Document>& documents, int32_t bos,
                                           int64_t positions, int64_t batchSize,
                                           ObserverRef observer, const CancelToken* cancel) {
    const auto started = std::chrono::steady_clock::now();
    if (batchSize < 1) throw badArgument("batch-size", "must be at least 1");
    c10::InferenceMode inference;
    DocumentPerplexityResult result;
    // Windows grouped by length, so a batch is one tensor without padding.
    std::map<int64_t, std::vector<RollingWindow>> byLength;
    for (const Document& document : documents) {
        for (RollingWindow& window : rollingWindows(document.ids, bos, positions)) {
            result.tokens += window.scored;
            byLength[window.ids.size(0)].push_back(std::move(window));
            ++result.windows;
        }
        result.words += document.words;
        result.bytes += document.bytes;
        ++result.documents;
    }
    PerplexityOptions checks;
    checks.batchSize = batchSize;
    int64_t done = 0;
    for (const auto& [length, windows] : byLength) {
        for (size_t start = 0; start < windows.size(); start += size_t(batchSize)) {
            throwIfCancelled(cancel);
            const size_t end = std::min(windows.size(), start + size_t(batchSize));
            std::vector<at::Tensor> rows;
            for (size_t i = start; i < end; ++i) rows.push_back(windows[i].ids);
            const at::Tensor batch =
                windowsToEvaluate(model, at::stack(rows), checks, model.device());  // [b, m + 1]
            const at::Tensor logits = model.forward(batch.slice(1, 0, length - 1));
            const at::Tensor logProbabilities = at::log_softmax(logits.to(at::kFloat), -1);
            const at::Tensor picked =  // [b, m]: log p of every next id
                logProbabilities.gather(-1, batch.slice(1, 1, length).unsqueeze(-1)).squeeze(-1);
            for (size_t i = start; i < end; ++i) {
                const int64_t scored = windows[i].scored;
                result.loglikelihood += picked[int64_t(i - start)]
                                            .slice(0, length - 1 - scored, length - 1)
                                            .to(at::kDouble)
                                            .sum()
                                            .item<double>();
            }
            done += int64_t(end - start);
            observer->onProgress({Stage::Evaluate, done, result.windows, "windows"});
        }
    }
    result.nll = -result.loglikelihood / double(result.tokens);
    result.ppl = std::exp(result.nll);
    result.wordPerplexity = std::exp(-result.loglikelihood / double(result.words));
    result.bytePerplexity = std::exp(-result.loglikelihood / double(result.bytes));
    result.bitsPerByte = -result.loglikelihood / (double(result.bytes) * std::log(2.0));
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return result;
}

}  // namespace gp
