// Block-wise processing (core/prune/blockwise.h): one block resident at a time gives the same
// bits as the whole model — perplexity, WANDA norms, probe gradients on every architecture, and
// whole prune runs of the demo model (masks and perplexity) — including bf16 and fp16 checkpoints
// kept mapped while their blocks run in fp32. The sequential scheme ("pruned" block inputs) is checked
// against a reference written here from the Wanda loop's description.
#include <QtTest/QtTest>

#include <c10/core/GradMode.h>

#include <filesystem>

#include "core/api/engine.h"
#include "core/api/session_impl.h"
#include "core/eval/calibration.h"
#include "core/eval/perplexity.h"
#include "core/io/safetensors.h"
#include "core/prune/activation_norms.h"
#include "core/prune/blockwise.h"
#include "core/prune/gradient_probe.h"
#include "core/runtime/error.h"
#include "tests/core/tiny_checkpoints.h"
#include "tests/support/test_support.h"

using namespace gp;
namespace fs = std::filesystem;

namespace {

void addArchitectureRows() {
    QTest::addColumn<QString>("modelType");
    for (const char* type : {"llama", "mistral", "gpt_neo", "gpt2", "mlp"})
        QTest::newRow(type) << QString(type);
}

// Prune options small enough for a test: few windows, short evaluation.
PruneOptions quickOptions(const std::string& method, const std::string& group, bool probe) {
    PruneOptions o;
    o.method = method;
    o.group = group;
    o.sparsity = 0.5;
    o.nsamples = 12;
    o.seqlen = 64;
    o.batchSize = 4;
    o.evalMaxWindows = 6;
    o.probe.enabled = probe;
    o.probe.batches = 2;
    o.probe.threshold = 0.0;
    return o;
}

// "is zero" per prunable layer, on the CPU.
std::vector<at::Tensor> zeroMasks(ModelSession& session) {
    std::vector<at::Tensor> masks;
    for (const PrunableWeight& weight : session.impl().prunable)
        masks.push_back((weight.matrix == 0).cpu());
    return masks;
}

void compareMasks(const std::vector<at::Tensor>& actual, const std::vector<at::Tensor>& expected,
                  const std::vector<PrunableWeight>& layers) {
    QCOMPARE(actual.size(), expected.size());
    for (size_t i = 0; i < actual.size(); ++i)
        QVERIFY2(at::equal(actual[i], expected[i]),
                 qPrintable(QString("%1: %2 of %3 mask entries differ")
                                .arg(QString::fromStdString(layers[i].name))
                                .arg((actual[i] != expected[i]).sum().item<int64_t>())
                                .arg(actual[i].numel())));
}

// The demo model with its floating tensors stored in `dtype` (config, tokenizer and texts beside).
std::string writeDemoAs(const fs::path& folder, at::ScalarType dtype) {
    fs::create_directories(folder);
    const fs::path demo = demoModelPath();
    for (const char* file : {"config.json", "tokenizer.json", "calibration.txt", "evaluation.txt"})
        fs::copy_file(demo / file, folder / file, fs::copy_options::overwrite_existing);
    const auto source = SafetensorsFile::open((demo / "model.safetensors").string());
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const SafetensorsEntry& entry : source->entries())
        tensors.emplace_back(entry.name, source->tensor(entry.name).to(dtype));
    writeSafetensors((folder / "model.safetensors").string(), tensors);
    return folder.string();
}

}  // namespace

