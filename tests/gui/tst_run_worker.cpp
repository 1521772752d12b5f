// The engine behind the GUI: RunController + RunWorker on the demo model. Jobs run on the
// worker's thread and report through queued signals; a second job while one works is refused;
// a bad file is a failure value naming the file; previews follow "latest request wins"; a run
// reports every kind of event; cancel restores the weights exactly.
#include <QFile>
#include <QSignalSpy>
#include <QTemporaryDir>
#include <QThread>
#include <QtTest/QtTest>

#include <cmath>
#include <memory>

#include "core/api/engine.h"
#include "engine_wait.h"
#include "ui/run_controller.h"
#include "ui/run_worker.h"

using namespace gp;
using namespace gp::ui;

namespace {

QString demoModel() {
    return QString::fromStdString(demoModelPath());
}

PruneOptions quickRun(double sparsity) {
    PruneOptions options;
    options.method = "magnitude";
    options.group = "global";
    options.select = "exact";
    options.sparsity = sparsity;
    options.evaluate = false;
    return options;
}

}  // namespace

class TestRunWorker : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase();
    void opensOnWorkerThread();
    void evaluates();
    void refusesSecondJob();
    void badFileIsFailure_data();
    void badFileIsFailure();
    void previewLatestWins();
    void pruneReportsEvents();
    void cancelRestoresWeights_data();
    void cancelRestoresWeights();
    void revertAndOriginal();
    void shutdownWhileRunning();

private:
    double evaluate(int64_t windows);
    QString fingerprint();
    std::unique_ptr<RunController> m_controller;
    gp::ModelInfo m_info;
};

void TestRunWorker::initTestCase() {
    initialiseEngine();
    m_controller = std::make_unique<RunController>();
    QSignalSpy opened(m_controller.get(), &RunController::modelOpened);
    QSignalSpy failed(m_controller.get(), &RunController::failed);
    QVERIFY(m_controller->openModel(demoModel(), {}));
    QVERIFY2(opened.wait(kJobMs) || !opened.isEmpty(),
             failed.isEmpty() ? "no model"
                              : qPrintable(failed.at(0).at(0).value<RunFailure>().details()));
    m_info = opened.at(0).at(0).value<gp::ModelInfo>();
    GP_TRY_VERIFY(!m_controller->isBusy());
}

double TestRunWorker::evaluate(int64_t windows) {
    QSignalSpy evaluated(m_controller.get(), &RunController::evaluated);
    EvalOptions options;
    options.maxWindows = windows;
    if (!m_controller->evaluate(options)) return -1.0;
    if (!evaluated.wait(kJobMs)) return -1.0;
    if (!QTest::qWaitFor([&] { return !m_controller->isBusy(); }, kJobMs)) return -1.0;
    return evaluated.at(0).at(0).value<gp::EvalResult>().ppl;
}

QString TestRunWorker::fingerprint() {
    QSignalSpy done(m_controller.get(), &RunController::fingerprinted);
    if (!m_controller->fingerprint() || !done.wait(kJobMs)) return {};
    if (!QTest::qWaitFor([&] { return !m_controller->isBusy(); }, kJobMs)) return {};
    return done.at(0).at(0).toString();
}

void TestRunWorker::opensOnWorkerThread() {
    QVERIFY(!m_info.prunableLayers.empty());
    QCOMPARE(m_info.prunableParameters > 0, true);
    QVERIFY(m_controller->worker()->thread() != QThread::currentThread());
    QCOMPARE(m_controller->worker()->thread()->objectName(), QString("gradprobe-engine"));
}

void TestRunWorker::evaluates() {
    const double ppl = evaluate(2);
    QVERIFY2(std::isfinite(ppl) && ppl > 1.0, qPrintable(QString::number(ppl)));
    QCOMPARE(evaluate(2), ppl);  // deterministic
}

void TestRunWorker::refusesSecondJob() {
    QSignalSpy refused(m_controller.get(), &RunController::refused);
    QSignalSpy finished(m_controller.get(), &RunController::jobFinished);
    EvalOptions options;
    options.maxWindows = 4;
    QVERIFY(m_controller->evaluate(options));
    QVERIFY(m_controller->isBusy());
    QVERIFY(!m_controller->openModel(demoModel(), {}));
    QVERIFY(!m_controller->prune(quickRun(0.5)));
    QCOMPARE(refused.count(), 2);
    QVERIFY2(refused.at(0).at(0).toString().contains("evaluate"),
             qPrintable(refused.at(0).at(0).toString()));
    QVERIFY(finished.wait(kJobMs));
    QCOMPARE(finished.at(0).at(0).toString(), QString("evaluate"));
    QVERIFY(!m_controller->isBusy());
}

