// Perplexity: uniform logits give the vocabulary size; windows and predicted-token counting;
// batching; the NLL against a cross-entropy computed here by hand; progress and cancel; errors;
// and the text -> token stream step (with a one-id-per-byte tokenizer written here).
#include <ATen/Parallel.h>
#include <QtTest/QtTest>

#include <cmath>
#include <functional>
#include <regex>

#include "core/eval/document_perplexity.h"
#include "core/eval/perplexity.h"
#include "core/eval/token_stream.h"
#include "core/runtime/cancel.h"
#include "core/runtime/error.h"
#include "tests/core/tiny_checkpoints.h"
#include "tests/support/test_support.h"

using nlohmann::json;

namespace {

// One id per byte (0..255); BOS is 256.
class ByteTokenizer : public gp::Tokenizer {
public:
    std::vector<int32_t> encode(std::string_view text) const override {
        std::vector<int32_t> ids;
        for (const char c : text) ids.push_back(int32_t(static_cast<unsigned char>(c)));
        return ids;
    }
    std::string decode(const std::vector<int32_t>& ids) const override {
        std::string text;
        for (const int32_t id : ids)
            if (id < 256) text += char(id);
        return text;
    }
    int32_t vocabSize() const override { return 257; }
    std::optional<int32_t> bosId() const override { return 256; }
    std::optional<int32_t> eosId() const override { return std::nullopt; }
    std::optional<int32_t> pieceId(std::string_view) const override { return std::nullopt; }
    std::string piece(int32_t id) const override {
        return id < 256 ? std::string(1, char(id)) : "";
    }
};

std::vector<int32_t> countingIds(int64_t count, int64_t vocab) {
    std::vector<int32_t> ids;
    for (int64_t i = 0; i < count; ++i) ids.push_back(int32_t((i * 7 + 3) % vocab));
    return ids;
}

std::string errorMessage(const std::function<void()>& action) {
    try {
        action();
    } catch (const gp::Error& error) {
        return error.what();
    }
    return {};
}

struct ProgressLog : gp::RunObserver {
    std::vector<gp::ProgressEvent> events;
    std::function<void()> onEach;
    void onProgress(const gp::ProgressEvent& event) override {
        events.push_back(event);
        if (onEach) onEach();
    }
};

// Mean next-token NLL over windows [N, L], from the model's logits, by hand in double:
// -log softmax(l)[y] = log(sum_k exp(l_k - max)) + max - l_y.
double directCrossEntropy(const gp::CausalLM& model, const at::Tensor& windows) {
    double total = 0.0;
    int64_t count = 0;
    const int64_t length = windows.size(1);
    for (int64_t w = 0; w < windows.size(0); ++w) {
        const at::Tensor logits =
            model.forward(windows.slice(0, w, w + 1).slice(1, 0, length - 1))[0].to(at::kDouble);
        auto l = logits.accessor<double, 2>();
        for (int64_t t = 0; t + 1 < length; ++t) {
            const int64_t target = windows[w][t + 1].item<int64_t>();
            double top = -INFINITY, sum = 0.0;
            for (int64_t k = 0; k < logits.size(1); ++k) top = std::max(top, l[t][k]);
            for (int64_t k = 0; k < logits.size(1); ++k) sum += std::exp(l[t][k] - top);
            total += std::log(sum) + top - l[t][target];
            ++count;
        }
    }
    return total / double(count);
}

// lm-evaluation-harness's rolling windows, written here as its utils.py writes them
// (get_rolling_token_windows, context_len 1, then make_disjoint_window): (context, continuation)
// pairs whose continuations cover the tokens once.
using Pair = std::pair<std::vector<int64_t>, std::vector<int64_t>>;
std::vector<Pair> lmEvalWindows(const std::vector<int64_t>& tokens, int64_t prefix,
                                int64_t maxSeqLen) {
    const auto slice = [&](int64_t from, int64_t to) {
        return std::vector<int64_t>(tokens.begin() + from, tokens.begin() + to);
    };
    const int64_t n = int64_t(tokens.size());
    std::vector<Pair> rolling;
    const int64_t firstLen = std::min(maxSeqLen, n);
    std::vector<int64_t> first = {prefix};
    for (int64_t t : slice(0, firstLen - 1)) first.push_back(t);
    rolling.push_back({first, slice(0, firstLen)});
    int64_t predicted = firstLen;
    while (predicted < n) {
        const int64_t windowPredLen = std::min(n - predicted, maxSeqLen);
        const int64_t windowEnd = predicted + windowPredLen;
        rolling.push_back({slice(windowEnd - maxSeqLen - 1, windowEnd - 1),
                           slice(windowEnd - windowPredLen, windowEnd)});
        predicted += windowPredLen;
    }
    for (Pair& pair : rolling)  // make_disjoint_window
        pair.first.resize(pair.first.size() - (pair.second.size() - 1));
    return rolling;
}

// log p(continuation | context) as lm-eval's loglikelihood computes it: one forward of
// context + continuation minus its last id, the continuation's log-probabilities summed.
double continuationLogLikelihood(const gp::CausalLM& model, const Pair& pair) {
    std::vector<int64_t> full = pair.first;
    full.insert(full.end(), pair.second.begin(), pair.second.end());
    full.pop_back();
    const at::Tensor logits = model.forward(at::tensor(full, at::kLong).unsqueeze(0))[0];
    const at::Tensor logProbabilities = at::log_softmax(logits.to(at::kDouble), -1);
    double sum = 0.0;
    const int64_t offset = int64_t(full.size() - pair.second.size());
    for (size_t i = 0; i < pair.second.size(); ++i)
        sum += logProbabilities[offset + int64_t(i)][pair.second[i]].item<double>();
    return sum;
}

}  // namespace

