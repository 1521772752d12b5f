// The built-in demo model (resources/demo-model): what the README states about it holds. Its
// figures come from `gradprobe eval --model resources/demo-model` (windows of 256 ids) and the
// unigram baseline of its training text on the same predicted tokens (README, "Demo model").
#include <QtTest/QtTest>

#include "core/api/engine.h"

using namespace gp;

namespace {
constexpr double kReadmePerplexity = 1.3741;  // README: held-out perplexity
constexpr double kReadmeUnigram = 154.7;      // README: unigram baseline, same tokens
}  // namespace

class TestDemoModel : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { initialiseEngine(); }

    void isASmallLlamaThatShipsItsText() {
        const auto session = ModelSession::open(demoModelPath());
        const ModelInfo& info = session->info();
        QCOMPARE(QString::fromStdString(info.architecture), QString("llama"));
        QCOMPARE(info.totalParameters, int64_t(260'032));
        QCOMPARE(info.prunableParameters, int64_t(226'560));
        QCOMPARE(int(info.prunableLayers.size()), 35);
        QCOMPARE(info.numKvHeads, int64_t(4));  // grouped-query attention (8 query heads)
        QVERIFY(!info.tokenizerPath.empty());
        QVERIFY(!info.calibrationTextPath.empty());
        QVERIFY(!info.evaluationTextPath.empty());
    }

    void heldOutPerplexityIsTheReadmeFigureFarBelowUnigram() {
        const auto session = ModelSession::open(demoModelPath());
        const EvalResult result = session->evaluate({});
        qInfo("demo model: ppl %.4f on %lld tokens", result.ppl, (long long)result.tokens);
        QCOMPARE(result.tokens, int64_t(15'045));
        QVERIFY2(std::abs(result.ppl - kReadmePerplexity) < 0.005,
                 qPrintable(QString("ppl %1 vs README %2").arg(result.ppl).arg(kReadmePerplexity)));
        QVERIFY(result.ppl < kReadmeUnigram / 20.0);
    }
};

QTEST_GUILESS_MAIN(TestDemoModel)
#include "tst_demo_model.moc"
