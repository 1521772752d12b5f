// The document and the table models that view it, without the engine: per-layer state, preview,
// runs and revert, history (QSettings and JSON), settings persistence, recent files; the layer
// and run tables checked by QAbstractItemModelTester while they change, and sorted by number.
#include <QAbstractItemModelTester>
#include <QSignalSpy>
#include <QSortFilterProxyModel>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <memory>

#include "ui/layer_table_model.h"
#include "ui/run_history_model.h"
#include "ui/studio_session.h"

using namespace gp;
using namespace gp::ui;

namespace {

ModelInfo threeLayerModel(const std::string& path) {
    ModelInfo info;
    info.path = path;
    info.architecture = "llama";
    const int64_t sizes[3][2] = {{8, 4}, {4, 8}, {16, 4}};
    for (int i = 0; i < 3; ++i) {
        LayerInfo layer;
        layer.name = "model.layers." + std::to_string(i) + ".mlp.weight";
        layer.block = i;
        layer.shape = {sizes[i][0], sizes[i][1]};
        layer.numel = sizes[i][0] * sizes[i][1];
        info.prunableParameters += layer.numel;
        info.prunableLayers.push_back(layer);
    }
    info.totalParameters = info.prunableParameters + 100;
    return info;
}

std::shared_ptr<PruneResult> run(int runId, double sparsity, const std::vector<double>& perLayer) {
    auto result = std::make_shared<PruneResult>();
    result->runId = runId;
    result->options.sparsity = sparsity;
    result->sparsity = sparsity;
    result->pplBefore = 4.0;
    result->pplAfter = 4.0 + 10.0 * sparsity;
    const ModelInfo model = threeLayerModel("m");
    for (size_t i = 0; i < perLayer.size(); ++i) {
        LayerResultEvent layer;
        layer.layer = model.prunableLayers[i].name;
        layer.numel = model.prunableLayers[i].numel;
        layer.pruned = int64_t(perLayer[i] * double(layer.numel));
        layer.candidates = layer.pruned;
        layer.sparsity = perLayer[i];
        layer.targetSparsity = sparsity;
        result->layers.push_back(layer);
    }
    return result;
}

}  // namespace

class TestStudioSession : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void init();
    void layerTable();
    void layerTableSorts();
    void runsAndRevert();
    void cancelledRunKeepsState();
    void settingsPersist();
    void recentFiles();
    void historyPersistsAndFilters();
    void historyJsonFile();
    void historyJsonErrors();

private:
    std::unique_ptr<QTemporaryDir> m_dir;
    QString settingsFile() const { return m_dir->filePath("studio.ini"); }
};

void TestStudioSession::init() {
    m_dir = std::make_unique<QTemporaryDir>();
}