class TestPerplexity : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { at::set_num_threads(2); }

    void uniformLogitsGivePerplexityEqualToVocabulary_data() {
        QTest::addColumn<QString>("modelType");
        QTest::addColumn<int>("vocab");
        QTest::addColumn<int>("seqlen");
        QTest::addColumn<int>("batchSize");
        QTest::newRow("mlp 37") << "mlp" << 37 << 16 << 4;
        QTest::newRow("mlp 2") << "mlp" << 2 << 2 << 1;
        QTest::newRow("llama 101") << "llama" << 101 << 9 << 3;
    }

    void uniformLogitsGivePerplexityEqualToVocabulary() {
        QFETCH(QString, modelType);
        QFETCH(int, vocab);
        QFETCH(int, seqlen);
        QFETCH(int, batchSize);
        const gp::ModelConfig config =
            gp::test::tinyConfig(modelType.toStdString(), {{"vocab_size", vocab}});
        gp::WeightMap weights = gp::test::tinyWeights(config, 5);
        weights.at("lm_head.weight").zero_();  // every logit 0: p = 1/V for every token
        const auto model = gp::createCausalLM(config, std::move(weights), "tiny");

        const at::Tensor windows = gp::cutWindows(countingIds(100, vocab), seqlen, 0, "text");
        gp::PerplexityOptions options;
        options.seqlen = seqlen;
        options.batchSize = batchSize;
        const gp::PerplexityResult result = gp::evaluatePerplexity(*model, windows, options);
        QVERIFY2(
            std::abs(result.ppl - vocab) <= 1e-5 * vocab,
            qPrintable(QString("ppl %1 for vocabulary %2").arg(result.ppl, 0, 'g', 12).arg(vocab)));
        QVERIFY(std::abs(result.nll - std::log(double(vocab))) <= 1e-6);
        QVERIFY(result.seconds >= 0.0);
    }

    void windowsPredictAllButTheirFirstToken_data() {
        QTest::addColumn<int>("ids");
        QTest::addColumn<int>("seqlen");
        QTest::addColumn<int>("maxWindows");
        QTest::addColumn<int>("windows");
        QTest::newRow("exact fit") << 100 << 10 << 0 << 10;
        QTest::newRow("remainder dropped") << 109 << 10 << 0 << 10;
        QTest::newRow("one short of ten") << 99 << 10 << 0 << 9;
        QTest::newRow("maxWindows 3") << 100 << 10 << 3 << 3;
        QTest::newRow("maxWindows above the count") << 100 << 10 << 50 << 10;
        QTest::newRow("one window") << 20 << 20 << 0 << 1;
        QTest::newRow("pairs") << 7 << 2 << 0 << 3;
    }

    void windowsPredictAllButTheirFirstToken() {
        QFETCH(int, ids);
        QFETCH(int, seqlen);
        QFETCH(int, maxWindows);
        QFETCH(int, windows);
        const auto model = gp::test::tinyModel("mlp");
        const std::vector<int32_t> stream = countingIds(ids, model->config().vocabSize);
        const at::Tensor cut = gp::cutWindows(stream, seqlen, maxWindows, "text");
        QCOMPARE(cut.sizes().vec(), (std::vector<int64_t>{windows, seqlen}));
        QCOMPARE(cut.scalar_type(), at::kLong);
        for (int64_t w = 0; w < windows; ++w)
            for (int64_t j = 0; j < seqlen; ++j)
                QCOMPARE(cut[w][j].item<int64_t>(), int64_t(stream[size_t(w * seqlen + j)]));

        gp::PerplexityOptions options;
        options.seqlen = seqlen;
        const gp::PerplexityResult result = gp::evaluatePerplexity(*model, cut, options);
        QCOMPARE(result.windows, int64_t(windows));
        QCOMPARE(result.tokens, int64_t(windows) * (seqlen - 1));
    }

    void maxWindowsInOptionsIsHonoured() {
        const auto model = gp::test::tinyModel("llama");
        const at::Tensor windows = gp::cutWindows(countingIds(70, 23), 10, 0, "text");
        gp::PerplexityOptions options;
        options.seqlen = 10;
        options.maxWindows = 3;
        const gp::PerplexityResult limited = gp::evaluatePerplexity(*model, windows, options);
        QCOMPARE(limited.windows, int64_t(3));
        QCOMPARE(limited.tokens, int64_t(27));
        QVERIFY(std::abs(limited.nll - directCrossEntropy(*model, windows.slice(0, 0, 3))) < 1e-6);
    }

    void batchSizeDoesNotChangeTheResult() {
        const auto model = gp::test::tinyModel("llama");
        const at::Tensor windows = gp::cutWindows(countingIds(63, 23), 9, 0, "text");
        QCOMPARE(windows.size(0), int64_t(7));
        gp::PerplexityOptions options;
        options.seqlen = 9;
        options.batchSize = 1;
        const gp::PerplexityResult single = gp::evaluatePerplexity(*model, windows, options);
        for (const int batch : {2, 3, 4, 7, 16}) {
            options.batchSize = batch;
            const gp::PerplexityResult batched = gp::evaluatePerplexity(*model, windows, options);
            QCOMPARE(batched.tokens, single.tokens);
            QVERIFY2(
                std::abs(batched.nll - single.nll) <= 1e-6 * single.nll,
                qPrintable(
                    QString("batch %1: nll %2 vs %3").arg(batch).arg(batched.nll).arg(single.nll)));
        }
    }

    void nllEqualsDirectCrossEntropy_data() {
        QTest::addColumn<QString>("modelType");
        for (const char* type : {"llama", "mistral", "gpt_neo", "gpt2", "mlp"})
            QTest::newRow(type) << QString(type);
    }

    void nllEqualsDirectCrossEntropy() {
        QFETCH(QString, modelType);
        const auto model = gp::test::tinyModel(modelType.toStdString());
        const at::Tensor windows = gp::cutWindows(countingIds(85, 23), 12, 0, "text");
        gp::PerplexityOptions options;
        options.seqlen = 12;
        options.batchSize = 3;
        const gp::PerplexityResult result = gp::evaluatePerplexity(*model, windows, options);
        const double expected = directCrossEntropy(*model, windows);
        QVERIFY2(std::abs(result.nll - expected) <= 1e-6,
                 qPrintable(QString("nll %1 vs by hand %2")
                                .arg(result.nll, 0, 'g', 12)
                                .arg(expected, 0, 'g', 12)));
        QVERIFY(std::abs(result.ppl - std::exp(expected)) <= 1e-5 * result.ppl);
        QVERIFY2(result.ppl > 1.5, "a random model is far from certain");
    }

    void bf16PerplexityCloseToFp32() {
        const gp::ModelConfig config = gp::test::tinyConfig("llama");
        const gp::WeightMap bf16 = gp::test::tinyWeights(config, 9, at::kBFloat16);
        gp::WeightMap fp32;
        for (const auto& [name, tensor] : bf16) fp32[name] = tensor.to(at::kFloat);
        const at::Tensor windows = gp::cutWindows(countingIds(64, 23), 16, 0, "text");
        gp::PerplexityOptions options;
        options.seqlen = 16;
        const double low =
            gp::evaluatePerplexity(*gp::createCausalLM(config, bf16, "t"), windows, options).nll;
        const double high =
            gp::evaluatePerplexity(*gp::createCausalLM(config, fp32, "t"), windows, options).nll;
        QVERIFY2(std::abs(low - high) <= 0.02 * high,
                 qPrintable(QString("%1 vs %2").arg(low).arg(high)));
    }

    void progressIsReportedAfterEveryBatch() {
        const auto model = gp::test::tinyModel("mlp");
        const at::Tensor windows = gp::cutWindows(countingIds(70, 23), 10, 0, "text");
        gp::PerplexityOptions options;
        options.batchSize = 3;
        ProgressLog log;
        gp::evaluatePerplexity(*model, windows, options, gp::ObserverRef(&log));
        QCOMPARE(log.events.size(), size_t(3));
        const std::vector<int64_t> done = {3, 6, 7};
        for (size_t i = 0; i < log.events.size(); ++i) {
            QCOMPARE(log.events[i].stage, gp::Stage::Evaluate);
            QCOMPARE(log.events[i].done, done[i]);
            QCOMPARE(log.events[i].total, int64_t(7));
            QCOMPARE(log.events[i].unit, std::string("windows"));
        }
    }

    void cancelStopsBetweenBatches() {
        const auto model = gp::test::tinyModel("mlp");
        const at::Tensor windows = gp::cutWindows(countingIds(70, 23), 10, 0, "text");
        gp::PerplexityOptions options;
        options.batchSize = 2;
        gp::CancelToken cancel;
        ProgressLog log;
        log.onEach = [&] { cancel.cancel(); };
        QVERIFY_THROWS_EXCEPTION(
            gp::Cancelled,
            gp::evaluatePerplexity(*model, windows, options, gp::ObserverRef(&log), &cancel));
        QCOMPARE(log.events.size(), size_t(1));  // the batch after the request never ran

        ProgressLog untouched;
        QVERIFY_THROWS_EXCEPTION(
            gp::Cancelled,
            gp::evaluatePerplexity(*model, windows, options, gp::ObserverRef(&untouched), &cancel));
        QCOMPARE(untouched.events.size(), size_t(0));
    }

    void badWindowsAreErrors_data() {
        QTest::addColumn<int>("ids");
        QTest::addColumn<int>("seqlen");
        QTest::addColumn<int>("maxWindows");
        QTest::addColumn<QString>("expected");
        QTest::newRow("text shorter than a window")
            << 5 << 8 << 0 << "/texts/short.txt|5 tokens|one window of 8";
        QTest::newRow("empty text") << 0 << 2 << 0 << "/texts/short.txt|0 tokens";
        QTest::newRow("seqlen 1") << 10 << 1 << 0 << "seqlen|at least 2";
        QTest::newRow("negative maxWindows") << 10 << 2 << -1 << "max-windows";
    }

    void badWindowsAreErrors() {
        QFETCH(int, ids);
        QFETCH(int, seqlen);
        QFETCH(int, maxWindows);
        QFETCH(QString, expected);
        const std::string message = errorMessage(
            [&] { gp::cutWindows(countingIds(ids, 23), seqlen, maxWindows, "/texts/short.txt"); });
        QVERIFY2(!message.empty(), "no error");
        for (const QString& part : expected.split('|'))
            QVERIFY2(message.find(part.toStdString()) != std::string::npos, message.c_str());
    }

    void idsOutsideTheVocabularyAreAnError() {
        const auto model = gp::test::tinyModel("mlp");  // vocabulary 23
        at::Tensor windows = gp::cutWindows(countingIds(20, 23), 10, 0, "text");
        windows[1][4] = 23;
        const std::string message =
            errorMessage([&] { gp::evaluatePerplexity(*model, windows, gp::PerplexityOptions()); });
        QVERIFY2(message.find("23") != std::string::npos, message.c_str());
        QVERIFY2(message.find("vocabulary") != std::string::npos, message.c_str());
    }

    // ---- text -> token stream ----

    void tokenizeTextSplitsDocumentsAndAddsBos_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("separator");
        QTest::addColumn<bool>("withBos");
        QTest::addColumn<QString>("expected");  // ids, ',' separated; 256 is BOS
        QTest::newRow("one document as it is") << " ab\n"
                                               << "" << false << "32,97,98,10";
        QTest::newRow("no separator: no BOS") << "ab"
                                              << "" << true << "97,98";
        QTest::newRow("stories with BOS") << " ab\n<|e|>\ncd\n<|e|>\n"
                                          << "<|e|>" << true << "256,97,98,256,99,100";
        QTest::newRow("blank documents skipped") << "x<|e|>  \n<|e|>y<|e|>"
                                                 << "<|e|>" << true << "256,120,256,121";
        QTest::newRow("separator without BOS") << "a<|e|>b"
                                               << "<|e|>" << false << "97,98";
        QTest::newRow("separator absent") << " a b \n"
                                          << "<|e|>" << true << "256,97,32,98";
        QTest::newRow("inner whitespace kept") << "a\n\nb<|e|>"
                                               << "<|e|>" << true << "256,97,10,10,98";
    }

    void tokenizeTextSplitsDocumentsAndAddsBos() {
        QFETCH(QString, text);
        QFETCH(QString, separator);
        QFETCH(bool, withBos);
        QFETCH(QString, expected);
        ByteTokenizer tokenizer;
        gp::TokenStreamOptions options;
        options.docSeparator = separator.toStdString();
        if (withBos) options.bos = tokenizer.bosId();
        const std::vector<int32_t> ids =
            gp::tokenizeText(tokenizer, text.toStdString(), options, "story.txt");
        std::vector<int32_t> wanted;
        for (const QString& id : expected.split(',')) wanted.push_back(id.toInt());
        QCOMPARE(ids, wanted);
    }

    void tokenizeTextWithoutTokensIsAnError_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("separator");
        QTest::newRow("empty") << ""
                               << "";
        QTest::newRow("only separators") << "<|e|>\n<|e|>  "
                                         << "<|e|>";
    }

    void tokenizeTextWithoutTokensIsAnError() {
        QFETCH(QString, text);
        QFETCH(QString, separator);
        ByteTokenizer tokenizer;
        gp::TokenStreamOptions options;
        options.docSeparator = separator.toStdString();
        options.bos = 256;
        const std::string message = errorMessage(
            [&] { gp::tokenizeText(tokenizer, text.toStdString(), options, "/texts/empty.txt"); });
        QVERIFY2(message.find("/texts/empty.txt") != std::string::npos, message.c_str());
        QVERIFY2(message.find("no tokens") != std::string::npos, message.c_str());
    }

    void streamToPerplexityEndToEnd() {
        // 3 stories of 4 bytes each + BOS = 15 ids; windows of 5: 3 windows, 12 predictions.
        ByteTokenizer tokenizer;
        gp::TokenStreamOptions options;
        options.docSeparator = "\n\n";
        options.bos = 256;
        const std::vector<int32_t> ids =
            gp::tokenizeText(tokenizer, "abcd\n\nefgh\n\nijkl\n\n", options, "t.txt");
        QCOMPARE(ids.size(), size_t(15));
        const auto model = gp::test::tinyModel("mlp", {{"vocab_size", 257}});
        const at::Tensor windows = gp::cutWindows(ids, 5, 0, "t.txt");
        const gp::PerplexityResult result =
            gp::evaluatePerplexity(*model, windows, gp::PerplexityOptions());
        QCOMPARE(result.tokens, int64_t(12));
        QVERIFY(std::abs(result.nll - directCrossEntropy(*model, windows)) < 1e-6);
    }

    // ---- per-document scoring as lm-evaluation-harness scores text ----

    // lm-eval's own gold windows (tests/test_utils.py: 34 ids, max_seq_len 10, prefix -100).
    void rollingWindowsMatchLmEvalGold() {
        std::vector<int32_t> document(34);
        for (int32_t i = 0; i < 34; ++i) document[size_t(i)] = i;
        const auto windows = gp::rollingWindows(document, -100, 10);
        QCOMPARE(windows.size(), size_t(4));
        const std::vector<std::pair<std::vector<int64_t>, int64_t>> gold = {
            {{-100, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 10},
            {{9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19}, 10},
            {{19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29}, 10},
            {{23, 24, 25, 26, 27, 28, 29, 30, 31, 32, 33}, 4}};
        for (size_t i = 0; i < gold.size(); ++i) {
            QCOMPARE(windows[i].ids.size(0), int64_t(gold[i].first.size()));
            QVERIFY(at::equal(windows[i].ids, at::tensor(gold[i].first, at::kLong)));
            QCOMPARE(windows[i].scored, gold[i].second);
        }
    }

    // Documents longer and shorter than a window, a blank one, multi-byte UTF-8: the engine's
    // totals equal lm-eval's computation written above, and the word/byte measures its
    // process_results definitions (words by re.split(r"\s+"), bytes as UTF-8).
    void documentsScoreAsLmEvalScoresThem() {
        const auto model = gp::test::tinyModel("llama", {{"vocab_size", 257}});
        const std::string separator = "<|endoftext|>";
        const std::vector<std::string> texts = {
            "a b  c\tdone", "Once upon a time there was a long story that needs windows.",
            "caf\xc3\xa9 \xc3\xbc"};
        const std::string file = "  " + texts[0] + "\n" + separator + "\n" + texts[1] + "\n" +
                                 separator + "\n \n" + separator + texts[2] + "\n";
        const ByteTokenizer tokenizer;
        const auto documents = gp::splitDocuments(tokenizer, file, separator, "docs.txt");
        QCOMPARE(documents.size(), texts.size());
        const int64_t positions = 16;
        const gp::DocumentPerplexityResult result =
            gp::evaluateDocuments(*model, documents, 256, positions, 3);

        double loglikelihood = 0.0;
        int64_t tokens = 0, words = 0, bytes = 0, windows = 0;
        const std::regex whitespace("\\s+");
        for (const std::string& text : texts) {
            std::vector<int64_t> ids;
            for (unsigned char c : text) ids.push_back(c);
            for (const Pair& pair : lmEvalWindows(ids, 256, positions)) {
                loglikelihood += continuationLogLikelihood(*model, pair);
                ++windows;
            }
            tokens += int64_t(ids.size());
            words += std::distance(
                std::sregex_token_iterator(text.begin(), text.end(), whitespace, -1),
                std::sregex_token_iterator());
            bytes += int64_t(text.size());
        }
        QCOMPARE(result.documents, int64_t(3));
        QCOMPARE(result.windows, windows);
        QVERIFY(windows > 5);  // the long document needed several windows
        QCOMPARE(result.tokens, tokens);
        QCOMPARE(result.words, words);
        QCOMPARE(result.words, int64_t(4 + 12 + 2));
        QCOMPARE(result.bytes, bytes);
        QVERIFY2(std::abs(result.loglikelihood - loglikelihood) <= 1e-5 * std::abs(loglikelihood),
                 qPrintable(QString("%1 vs %2").arg(result.loglikelihood).arg(loglikelihood)));
        QVERIFY(std::abs(result.nll - (-loglikelihood / double(tokens))) <= 1e-6);
        QVERIFY(std::abs(result.wordPerplexity / std::exp(-loglikelihood / double(words)) - 1) <= 1e-5);
        QVERIFY(std::abs(result.bytePerplexity / std::exp(-loglikelihood / double(bytes)) - 1) <= 1e-5);
        QVERIFY(std::abs(result.bitsPerByte - (-loglikelihood / double(bytes) / std::log(2.0))) <= 1e-6);
        // Nothing crosses a boundary: scoring the documents one by one sums to the same.
        double alone = 0.0;
        for (const gp::Document& document : documents)
            alone += gp::evaluateDocuments(*model, {document}, 256, positions, 1).loglikelihood;
        QVERIFY(std::abs(alone - result.loglikelihood) <= 1e-5 * std::abs(alone));
    }
};

QTEST_GUILESS_MAIN(TestPerplexity)
#include "tst_perplexity.moc"
