// What the methods do to real models (issue 7): on the built-in demo model and on a model trained
// here on WikiText, 50% unstructured WANDA keeps perplexity below 50% magnitude; the probe changes
// the mask, and its effect on perplexity is measured and printed, not assumed. Same seed, same
// result; a cancelled run leaves bit-identical weights.
#include <ATen/ATen.h>
#include <QtTest/QtTest>

#include "core/api/engine.h"
#include "core/eval/calibration.h"
#include "core/eval/perplexity.h"
#include "core/eval/token_stream.h"
#include "core/io/text_file.h"
#include "core/prune/pruner.h"
#include "core/tokenizer/bpe_trainer.h"
#include "core/train/trainer.h"
#include "tests/support/test_support.h"

using namespace gp;

namespace {

// Each method with its usual comparison group: magnitude one global threshold (GradProbe's
// optimized version), WANDA per output row (the Wanda paper). WANDA with one global threshold
// compares scores of different activation scales across layers and does badly (measured in
// the README's table), which is why the CLI defaults --group by method.
PruneOptions demoOptions(const std::string& method, bool probe) {
    PruneOptions options;
    options.method = method;
    options.group = method == "wanda" ? "row" : "global";
    options.sparsity = 0.5;
    options.nsamples = 32;
    options.seqlen = 128;
    options.probe.enabled = probe;
    options.probe.threshold = method == "wanda" ? 1.0 : 2.0;  // the TinyStories examples' taus
    options.probe.batches = 4;
    return options;
}

int64_t restoredOf(const PruneResult& result) {
    int64_t restored = 0;
    for (const LayerResultEvent& layer : result.layers) restored += layer.restored;
    return restored;
}

// A small LLaMA trained on the first 90% of WikiText-2 test with a byte-level BPE trained on the
// same part; held-out windows come from the last 10%.
struct WikiModel {
    std::unique_ptr<CausalLM> model;
    at::Tensor calibration, evaluation;
};

WikiModel trainOnWikiText(const std::string& path) {
    const std::string text = readTextFile(path);
    const size_t split = text.size() * 9 / 10;
    const std::string train = text.substr(0, split), heldOut = text.substr(split);
    const auto tokenizer = tokenizerFromJsonText(trainByteLevelBpe(train, 512, {}), "wiki bpe");
    const std::vector<int32_t> trainIds = tokenizeText(*tokenizer, train, {}, path);
    const std::vector<int32_t> heldOutIds = tokenizeText(*tokenizer, heldOut, {}, path);
    const ModelConfig config = parseModelConfig(R"({"model_type": "llama", "vocab_size": 512,
        "hidden_size": 64, "intermediate_size": 172, "num_hidden_layers": 3,
        "num_attention_heads": 8, "num_key_value_heads": 4, "max_position_embeddings": 128,
        "tie_word_embeddings": true})", "wiki config");
    WikiModel wiki;
    wiki.model = createCausalLM(config, initialWeights(config, 5), "wiki");
    TrainOptions options;
    options.steps = 800;
    options.batchSize = 16;
    options.seqlen = 64;
    options.learningRate = 5e-3;
    options.minLearningRate = 5e-4;
    options.warmupSteps = 20;
    options.seed = 5;
    const TrainReport report = trainCausalLM(*wiki.model, trainIds, options);
    qInfo("WikiText model: %lld training tokens, final loss %.3f, %.1f s",
          (long long)trainIds.size(), report.finalLoss, report.seconds);
    wiki.calibration = sampleCalibrationWindows(trainIds, {32, 65, 7}, path);
    wiki.evaluation = cutWindows(heldOutIds, 65, 64, path);
    return wiki;
}

double pruneWiki(WikiModel& wiki, const std::string& method, bool probe, int64_t* restored,
                 const std::string& group = "") {
    std::vector<at::Tensor> original;
    const auto layers = wiki.model->prunableWeights();
    for (const PrunableWeight& layer : layers) original.push_back(layer.matrix.clone());
    PruneOptions options = demoOptions(method, probe);
    if (!group.empty()) options.group = group;
    PerplexityOptions perplexity;
    perplexity.seqlen = 65;
    CausalLM& model = *wiki.model;
    const at::Tensor evaluation = wiki.evaluation;
    PruneInputs inputs{wiki.model.get(), layers, wiki.calibration,
                       [&model, evaluation, perplexity] {
                           return evaluatePerplexity(model, evaluation, perplexity).ppl;
                       }};
    const PruneResult result = runPrune(inputs, options);
    if (restored) *restored = restoredOf(result);
    qInfo("WikiText %s%s (%s) at 50%%: sparsity %.4f, ppl %.3f -> %.3f", method.c_str(),
          probe ? " + probe" : "", options.group.c_str(), result.sparsity, result.pplBefore,
          result.pplAfter);
    at::NoGradGuard noGrad;
    for (size_t i = 0; i < layers.size(); ++i) layers[i].matrix.copy_(original[i]);
    return result.pplAfter;
}

}  // namespace

