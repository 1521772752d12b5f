// Selection and magnitude pruning streamed through a memory-mapped safetensors file (what
// `bench select --synthetic mistral-7b` and `prune --synthetic mistral-7b` run at 14 GB), here on
// a small real file: the masks equal the in-memory sort reference, the written checkpoint holds
// exactly the selected zeros, the input never changes, and a failed or cancelled run leaves no
// file under the final name.
#include <ATen/ATen.h>
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "core/bench/mapped_weights.h"
#include "core/bench/select_bench.h"
#include "core/io/safetensors.h"
#include "core/prune/score_source.h"
#include "core/prune/selection.h"
#include "core/prune/sort_select.h"
#include "core/runtime/cancel.h"
#include "core/runtime/error.h"
#include "core/runtime/events.h"
#include "core/runtime/observer.h"
#include "tests/support/test_support.h"

namespace fs = std::filesystem;

namespace {

using gp::test::readBytes;

using Layers = std::vector<std::pair<std::string, at::Tensor>>;

// Heavy-tailed weights in bf16 (many ties) and fp32, with a norm and an integer tensor that are
// not scored, in an order that interleaves them.
Layers makeFileTensors() {
    at::manual_seed(11);
    const auto heavy = [](int64_t out, int64_t in) {
        return at::randn({out, in}) / at::randn({3, out, in}).square().mean(0).sqrt() * 0.02;
    };
    return {{"blocks.0.q.weight", heavy(48, 64).to(at::kBFloat16)},
            {"blocks.0.norm.weight", at::ones({64})},
            {"blocks.0.up.weight", heavy(96, 64).to(at::kBFloat16)},
            {"blocks.0.down.weight", heavy(64, 96)},
            {"blocks.0.positions", at::arange(16, at::kLong).view({4, 4})},
            {"blocks.1.q.weight", at::zeros({32, 64}, at::kBFloat16)}};
}

// Cancels once the first layer has been written: the run stops half-way through the file.
struct CancelAfterFirstLayer : gp::RunObserver {
    gp::CancelToken token;
    void onProgress(const gp::ProgressEvent& event) override {
        if (event.stage == gp::Stage::Export) token.cancel();
    }
};

}  // namespace

class TestStreamed : public QObject {
    Q_OBJECT

    QTemporaryDir m_dir;
    fs::path m_input;
    Layers m_tensors;

    // |W| of the scored tensors, in memory: the reference's scores.
    Layers magnitudes() const {
        Layers layers;
        for (const auto& [name, tensor] : m_tensors)
            if (tensor.dim() == 2 && at::isFloatingType(tensor.scalar_type()))
                layers.emplace_back(name, tensor.abs());
        return layers;
    }

private Q_SLOTS:
    void initTestCase() {
        QVERIFY(m_dir.isValid());
        m_input = fs::path(m_dir.path().toStdString()) / "model.safetensors";
        m_tensors = makeFileTensors();
        gp::writeSafetensors(m_input.string(), m_tensors);
    }

    void sourceListsTheFloatMatrices() {
        const gp::MappedMagnitudeSource source(gp::SafetensorsFile::open(m_input.string()));
        QCOMPARE(source.layerCount(), int64_t(4));
        QCOMPARE(QString::fromStdString(source.layerName(2)), QString("blocks.0.down.weight"));
        QCOMPARE(source.dtype(0), at::kBFloat16);
        QCOMPARE(source.shape(1)[0], int64_t(96));
        QCOMPARE(source.totalNumel(), int64_t(48 * 64 + 96 * 64 + 64 * 96 + 32 * 64));
    }

    void masksEqualTheSortReference_data() {
        QTest::addColumn<QString>("group");
        QTest::addColumn<double>("sparsity");
        for (const char* group : {"global", "layer", "row"})
            for (const double sparsity : {0.0, 0.3, 0.5, 0.9})
                QTest::addRow("%s %.1f", group, sparsity) << QString(group) << sparsity;
    }

    // The mapped source must give the same selection as scores held in memory: the exact masks
    // equal the sort reference (same ties rule) and select exactly k.
    void masksEqualTheSortReference() {
        QFETCH(QString, group);
        QFETCH(double, sparsity);
        gp::SelectionOptions options;
        options.sparsity = sparsity;
        options.group = gp::parseSelectionGroup(group.toStdString(), "--group");
        const gp::MappedMagnitudeSource mapped(gp::SafetensorsFile::open(m_input.string()));
        const gp::TensorScoreSource memory(magnitudes());
        const std::vector<at::Tensor> reference = gp::sortReferenceMasks(memory, options);
        const gp::Selection selection = gp::selectScores(mapped, options);
        int64_t selected = 0;
        for (int64_t layer = 0; layer < mapped.layerCount(); ++layer) {
            const at::Tensor mask = gp::layerMask(selection, mapped, layer);
            QVERIFY2(at::equal(mask, reference[layer]), mapped.layerName(layer).c_str());
            selected += mask.sum().item<int64_t>();
        }
        QCOMPARE(selected, selection.target);
    }