class TestBlockwise : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { initialiseEngine(); }

    // ---- the passes, on every architecture (tied heads, GPT-2's transposed Conv1D) ----

    void perplexityEqualsWholeModel_data() { addArchitectureRows(); }
    void perplexityEqualsWholeModel() {
        QFETCH(QString, modelType);
        const auto model = test::tinyModel(modelType.toStdString());
        const at::Tensor windows = test::tinyIds(7, 12, model->config().vocabSize, 11);
        PerplexityOptions options;
        options.batchSize = 3;  // 3 + 3 + 1: a short last batch too
        const PerplexityResult whole = evaluatePerplexity(*model, windows, options);
        const PerplexityResult blockwise =
            evaluatePerplexityBlockwise(*model, ComputeSpec{}, windows, options);
        QCOMPARE(blockwise.tokens, whole.tokens);
        QCOMPARE(blockwise.nll, whole.nll);  // the same bits
        QVERIFY(std::isfinite(whole.nll) && whole.nll > 0.0);
    }

    void activationNormsEqualWholeModel_data() {
        QTest::addColumn<QString>("modelType");
        QTest::addColumn<QString>("statistic");
        for (const char* type : {"llama", "gpt_neo", "gpt2", "mlp"})
            for (const char* statistic : {"paper", "library"})
                QTest::newRow(qPrintable(QString("%1 %2").arg(type, statistic)))
                    << QString(type) << QString(statistic);
    }
    void activationNormsEqualWholeModel() {
        QFETCH(QString, modelType);
        QFETCH(QString, statistic);
        const auto model = test::tinyModel(modelType.toStdString());
        const std::vector<PrunableWeight> layers = model->prunableWeights(true);
        const at::Tensor windows = test::tinyIds(5, 10, model->config().vocabSize, 4);
        const NormStatistic norm = parseNormStatistic(statistic.toStdString());
        const auto whole = collectActivationNorms(*model, layers, windows, 2, norm);
        const auto blockwise =
            collectActivationNormsBlockwise(*model, ComputeSpec{}, layers, windows, 2, norm);
        QCOMPARE(blockwise.size(), layers.size());
        for (const PrunableWeight& layer : layers) {
            QVERIFY2(at::equal(blockwise.at(layer.name), whole.at(layer.name)),
                     layer.name.c_str());
            QVERIFY(whole.at(layer.name).gt(0).all().item<bool>());
        }
    }

    // Every prunable layer, the (tied) head included: the backward pass run block by block from
    // stored boundary states gives the whole model's gradient maxima.
    void gradientMaximaEqualWholeModel_data() { addArchitectureRows(); }
    void gradientMaximaEqualWholeModel() {
        QFETCH(QString, modelType);
        const auto model = test::tinyModel(modelType.toStdString());
        const std::vector<PrunableWeight> layers = model->prunableWeights(true);
        std::vector<int64_t> all(layers.size());
        for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
        const at::Tensor windows = test::tinyIds(5, 10, model->config().vocabSize, 8);
        const GradientRecording recording{3, 2, false};
        const auto whole = recordGradientMaxima(*model, layers, all, windows, recording);
        const auto blockwise = recordGradientMaximaBlockwise(*model, ComputeSpec{}, layers, all,
                                                             windows, recording);
        QCOMPARE(blockwise.size(), whole.size());
        for (size_t i = 0; i < whole.size(); ++i) {
            GP_COMPARE_TENSORS(blockwise[i], whole[i], 0.0, 0.0);
            QVERIFY2(whole[i].gt(0).any().item<bool>(), layers[i].name.c_str());
        }
        // Only some layers (the backward pass stops at the lowest block that has one).
        const std::vector<int64_t> some = {int64_t(layers.size()) - 2};
        const auto wholeSome = recordGradientMaxima(*model, layers, some, windows, recording);
        const auto blockSome = recordGradientMaximaBlockwise(*model, ComputeSpec{}, layers, some,
                                                             windows, recording);
        GP_COMPARE_TENSORS(blockSome[0], wholeSome[0], 0.0, 0.0);  // the same bits
        // Nothing is left requiring gradients or resident elsewhere.
        for (const auto& [name, tensor] : model->weights()) QVERIFY(!tensor.requires_grad());
    }

    // Materialised in another dtype: a copy; written back converted; the host tensor returns.
    void residentTensorsCopyConvertAndWriteBack() {
        const auto model = test::tinyModel("llama");
        const std::string name = model->blockWeightNames(1).front();
        const at::Tensor host = model->weights().at(name);
        const at::Tensor before = host.clone();
        {
            ResidentTensors resident(*model, model->blockWeightNames(1),
                                     ComputeSpec{at::kCPU, at::kDouble});
            at::Tensor& inBlock = model->weights().at(name);
            QCOMPARE(inBlock.scalar_type(), at::kDouble);
            QVERIFY(!inBlock.is_same(host));
            inBlock.mul_(0.5);
            QVERIFY(at::equal(host, before));  // a copy: the host is untouched until written back
            resident.writeBack();
        }
        QVERIFY(model->weights().at(name).is_same(host));
        QCOMPARE(host.scalar_type(), at::kFloat);
        GP_COMPARE_TENSORS(host, before * 0.5, 0.0, 0.0);
    }

    // ---- whole runs on the demo model: identical masks and perplexity ----

    void demoRunEqualsWholeModel_data() {
        QTest::addColumn<QString>("method");
        QTest::addColumn<QString>("group");
        QTest::addColumn<bool>("probe");
        QTest::addColumn<QString>("schedule");
        QTest::addColumn<bool>("includeHead");
        QTest::newRow("magnitude global") << "magnitude" << "global" << false << "oneshot" << false;
        QTest::newRow("wanda row") << "wanda" << "row" << false << "oneshot" << false;
        QTest::newRow("wanda global + head") << "wanda" << "global" << false << "oneshot" << true;
        QTest::newRow("wanda 2:4") << "wanda" << "nm" << false << "oneshot" << false;
        QTest::newRow("magnitude + probe") << "magnitude" << "global" << true << "oneshot" << false;
        QTest::newRow("wanda row + probe + head") << "wanda" << "row" << true << "oneshot" << true;
        QTest::newRow("layer-wise probe") << "magnitude" << "layer" << true << "layerwise" << false;
        QTest::newRow("sparsegpt layer + head") << "sparsegpt" << "layer" << false << "oneshot" << true;
        QTest::newRow("sparsegpt 2:4") << "sparsegpt" << "nm" << false << "oneshot" << false;
    }
    void demoRunEqualsWholeModel() {
        QFETCH(QString, method);
        QFETCH(QString, group);
        QFETCH(bool, probe);
        QFETCH(QString, schedule);
        QFETCH(bool, includeHead);
        PruneOptions options = quickOptions(method.toStdString(), group.toStdString(), probe);
        options.schedule = schedule.toStdString();
        LoadOptions load;
        load.includeHead = includeHead;
        const auto whole = ModelSession::open(demoModelPath(), load);
        const PruneResult wholeResult = whole->prune(options);

        load.blockwise = true;
        const auto blockwise = ModelSession::open(demoModelPath(), load);
        const PruneResult blockResult = blockwise->prune(options);  // blockwise implied
        QVERIFY(blockResult.options.blockwise);
        QVERIFY(!wholeResult.options.blockwise);

        compareMasks(zeroMasks(*blockwise), zeroMasks(*whole), whole->impl().prunable);
        QCOMPARE(blockwise->weightFingerprint(), whole->weightFingerprint());
        QCOMPARE(blockResult.prunedParameters, wholeResult.prunedParameters);
        QCOMPARE(blockResult.pplBefore, wholeResult.pplBefore);
        QCOMPARE(blockResult.pplAfter, wholeResult.pplAfter);
        QVERIFY(wholeResult.pplAfter > wholeResult.pplBefore);
        QVERIFY(probe ? wholeResult.prunedParameters > 1000 : wholeResult.sparsity > 0.3);
        if (probe) {
            int64_t restored = 0;
            for (const LayerResultEvent& layer : blockResult.layers) restored += layer.restored;
            QVERIFY2(restored > 0, "the probe restored no candidate: the test would not notice "
                                   "gradients that differ");
        }
        qInfo("%s: ppl %.4f -> %.4f both ways, %lld pruned", qPrintable(QTest::currentDataTag()),
              wholeResult.pplBefore, wholeResult.pplAfter, (long long)wholeResult.prunedParameters);
    }

    // A bf16 (or fp16) checkpoint: block-wise keeps it mapped as stored and runs each block in
    // fp32; the whole-model run converts it to fp32 at load. Same masks, same perplexity;
    // evaluate agrees.
    void halfCheckpointStaysMappedAndAgrees_data() {
        QTest::addColumn<int>("stored");
        QTest::newRow("bf16") << int(at::kBFloat16);
        QTest::newRow("fp16") << int(at::kHalf);
    }
    void halfCheckpointStaysMappedAndAgrees() {
        QFETCH(int, stored);
        const auto dtype = at::ScalarType(stored);
        QTemporaryDir scratch;
        const std::string folder = writeDemoAs(fs::path(scratch.path().toStdString()) / "half", dtype);
        LoadOptions load;
        load.dtype = "fp32";
        const auto whole = ModelSession::open(folder, load);
        load.blockwise = true;
        const auto blockwise = ModelSession::open(folder, load);
        for (const auto& [name, tensor] : blockwise->impl().model->weights())
            QCOMPARE(tensor.scalar_type(), dtype);  // never converted as a whole

        EvalOptions eval;
        eval.maxWindows = 6;
        eval.seqlen = 64;
        QCOMPARE(blockwise->evaluate(eval).nll, whole->evaluate(eval).nll);

        const PruneOptions options = quickOptions("wanda", "row", true);
        const PruneResult wholeResult = whole->prune(options);
        const PruneResult blockResult = blockwise->prune(options);
        compareMasks(zeroMasks(*blockwise), zeroMasks(*whole), whole->impl().prunable);
        QCOMPARE(blockResult.pplAfter, wholeResult.pplAfter);
        for (const PrunableWeight& weight : blockwise->impl().prunable)
            QCOMPARE(weight.matrix.scalar_type(), dtype);  // written back as stored
        // The input file is never written: its weights are what they were.
        const auto reopened = ModelSession::open(folder, LoadOptions{});
        QCOMPARE(reopened->impl().prunable.front().matrix.eq(0).sum().item<int64_t>(), int64_t(0));
    }

    // On a GPU (tests/bench/cuda_check.sh): block-wise with the blocks on the GPU gives the bits
    // of the whole model on the GPU, and the CPU's masks up to float rounding. Skipped without.
    void gpuBlockwiseEqualsGpuWholeModel() {
        if (!at::hasCUDA()) QSKIP("no CUDA device (LibTorch without CUDA, or no GPU)");
        const PruneOptions options = quickOptions("wanda", "row", true);
        LoadOptions load;
        load.device = "cuda";
        const auto whole = ModelSession::open(demoModelPath(), load);
        const PruneResult wholeResult = whole->prune(options);
        load.blockwise = true;
        const auto blockwise = ModelSession::open(demoModelPath(), load);
        const PruneResult blockResult = blockwise->prune(options);
        QVERIFY(blockwise->impl().prunable.front().matrix.is_cpu());  // mapped on the host
        compareMasks(zeroMasks(*blockwise), zeroMasks(*whole), whole->impl().prunable);
        QCOMPARE(blockResult.pplAfter, wholeResult.pplAfter);
        QVERIFY(blockResult.peakVramBytes > 0);

        const auto cpu = ModelSession::open(demoModelPath());
        const PruneResult cpuResult = cpu->prune(options);
        const std::vector<at::Tensor> cpuMasks = zeroMasks(*cpu), gpuMasks = zeroMasks(*whole);
        int64_t differ = 0, total = 0;
        for (size_t i = 0; i < cpuMasks.size(); ++i) {
            differ += (cpuMasks[i] != gpuMasks[i]).sum().item<int64_t>();
            total += cpuMasks[i].numel();
        }
        qInfo("GPU vs CPU: %lld of %lld mask entries differ; ppl %.6f vs %.6f", (long long)differ,
              (long long)total, wholeResult.pplAfter, cpuResult.pplAfter);
        QVERIFY(double(differ) < 0.001 * double(total));
        QVERIFY(std::abs(wholeResult.pplAfter - cpuResult.pplAfter) < 1e-3 * cpuResult.pplAfter);
    }

    // bf16 compute too: the blocks run in bf16 (no copy: the mapped tensors are used as they
    // are), the scores in fp32, the same bits as the whole model loaded in bf16.
    void bf16ComputeAgrees() {
        QTemporaryDir scratch;
        const std::string folder =
            writeDemoAs(fs::path(scratch.path().toStdString()) / "bf16", at::kBFloat16);
        LoadOptions load;
        load.dtype = "bf16";
        const auto whole = ModelSession::open(folder, load);
        load.blockwise = true;
        const auto blockwise = ModelSession::open(folder, load);
        const PruneOptions options = quickOptions("wanda", "row", false);
        const PruneResult wholeResult = whole->prune(options);
        const PruneResult blockResult = blockwise->prune(options);
        compareMasks(zeroMasks(*blockwise), zeroMasks(*whole), whole->impl().prunable);
        QCOMPARE(blockResult.pplBefore, wholeResult.pplBefore);
        QCOMPARE(blockResult.pplAfter, wholeResult.pplAfter);
        QVERIFY(std::isfinite(wholeResult.pplAfter) && wholeResult.pplAfter < 3.0);
    }

    // ---- the sequential scheme ----

    // Reference: for each block, WANDA norms of its linear inputs from the states that came
    // through the pruned blocks before, per output row the lowest half of |W| * norm zeroed
    // (ties by lower index), then the states go through the pruned block.
    void prunedInputsFollowTheWandaLoop() {
        PruneOptions options = quickOptions("wanda", "row", false);
        options.blockwise = true;
        options.blockInputs = "pruned";
        options.evaluate = false;
        LoadOptions load;
        load.blockwise = true;
        const auto session = ModelSession::open(demoModelPath(), load);
        const PruneResult result = session->prune(options);
        const std::vector<at::Tensor> masks = zeroMasks(*session);

        // The reference, on a fresh copy of the model, with plain ATen.
        const auto fresh = ModelSession::open(demoModelPath());
        CausalLM& model = *fresh->impl().model;
        const std::vector<PrunableWeight> layers = fresh->impl().prunable;
        // The calibration windows the session sampled, drawn again the same way.
        CalibrationOptions sampling;
        sampling.nsamples = options.nsamples;
        sampling.seqlen = options.seqlen;
        sampling.seed = options.seed;
        const std::string calibPath = fresh->impl().checkpoint.calibrationTextPath;
        const at::Tensor calibration = sampleCalibrationWindows(
            fresh->impl().tokenizeFile(calibPath, ""), sampling, calibPath);
        at::NoGradGuard noGrad;
        std::vector<at::Tensor> states;
        for (int64_t start = 0; start < calibration.size(0); start += options.batchSize) {
            const at::Tensor batch = calibration.slice(0, start, start + options.batchSize);
            states.push_back(model.embed(batch));  // every id, as Wanda feeds its samples
        }
        std::vector<at::Tensor> expected(layers.size());
        for (int64_t block = 0; block < model.numBlocks(); ++block) {
            std::map<std::string, at::Tensor> squares;
            model.setLinearInputTap([&](const std::string& name, const at::Tensor& input) {
                const at::Tensor sum =
                    input.reshape({-1, input.size(-1)}).to(at::kDouble).square().sum(0);
                squares[name] = squares.count(name) ? squares[name] + sum : sum;
            });
            for (const at::Tensor& state : states) model.block(block, state);
            model.setLinearInputTap({});
            for (size_t i = 0; i < layers.size(); ++i) {
                if (layers[i].block != block) continue;
                const at::Tensor norm = squares.at(layers[i].name).sqrt().to(at::kFloat);
                const at::Tensor score = layers[i].matrix.abs() * norm.unsqueeze(0);
                const int64_t k = int64_t(0.5 * double(score.size(1)));
                // Stable ascending sort per row: ties by lower index first.
                const at::Tensor order = std::get<1>(score.sort(/*stable=*/true, 1, false));
                at::Tensor mask = at::zeros_like(score, at::kBool);
                mask.scatter_(1, order.slice(1, 0, k), true);
                layers[i].matrix.masked_fill_(mask, 0);
            }
            for (at::Tensor& state : states) state = model.block(block, state);
        }
        for (size_t i = 0; i < layers.size(); ++i) expected[i] = layers[i].matrix == 0;
        compareMasks(masks, expected, layers);
        QCOMPARE(result.sparsity, 0.5);

        // It is a different scheme: later blocks see pruned inputs and choose other weights.
        const auto original = ModelSession::open(demoModelPath());
        PruneOptions originalOptions = options;
        originalOptions.blockInputs = "original";
        original->prune(originalOptions);
        const std::vector<at::Tensor> originalMasks = zeroMasks(*original);
        int64_t differing = 0;
        for (size_t i = 0; i < masks.size(); ++i)
            differing += (masks[i] != originalMasks[i]).sum().item<int64_t>();
        for (size_t i = 0; i < masks.size(); ++i)
            if (layers[i].block == 0)  // the first block sees the embeddings either way
                QVERIFY2(at::equal(masks[i], originalMasks[i]), layers[i].name.c_str());
        QVERIFY2(differing > 0, "pruned inputs chose exactly the original-input masks");
    }

    // ---- refusals ----

    void refusesWhatItCannotDo_data() {
        QTest::addColumn<QString>("change");
        QTest::addColumn<QString>("option");
        QTest::newRow("pruned + global") << "global" << "--group";
        QTest::newRow("pruned + probe") << "probe" << "--probe";
        QTest::newRow("pruned + layer-wise") << "layerwise" << "--schedule";
        QTest::newRow("pruned without --blockwise") << "whole" << "--block-inputs";
        QTest::newRow("unknown block inputs") << "unknown" << "--block-inputs";
    }
    void refusesWhatItCannotDo() {
        QFETCH(QString, change);
        QFETCH(QString, option);
        PruneOptions options = quickOptions("wanda", "row", false);
        options.blockwise = true;
        options.blockInputs = "pruned";
        if (change == "global") options.group = "global";
        if (change == "probe") options.probe.enabled = true;
        if (change == "layerwise") options.schedule = "layerwise";
        if (change == "whole") options.blockwise = false;
        if (change == "unknown") options.blockInputs = "sideways";
        const auto session = ModelSession::open(demoModelPath());
        const std::string before = session->weightFingerprint();
        try {
            session->prune(options);
            QFAIL("accepted");
        } catch (const Error& error) {
            QCOMPARE(int(error.kind()), int(ErrorKind::BadArgument));
            QVERIFY2(QString(error.what()).contains(option), error.what());
        }
        QCOMPARE(session->weightFingerprint(), before);
    }

    // A block-wise session keeps no copy of the weights as loaded: one run, then reopen.
    void blockwiseSessionPrunesOnce() {
        LoadOptions load;
        load.blockwise = true;
        const auto session = ModelSession::open(demoModelPath(), load);
        PruneOptions options = quickOptions("magnitude", "global", false);
        options.evaluate = false;
        session->preview({});  // before the run: reads the mapped weights
        session->prune(options);
        for (const std::function<void()>& again :
             std::vector<std::function<void()>>{[&] { session->prune(options); },
                                                [&] { session->restoreOriginal(); },
                                                [&] { session->preview({}); }}) {
            try {
                again();
                QFAIL("accepted");
            } catch (const Error& error) {
                QVERIFY2(QString(error.what()).contains("open the model again"), error.what());
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestBlockwise)
#include "tst_blockwise.moc"
