// Selection: the exact radix selection against the sort reference (every input kind x group x
// sparsity), the upstream statistical search against hand-computed steps, errors, histograms,
// events, and how the selection reads its source.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <QtTest/QtTest>

#include <cmath>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/prune/device_select.h"
#include "core/prune/score_keys.h"
#include "core/prune/score_source.h"
#include "core/prune/selection.h"
#include "core/prune/sort_select.h"
#include "core/prune/statistical_search.h"
#include "core/runtime/error.h"
#include "tests/support/test_support.h"

namespace {

using Layers = std::vector<std::pair<std::string, at::Tensor>>;

// Student-t with `dof` degrees of freedom: normal / sqrt(chi-square / dof).
at::Tensor studentT(std::vector<int64_t> shape, int dof) {
    std::vector<int64_t> chiShape = shape;
    chiShape.insert(chiShape.begin(), dof);
    return at::randn(shape) / at::randn(chiShape).square().sum(0).div(dof).sqrt();
}

// Three small layers whose in-dimensions are divisible by 8 (for 2:4 and 4:8).
const std::vector<std::array<int64_t, 2>> kShapes = {{64, 128}, {32, 64}, {16, 256}};

// The scores of one input kind; `signedWeights` is set for the magnitude kind (scores = |w|).
Layers makeLayers(const std::string& kind) {
    at::manual_seed(7);
    Layers layers;
    const auto add = [&](at::Tensor t) {
        layers.emplace_back("layer" + std::to_string(layers.size()), t);
    };
    for (size_t i = 0; i < kShapes.size(); ++i) {
        const auto [out, in] = kShapes[i];
        if (kind == "random")
            add(at::rand({out, in}));
        else if (kind == "heavy")
            add(studentT({out, in}, 3).abs().mul(0.02));
        else if (kind == "equal")
            add(at::full({out, in}, 0.5f));
        else if (kind == "ties")
            add(at::randint(0, 5, {out, in}).to(at::kFloat).mul(0.25));
        else if (kind == "zeros")
            add(i == 1 ? at::zeros({out, in}) : at::rand({out, in}) * (at::rand({out, in}) > 0.5));
        else if (kind == "denormal")
            add(at::rand({out, in}).mul(1e-39f) * (at::rand({out, in}) > 0.2) +
                (at::rand({out, in}) > 0.9) * at::rand({out, in}));
        else if (kind == "mixed")  // fp32 + bf16 (+ fp16), values shared across layers
            add(at::randint(0, 9, {out, in})
                    .to(at::kFloat)
                    .mul(0.125)
                    .add(at::rand({out, in}) * (i == 0 ? 0.01 : 0.0))
                    .to(i == 0   ? at::kFloat
                        : i == 1 ? at::kBFloat16
                                 : at::kHalf));
        else if (kind == "bf16")
            add(at::rand({out, in}).to(at::kBFloat16));
        else if (kind == "fp16")
            add(studentT({out, in}, 3).abs().to(at::kHalf));
        else if (kind == "transposed")
            add(at::rand({in, out}).t());  // [out, in] view, not contiguous
        else if (kind == "strided")
            add(at::rand({out, 2 * in}).narrow(1, 0, in));  // not dense
        else if (kind == "double")
            add(at::rand({out, in}, at::kDouble));
        else
            throw std::invalid_argument("unknown input kind " + kind);
    }
    return layers;
}

// A source that is asked: counts the calls, so tests can see the passes re-read the layers.
class CountingSource final : public gp::ScoreSource {
public:
    explicit CountingSource(Layers layers) : m_inner(std::move(layers)) {}
    int64_t layerCount() const override { return m_inner.layerCount(); }
    std::string layerName(int64_t i) const override { return m_inner.layerName(i); }
    std::array<int64_t, 2> shape(int64_t i) const override { return m_inner.shape(i); }
    at::ScalarType dtype(int64_t i) const override { return m_inner.dtype(i); }
    at::Device device() const override { return m_inner.device(); }
    at::Tensor scores(int64_t i) const override {
        ++calls[i];
        return m_inner.scores(i);
    }
    mutable std::map<int64_t, int> calls;

private:
    gp::TensorScoreSource m_inner;
};

struct Recorder : gp::RunObserver {
    std::vector<gp::SearchStepEvent> steps;
    std::vector<gp::HistogramEvent> histograms;
    std::vector<gp::NormalFitEvent> fits;
    std::vector<gp::ThresholdEvent> thresholds;
    void onSearchStep(const gp::SearchStepEvent& e) override { steps.push_back(e); }
    void onHistogram(const gp::HistogramEvent& e) override { histograms.push_back(e); }
    void onNormalFit(const gp::NormalFitEvent& e) override { fits.push_back(e); }
    void onThreshold(const gp::ThresholdEvent& e) override { thresholds.push_back(e); }
};

gp::SelectionOptions optionsFor(const QString& group, double sparsity) {
    gp::SelectionOptions options;
    options.sparsity = sparsity;
    if (group.startsWith("nm")) {
        options.group = gp::SelectionGroup::NM;
        options.nmKeep = group == "nm24" ? 2 : 4;
        options.nmGroup = group == "nm24" ? 4 : 8;
    } else {
        options.group = gp::parseSelectionGroup(group.toStdString(), "group");
    }
    return options;
}

// Runs `call` and returns the gp::Error it throws (fails the test if none).
template <typename Call>
std::string errorOf(Call call, gp::ErrorKind kind) {
    try {
        call();
    } catch (const gp::Error& error) {
        if (error.kind() != kind) return "wrong kind: " + std::string(error.what());
        return error.what();
    }
    return "no error";
}

}  // namespace