void TestStudioSession::layerTable() {
    StudioSession session(settingsFile());
    LayerTableModel model(&session);
    QAbstractItemModelTester tester(&model, QAbstractItemModelTester::FailureReportingMode::QtTest);
    QCOMPARE(model.rowCount(), 0);
    session.setModel(threeLayerModel("/models/a"));
    QCOMPARE(model.rowCount(), 3);
    QCOMPARE(model.columnCount(), int(LayerTableModel::ColumnCount));
    QCOMPARE(model.index(1, LayerTableModel::Shape).data().toString(), QString::fromUtf8("4 × 8"));
    QCOMPARE(model.index(1, LayerTableModel::Name).data().toString(), QString("1.mlp"));
    QCOMPARE(model.index(1, LayerTableModel::Name).data(Qt::ToolTipRole).toString(),
             QString("model.layers.1.mlp.weight"));
    QCOMPARE(
        model.index(2, LayerTableModel::Parameters).data(LayerTableModel::SortRole).toLongLong(),
        64);
    QCOMPARE(model.index(0, LayerTableModel::Predicted).data().toString(), QString());

    QSignalSpy changed(&model, &QAbstractItemModel::dataChanged);
    Preview preview;
    preview.layerSparsity = {0.25, 0.5, 0.125};
    session.setPreview(preview);
    QCOMPARE(changed.count(), 1);
    QCOMPARE(model.index(1, LayerTableModel::Predicted).data().toString(), QString("50.0 %"));
    QCOMPARE(model.index(2, LayerTableModel::Predicted).data(LayerTableModel::SortRole).toDouble(),
             0.125);

    LayerResultEvent event;
    event.layer = "model.layers.2.mlp.weight";
    event.numel = 64;
    event.candidates = 40;
    event.restored = 8;
    event.pruned = 32;
    event.sparsity = 0.5;
    session.applyLayerResult(event);
    QCOMPARE(changed.count(), 2);
    QCOMPARE(model.index(2, LayerTableModel::Sparsity).data().toString(), QString("50.0 %"));
    QCOMPARE(model.index(2, LayerTableModel::Pruned).data(LayerTableModel::SortRole).toLongLong(),
             32);
    QCOMPARE(model.index(2, LayerTableModel::Restored).data(LayerTableModel::SortRole).toLongLong(),
             8);
    event.layer = "not.a.layer";  // ignored, no crash
    session.applyLayerResult(event);
    QCOMPARE(changed.count(), 2);

    session.clearLayerResults();
    QCOMPARE(model.index(2, LayerTableModel::Pruned).data(LayerTableModel::SortRole).toLongLong(),
             0);
    session.setModel(threeLayerModel("/models/b"));  // a reset while the tester watches
    QCOMPARE(model.rowCount(), 3);
}

void TestStudioSession::layerTableSorts() {
    StudioSession session(settingsFile());
    LayerTableModel model(&session);
    QSortFilterProxyModel proxy;
    proxy.setSourceModel(&model);
    proxy.setSortRole(LayerTableModel::SortRole);
    session.setModel(threeLayerModel("/models/a"));
    proxy.sort(LayerTableModel::Parameters, Qt::DescendingOrder);
    QCOMPARE(proxy.index(0, 0).data(LayerTableModel::NameRole).toString(),
             QString("model.layers.2.mlp.weight"));  // 64 weights
    Preview preview;
    preview.layerSparsity = {0.9, 0.05, 0.5};
    session.setPreview(preview);
    proxy.sort(LayerTableModel::Predicted, Qt::AscendingOrder);
    QStringList order;
    for (int row = 0; row < 3; ++row)
        order << proxy.index(row, 0).data(LayerTableModel::NameRole).toString();
    QCOMPARE(order, QStringList({"model.layers.1.mlp.weight", "model.layers.2.mlp.weight",
                                 "model.layers.0.mlp.weight"}));
}

void TestStudioSession::runsAndRevert() {
    StudioSession session(settingsFile());
    RunHistoryModel runs(&session);
    QAbstractItemModelTester tester(&runs, QAbstractItemModelTester::FailureReportingMode::QtTest);
    session.setModel(threeLayerModel("/models/a"));
    QSignalSpy applied(&session, &StudioSession::appliedRunChanged);
    session.addRun(run(1, 0.5, {0.5, 0.25, 0.75}));
    session.addRun(run(2, 0.3, {0.3, 0.3, 0.3}));
    QCOMPARE(runs.rowCount(), 2);
    QCOMPARE(session.appliedRun(), 2);
    QCOMPARE(session.layers()[0].sparsity, 0.3);
    QVERIFY(runs.index(1, RunHistoryModel::Run).data().toString().contains(QString::fromUtf8("✓")));
    QCOMPARE(runs.index(0, RunHistoryModel::PplAfter).data().toString(), QString("9.000"));
    QCOMPARE(runs.index(0, RunHistoryModel::Method).data(RunHistoryModel::RunIdRole).toInt(), 1);

    session.setAppliedRun(1);  // the worker re-applied run 1's masks
    QCOMPARE(session.appliedRun(), 1);
    QCOMPARE(session.layers()[2].sparsity, 0.75);
    QVERIFY(runs.index(0, RunHistoryModel::Run).data().toString().contains(QString::fromUtf8("✓")));
    session.setAppliedRun(-1);  // original weights
    QCOMPARE(session.layers()[2].sparsity, 0.0);
    QCOMPARE(applied.count(), 4);
    QVERIFY(session.run(2));
    QVERIFY(!session.run(7));

    session.setModel(threeLayerModel("/models/b"));  // runs belong to the model they were made on
    QCOMPARE(runs.rowCount(), 0);
}