    // The written checkpoint: scored tensors with the mask's entries zeroed and nothing else
    // changed, the other tensors byte for byte, the same names, shapes and dtypes; the input file
    // unchanged.
    void prunedFileHoldsTheSelectedZeros() {
        const std::string before = readBytes(m_input);
        const gp::MappedMagnitudeSource source(gp::SafetensorsFile::open(m_input.string()));
        gp::SelectionOptions options;
        options.sparsity = 0.5;
        const fs::path out = fs::path(m_dir.path().toStdString()) / "pruned.safetensors";
        const gp::StreamedPruneResult result = gp::pruneMappedFile(source, options, out.string());
        QCOMPARE(result.target, int64_t(source.totalNumel() / 2));
        QCOMPARE(result.pruned, result.target);

        const gp::Selection selection = gp::selectScores(source, options);
        const auto written = gp::SafetensorsFile::open(out.string());
        QCOMPARE(written->entries().size(), m_tensors.size());
        int64_t layer = 0;
        for (const auto& [name, original] : m_tensors) {
            const at::Tensor tensor = written->tensor(name);
            QCOMPARE(tensor.scalar_type(), original.scalar_type());
            QCOMPARE(tensor.sizes(), original.sizes());
            if (original.dim() == 2 && at::isFloatingType(original.scalar_type())) {
                const at::Tensor mask = gp::layerMask(selection, source, layer++);
                QVERIFY2(at::equal(tensor, original.masked_fill(mask, 0)), name.c_str());
            } else {
                QVERIFY2(at::equal(tensor, original), name.c_str());
            }
        }
        QCOMPARE(readBytes(m_input), before);
    }

    // `bench select --stream` (the mistral-7b path on any file): exact agrees with the sort
    // reference on every sampled entry, the model-wide count confirms the threshold, and the
    // masks select exactly k.
    void streamedBenchAgreesWithItsSortReference() {
        gp::SelectBenchOptions options;
        options.weights = m_input.string();
        options.stream = true;
        options.sparsities = {0.3, 0.5};
        options.methods = {"exact", "statistical"};
        const gp::SelectBenchReport report = gp::runSelectBench(options);
        QVERIFY(report.streamed);
        QVERIFY(report.countVerified);
        QCOMPARE(report.layers, int64_t(4));
        QCOMPARE(report.referenceWeights, report.weights);  // no block names: one block, all
        QCOMPARE(report.rows.size(), size_t(4));
        for (const gp::SelectBenchRow& row : report.rows) {
            if (row.method != "exact") continue;
            QCOMPARE(row.agreement, 1.0);
            QCOMPARE(row.selected, row.target);
        }
        QVERIFY(report.peakRssBytes > 0);
        QVERIFY(gp::selectBenchJson(report).find("\"count_verified\": true") != std::string::npos);
    }

    // The writer the streamed paths share: a tensor that does not match its header entry, or a
    // file left short, is an error naming it, and nothing is left under the final name.
    void streamWriterRefusesWhatTheHeaderDoesNotList() {
        const fs::path out = fs::path(m_dir.path().toStdString()) / "stream.safetensors";
        {
            gp::SafetensorsStreamWriter writer(out.string(), {{"a", "F32", {2, 3}},
                                                              {"b", "BF16", {4}}});
            writer.append(at::ones({2, 3}));
            try {
                writer.append(at::ones({5}, at::kBFloat16));
                QFAIL("a [5] tensor was taken for a [4] entry");
            } catch (const gp::Error& error) {
                QVERIFY2(std::string(error.what()).find("b") != std::string::npos, error.what());
            }
            QVERIFY_THROWS_EXCEPTION(gp::Error, writer.commit());  // "b" is missing
        }
        QVERIFY(!fs::exists(out));
        {
            gp::SafetensorsStreamWriter writer(out.string(), {{"a", "F32", {2, 3}}}, {{"k", "v"}});
            writer.append(at::arange(6, at::kFloat).view({2, 3}));
            writer.commit();
        }
        const auto file = gp::SafetensorsFile::open(out.string());
        QVERIFY(at::equal(file->tensor("a"), at::arange(6, at::kFloat).view({2, 3})));
        QCOMPARE(file->metadata().at("k"), std::string("v"));
    }

    void badSparsityAndCancelLeaveNoFile() {
        const gp::MappedMagnitudeSource source(gp::SafetensorsFile::open(m_input.string()));
        const fs::path out = fs::path(m_dir.path().toStdString()) / "never.safetensors";
        gp::SelectionOptions options;
        options.sparsity = 1.2;
        try {
            gp::pruneMappedFile(source, options, out.string());
            QFAIL("sparsity 1.2 was accepted");
        } catch (const gp::Error& error) {
            QCOMPARE(error.kind(), gp::ErrorKind::BadArgument);
            QVERIFY2(std::string(error.what()).find("sparsity") != std::string::npos, error.what());
        }
        options.sparsity = 0.5;
        CancelAfterFirstLayer observer;
        QVERIFY_THROWS_EXCEPTION(gp::Cancelled, gp::pruneMappedFile(source, options, out.string(),
                                                                    &observer, &observer.token));
        QVERIFY(!fs::exists(out));
        for (const auto& entry : fs::directory_iterator(m_dir.path().toStdString()))
            QVERIFY2(entry.path().filename().string().find("never") == std::string::npos,
                     entry.path().c_str());
    }
};

QTEST_GUILESS_MAIN(TestStreamed)
#include "tst_streamed.moc"