void TestRunWorker::badFileIsFailure_data() {
    QTest::addColumn<QByteArray>("content");
    QTest::addColumn<QString>("name");
    QTest::newRow("missing") << QByteArray() << "missing.safetensors";
    QTest::newRow("garbage safetensors")
        << QByteArray("\x05\x00\x00\x00\x00\x00\x00\x00{oops", 13) << "broken.safetensors";
    QTest::newRow("truncated llama2.c") << QByteArray("\x01\x02\x03", 3) << "model.bin";
}

void TestRunWorker::badFileIsFailure() {
    QFETCH(QByteArray, content);
    QFETCH(QString, name);
    QTemporaryDir dir;
    const QString path = dir.filePath(name);
    if (!content.isEmpty()) {
        QFile file(path);
        QVERIFY(file.open(QIODevice::WriteOnly));
        file.write(content);
    }
    QSignalSpy failed(m_controller.get(), &RunController::failed);
    QSignalSpy opened(m_controller.get(), &RunController::modelOpened);
    QVERIFY(m_controller->openModel(path, {}));
    QVERIFY(failed.wait(kJobMs));
    GP_TRY_VERIFY(!m_controller->isBusy());
    QCOMPARE(opened.count(), 0);
    const RunFailure failure = failed.at(0).at(0).value<RunFailure>();
    QCOMPARE(failure.job, QString("open"));
    QVERIFY2(failure.file.contains(name), qPrintable(failure.details()));
    QVERIFY(!failure.problem.isEmpty());
    QVERIFY(failure.details().contains("Problem: "));
    // The model that was open stays open.
    QVERIFY(evaluate(1) > 1.0);
}

void TestRunWorker::previewLatestWins() {
    QSignalSpy ready(m_controller.get(), &RunController::previewReady);
    QSignalSpy failed(m_controller.get(), &RunController::previewFailed);
    quint64 last = 0;
    for (int i = 1; i <= 6; ++i) {
        PreviewOptions options;
        options.sparsity = 0.1 * i;
        last = m_controller->requestPreview(options);
    }
    QCOMPARE(last, m_controller->latestPreviewGeneration());
    QVERIFY2(ready.wait(kJobMs),
             failed.isEmpty() ? "no preview"
                              : qPrintable(failed.at(0).at(1).value<RunFailure>().details()));
    QTest::qWait(200);  // let any stale result arrive: it must be dropped
    QCOMPARE(ready.count(), 1);
    QCOMPARE(ready.at(0).at(0).value<quint64>(), last);
    const Preview preview = ready.at(0).at(1).value<gp::Preview>();
    QCOMPARE(preview.layerSparsity.size(), m_info.prunableLayers.size());
    double pruned = 0.0;
    for (size_t i = 0; i < preview.layerSparsity.size(); ++i)
        pruned += preview.layerSparsity[i] * double(m_info.prunableLayers[i].numel);
    QVERIFY2(std::abs(pruned / double(m_info.prunableParameters) - 0.6) < 1e-6,
             qPrintable(QString::number(pruned / double(m_info.prunableParameters))));
}

void TestRunWorker::pruneReportsEvents() {
    // These spies record on the worker's thread; they are read only once the result arrived
    // (the worker emits it after every event, and the queue orders the two).
    RunWorker* worker = m_controller->worker();
    QSignalSpy stages(worker, &RunWorker::stage);
    QSignalSpy histograms(worker, &RunWorker::histogram);
    QSignalSpy steps(worker, &RunWorker::searchStep);
    QSignalSpy thresholds(worker, &RunWorker::threshold);
    QSignalSpy layers(worker, &RunWorker::layerResult);
    QSignalSpy finished(m_controller.get(), &RunController::pruneFinished);
    QSignalSpy failed(m_controller.get(), &RunController::failed);
    QVERIFY(m_controller->prune(quickRun(0.5)));
    QVERIFY2(finished.wait(kJobMs),
             failed.isEmpty() ? "no result"
                              : qPrintable(failed.at(0).at(0).value<RunFailure>().details()));
    const auto result = finished.at(0).at(0).value<std::shared_ptr<const PruneResult>>();
    QVERIFY(!result->cancelled);
    QVERIFY(std::abs(result->sparsity - 0.5) < 1e-6);
    QVERIFY(stages.count() >= 2);
    QCOMPARE(histograms.count(), int(m_info.prunableLayers.size()) + 1);  // per layer + global
    QVERIFY(steps.count() >= 1);
    QCOMPARE(thresholds.count(), 1);
    QCOMPARE(layers.count(), int(m_info.prunableLayers.size()));
    GP_TRY_VERIFY(!m_controller->isBusy());
}

void TestRunWorker::cancelRestoresWeights_data() {
    QTest::addColumn<bool>("fromPrunedState");
    QTest::newRow("from the loaded weights") << false;
    QTest::newRow("after a run") << true;
}