void TestStudioSession::cancelledRunKeepsState() {
    StudioSession session(settingsFile());
    session.setModel(threeLayerModel("/models/a"));
    session.addRun(run(1, 0.5, {0.5, 0.25, 0.75}));
    // Live events of the cancelled run changed the per-layer state...
    LayerResultEvent live;
    live.layer = "model.layers.0.mlp.weight";
    live.sparsity = 0.9;
    session.applyLayerResult(live);
    auto cancelled = run(0, 0.9, {});
    cancelled->cancelled = true;
    session.addRun(cancelled);
    // ...and the cancel puts it back to the weights the model holds: run 1's.
    QCOMPARE(session.runs().size(), size_t(1));
    QCOMPARE(session.appliedRun(), 1);
    QCOMPARE(session.layers()[0].sparsity, 0.5);
    QCOMPARE(session.history().size(), size_t(1));
}

void TestStudioSession::settingsPersist() {
    PruneOptions options;
    options.method = "wanda";
    options.sparsity = 0.625;
    options.group = "nm";
    options.nmN = 1;
    options.nmM = 8;
    options.select = "statistical";
    options.schedule = "layerwise";
    options.probe.enabled = true;
    options.probe.threshold = 2.0;
    options.probe.reduction = 0.2;
    options.probe.batches = 3;
    options.calibPath = "/texts/calib.txt";
    options.evalPath = "/texts/eval.txt";
    options.nsamples = 16;
    options.seqlen = 64;
    options.evalMaxWindows = 5;
    options.evaluate = false;
    options.seed = 77;
    LoadOptions load;
    load.device = "cpu";
    load.dtype = "bf16";
    {
        StudioSession session(settingsFile());
        QVERIFY(session.isFirstStart());
        session.setPruneOptions(options);
        session.setLoadOptions(load);
    }  // saved when the session ends
    StudioSession again(settingsFile());
    QVERIFY(!again.isFirstStart());
    const PruneOptions& read = again.pruneOptions();
    QCOMPARE(read.method, options.method);
    QCOMPARE(read.sparsity, options.sparsity);
    QCOMPARE(read.group, options.group);
    QCOMPARE(read.nmN, options.nmN);
    QCOMPARE(read.nmM, options.nmM);
    QCOMPARE(read.select, options.select);
    QCOMPARE(read.schedule, options.schedule);
    QCOMPARE(read.probe.enabled, true);
    QCOMPARE(read.probe.threshold, 2.0);
    QCOMPARE(read.probe.reduction, 0.2);
    QCOMPARE(read.probe.batches, int64_t(3));
    QCOMPARE(read.calibPath, options.calibPath);
    QCOMPARE(read.evalPath, options.evalPath);
    QCOMPARE(read.nsamples, int64_t(16));
    QCOMPARE(read.seqlen, int64_t(64));
    QCOMPARE(read.evalMaxWindows, int64_t(5));
    QCOMPARE(read.evaluate, false);
    QCOMPARE(read.seed, uint64_t(77));
    QCOMPARE(again.loadOptions().dtype, std::string("bf16"));
    const PreviewOptions preview = again.previewOptions();
    QCOMPARE(preview.sparsity, 0.625);
    QCOMPARE(preview.method, std::string("wanda"));
    QCOMPARE(preview.nmM, int64_t(8));
}

