// The plots fed with synthetic events (no engine): what each draws is checked against numbers
// computed here, plus bounded buffers, saving to PNG/PDF and the report's offscreen figures.
#include <QImage>
#include <QMenu>
#include <QTemporaryDir>
#include <QtTest/QtTest>

#include <cmath>

#include "ui/plots/histogram_plot.h"
#include "ui/plots/layer_sparsity_plot.h"
#include "ui/plots/memory_plot.h"
#include "ui/plots/ppl_sparsity_plot.h"
#include "ui/plots/search_plot.h"
#include "ui/report_figures.h"

using namespace gp;
using namespace gp::ui;

namespace {

// Ten octave bins from 1e-3, counts 10, 20, ..., the first `selectedBins` bins selected.
HistogramEvent octaveHistogram(const std::string& layer, int selectedBins, double threshold,
                               int64_t zeros) {
    HistogramEvent event;
    event.layer = layer;
    for (int i = 0; i <= 10; ++i) event.binEdges.push_back(1e-3 * std::pow(2.0, i));
    for (int i = 0; i < 10; ++i) {
        event.counts.push_back(10 * (i + 1));
        event.countsBelow.push_back(i < selectedBins ? 10 * (i + 1) : 0);
        event.total += 10 * (i + 1);
    }
    event.zeros = zeros;
    event.zerosBelow = zeros;
    event.total += zeros;
    event.threshold = threshold;
    return event;
}

double normalCdf(double x, double mean, double stddev) {
    return 0.5 * (1.0 + std::erf((x - mean) / (stddev * std::sqrt(2.0))));
}

SearchStepEvent step(const std::string& method, const std::string& group, int index,
                     double threshold, double error) {
    SearchStepEvent event;
    event.method = method;
    event.group = group;
    event.step = index;
    event.threshold = threshold;
    event.error = error;
    return event;
}

LayerResultEvent layerResult(const std::string& layer, int64_t numel, int64_t candidates,
                             int64_t restored, double target) {
    LayerResultEvent event;
    event.layer = layer;
    event.numel = numel;
    event.candidates = candidates;
    event.restored = restored;
    event.pruned = candidates - restored;
    event.targetSparsity = target;
    event.sparsity = double(event.pruned) / double(numel);
    return event;
}

MemorySampleEvent sample(double seconds, int64_t rss, int64_t vram = -1) {
    MemorySampleEvent event;
    event.seconds = seconds;
    event.rssBytes = rss;
    event.vramAllocatedBytes = vram;
    event.vramReservedBytes = vram < 0 ? -1 : 2 * vram;
    return event;
}

RunPoint runPoint(const QString& method, bool probe, double sparsity, double pplAfter) {
    RunPoint point;
    point.model = QStringLiteral("/models/demo");
    point.method = method;
    point.probe = probe;
    point.sparsity = sparsity;
    point.pplBefore = 5.0;
    point.pplAfter = pplAfter;
    return point;
}

PruneResult syntheticResult() {
    PruneResult result;
    result.runId = 1;
    result.options.sparsity = 0.3;
    result.sparsity = 0.3;
    result.threshold = 0.004;
    result.pplBefore = 5.0;
    result.pplAfter = 5.6;
    result.histograms.push_back(octaveHistogram("a", 2, 0.004, 0));
    result.histograms.push_back(octaveHistogram("", 2, 0.004, 3));
    result.normalFit = {"", 0.1, 0.05, 553};
    for (int i = 0; i < 3; ++i)
        result.searchSteps.push_back(step("statistical", "", i, 0.01 / (i + 1), 0.1 / (i + 1)));
    result.layers.push_back(layerResult("model.layers.0.mlp.up_proj.weight", 100, 30, 5, 0.3));
    result.layers.push_back(layerResult("model.layers.1.mlp.up_proj.weight", 100, 30, 0, 0.3));
    for (int i = 0; i < 8; ++i) result.memory.push_back(sample(0.5 * i, (100 + i) << 20));
    return result;
}

// Whether an image has more than one colour (something was drawn).
bool hasContent(const QImage& image) {
    const QRgb first = image.pixel(0, 0);
    for (int y = 0; y < image.height(); y += 3)
        for (int x = 0; x < image.width(); x += 3)
            if (image.pixel(x, y) != first) return true;
    return false;
}

}  // namespace

class TestPlots : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void histogramDrawsEvent_data();
    void histogramDrawsEvent();
    void histogramFollowsLayer();
    void histogramWithoutScores();
    void searchSidesAndGroups();
    void searchBounded();
    void shortLayerNames_data();
    void shortLayerNames();
    void layerBars();
    void memoryStrip();
    void memoryVram();
    void pplSeriesPerMethod();
    void replotOnlyWhenDirty();
    void saveFiles();
    void contextMenu();
    void reportFigures();
};