void TestRunWorker::cancelRestoresWeights() {
    QFETCH(bool, fromPrunedState);
    RunWorker* worker = m_controller->worker();
    if (fromPrunedState) {
        QSignalSpy pruned(m_controller.get(), &RunController::pruneFinished);
        QVERIFY(m_controller->prune(quickRun(0.5)));
        QVERIFY(pruned.wait(kJobMs));
    } else {
        QSignalSpy applied(m_controller.get(), &RunController::runApplied);
        QVERIFY(m_controller->restoreOriginal());
        QVERIFY(applied.wait(kJobMs));
    }
    GP_TRY_VERIFY(!m_controller->isBusy());
    const double before = evaluate(2);
    const QString weightsBefore = fingerprint();
    QVERIFY(!weightsBefore.isEmpty());
    QSignalSpy previewed(m_controller.get(), &RunController::previewReady);
    PreviewOptions previewOptions;
    previewOptions.sparsity = 0.3;
    m_controller->requestPreview(previewOptions);
    QVERIFY(previewed.wait(kJobMs));
    const Preview previewBefore = previewed.at(0).at(1).value<gp::Preview>();

    // Cancel from the engine's own thread as the selection starts: deterministic, mid-run.
    RunController* controller = m_controller.get();
    const auto connection = connect(
        worker, &RunWorker::stage, worker,
        [controller](const gp::StageEvent& event) {
            if (event.stage == Stage::Select && !event.finished) controller->cancel();
        },
        Qt::DirectConnection);
    QSignalSpy finished(m_controller.get(), &RunController::pruneFinished);
    PruneOptions options = quickRun(0.8);
    options.evaluate = true;
    options.evalMaxWindows = 2;
    QVERIFY(m_controller->prune(options));
    QVERIFY(finished.wait(kJobMs));
    disconnect(connection);
    const auto result = finished.at(0).at(0).value<std::shared_ptr<const PruneResult>>();
    QVERIFY(result->cancelled);
    GP_TRY_VERIFY(!m_controller->isBusy());

    // ModelSession::prune's contract: "on cancel the weights are restored exactly to what they
    // were before the call" -- also when an earlier run's pruned weights were applied.
    QCOMPARE(fingerprint(), weightsBefore);  // bit for bit
    QCOMPARE(evaluate(2), before);
    m_controller->requestPreview(previewOptions);
    QVERIFY(previewed.wait(kJobMs));
    const Preview previewAfter = previewed.at(1).at(1).value<gp::Preview>();
    QCOMPARE(previewAfter.threshold, previewBefore.threshold);
    QCOMPARE(previewAfter.layerSparsity, previewBefore.layerSparsity);
}

void TestRunWorker::revertAndOriginal() {
    QSignalSpy finished(m_controller.get(), &RunController::pruneFinished);
    QSignalSpy applied(m_controller.get(), &RunController::runApplied);
    // Earlier cases leave a run applied; start from the loaded weights.
    QVERIFY(m_controller->restoreOriginal());
    QVERIFY(applied.wait(kJobMs));
    GP_TRY_VERIFY(!m_controller->isBusy());
    applied.clear();
    const double original = evaluate(2);
    QVERIFY(m_controller->prune(quickRun(0.6)));
    QVERIFY(finished.wait(kJobMs));
    GP_TRY_VERIFY(!m_controller->isBusy());
    const int runId = finished.at(0).at(0).value<std::shared_ptr<const PruneResult>>()->runId;
    const double pruned = evaluate(2);
    QVERIFY(pruned != original);
    QVERIFY(m_controller->restoreOriginal());
    QVERIFY(applied.wait(kJobMs));
    QCOMPARE(applied.at(0).at(0).toInt(), -1);
    GP_TRY_VERIFY(!m_controller->isBusy());
    QCOMPARE(evaluate(2), original);
    QVERIFY(m_controller->applyRun(runId));
    QVERIFY(applied.wait(kJobMs));
    QCOMPARE(applied.at(1).at(0).toInt(), runId);
    GP_TRY_VERIFY(!m_controller->isBusy());
    QCOMPARE(evaluate(2), pruned);

    QSignalSpy failed(m_controller.get(), &RunController::failed);
    QVERIFY(m_controller->applyRun(9999));
    QVERIFY(failed.wait(kJobMs));
    QCOMPARE(failed.at(0).at(0).value<RunFailure>().job, QString("revert"));
    GP_TRY_VERIFY(!m_controller->isBusy());
}

void TestRunWorker::shutdownWhileRunning() {
    // Destroying the controller mid-run cancels, stops the thread and frees the model.
    auto controller = std::make_unique<RunController>();
    QSignalSpy opened(controller.get(), &RunController::modelOpened);
    QVERIFY(controller->openModel(demoModel(), {}));
    QVERIFY(opened.wait(kJobMs));
    GP_TRY_VERIFY(!controller->isBusy());
    PruneOptions options = quickRun(0.5);
    options.evaluate = true;
    QVERIFY(controller->prune(options));
    QElapsedTimer clock;
    clock.start();
    controller.reset();
    QVERIFY2(clock.elapsed() < 20000, qPrintable(QString::number(clock.elapsed())));
}

QTEST_MAIN(TestRunWorker)
#include "tst_run_worker.moc"
