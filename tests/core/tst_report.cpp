// The run record and the HTML report: report.json round-trips every field of a run (non-finite
// numbers and 64-bit seeds included), malformed records are refused naming the key, the HTML
// holds every section, embeds its images as base64 PNG or SVG data URIs (base64 checked against
// RFC 4648's vectors), escapes what it shows, and says when the plots are absent; core's SVG
// figures show the run; the facade fills the record from a session and writes both files.
#include <QXmlStreamReader>
#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <limits>

#include "core/api/engine.h"
#include "core/io/safetensors.h"
#include "core/report/html_report.h"
#include "core/report/run_record.h"
#include "core/report/svg_figures.h"
#include "core/runtime/error.h"
#include "tests/core/tiny_checkpoints.h"
#include "tests/support/test_support.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// A record with every field away from its default.
gp::RunRecord sampleRecord() {
    gp::RunRecord record;
    record.createdAt = "2025-02-03T04:05:06Z";
    record.model = {"/models/tiny", "huggingface", "llama", "bf16", "cpu", "/models/tiny/tokenizer.json",
                    23, 16, 2, 4, 2, 24, 64, 5000, 4000};
    gp::PruneResult& r = record.result;
    r.runId = 3;
    r.cancelled = false;
    gp::PruneOptions& o = r.options;
    o.method = "wanda";
    o.wandaNorm = "library";
    o.sparsity = 0.6;
    o.group = "nm";
    o.nmN = 3;
    o.nmM = 8;
    o.select = "statistical";
    o.schedule = "iterative";
    o.layerOrder = "size";
    o.candidates = "cached";
    o.initialSparsity = 0.2;
    o.sparsityStep = 0.05;
    o.maxPplIncrease = 1.5;
    o.iterativeInner = "layerwise";
    o.probe.enabled = true;
    o.probe.threshold = 0.25;
    o.probe.thresholdList = {0.1, 0.2};
    o.probe.thresholdByLayer = {{"model.layers.0.mlp.up_proj.weight", 0.3}};
    o.probe.adaptive = true;
    o.probe.reduction = 0.05;
    o.probe.batches = 3;
    o.probe.fp16Gradients = true;
    o.probe.sweep = {0.0, 0.5};
    o.probe.tuneOnFail = false;
    o.probe.tuneBothSteps = true;
    o.calibPath = "/data/calib.txt";
    o.evalPath = "/data/eval.txt";
    o.nsamples = 64;
    o.seqlen = 128;
    o.batchSize = 2;
    o.evalMaxWindows = 9;
    o.seed = (uint64_t(1) << 63) + 5;  // above int64's range
    o.evaluate = false;
    o.blockwise = true;
    o.blockInputs = "pruned";
    r.sparsity = 0.5987;
    r.prunableParameters = 4000;
    r.prunedParameters = 2395;
    r.pplBefore = 12.5;
    r.pplAfter = std::numeric_limits<double>::infinity();
    r.threshold = 0.0123;
    r.layers = {{"<script>alert(1)</script>", 2000, 1300, 1200, 100, 0.6, 0.6},
                {"model.layers.1.mlp.down_proj.weight", 2000, 1250, 1195, 55, 0.6, 0.5975}};
    r.searchSteps = {{"statistical", "", 0, 0.01, 2100, 2400, -0.075},
                     {"statistical", "", 1, 0.0123, 2395, 2400, -0.00125}};
    r.rounds = {{0.2, 0.2, 12.9, 0.25, true}, {0.25, 0.25, 40.0, 0.25, false}};
    r.sweep = {{0.0, 0.61, 2440, 14.0}, {0.5, 0.58, 2320, std::numeric_limits<double>::quiet_NaN()}};
    r.seconds = {{"calibrate", 1.5}, {"select", 0.25}, {"total", 2.0}};
    r.peakRssBytes = 123456789;
    r.peakVramBytes = -1;
    gp::HistogramEvent histogram;
    histogram.layer = "";
    histogram.binEdges = {1e-4, 1e-3, 1e-2};
    histogram.counts = {10, 20};
    histogram.countsBelow = {10, 5};
    histogram.zeros = 3;
    histogram.zerosBelow = 3;
    histogram.total = 33;
    histogram.threshold = 0.0123;
    r.histograms = {histogram};
    r.normalFit = {"", 0.02, 0.01, 4000};
    r.memory = {{0.0, 1000, -1, -1}, {0.5, 2000, 10, 20}};
    record.history = {{1, "magnitude", "global", false, 0.5, 12.5, 15.0},
                      {3, "wanda", "nm", true, 0.5987, 12.5, 20.0}};
    record.exported = true;
    record.exportFacts = {"/out", "compressed", {"config.json", "model.safetensors"}, 1,
                          1000, 2000, 1600, 900, 64, 1300};
    record.versions = {{"gradprobe", "0.1.0"}, {"libtorch", "1.13.1 (CPU)"}};
    return record;
}