void TestPlots::histogramDrawsEvent_data() {
    QTest::addColumn<QString>("layer");
    QTest::addColumn<int>("selectedBins");
    QTest::addColumn<double>("threshold");
    QTest::addColumn<qlonglong>("zeros");
    QTest::newRow("whole model, 3 bins pruned") << QString() << 3 << 0.008 << 7LL;
    QTest::newRow("layer, none pruned, threshold 0") << QString("l0") << 0 << 0.0 << 0LL;
    QTest::newRow("layer, all pruned") << QString("l1") << 10 << 1.024 << 2LL;
}

void TestPlots::histogramDrawsEvent() {
    QFETCH(QString, layer);
    QFETCH(int, selectedBins);
    QFETCH(double, threshold);
    QFETCH(qlonglong, zeros);
    HistogramPlot plot;
    plot.setLayer(layer);
    const HistogramEvent event =
        octaveHistogram(layer.toStdString(), selectedBins, threshold, zeros);
    plot.addHistogram(event);
    const NormalFitEvent fit{layer.toStdString(), 0.2, 0.3, event.total};
    plot.addNormalFit(fit);

    QCOMPARE(plot.binCount(), 10);
    QCOMPARE(plot.histogramPointCount(), 11);  // one per bin's left edge + the last right edge
    QCOMPARE(plot.prunedPointCount(), 11);
    QCOMPARE(plot.fitPointCount(), 10);
    for (int bin = 0; bin < 10; ++bin) {
        const double expected =
            double(event.total) * (normalCdf(event.binEdges[bin + 1], 0.2, 0.3) -
                                   normalCdf(event.binEdges[bin], 0.2, 0.3));
        QVERIFY2(std::abs(plot.fitValueAt(bin) - expected) <= 1e-9 * std::max(1.0, expected),
                 qPrintable(
                     QString("bin %1: %2 vs %3").arg(bin).arg(plot.fitValueAt(bin)).arg(expected)));
    }
    QCOMPARE(plot.thresholdVisible(), threshold > 0.0);
    if (threshold > 0.0) {
        QCOMPARE(plot.thresholdX(), threshold);
        QCOMPARE(plot.shadedUpTo(), threshold);
    }
    QVERIFY2(plot.zerosText().contains(QLocale().toString(zeros)), qPrintable(plot.zerosText()));
}

void TestPlots::histogramFollowsLayer() {
    HistogramPlot plot;
    HistogramEvent small = octaveHistogram("a", 1, 0.002, 0);
    small.binEdges.resize(5);
    small.counts.resize(4);
    small.countsBelow.resize(4);
    plot.addHistogram(small);
    plot.addHistogram(octaveHistogram("b", 1, 0.002, 0));
    QCOMPARE(plot.binCount(), 0);  // shows the whole model: nothing yet
    plot.setLayer("a");
    QCOMPARE(plot.binCount(), 4);
    QCOMPARE(plot.histogramPointCount(), 5);
    QCOMPARE(plot.fitPointCount(), 0);  // no fit for "a"
    plot.setLayer("b");
    QCOMPARE(plot.binCount(), 10);
    QVERIFY(plot.title().contains("b"));
    plot.clear();
    QCOMPARE(plot.histogramPointCount(), 0);
}

void TestPlots::histogramWithoutScores() {
    HistogramPlot plot;
    HistogramEvent empty;
    plot.addHistogram(empty);
    QCOMPARE(plot.binCount(), 0);
    QCOMPARE(plot.histogramPointCount(), 0);
    QVERIFY(!plot.thresholdVisible());
    QVERIFY(!plot.toPng(QSize(200, 150)).isEmpty());
}

void TestPlots::searchSidesAndGroups() {
    SearchPlot plot;
    for (int i = 0; i < 5; ++i)
        plot.addStep(step("statistical", "", i, 0.1 * (i + 1), 0.01 * (5 - i)));
    plot.addStep(step("exact", "", 0, 0.25, 0.001));
    plot.addStep(step("exact", "", 1, 0.2, 0.0));
    QCOMPARE(plot.stepCount("statistical"), 5);
    QCOMPARE(plot.stepCount("exact"), 2);
    QCOMPARE(plot.lastThreshold("exact"), 0.2);
    QCOMPARE(plot.lastThreshold("statistical"), 0.5);

    // A new search of the same group replaces the old one; another group is kept apart.
    plot.addStep(step("statistical", "", 0, 0.3, 0.0));
    QCOMPARE(plot.stepCount("statistical"), 1);
    for (int i = 0; i < 3; ++i) plot.addStep(step("statistical", "layer.a", i, 0.01, 0.0));
    QCOMPARE(plot.stepCount("statistical"), 1);  // the global group is shown while it has a search
    plot.setGroup("layer.a");
    QCOMPARE(plot.stepCount("statistical"), 3);
    plot.setGroup("missing");  // falls back to the latest search
    QCOMPARE(plot.stepCount("statistical"), 3);
    QCOMPARE(plot.searchCount("statistical"), 2);

    // "sort" shares the exact panel.
    plot.addStep(step("sort", "", 0, 0.7, 0.0));
    QCOMPARE(plot.stepCount("exact"), 1);
    QCOMPARE(plot.lastThreshold("exact"), 0.7);
}

