// What the performance work must not change, and the benchmarks that track it:
// - causalSelfAttention works over query chunks (never B x heads x T x T scores): its output and
//   its gradients equal attention written out whole here (plain LibTorch, fp64, no chunks) for
//   causal, windowed, grouped-query and soft-capped attention at sizes that force many chunks;
// - `gradprobe bench forward` reports every stage with tokens/s, the thread count and a peak
//   memory that includes the weights; `bench select` times exact selection's floor beside it.
#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <vector>

#include "core/model/attention.h"
#include "tests/support/test_support.h"

using namespace gp;
using nlohmann::json;

namespace {

// Attention as transformers' eager path writes it: repeat_kv, q k^T * scale, optional
// tanh soft-cap, the causal (and window) mask, softmax, @ v. fp64, one [T, T] per head.
at::Tensor wholeAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                          const AttentionSpec& spec) {
    const int64_t heads = q.size(1), tokens = q.size(2);
    const int64_t groups = heads / k.size(1);
    const at::Tensor keys = k.repeat_interleave(groups, 1).to(at::kDouble);
    const at::Tensor values = v.repeat_interleave(groups, 1).to(at::kDouble);
    at::Tensor scores = at::matmul(q.to(at::kDouble), keys.transpose(-1, -2)) * spec.scale;
    if (spec.logitSoftcap > 0) scores = at::tanh(scores / spec.logitSoftcap) * spec.logitSoftcap;
    const at::Tensor i = at::arange(tokens).unsqueeze(1), j = at::arange(tokens).unsqueeze(0);
    at::Tensor blocked = j > i;
    if (spec.window > 0) blocked = blocked | (i - j >= spec.window);
    scores = scores.masked_fill(blocked, -std::numeric_limits<double>::infinity());
    const at::Tensor mixed = at::matmul(at::softmax(scores, -1), values);  // [B, H, T, hd]
    return mixed.transpose(1, 2).reshape({q.size(0), tokens, heads * q.size(3)});
}

// The gradients accumulated on `tensors`, which are cleared for the next backward pass.
std::vector<at::Tensor> takeGradients(const std::vector<at::Tensor>& tensors) {
    std::vector<at::Tensor> gradients;
    for (const at::Tensor& tensor : tensors) {
        gradients.push_back(tensor.grad().clone());
        tensor.mutable_grad() = at::Tensor();
    }
    return gradients;
}

struct AttentionCase {
    int64_t batch, heads, kvHeads, tokens, headDim, window;
    double softcap;
};

}  // namespace