class TestSelect : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { at::set_num_threads(2); }

    void exactEqualsSort_data() {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("group");
        QTest::addColumn<double>("sparsity");
        const char* kinds[] = {"random", "heavy", "equal", "ties",       "zeros",   "denormal",
                               "mixed",  "bf16",  "fp16",  "transposed", "strided", "double"};
        for (const char* kind : kinds) {
            for (const char* group : {"global", "layer", "row"})
                for (double sparsity : {0.0, 0.1, 0.5, 0.999})
                    QTest::addRow("%s/%s/%g", kind, group, sparsity) << kind << group << sparsity;
            for (const char* group : {"nm24", "nm48"})
                QTest::addRow("%s/%s", kind, group) << kind << group << 0.0;
        }
    }

    // Same masks, entry for entry; exactly k selected; N:M keeps exactly N per group.
    void exactEqualsSort() {
        QFETCH(QString, kind);
        QFETCH(QString, group);
        QFETCH(double, sparsity);
        const gp::TensorScoreSource source(makeLayers(kind.toStdString()));
        const gp::SelectionOptions options = optionsFor(group, sparsity);
        const std::vector<at::Tensor> reference = gp::sortReferenceMasks(source, options);

        // Exact with the CPU kernels, exact with the device (GPU) kernels run here, and sort.
        for (const char* variant : {"exact", "exact on device", "sort"}) {
            const auto method = std::string(variant) == "sort" ? gp::SelectionMethod::Sort
                                                               : gp::SelectionMethod::Exact;
            const bool device = std::string(variant) == "exact on device";
            gp::SelectionOptions run = options;
            run.method = method;
            run.deviceKernels = device;
            const gp::Selection selection = gp::selectScores(source, run);
            QCOMPARE(selection.selected, selection.target);
            int64_t selected = 0, expectedTarget = 0;
            for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
                const gp::LayerKeys keys = gp::readLayerKeys(source, layer);
                const at::Tensor mask =
                    device ? gp::maskOnDevice(selection, layer, keys.tensor, keys.absolute)
                           : gp::layerMask(selection, source, layer);
                QCOMPARE(mask.sizes(), reference[layer].sizes());
                if (!at::equal(mask, reference[layer]))
                    QFAIL(
                        qPrintable(QString("%1: layer %2 differs from the reference in %3 entries")
                                       .arg(variant)
                                       .arg(layer)
                                       .arg((mask != reference[layer]).sum().item<int64_t>())));
                selected += mask.sum().item<int64_t>();
                const auto [out, in] = source.shape(layer);
                if (options.group == gp::SelectionGroup::Row)
                    expectedTarget += out * int64_t(std::floor(sparsity * double(in)));
                if (options.group == gp::SelectionGroup::NM) {
                    const at::Tensor kept =
                        (~mask).reshape({out, in / options.nmGroup, options.nmGroup}).sum(-1);
                    QVERIFY(at::all(kept == options.nmKeep).item<bool>());
                    expectedTarget +=
                        out * in / options.nmGroup * (options.nmGroup - options.nmKeep);
                }
                if (options.group == gp::SelectionGroup::Layer)
                    expectedTarget += int64_t(std::floor(sparsity * double(out * in)));
            }
            if (options.group == gp::SelectionGroup::Global)
                expectedTarget = int64_t(std::floor(sparsity * double(source.totalNumel())));
            QCOMPARE(selected, selection.selected);
            QCOMPARE(selection.target, expectedTarget);
        }
    }

    // Big enough for every pass to split across threads, and an fp32 + bf16 global tie split.
    void exactEqualsSortOnLargerLayers_data() {
        QTest::addColumn<double>("sparsity");
        for (double s : {0.1, 0.3, 0.5, 0.9}) QTest::addRow("%g", s) << s;
    }
    void exactEqualsSortOnLargerLayers() {
        QFETCH(double, sparsity);
        at::manual_seed(11);
        const at::Tensor w = studentT({384, 768}, 3).mul(0.02);
        Layers layers = {{"q", w.abs()},
                         {"fc", studentT({1024, 384}, 3).abs().mul(0.02).to(at::kBFloat16)},
                         {"proj", studentT({768, 512}, 3).abs().mul(0.02).t()},
                         {"same", w.abs().clone()}};  // exact duplicates: ties across layers
        const gp::TensorScoreSource source(std::move(layers));
        for (const char* group : {"global", "layer", "row"}) {
            gp::SelectionOptions options = optionsFor(group, sparsity);
            const auto reference = gp::sortReferenceMasks(source, options);
            const gp::Selection exact = gp::selectScores(source, options);
            options.deviceKernels = true;
            const gp::Selection onDevice = gp::selectScores(source, options);
            QCOMPARE(onDevice.threshold, exact.threshold);
            for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
                QVERIFY2(at::equal(gp::layerMask(exact, source, layer), reference[layer]), group);
                const gp::LayerKeys keys = gp::readLayerKeys(source, layer);
                QVERIFY2(at::equal(gp::maskOnDevice(onDevice, layer, keys.tensor, keys.absolute),
                                   reference[layer]),
                         group);
            }
        }
    }

    // On a GPU (tests/bench/cuda_check.sh): scores there are counted there, and agree with the
    // CPU kernels on the same values. Skipped without CUDA.
    void exactOnGpuEqualsCpu_data() {
        QTest::addColumn<QString>("kind");
        for (const char* kind : {"heavy", "ties", "mixed", "bf16", "fp16"})
            QTest::newRow(kind) << QString(kind);
    }
    void exactOnGpuEqualsCpu() {
        if (!at::hasCUDA()) QSKIP("no CUDA device (LibTorch without CUDA, or no GPU)");
        QFETCH(QString, kind);
        Layers layers = makeLayers(kind.toStdString());
        Layers onGpu;
        for (const auto& [name, tensor] : layers) onGpu.emplace_back(name, tensor.to(at::kCUDA));
        const gp::TensorScoreSource cpu(layers), gpu(onGpu);
        for (const char* group : {"global", "layer", "row", "nm24"}) {
            const gp::SelectionOptions options = optionsFor(group, 0.5);
            const gp::Selection onCpu = gp::selectScores(cpu, options);
            const gp::Selection onDevice = gp::selectScores(gpu, options);
            QCOMPARE(onDevice.threshold, onCpu.threshold);
            for (int64_t layer = 0; layer < cpu.layerCount(); ++layer) {
                const at::Tensor mask = gp::layerMask(onDevice, gpu, layer);
                QVERIFY(mask.is_cuda());
                QVERIFY2(at::equal(mask.cpu(), gp::layerMask(onCpu, cpu, layer)), group);
            }
        }
    }

    // Magnitude over signed weights, one of them a transposed view (GPT-2's Conv1D): the exact
    // selection reads |w| in place, the reference takes scores() = |w|.
    void magnitudeSourceReadsTheWeights() {
        at::manual_seed(3);
        const at::Tensor conv1d = at::randn({96, 64});  // stored [in, out]
        std::vector<gp::PrunableWeight> weights = {{"a.weight", 0, at::randn({64, 96})},
                                                   {"b.weight", 0, conv1d.t()},
                                                   {"c.weight", 1, at::randn({32, 64}).neg()}};
        const gp::MagnitudeScoreSource source(weights);
        QVERIFY(source.magnitudeOf(1).defined());
        QVERIFY(at::equal(source.scores(1), conv1d.t().abs()));
        for (const char* group : {"global", "layer", "row", "nm24"}) {
            gp::SelectionOptions options = optionsFor(group, 0.4);
            const auto reference = gp::sortReferenceMasks(source, options);
            const gp::Selection exact = gp::selectScores(source, options);
            options.deviceKernels = true;
            const gp::Selection onDevice = gp::selectScores(source, options);
            QCOMPARE(onDevice.threshold, exact.threshold);
            for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
                QVERIFY2(at::equal(gp::layerMask(exact, source, layer), reference[layer]), group);
                const gp::LayerKeys keys = gp::readLayerKeys(source, layer);
                QVERIFY2(at::equal(gp::maskOnDevice(onDevice, layer, keys.tensor, keys.absolute),
                                   reference[layer]),
                         group);
            }
        }
    }

    // The exact selection asks the source again at every pass: two passes for fp32, one for bf16.
    void exactAsksTheSourcePerPass_data() {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<int>("passes");
        QTest::addRow("fp32") << "random" << 2;
        QTest::addRow("bf16") << "bf16" << 1;
        QTest::addRow("fp16") << "fp16" << 1;
        QTest::addRow("mixed") << "mixed" << 2;
    }
    void exactAsksTheSourcePerPass() {
        QFETCH(QString, kind);
        QFETCH(int, passes);
        Layers layers = makeLayers(kind.toStdString());
        // No ties at the threshold to share out (a third, partial pass), except in the mixed kind.
        const CountingSource source(std::move(layers));
        gp::SelectionOptions options;
        options.sparsity = 0.37;
        const gp::Selection selection = gp::selectScores(source, options);
        int shared = selection.passes - passes;
        QVERIFY(shared == 0 || shared == 1);
        for (const auto& [layer, calls] : source.calls)
            QVERIFY(calls >= passes && calls <= passes + 1);
        QCOMPARE(int(source.calls.size()), int(source.layerCount()));
    }

    void inverseNormalCdfMatchesKnownQuantiles_data() {
        QTest::addColumn<double>("p");
        QTest::addColumn<double>("z");
        // Reference quantiles (e.g. scipy.stats.norm.ppf, to 16 digits).
        QTest::addRow("1e-10") << 1e-10 << -6.361340902404056;
        QTest::addRow("0.001") << 0.001 << -3.090232306167813;
        QTest::addRow("0.02") << 0.02 << -2.053748910631823;
        QTest::addRow("0.1") << 0.1 << -1.2815515655446004;
        QTest::addRow("0.3") << 0.3 << -0.5244005127080407;
        QTest::addRow("0.5") << 0.5 << 0.0;
        QTest::addRow("0.975") << 0.975 << 1.959963984540054;
        QTest::addRow("0.999") << 0.999 << 3.090232306167813;
    }
    void inverseNormalCdfMatchesKnownQuantiles() {
        QFETCH(double, p);
        QFETCH(double, z);
        QVERIFY2(std::abs(gp::inverseNormalCdf(p) - z) < 1e-12,
                 qPrintable(QString::number(gp::inverseNormalCdf(p), 'g', 17)));
    }

    // Upstream's rule worked by hand on ten scores {0,0,0,0,1,1,2,4,8,24}: n = 10, sum = 40,
    // mean = 4, sum of squares = 662, variance = 66.2 - 16 = 50.2, min 0, max 24.
    void statisticalFollowsTheUpstreamRule_data() {
        QTest::addColumn<QString>("values");
        QTest::addColumn<double>("sparsity");
        QTest::addColumn<QList<double>>("thresholds");  // the first steps' thresholds
        QTest::addColumn<QList<qlonglong>>("counts");   // their counts of scores <= threshold
        QTest::addColumn<int>("steps");
        QTest::addColumn<double>("threshold");  // the best
        QTest::addColumn<qlonglong>("selected");
        // 50%: z = 0, t = mean = 4 -> 8 <= 4 (error 0.3): high = 4, t = 2 -> 7: high = 2,
        // t = 1 -> 6 (error 0.1): high = 1, t = 0.5 -> 4 (error 0.1, not better): low = 0.5,
        // t = 0.75 -> 4, ... t climbs to 1 from below, always 4: no step reaches 5 (the two 1s tie)
        // and the interval (2^-k) never falls under 1e-10: all 20 steps; the best stays t = 1.
        QTest::addRow("bisection") << "skewed" << 0.5 << QList<double>{4, 2, 1, 0.5, 0.75, 0.875}
                                   << QList<qlonglong>{8, 7, 6, 4, 4, 4} << 20 << 1.0 << 6LL;
        // 10%: z = -1.2815516, t = 4 - 1.2815516 * 7.0852 = -5.08 -> clamped to min 0 -> 4 zeros
        // (error 0.3): high = 0 = low, t = 0, the interval is empty: stop after one step.
        QTest::addRow("clamped") << "skewed" << 0.1 << QList<double>{0} << QList<qlonglong>{4} << 1
                                 << 0.0 << 4LL;
        // Scores 1..10 at 30%: mean 5.5, variance 38.5 - 30.25 = 8.25, std 2.8722813,
        // z = -0.5244005, t = 5.5 - 1.5062258 = 3.9937742 -> 3 scores (error 0): done at once.
        QTest::addRow("first guess") << "ramp" << 0.3 << QList<double>{3.9937742}
                                     << QList<qlonglong>{3} << 1 << 3.9937742 << 3LL;
    }
    void statisticalFollowsTheUpstreamRule() {
        QFETCH(QString, values);
        QFETCH(double, sparsity);
        QFETCH(QList<double>, thresholds);
        QFETCH(QList<qlonglong>, counts);
        QFETCH(int, steps);
        QFETCH(double, threshold);
        QFETCH(qlonglong, selected);
        const at::Tensor scores =
            values == "skewed"
                ? at::tensor({0.f, 0.f, 0.f, 0.f, 1.f, 1.f, 2.f, 4.f, 8.f, 24.f}).reshape({2, 5})
                : at::arange(1, 11, at::kFloat).reshape({2, 5});
        // Split over two layers: the moments and counts are streamed across layers.
        const gp::TensorScoreSource source(
            {{"a", scores.narrow(0, 0, 1)}, {"b", scores.narrow(0, 1, 1)}});
        gp::SelectionOptions options;
        options.method = gp::SelectionMethod::Statistical;
        options.sparsity = sparsity;
        Recorder events;
        const gp::Selection selection = gp::selectScores(source, options, &events);

        QCOMPARE(int(events.fits.size()), 1);
        const double mean = values == "skewed" ? 4.0 : 5.5;
        const double variance = values == "skewed" ? 50.2 : 8.25;
        QVERIFY(std::abs(events.fits[0].mean - mean) < 1e-9);
        QVERIFY(std::abs(events.fits[0].stddev - std::sqrt(variance)) < 1e-9);
        QCOMPARE(int(events.steps.size()), steps);
        QCOMPARE(selection.steps, steps);
        for (int i = 0; i < thresholds.size(); ++i) {
            QVERIFY2(std::abs(events.steps[i].threshold - thresholds[i]) < 1e-6,
                     qPrintable(QString("step %1: %2").arg(i).arg(events.steps[i].threshold)));
            QCOMPARE(qlonglong(events.steps[i].countBelow), counts[i]);
            QCOMPARE(events.steps[i].target, int64_t(std::floor(sparsity * 10)));
        }
        QVERIFY(std::abs(selection.threshold - threshold) < 1e-6);
        QCOMPARE(qlonglong(selection.selected), selected);
        // The masks are scores <= the best threshold.
        int64_t masked = 0;
        for (int64_t layer = 0; layer < 2; ++layer) {
            const at::Tensor mask = gp::layerMask(selection, source, layer);
            QVERIFY(at::equal(mask, source.scores(layer) <= float(threshold)));
            masked += mask.sum().item<int64_t>();
        }
        QCOMPARE(qlonglong(masked), selected);
    }

    // On TinyStories-33M-shaped Student-t weights the search ends within its tolerance.
    void statisticalWithinToleranceOnStudentT_data() {
        QTest::addColumn<double>("sparsity");
        for (double s : {0.1, 0.3, 0.5}) QTest::addRow("%g", s) << s;
    }
    void statisticalWithinToleranceOnStudentT() {
        QFETCH(double, sparsity);
        if (!m_studentT) {  // drawn once for the three rows
            at::manual_seed(33);
            Layers layers;
            for (int block = 0; block < 4; ++block) {
                for (const char* name : {"q", "k", "v", "out"})
                    layers.emplace_back(name, studentT({768, 768}, 3).abs().mul(0.02));
                layers.emplace_back("c_fc", studentT({3072, 768}, 3).abs().mul(0.02));
                layers.emplace_back("c_proj", studentT({768, 3072}, 3).abs().mul(0.02));
            }
            m_studentT = std::make_unique<gp::TensorScoreSource>(std::move(layers));
        }
        const gp::TensorScoreSource& source = *m_studentT;
        QCOMPARE(source.totalNumel(), int64_t(28311552));
        gp::SelectionOptions options;
        options.method = gp::SelectionMethod::Statistical;
        options.sparsity = sparsity;
        const gp::Selection selection = gp::selectScores(source, options);
        const double achieved = double(selection.selected) / double(selection.total);
        QVERIFY2(
            std::abs(achieved - sparsity) < options.tolerance,
            qPrintable(QString("achieved %1 after %2 steps").arg(achieved).arg(selection.steps)));
        QVERIFY(selection.steps <= options.maxSteps);
    }
    void cleanupTestCase() { m_studentT.reset(); }

    // What the statistical search counts (in each layer's own dtype) is what its masks select.
    void statisticalCountsWhatItsMasksSelect_data() {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("group");
        for (const char* kind : {"heavy", "mixed", "bf16", "fp16", "double", "transposed"})
            for (const char* group : {"global", "layer"})
                QTest::addRow("%s/%s", kind, group) << kind << group;
    }
    void statisticalCountsWhatItsMasksSelect() {
        QFETCH(QString, kind);
        QFETCH(QString, group);
        const gp::TensorScoreSource source(makeLayers(kind.toStdString()));
        gp::SelectionOptions options = optionsFor(group, 0.3);
        options.method = gp::SelectionMethod::Statistical;
        const gp::Selection selection = gp::selectScores(source, options);
        int64_t selected = 0;
        for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
            const at::Tensor mask = gp::layerMask(selection, source, layer);
            const double threshold = gp::keyValue(selection.layers[layer].cut.key);
            QVERIFY(at::equal(mask, source.scores(layer).to(at::kDouble) <= threshold));
            selected += mask.sum().item<int64_t>();
        }
        QCOMPARE(selected, selection.selected);
    }

    void invalidScoresNameTheLayer_data() {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QString>("group");
        QTest::addColumn<float>("value");
        QTest::addColumn<QString>("shown");
        for (const char* method : {"exact", "exact-device", "sort", "statistical"}) {
            for (const char* group : {"global", "layer", "row", "nm"}) {
                if (std::string(method) == "statistical" &&
                    (std::string(group) == "row" || std::string(group) == "nm"))
                    continue;
                QTest::addRow("%s/%s/nan", method, group) << method << group << NAN << "NaN";
                QTest::addRow("%s/%s/inf", method, group) << method << group << INFINITY << "inf";
                QTest::addRow("%s/%s/neg", method, group) << method << group << -0.25f << "-0.25";
            }
        }
    }
    void invalidScoresNameTheLayer() {
        QFETCH(QString, method);
        QFETCH(QString, group);
        QFETCH(float, value);
        QFETCH(QString, shown);
        at::Tensor bad = at::rand({8, 16});
        bad[3][5] = value;
        const gp::TensorScoreSource source({{"good", at::rand({4, 8})},
                                            {"blocks.1.mlp.weight", bad},
                                            {"later", at::rand({4, 8})}});
        gp::SelectionOptions options;
        options.deviceKernels = method == "exact-device";
        options.method =
            gp::parseSelectionMethod(options.deviceKernels ? "exact" : method.toStdString(), "method");
        options.group = gp::parseSelectionGroup(group.toStdString(), "group");
        options.sparsity = 0.5;
        const std::string message =
            errorOf([&] { gp::selectScores(source, options); }, gp::ErrorKind::BadInput);
        QVERIFY2(message.find("blocks.1.mlp.weight") != std::string::npos, message.c_str());
        QVERIFY2(message.find("[3, 5]") != std::string::npos, message.c_str());
        QVERIFY2(message.find(shown.toStdString()) != std::string::npos, message.c_str());
    }

    void badOptionsAreRejected_data() {
        QTest::addColumn<double>("sparsity");
        QTest::addColumn<QString>("group");
        QTest::addColumn<QString>("method");
        QTest::addColumn<QString>("expected");
        QTest::addRow("sparsity 1") << 1.0 << "global"
                                    << "exact"
                                    << "sparsity";
        QTest::addRow("sparsity -0.1") << -0.1 << "global"
                                       << "exact"
                                       << "sparsity";
        QTest::addRow("sparsity NaN") << double(NAN) << "layer"
                                      << "sort"
                                      << "sparsity";
        QTest::addRow("statistical rows") << 0.5 << "row"
                                          << "statistical"
                                          << "row";
        QTest::addRow("statistical nm") << 0.5 << "nm"
                                        << "statistical"
                                        << "nm";
    }
    void badOptionsAreRejected() {
        QFETCH(double, sparsity);
        QFETCH(QString, group);
        QFETCH(QString, method);
        QFETCH(QString, expected);
        const gp::TensorScoreSource source({{"a", at::rand({4, 8})}});
        gp::SelectionOptions options;
        options.sparsity = sparsity;
        options.group = gp::parseSelectionGroup(group.toStdString(), "group");
        options.method = gp::parseSelectionMethod(method.toStdString(), "method");
        const std::string message =
            errorOf([&] { gp::selectScores(source, options); }, gp::ErrorKind::BadArgument);
        QVERIFY2(message.find(expected.toStdString()) != std::string::npos, message.c_str());
    }

    void nmNeedsDivisibleRowsAndNamesTheLayer() {
        const gp::TensorScoreSource source(
            {{"ok", at::rand({4, 8})}, {"odd.weight", at::rand({4, 10})}});
        for (auto method : {gp::SelectionMethod::Exact, gp::SelectionMethod::Sort}) {
            gp::SelectionOptions options = optionsFor("nm48", 0.0);
            options.method = method;
            const std::string message =
                errorOf([&] { gp::selectScores(source, options); }, gp::ErrorKind::BadArgument);
            QVERIFY2(message.find("odd.weight") != std::string::npos, message.c_str());
            QVERIFY2(message.find("10") != std::string::npos, message.c_str());
        }
        gp::SelectionOptions bad = optionsFor("nm24", 0.0);
        bad.nmKeep = 5;
        QVERIFY(errorOf([&] { gp::selectScores(source, bad); }, gp::ErrorKind::BadArgument)
                    .find("N:M") != std::string::npos);
    }

    // Counts add up to the totals, the selected counts to what the masks select; edges grow.
    void histogramsAddUp_data() {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QString>("group");
        QTest::addColumn<QString>("method");
        for (const char* kind : {"heavy", "zeros", "mixed", "denormal"})
            for (const char* group : {"global", "layer", "row", "nm24"})
                QTest::addRow("%s/%s", kind, group) << kind << group << "exact";
        QTest::addRow("heavy/statistical") << "heavy"
                                           << "global"
                                           << "statistical";
        QTest::addRow("zeros/sort") << "zeros"
                                    << "global"
                                    << "sort";
    }
    void histogramsAddUp() {
        QFETCH(QString, kind);
        QFETCH(QString, group);
        QFETCH(QString, method);
        const gp::TensorScoreSource source(makeLayers(kind.toStdString()));
        gp::SelectionOptions options = optionsFor(group, 0.3);
        options.method = gp::parseSelectionMethod(method.toStdString(), "method");
        options.histograms = true;
        Recorder events;
        const gp::Selection selection = gp::selectScores(source, options, &events);
        QCOMPARE(int(events.histograms.size()), int(source.layerCount()) + 1);
        QCOMPARE(int(events.thresholds.size()), 1);
        QCOMPARE(events.thresholds[0].selected, selection.selected);
        for (int64_t i = 0; i <= source.layerCount(); ++i) {
            const gp::HistogramEvent& h = events.histograms[i];
            const bool whole = i == source.layerCount();
            QCOMPARE(h.layer, whole ? std::string() : source.layerName(i));
            int64_t selected = selection.selected;
            if (!whole) selected = gp::layerMask(selection, source, i).sum().item<int64_t>();
            const int64_t total = whole ? source.totalNumel() : source.numel(i);
            QCOMPARE(h.counts.size() + 1, h.binEdges.size());
            QCOMPARE(h.countsBelow.size(), h.counts.size());
            int64_t counted = h.zeros, below = h.zerosBelow;
            for (size_t b = 0; b < h.counts.size(); ++b) {
                counted += h.counts[b];
                below += h.countsBelow[b];
                QVERIFY(h.countsBelow[b] <= h.counts[b]);
                QVERIFY(h.binEdges[b] > 0 && h.binEdges[b] < h.binEdges[b + 1]);
            }
            QCOMPARE(counted, total);
            QCOMPARE(h.total, total);
            QCOMPARE(below, selected);
        }
        if (options.method != gp::SelectionMethod::Statistical)
            QCOMPARE(int(events.fits.size()), int(source.layerCount()) + 1);
    }

    // One threshold is reported only where one decides (global; a layer under the layer group);
    // elsewhere each group's cut — the largest score it selects — is counted in its bin,
    // against the masks and scores worked out here.
    void histogramCutsAreEachGroupsLargestSelectedScore_data() {
        QTest::addColumn<QString>("group");
        for (const char* group : {"global", "layer", "row", "nm24"}) QTest::newRow(group) << group;
    }
    void histogramCutsAreEachGroupsLargestSelectedScore() {
        QFETCH(QString, group);
        const gp::TensorScoreSource source(makeLayers("heavy"));
        gp::SelectionOptions options = optionsFor(group, 0.3);
        options.histograms = true;
        Recorder events;
        const gp::Selection selection = gp::selectScores(source, options, &events);
        const auto binOf = [](const gp::HistogramEvent& h, float v) {
            for (size_t b = 0; b + 1 < h.binEdges.size(); ++b)
                if (v >= h.binEdges[b] && v < h.binEdges[b + 1]) return int(b);
            return -1;
        };
        // Cuts of the groups of layer i: [groups] largest selected score (-1: selects none).
        const auto groupCuts = [&](int64_t i) {
            const at::Tensor scores = source.scores(i).to(at::kFloat);
            const at::Tensor chosen =
                at::where(gp::layerMask(selection, source, i), scores, at::full({}, -1.f));
            if (group == "row") return std::get<0>(chosen.max(1));
            if (group == "nm24") return std::get<0>(chosen.reshape({-1, 4}).max(1));
            return chosen.max().reshape({1});
        };
        std::vector<int64_t> wholeCuts(events.histograms.back().counts.size(), 0);
        if (group == "layer")  // the whole model's cuts are the layers' own
            for (int64_t i = 0; i < source.layerCount(); ++i)
                ++wholeCuts[binOf(events.histograms.back(), groupCuts(i).item<float>())];
        for (int64_t i = 0; i <= source.layerCount(); ++i) {
            const gp::HistogramEvent& h = events.histograms[i];
            const bool whole = i == source.layerCount();
            const bool oneCut = group == "global" || (group == "layer" && !whole);
            QCOMPARE(h.cutGroup.empty(), oneCut);
            if (oneCut) {
                QVERIFY(h.threshold > 0.0);
                QVERIFY(h.cutCounts.empty());
                if (group == "global") QCOMPARE(h.threshold, selection.threshold);
                continue;
            }
            QCOMPARE(h.threshold, 0.0);
            QCOMPARE(h.cutGroup, group == "nm24" ? std::string("nm") : group.toStdString());
            QCOMPARE(h.cutCounts.size(), h.counts.size());
            if (whole) {
                QCOMPARE(h.cutCounts, wholeCuts);
                continue;
            }
            std::vector<int64_t> expected(h.counts.size(), 0);
            const at::Tensor cuts = groupCuts(i);
            for (int64_t g = 0; g < cuts.numel(); ++g) {
                const float cut = cuts[g].item<float>();
                if (cut <= 0.f) continue;  // none selected, or an exact zero
                ++expected[binOf(h, cut)];
            }
            QCOMPARE(h.cutCounts, expected);
            for (size_t b = 0; b < expected.size(); ++b) wholeCuts[b] += expected[b];
        }
    }

    // Four bins per octave (the two leading mantissa bits): 0.3 = 1.2 * 2^-2 and 0.31 share one,
    // 0.35 = 1.4 * 2^-2 and 0.6 = 1.2 * 2^-1 do not.
    void histogramBinsAreLogSpaced() {
        const gp::TensorScoreSource source(
            {{"a", at::tensor({0.f, 0.3f, 0.31f, 0.6f, 4.f, 0.35f, 1e-3f, 0.f}).reshape({2, 4})}});
        gp::SelectionOptions options;
        options.sparsity = 0.5;
        options.histograms = true;
        Recorder events;
        gp::selectScores(source, options, &events);
        const gp::HistogramEvent& h = events.histograms.front();
        QCOMPARE(h.zeros, int64_t(2));
        QCOMPARE(h.zerosBelow, int64_t(2));
        const auto binOf = [&](double v) {
            for (size_t b = 0; b < h.counts.size(); ++b)
                if (v >= h.binEdges[b] && v < h.binEdges[b + 1]) return int(b);
            return -1;
        };
        QCOMPARE(binOf(0.3), binOf(0.31));
        QVERIFY(binOf(0.3) != binOf(0.35));
        QVERIFY(binOf(0.3) != binOf(0.6));
        QCOMPARE(h.counts[binOf(0.3)], int64_t(2));
        // 4 of 8 selected: the two zeros, 1e-3 and 0.3.
        QCOMPARE(h.countsBelow[binOf(1e-3)], int64_t(1));
        QCOMPARE(h.countsBelow[binOf(0.3)], int64_t(1));
        QCOMPARE(h.countsBelow[binOf(0.6)], int64_t(0));
        for (size_t b = 0; b + 1 < h.binEdges.size(); ++b)  // 1.25, 1.2, 1.17, 1.14 in an octave
            QVERIFY(h.binEdges[b + 1] / h.binEdges[b] > 1.14);
    }

    // Exact reports its passes as steps and the threshold with the count it settled on.
    void exactReportsStepsAndThreshold() {
        const gp::TensorScoreSource source(makeLayers("heavy"));
        gp::SelectionOptions options;
        options.sparsity = 0.25;
        Recorder events;
        const gp::Selection selection = gp::selectScores(source, options, &events);
        QCOMPARE(int(events.steps.size()), 2);
        QVERIFY(events.steps[0].countBelow >= selection.target);  // the bin holding the k-th
        QVERIFY(events.steps[1].threshold <= events.steps[0].threshold);
        QCOMPARE(events.steps[1].countBelow, selection.target);  // continuous: no tie
        QCOMPARE(int(events.thresholds.size()), 1);
        const gp::ThresholdEvent& t = events.thresholds[0];
        QCOMPARE(t.method, std::string("exact"));
        QCOMPARE(t.group, std::string("global"));
        QCOMPARE(t.selected, t.target);
        QCOMPARE(t.total, source.totalNumel());
        QVERIFY(t.extraBytes > 0);
        QCOMPARE(float(t.threshold), float(selection.threshold));
        // The threshold is the k-th smallest score itself.
        std::vector<at::Tensor> flat;
        for (int64_t i = 0; i < source.layerCount(); ++i)
            flat.push_back(source.scores(i).reshape(-1));
        QCOMPARE(float(selection.threshold),
                 std::get<0>(at::kthvalue(at::cat(flat), selection.target)).item<float>());
    }

    // Ties at the threshold go to the earlier layers first, then to lower indices.
    void tiesGoToEarlierLayersFirst() {
        const gp::TensorScoreSource source(
            {{"a", at::full({2, 3}, 1.f)}, {"b", at::full({2, 3}, 1.f)}, {"c", at::zeros({1, 4})}});
        gp::SelectionOptions options;
        options.sparsity = 0.5;  // k = 8: the four zeros, then four of the twelve ties
        const gp::Selection selection = gp::selectScores(source, options);
        QCOMPARE(selection.layers[0].cut.ties, int64_t(4));
        QCOMPARE(selection.layers[1].cut.ties, int64_t(0));
        QVERIFY(at::equal(gp::layerMask(selection, source, 0),
                          at::tensor({1, 1, 1, 1, 0, 0}).to(at::kBool).reshape({2, 3})));
        QVERIFY(!gp::layerMask(selection, source, 1).any().item<bool>());
        QVERIFY(gp::layerMask(selection, source, 2).all().item<bool>());
    }

private:
    std::unique_ptr<gp::TensorScoreSource> m_studentT;
};

QTEST_GUILESS_MAIN(TestSelect)
#include "tst_select.moc"