void TestPlots::searchBounded() {
    SearchPlot plot;
    for (int group = 0; group < int(SearchPlot::kMaxGroups) + 40; ++group)
        for (int i = 0; i < 2; ++i)
            plot.addStep(step("exact", "layer" + std::to_string(group), i, 0.1, 0.0));
    QCOMPARE(plot.searchCount("exact"), int(SearchPlot::kMaxGroups));
}

void TestPlots::shortLayerNames_data() {
    QTest::addColumn<QString>("name");
    QTest::addColumn<QString>("expected");
    QTest::newRow("llama") << "model.layers.3.mlp.up_proj.weight"
                           << "3.mlp.up_proj";
    QTest::newRow("gpt2") << "transformer.h.0.attn.c_attn.weight"
                          << "0.attn.c_attn";
    QTest::newRow("llama2.c") << "layers.11.attention.wq.weight"
                              << "11.attention.wq";
    QTest::newRow("head") << "lm_head.weight"
                          << "lm_head";
    QTest::newRow("no block") << "model.embed_tokens.weight"
                              << "model.embed_tokens";
}

void TestPlots::shortLayerNames() {
    QFETCH(QString, name);
    QFETCH(QString, expected);
    QCOMPARE(shortLayerName(name.toStdString()), expected);
}

void TestPlots::layerBars() {
    LayerSparsityPlot plot;
    plot.setLayers({"l.0.q.weight", "l.0.k.weight", "l.1.q.weight"});
    QCOMPARE(plot.layerCount(), 3);
    QCOMPARE(plot.achievedCount(), 0);
    plot.addLayerResult(layerResult("l.0.q.weight", 200, 100, 20, 0.5));
    plot.addLayerResult(layerResult("l.0.k.weight", 100, 50, 0, 0.5));
    plot.addLayerResult(layerResult("l.1.q.weight", 400, 40, 40, 0.1));
    QCOMPARE(plot.achievedCount(), 3);
    QCOMPARE(plot.achievedAt(0), 0.4);
    QCOMPARE(plot.restoredAt(0), 0.1);
    QCOMPARE(plot.targetAt(0), 0.5);
    QCOMPARE(plot.achievedAt(2), 0.0);
    QCOMPARE(plot.restoredAt(2), 0.1);
    // A later round of the same run replaces the layer's values.
    plot.addLayerResult(layerResult("l.0.q.weight", 200, 120, 0, 0.6));
    QCOMPARE(plot.achievedCount(), 3);
    QCOMPARE(plot.achievedAt(0), 0.6);
    QCOMPARE(plot.restoredAt(0), 0.0);

    plot.setPredicted({0.25, 0.5, 0.75});
    QCOMPARE(plot.predictedCount(), 3);
    QCOMPARE(plot.predictedAt(1), 0.5);
    plot.clearResults();
    QCOMPARE(plot.achievedCount(), 0);
    QCOMPARE(plot.predictedCount(), 3);  // the slider's prediction is not a result
    // An unknown layer is appended rather than dropped.
    plot.addLayerResult(layerResult("l.2.q.weight", 10, 1, 0, 0.1));
    QCOMPARE(plot.layerCount(), 4);
    QCOMPARE(plot.achievedAt(3), 0.1);
}

void TestPlots::memoryStrip() {
    MemoryPlot plot;
    plot.beginRun();
    int64_t peak = 0;
    for (int i = 0; i < 30; ++i) {
        const int64_t rss = (200 + 37 * (i % 7)) << 20;
        peak = std::max(peak, rss);
        plot.addSample(sample(0.25 * i, rss));
    }
    QCOMPARE(plot.sampleCount(), 30);
    QCOMPARE(plot.vramSampleCount(), 0);
    QVERIFY(!plot.vramVisible());
    QCOMPARE(plot.peakRssBytes(), peak);

    // The window keeps the last kWindowSeconds only, so the buffer stays bounded.
    plot.beginRun();
    for (int i = 0; i < 600; ++i) plot.addSample(sample(0.5 * i, 100 << 20));
    QVERIFY(plot.lastSeconds() - plot.firstSeconds() <= MemoryPlot::kWindowSeconds + 1e-9);
    QVERIFY(plot.sampleCount() <= int(2 * MemoryPlot::kWindowSeconds) + 2);
    QCOMPARE(plot.peakRssBytes(), int64_t(100) << 20);  // the new run's peak
}