class TestPerformance : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void chunkedAttentionEqualsWholeAttention_data() {
        QTest::addColumn<int>("which");
        // batch x heads x tokens x 4 bytes per query row: 4 x 4 x 256 x 4 = 16 KB, so 16 rows per
        // 256 KB chunk and 16 chunks; the window cuts each chunk's keys.
        QTest::newRow("causal, 16 chunks") << 0;
        QTest::newRow("window 20 across chunk edges") << 1;
        QTest::newRow("grouped-query 4/2, window 75") << 2;
        QTest::newRow("soft-capped (Gemma 2)") << 3;
        QTest::newRow("one chunk") << 4;
    }
    void chunkedAttentionEqualsWholeAttention() {
        QFETCH(int, which);
        const AttentionCase cases[] = {{4, 4, 4, 256, 8, 0, 0.0},
                                       {4, 4, 4, 256, 8, 20, 0.0},
                                       {4, 4, 2, 256, 8, 75, 0.0},
                                       {4, 4, 4, 256, 8, 0, 5.0},
                                       {2, 4, 4, 64, 16, 0, 0.0}};
        const AttentionCase& c = cases[which];
        constexpr int64_t kBlockBytes = 256 << 10;
        QCOMPARE(attentionScoreBlockBytes(c.batch * c.heads, c.tokens, kBlockBytes),
                 std::min<int64_t>(kBlockBytes, c.batch * c.heads * c.tokens * c.tokens * 4));
        // The default block: 32 MB, or a single query row when one row is larger.
        QCOMPARE(attentionScoreBlockBytes(32, 4096), int64_t{32} << 20);
        QCOMPARE(attentionScoreBlockBytes(4096, 4096), int64_t{4096} * 4096 * 4);
        at::manual_seed(7 + which);
        const at::Tensor q =
            at::randn({c.batch, c.heads, c.tokens, c.headDim}).requires_grad_(true);
        const at::Tensor k =
            at::randn({c.batch, c.kvHeads, c.tokens, c.headDim}).requires_grad_(true);
        const at::Tensor v =
            at::randn({c.batch, c.kvHeads, c.tokens, c.headDim}).requires_grad_(true);
        AttentionSpec spec;
        spec.scale = 1.0 / std::sqrt(double(c.headDim));
        spec.window = c.window;
        spec.logitSoftcap = c.softcap;
        spec.scoreBlockBytes = kBlockBytes;

        const at::Tensor chunked = causalSelfAttention(q, k, v, spec);
        const at::Tensor expected = wholeAttention(q, k, v, spec);
        GP_COMPARE_TENSORS(chunked.to(at::kDouble), expected.detach(), 1e-5, 1e-5);

        // The probe differentiates through attention: gradients must agree too.
        const at::Tensor weights = at::randn(chunked.sizes());
        (chunked * weights).sum().backward();
        const std::vector<at::Tensor> grads = takeGradients({q, k, v});
        (expected * weights.to(at::kDouble)).sum().backward();
        const std::vector<at::Tensor> expectedGrads = takeGradients({q, k, v});
        for (size_t i = 0; i < grads.size(); ++i) {
            GP_COMPARE_TENSORS(grads[i].to(at::kDouble), expectedGrads[i].to(at::kDouble), 1e-4,
                               1e-4);
        }
    }

    void benchForwardReportsEveryStage() {
        const json report =
            runCliJson({"bench", "forward", "--model", demoModel(), "--seqlen", "64", "--windows",
                        "4", "--batch-size", "2", "--repeat", "2", "--json"});
        QVERIFY(!report.empty());
        QCOMPARE(report["threads"].get<int>(), 2);  // OMP_NUM_THREADS below
        QCOMPARE(report["windows"].get<int>(), 4);
        const int64_t loaded = report["loaded_rss_bytes"];
        QVERIFY(loaded > 0);
        QCOMPARE(report["stages"].size(), size_t(3));
        const char* expected[] = {"eval", "calibration", "probe"};
        for (size_t i = 0; i < 3; ++i) {
            const json& stage = report["stages"][i];
            QCOMPARE(stage["stage"].get<std::string>(), std::string(expected[i]));
            QCOMPARE(stage["tokens"].get<int64_t>(), int64_t(4 * 64));
            QCOMPARE(stage["seconds"].size(), size_t(2));
            QVERIFY(stage["tokens_per_second"].get<double>() > 0);
            // The resident peak of a stage includes the weights already loaded.
            QVERIFY(stage["peak_rss_bytes"].get<int64_t>() >= loaded / 2);
        }
    }

    void benchForwardRefusesBadOptions() {
        const CliRun run = runCli({"bench", "forward", "--model", demoModel(), "--seqlen", "1"});
        QVERIFY(run.exitCode != 0);
        QVERIFY2(run.err.contains("--seqlen"), run.err.constData());
    }

    void benchSelectPrintsTheFloor() {
        const json report = runCliJson({"bench", "select", "--model", demoModel(), "--method",
                                        "exact", "--sparsity", "0.5", "--repeat", "3", "--json"});
        QVERIFY(!report.empty());
        const json& exact = report["results"][0];
        QCOMPARE(exact["method"].get<std::string>(), std::string("exact"));
        QVERIFY(exact["floor_seconds"].get<double>() > 0);
        QVERIFY(std::abs(exact["vs_floor"].get<double>() -
                         exact["seconds_median"].get<double>() /
                             exact["floor_seconds"].get<double>()) < 1e-9);
    }

private:
    struct CliRun {
        int exitCode = -1;
        QByteArray out, err;
    };

    static QString demoModel() { return QString::fromStdString(gp::test::demoModelDir()); }

    static CliRun runCli(const QStringList& arguments) {
        QProcess process;
        process.setProgram(QStringLiteral(GP_CLI_BINARY));
        process.setArguments(arguments);
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert("OMP_WAIT_POLICY", "PASSIVE");
        environment.insert("OMP_NUM_THREADS", "2");
        process.setProcessEnvironment(environment);
        process.start();
        // A busy machine may be slow; the limit only stops a hung child.
        if (!process.waitForFinished(300000)) process.kill();
        return {process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1,
                process.readAllStandardOutput(), process.readAllStandardError()};
    }

    static json runCliJson(const QStringList& arguments) {
        const CliRun run = runCli(arguments);
        if (run.exitCode != 0) qWarning("gradprobe failed: %s", run.err.constData());
        return run.exitCode == 0 ? json::parse(run.out.toStdString()) : json::object();
    }
};

QTEST_GUILESS_MAIN(TestPerformance)
#include "tst_performance.moc"