class TestPruneQuality : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { initialiseEngine(); }

    void demoModelWandaBeatsMagnitudeAndTheProbeChangesTheMask() {
        const auto session = ModelSession::open(demoModelPath());
        const std::string original = session->weightFingerprint();
        const PruneResult magnitude = session->prune(demoOptions("magnitude", false));
        const PruneResult wanda = session->prune(demoOptions("wanda", false));
        const PruneResult magnitudeProbe = session->prune(demoOptions("magnitude", true));
        const PruneResult wandaProbe = session->prune(demoOptions("wanda", true));
        for (const PruneResult* result : {&magnitude, &wanda, &magnitudeProbe, &wandaProbe})
            qInfo("demo %s%s: sparsity %.4f, ppl %.3f -> %.3f, restored %lld, %.1f s",
                  result->options.method.c_str(), result->options.probe.enabled ? " + probe" : "",
                  result->sparsity, result->pplBefore, result->pplAfter,
                  (long long)restoredOf(*result), result->seconds.at("total"));
        QCOMPARE(magnitude.sparsity, 0.5);
        QCOMPARE(wanda.sparsity, 0.5);
        QVERIFY2(wanda.pplAfter < magnitude.pplAfter, "wanda must beat magnitude at 50%");
        QVERIFY(magnitude.pplAfter > magnitude.pplBefore);
        // The probe gives weights back: the mask changes, sparsity can only go down.
        QVERIFY(restoredOf(magnitudeProbe) > 0);
        QVERIFY(restoredOf(wandaProbe) > 0);
        QVERIFY(magnitudeProbe.sparsity < magnitude.sparsity);
        QVERIFY(wandaProbe.sparsity < wanda.sparsity);
        // Every run starts from the weights as loaded; restoring gives them back exactly.
        session->restoreOriginal();
        QCOMPARE(session->weightFingerprint(), original);
        session->applyRun(wanda.runId);
        EvalOptions sameWindows;  // the windows and batches the prune runs measured with
        sameWindows.seqlen = 128;
        sameWindows.batchSize = 8;
        QCOMPARE(session->evaluate(sameWindows).ppl, wanda.pplAfter);
    }

    void sameSeedGivesTheSameResult() {
        const auto session = ModelSession::open(demoModelPath());
        PruneOptions options = demoOptions("wanda", true);
        options.seed = 3;
        const PruneResult first = session->prune(options);
        const std::string firstWeights = session->weightFingerprint();
        const PruneResult second = session->prune(options);
        QCOMPARE(session->weightFingerprint(), firstWeights);
        QCOMPARE(second.pplAfter, first.pplAfter);
        QCOMPARE(second.prunedParameters, first.prunedParameters);
        options.seed = 4;  // other calibration windows: another probe outcome
        session->prune(options);
        QVERIFY(session->weightFingerprint() != firstWeights);
    }

    void cancelAtEveryStageRestoresBitIdenticalWeights_data() {
        QTest::addColumn<int>("stage");
        QTest::newRow("calibrate") << int(Stage::Calibrate);
        QTest::newRow("select") << int(Stage::Select);
        QTest::newRow("probe") << int(Stage::Probe);
        QTest::newRow("evaluate") << int(Stage::Evaluate);
    }
    void cancelAtEveryStageRestoresBitIdenticalWeights() {
        QFETCH(int, stage);
        const auto session = ModelSession::open(demoModelPath());
        const std::string original = session->weightFingerprint();
        struct CancelAt : RunObserver {
            Stage stage;
            CancelToken* token;
            int evaluations = 0;
            void onStage(const StageEvent& event) override {
                // The second evaluation is the one after pruning: the weights are changed then.
                if (event.stage == Stage::Evaluate && !event.finished) ++evaluations;
                if (event.stage == stage && (stage != Stage::Evaluate || evaluations == 2))
                    token->cancel();
            }
        } trigger;
        CancelToken cancel;
        trigger.stage = Stage(stage);
        trigger.token = &cancel;
        PruneOptions options = demoOptions("wanda", true);
        const PruneResult result = session->prune(options, &trigger, &cancel);
        QVERIFY(result.cancelled);
        QCOMPARE(session->weightFingerprint(), original);
    }

    void wikiTextWandaBeatsMagnitude() {
        GP_REQUIRE_DATA(path, "wikitext2/wiki.test.raw");
        WikiModel wiki = trainOnWikiText(path);
        int64_t restoredMagnitude = 0, restoredWanda = 0;
        for (const char* group : {"global", "layer", "row"}) {
            pruneWiki(wiki, "magnitude", false, nullptr, group);
            pruneWiki(wiki, "wanda", false, nullptr, group);
        }
        const double magnitude = pruneWiki(wiki, "magnitude", false, nullptr);
        const double wanda = pruneWiki(wiki, "wanda", false, nullptr);
        pruneWiki(wiki, "magnitude", true, &restoredMagnitude);
        pruneWiki(wiki, "wanda", true, &restoredWanda);
        QVERIFY2(wanda < magnitude, "wanda must beat magnitude at 50% on the WikiText model");
        QVERIFY(restoredMagnitude > 0);
        QVERIFY(restoredWanda > 0);
    }
};

QTEST_GUILESS_MAIN(TestPruneQuality)
#include "tst_prune_quality.moc"