void TestPlots::memoryVram() {
    MemoryPlot plot;
    plot.showSamples({sample(0.0, 1 << 30, 1 << 20), sample(0.5, 1 << 30, 2 << 20),
                      sample(1.0, 1 << 30, 3 << 20)});
    QCOMPARE(plot.sampleCount(), 3);
    QCOMPARE(plot.vramSampleCount(), 3);
    QVERIFY(plot.vramVisible());
    QCOMPARE(plot.firstSeconds(), 0.0);
}

void TestPlots::pplSeriesPerMethod() {
    PplSparsityPlot plot;
    plot.setRuns({runPoint("magnitude", false, 0.3, 6.0), runPoint("magnitude", false, 0.5, 8.0),
                  runPoint("wanda", true, 0.5, 7.0), runPoint("wanda", false, 0.5, 0.0)});
    QCOMPARE(plot.seriesCount(), 2);  // the run without a perplexity is left out
    QCOMPARE(plot.seriesNames(), QStringList({"magnitude", "wanda + probe"}));
    QCOMPARE(plot.pointCount("magnitude"), 3);  // the unpruned model at 0 % and two runs
    QCOMPARE(plot.pointCount("wanda + probe"), 2);
    plot.setRuns({});
    QCOMPARE(plot.seriesCount(), 0);
}

void TestPlots::replotOnlyWhenDirty() {
    MemoryPlot plot;
    plot.replotIfDirty();
    QVERIFY(!plot.isDirty());
    plot.addSample(sample(0.0, 1 << 20));
    QVERIFY(plot.isDirty());
    plot.replotIfDirty();
    QVERIFY(!plot.isDirty());
}

void TestPlots::saveFiles() {
    QTemporaryDir dir;
    QVERIFY(dir.isValid());
    HistogramPlot histogram;
    histogram.addHistogram(octaveHistogram("", 3, 0.008, 1));
    SearchPlot search;
    search.addStep(step("exact", "", 0, 0.1, 0.0));
    LayerSparsityPlot layers;
    layers.addLayerResult(layerResult("l.0.q.weight", 10, 5, 1, 0.5));
    MemoryPlot memory;
    memory.addSample(sample(0.0, 1 << 20));
    PplSparsityPlot ppl;
    ppl.setRuns({runPoint("magnitude", false, 0.5, 8.0)});
    const std::vector<PlotView*> plots = {&histogram, &search, &layers, &memory, &ppl};
    for (size_t i = 0; i < plots.size(); ++i) {
        const QString png = dir.filePath(QString("plot%1.png").arg(i));
        QVERIFY(plots[i]->savePng(png, QSize(500, 320)));
        const QImage image(png);
        QCOMPARE(image.size(), QSize(500, 320));
        QVERIFY2(hasContent(image), qPrintable(plots[i]->title()));
        const QString pdf = dir.filePath(QString("plot%1.pdf").arg(i));
        QVERIFY(plots[i]->savePdf(pdf, QSize(500, 320)));
        QFile file(pdf);
        QVERIFY(file.open(QIODevice::ReadOnly));
        QCOMPARE(file.read(5), QByteArray("%PDF-"));
    }
}

void TestPlots::contextMenu() {
    MemoryPlot plot;
    std::unique_ptr<QMenu> menu(plot.createContextMenu(nullptr));
    QStringList texts;
    for (const QAction* action : menu->actions()) texts << action->text();
    QCOMPARE(texts, QStringList({"Save as PNG...", "Save as PDF..."}));
}

void TestPlots::reportFigures() {
    const PruneResult result = syntheticResult();
    PruneResult other = result;
    other.options.method = "wanda";
    other.sparsity = 0.5;
    other.pplAfter = 7.0;
    const auto figures = renderReportFigures(result, {result, other}, QSize(640, 400));
    QStringList keys;
    // GP_PLOT_DUMP_DIR=<folder> keeps the figures for a look.
    const QString dump = qEnvironmentVariable("GP_PLOT_DUMP_DIR");
    for (const auto& [key, png] : figures) {
        if (!dump.isEmpty()) {
            QFile file(dump + '/' + QString::fromStdString(key) + ".png");
            QVERIFY(file.open(QIODevice::WriteOnly));
            file.write(png);
        }
        keys << QString::fromStdString(key);
        QImage image;
        QVERIFY2(image.loadFromData(png, "PNG"), key.c_str());
        QCOMPARE(image.size(), QSize(640, 400));
        QVERIFY2(hasContent(image), key.c_str());
    }
    QCOMPARE(keys, QStringList({"histogram", "layers", "memory", "ppl_vs_sparsity", "search"}));
}

QTEST_MAIN(TestPlots)
#include "tst_plots.moc"