std::string errorMessage(const std::string& text) {
    try {
        gp::parseRunRecord(text, "run.json");
    } catch (const gp::Error& error) {
        return error.what();
    }
    return {};
}

std::string readText(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

}  // namespace

class TestReport : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void recordRoundTrip() {
        const gp::RunRecord record = sampleRecord();
        const std::string text = gp::runRecordJson(record);
        const gp::RunRecord parsed = gp::parseRunRecord(text, "run.json");
        QCOMPARE(gp::runRecordJson(parsed), text);
        QCOMPARE(parsed.result.options.seed, record.result.options.seed);
        QVERIFY(std::isinf(parsed.result.pplAfter));
        QVERIFY(std::isnan(parsed.result.sweep[1].ppl));
        QCOMPARE(parsed.result.options.probe.thresholdByLayer.at("model.layers.0.mlp.up_proj.weight"),
                 0.3);
        QCOMPARE(parsed.result.histograms[0].countsBelow, (std::vector<int64_t>{10, 5}));
        QCOMPARE(parsed.exportFacts.layerCompressedBytes, int64_t(900));
        QCOMPARE(parsed.history[1].method, std::string("wanda"));
        // Keys are the field names in snake_case; non-finite numbers are strings.
        const json j = json::parse(text);
        QCOMPARE(j.at("result").at("ppl_after").get<std::string>(), std::string("Infinity"));
        QCOMPARE(j.at("result").at("options").at("probe").at("fp16_gradients").get<bool>(), true);
        QCOMPARE(j.at("schema").get<std::string>(), std::string(gp::kRunRecordSchema));
        // Unknown keys are ignored, missing ones take defaults.
        json minimal = {{"schema", gp::kRunRecordSchema},
                        {"result", {{"sparsity", 0.5}, {"futureKey", 1}}}};
        const gp::RunRecord small = gp::parseRunRecord(minimal.dump(), "run.json");
        QCOMPARE(small.result.sparsity, 0.5);
        QCOMPARE(small.result.options.method, std::string("magnitude"));
    }

    void malformedRecords_data() {
        QTest::addColumn<QString>("text");
        QTest::addColumn<QString>("expected");
        json wrongType = json::parse(gp::runRecordJson(sampleRecord()));
        wrongType["result"]["layers"][1]["numel"] = "many";
        QTest::newRow("wrong type") << QString::fromStdString(wrongType.dump())
                                    << "result.layers[1].numel: must be an integer";
        json negativeSeed = json::parse(gp::runRecordJson(sampleRecord()));
        negativeSeed["result"]["options"]["seed"] = -1;
        QTest::newRow("negative seed") << QString::fromStdString(negativeSeed.dump())
                                       << "result.options.seed";
        json notANumber = json::parse(gp::runRecordJson(sampleRecord()));
        notANumber["result"]["ppl_before"] = "lots";
        QTest::newRow("bad number") << QString::fromStdString(notANumber.dump())
                                    << "result.ppl_before: must be a number";
        QTest::newRow("not JSON") << "{\"schema\": " << "not valid JSON";
        QTest::newRow("other schema") << R"({"schema": "something/2", "result": {}})"
                                      << "is not a GradProbe run record";
        QTest::newRow("no result") << R"({"schema": "gradprobe-run/1"})" << "result";
        QTest::newRow("array") << "[1, 2]" << "must be a JSON object";
    }
    void malformedRecords() {
        QFETCH(QString, text);
        QFETCH(QString, expected);
        const std::string message = errorMessage(text.toStdString());
        QVERIFY2(message.find(expected.toStdString()) != std::string::npos, message.c_str());
        QVERIFY2(message.find("run.json") != std::string::npos, message.c_str());
    }

    void base64_data() {
        QTest::addColumn<QByteArray>("input");
        QTest::addColumn<QString>("expected");
        // RFC 4648, section 10.
        QTest::newRow("empty") << QByteArray("") << "";
        QTest::newRow("f") << QByteArray("f") << "Zg==";
        QTest::newRow("fo") << QByteArray("fo") << "Zm8=";
        QTest::newRow("foo") << QByteArray("foo") << "Zm9v";
        QTest::newRow("foob") << QByteArray("foob") << "Zm9vYg==";
        QTest::newRow("fooba") << QByteArray("fooba") << "Zm9vYmE=";
        QTest::newRow("foobar") << QByteArray("foobar") << "Zm9vYmFy";
        QTest::newRow("high bytes") << QByteArray("\xff\xfe\x00\x80", 4) << "//4AgA==";
    }
    void base64() {
        QFETCH(QByteArray, input);
        QFETCH(QString, expected);
        QCOMPARE(QString::fromStdString(gp::base64Encode(input.toStdString())), expected);
        QCOMPARE(QString::fromStdString(gp::base64Encode(input.toStdString())),
                 QString::fromLatin1(input.toBase64()));
    }

    void htmlHasEverySectionAndItsImages() {
        const std::string png1("\x89PNG\r\n\x1a\nfirst", 13);
        const std::string png2("\x89PNG\r\n\x1a\nsecond plot", 19);
        const gp::ReportImages images = {{"histogram", png1}, {"custom_plot", png2}};
        const std::string html = gp::renderHtmlReport(sampleRecord(), images);
        size_t previous = 0;
        for (const std::string& id : gp::htmlReportSections()) {
            const size_t at = html.find("<section id=\"" + id + "\">");
            QVERIFY2(at != std::string::npos, id.c_str());
            QVERIFY2(at > previous, ("out of order: " + id).c_str());
            previous = at;
        }
        for (const std::string& png : {png1, png2})
            QVERIFY(html.find("src=\"data:image/png;base64," + gp::base64Encode(png) + "\"") !=
                    std::string::npos);
        size_t images_ = 0;
        for (size_t at = html.find("<img"); at != std::string::npos; at = html.find("<img", at + 1))
            ++images_;
        QCOMPARE(images_, size_t(2));
        QVERIFY(html.find("Importance histogram") != std::string::npos);  // a known caption
        QVERIFY(html.find("custom_plot") != std::string::npos);
        // Self-contained and escaped: no script, no external reference.
        QVERIFY(html.find("<script") == std::string::npos);
        QVERIFY(html.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
        QVERIFY(html.find("http://") == std::string::npos && html.find("https://") == std::string::npos);
        // Numbers a reader looks for.
        QVERIFY(html.find("59.87 %") != std::string::npos);  // achieved sparsity
        QVERIFY(html.find("12.5000") != std::string::npos);  // perplexity before
        QVERIFY(html.find("&infin;") != std::string::npos);  // perplexity after
        QVERIFY(html.find("1.13.1 (CPU)") != std::string::npos);
        QVERIFY(html.find("56.25 %") != std::string::npos);  // compressed 900 of 1600 bytes
        QVERIFY(html.find("plots are absent") == std::string::npos);
    }

    void htmlWithoutImagesSaysSo() {
        gp::RunRecord record = sampleRecord();
        record.exported = false;
        const std::string html = gp::renderHtmlReport(record, {});
        QVERIFY(html.find("<section id=\"plots\">") != std::string::npos);
        QVERIFY(html.find("plots are absent") != std::string::npos);
        QVERIFY(html.find("gradprobe report") != std::string::npos);
        QVERIFY(html.find("<img") == std::string::npos);
        QVERIFY(html.find("was not exported") != std::string::npos);
    }

    // The figures core draws for the headless CLI: five well-formed SVG documents showing the
    // run's numbers — the threshold line only where one threshold decides, the groups' cuts
    // where many do, one bar triple per layer, a series per method across runs.
    void svgFiguresShowTheRun() {
        gp::RunRecord record = sampleRecord();
        const auto figures = gp::renderSvgFigures(record, 900, 500);
        QCOMPARE(figures.size(), size_t(5));
        for (const char* name : {"histogram", "search", "layers", "memory", "ppl_vs_sparsity"}) {
            QVERIFY2(figures.count(name), name);
            const std::string& svg = figures.at(name);
            QXmlStreamReader xml(QByteArray::fromStdString(svg));
            int elements = 0;
            while (!xml.atEnd())
                if (xml.readNext() == QXmlStreamReader::StartElement) ++elements;
            QVERIFY2(!xml.hasError(), qPrintable(name + QString(": ") + xml.errorString()));
            QVERIFY2(elements > 10, name);
            QVERIFY(svg.rfind("<svg", 0) == 0);
        }
        // One threshold (this record's global histogram says 0.0123): the line and the region.
        const std::string& histogram = figures.at("histogram");
        QVERIFY(histogram.find("threshold 0.0123") != std::string::npos);
        QVERIFY(histogram.find("normal fit") != std::string::npos);
        QVERIFY(histogram.find("cuts") == std::string::npos);
        // Many cuts (a row group): no threshold, the cut distribution on the right axis.
        gp::HistogramEvent& global = record.result.histograms.front();
        global.threshold = 0.0;
        global.cutGroup = "row";
        global.cutCounts = {4, 1};
        const std::string rows = gp::renderSvgFigures(record).at("histogram");
        QVERIFY(rows.find("no single threshold") != std::string::npos);
        QVERIFY(rows.find("5 row cuts") != std::string::npos);
        QVERIFY(rows.find("threshold 0") == std::string::npos);
        // Layers: names escaped, a target and an achieved bar each, a restored bar where the
        // probe restored weights (both layers here).
        const std::string& layers = figures.at("layers");
        QVERIFY(layers.find("<script>") == std::string::npos);
        QVERIFY(layers.find("&lt;script&gt;") != std::string::npos);
        const auto count = [](const std::string& text, const std::string& what) {
            size_t n = 0;
            for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
                ++n;
            return n;
        };
        QCOMPARE(count(layers, "fill=\"rgb(240,150,30)\""), size_t(2 + 1));  // bars + legend
        QCOMPARE(count(layers, "fill=\"rgb(160,160,160)\""), size_t(2 + 1));
        // Perplexity across runs: one series per method ("wanda + probe" is its own).
        const std::string& ppl = figures.at("ppl_vs_sparsity");
        QVERIFY(ppl.find(">magnitude<") != std::string::npos);
        QVERIFY(ppl.find(">wanda + probe<") != std::string::npos);
        // An empty run still gives five figures, each saying what is missing.
        const auto empty = gp::renderSvgFigures(gp::RunRecord());
        QVERIFY(empty.at("histogram").find("no histogram in this run") != std::string::npos);
        QVERIFY(empty.at("ppl_vs_sparsity").find("no evaluated runs") != std::string::npos);
        // Embedded as SVG data URIs.
        const std::string html = gp::renderHtmlReport(record, figures);
        QCOMPARE(count(html, "src=\"data:image/svg+xml;base64,"), size_t(5));
    }

    // The facade: the record of a session's result, and report.json + report.html on disk.
    void facadeWritesBothFiles() {
        QTemporaryDir dir;
        QVERIFY(dir.isValid());
        const fs::path model = fs::path(dir.path().toStdString()) / "model";
        fs::create_directories(model);
        {
            std::ofstream(model / "config.json") << gp::test::tinyConfigJson("llama").dump();
            const gp::WeightMap weights = gp::test::tinyWeights(gp::test::tinyConfig("llama"), 1);
            gp::writeSafetensors((model / "model.safetensors").string(),
                                 {weights.begin(), weights.end()});
        }
        auto session = gp::ModelSession::open(model.string());
        gp::PruneResult result = sampleRecord().result;
        gp::ExportOptions options;
        options.outDir = (fs::path(dir.path().toStdString()) / "out").string();
        const gp::ExportResult exported = session->exportModel(options);
        const gp::RunRecord record = session->runRecord(result, &exported);
        QCOMPARE(record.model.path, model.string());
        QCOMPARE(record.model.architecture, std::string("llama"));
        QCOMPARE(record.model.totalParameters, session->info().totalParameters);
        QVERIFY(record.exported);
        QCOMPARE(record.exportFacts.totalBytes, exported.totalBytes);
        QCOMPARE(record.exportFacts.files, exported.files);
        QVERIFY(record.versions.count("gradprobe") && record.versions.count("libtorch"));
        QCOMPARE(record.createdAt.size(), size_t(20));

        const gp::ReportImages images = {{"histogram", "png bytes"}};
        const std::vector<std::string> files = gp::writeReport(options.outDir, record, images);
        QCOMPARE(files.size(), size_t(2));
        QCOMPARE(gp::runRecordJson(gp::readRunRecord(files[0])), gp::runRecordJson(record));
        QCOMPARE(readText(files[1]), gp::renderHtmlReport(record, images));
        // The report sits beside the exported model, which still loads.
        QVERIFY(gp::ModelSession::open(options.outDir) != nullptr);
        try {
            gp::readRunRecord((fs::path(dir.path().toStdString()) / "missing.json").string());
            QFAIL("a missing record was read");
        } catch (const gp::Error& error) {
            QVERIFY(std::string(error.what()).find("missing.json") != std::string::npos);
        }
    }
};

QTEST_GUILESS_MAIN(TestReport)
#include "tst_report.moc"