void TestStudioSession::recentFiles() {
    StudioSession session(settingsFile());
    QSignalSpy changed(&session, &StudioSession::recentFilesChanged);
    for (int i = 0; i < StudioSession::kMaxRecentFiles + 3; ++i)
        session.addRecentFile(QString("/models/m%1").arg(i));
    session.addRecentFile("/models/m5");  // moves to the front, no duplicate
    QCOMPARE(changed.count(), StudioSession::kMaxRecentFiles + 4);
    const QStringList recent = session.recentFiles();
    QCOMPARE(recent.size(), StudioSession::kMaxRecentFiles);
    QCOMPARE(recent.first(), QString("/models/m5"));
    QCOMPARE(recent.count("/models/m5"), 1);
    session.saveSettings();
    StudioSession again(settingsFile());
    QCOMPARE(again.recentFiles(), recent);
}

void TestStudioSession::historyPersistsAndFilters() {
    {
        StudioSession session(settingsFile());
        session.setModel(threeLayerModel("/models/a"));
        session.addRun(run(1, 0.5, {0.5, 0.5, 0.5}));
        session.setModel(threeLayerModel("/other/b"));
        session.addRun(run(1, 0.2, {0.2, 0.2, 0.2}));
        QCOMPARE(session.history().size(), size_t(2));
    }
    StudioSession again(settingsFile());
    QCOMPARE(again.history().size(), size_t(2));
    again.setModel(threeLayerModel("/elsewhere/a"));  // the same model name in another folder
    const std::vector<RunPoint> mine = again.historyOfModel();
    QCOMPARE(mine.size(), size_t(1));
    QCOMPARE(mine[0].sparsity, 0.5);
    QCOMPARE(mine[0].pplAfter, 9.0);
    QCOMPARE(mine[0].pplBefore, 4.0);
    again.clearHistory();
    QVERIFY(again.history().empty());
}

void TestStudioSession::historyJsonFile() {
    StudioSession session(settingsFile());
    session.setModel(threeLayerModel("/models/a"));
    session.addRun(run(1, 0.5, {0.5, 0.5, 0.5}));
    auto probed = run(2, 0.4, {0.4, 0.4, 0.4});
    probed->options.method = "wanda";
    probed->options.probe.enabled = true;
    session.addRun(probed);
    const QString path = m_dir->filePath("runs.json");
    QString error;
    QVERIFY2(session.saveHistoryFile(path, &error), qPrintable(error));

    StudioSession other(m_dir->filePath("other.ini"));
    QSignalSpy changed(&other, &StudioSession::historyChanged);
    QVERIFY2(other.loadHistoryFile(path, &error), qPrintable(error));
    QCOMPARE(changed.count(), 1);
    QCOMPARE(other.history().size(), size_t(2));
    QCOMPARE(other.history()[1].series(), QString("wanda + probe"));
    QCOMPARE(other.history()[1].sparsity, 0.4);
    QCOMPARE(other.history()[0].model, QString("/models/a"));
}

void TestStudioSession::historyJsonErrors() {
    StudioSession session(settingsFile());
    QString error;
    QVERIFY(!session.loadHistoryFile(m_dir->filePath("missing.json"), &error));
    QVERIFY(!error.isEmpty());
    QFile broken(m_dir->filePath("broken.json"));
    QVERIFY(broken.open(QIODevice::WriteOnly));
    broken.write("[{\"method\": ");
    broken.close();
    QVERIFY(!session.loadHistoryFile(broken.fileName(), &error));
    QVERIFY2(error.contains("offset"), qPrintable(error));
    QFile object(m_dir->filePath("object.json"));
    QVERIFY(object.open(QIODevice::WriteOnly));
    object.write("{\"method\": \"magnitude\"}");
    object.close();
    QVERIFY(!session.loadHistoryFile(object.fileName(), &error));
    QVERIFY2(error.contains("array"), qPrintable(error));
}

QTEST_MAIN(TestStudioSession)
#include "tst_studio_session.moc"
