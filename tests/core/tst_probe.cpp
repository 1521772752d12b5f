// The pruning methods on tiny models (issue 7): the probe's gradients and decision against a
// backward pass worked out by hand, WANDA's activation norms against stored activations,
// layer-wise pruning seeing earlier layers pruned, the iterative schedule's stop and restore,
// cancellation and determinism.
#include <ATen/ATen.h>
#include <QtTest/QtTest>

#include <random>

#include "core/eval/calibration.h"
#include "core/eval/perplexity.h"
#include "core/prune/activation_norms.h"
#include "core/prune/blockwise.h"
#include "core/prune/gradient_probe.h"
#include "core/prune/pruner.h"
#include "core/prune/wanda_scores.h"
#include "core/runtime/error.h"
#include "core/train/trainer.h"
#include "tests/core/tiny_checkpoints.h"
#include "tests/support/test_support.h"

using namespace gp;

namespace {

// The gradients of the mean next-token cross-entropy of a one-block `mlp` model with respect to
// fc1 and fc2, by the chain rule written out per position:
//   h0 = E[x], a = W1 h0 + b1, r = relu(a), h1 = h0 + W2 r + b2, z = H h1,
//   dz = (softmax(z) - onehot(y)) / N, dh1 = H^T dz, dW2 = dh1 r^T,
//   da = (W2^T dh1) * [a > 0], dW1 = da h0^T.
struct MlpGradients {
    at::Tensor fc1, fc2;
};

MlpGradients handGradients(const WeightMap& w, const at::Tensor& windows) {
    const at::Tensor E = w.at("embed.weight").to(at::kDouble);
    const at::Tensor W1 = w.at("blocks.0.fc1.weight").to(at::kDouble);
    const at::Tensor b1 = w.at("blocks.0.fc1.bias").to(at::kDouble);
    const at::Tensor W2 = w.at("blocks.0.fc2.weight").to(at::kDouble);
    const at::Tensor b2 = w.at("blocks.0.fc2.bias").to(at::kDouble);
    const at::Tensor H = w.at("lm_head.weight").to(at::kDouble);
    at::Tensor dW1 = at::zeros_like(W1), dW2 = at::zeros_like(W2);
    const int64_t predicted = windows.size(1) - 1;
    const double positions = double(windows.size(0) * predicted);
    for (int64_t n = 0; n < windows.size(0); ++n) {
        for (int64_t t = 0; t < predicted; ++t) {
            const int64_t x = windows[n][t].item<int64_t>(), y = windows[n][t + 1].item<int64_t>();
            const at::Tensor h0 = E[x];
            const at::Tensor a = at::mv(W1, h0) + b1;
            const at::Tensor r = a.clamp_min(0);
            const at::Tensor h1 = h0 + at::mv(W2, r) + b2;
            at::Tensor dz = at::softmax(at::mv(H, h1), 0);
            dz[y] -= 1.0;
            dz /= positions;
            const at::Tensor dh1 = at::mv(H.t(), dz);
            dW2 += at::outer(dh1, r);
            const at::Tensor da = at::mv(W2.t(), dh1) * (a > 0).to(at::kDouble);
            dW1 += at::outer(da, h0);
        }
    }
    return {dW1, dW2};
}

std::unique_ptr<CausalLM> oneBlockMlp(uint64_t seed = 11) {
    return test::tinyModel("mlp", {{"num_hidden_layers", 1}}, seed, at::kDouble);
}

std::vector<at::Tensor> cloneMatrices(const std::vector<PrunableWeight>& layers) {
    std::vector<at::Tensor> copies;
    for (const PrunableWeight& layer : layers) copies.push_back(layer.matrix.clone());
    return copies;
}

bool sameWeights(const std::vector<PrunableWeight>& layers, const std::vector<at::Tensor>& copies) {
    for (size_t i = 0; i < layers.size(); ++i)
        if (!at::equal(layers[i].matrix, copies[i])) return false;
    return true;
}

// A tiny LLaMA trained to follow x -> (5x + 3) mod 23 with occasional random jumps, so pruning
// it costs perplexity (an untrained model can even improve when pruned).
std::unique_ptr<CausalLM> trainedTinyLlama(uint64_t seed) {
    auto model = test::tinyModel("llama", nlohmann::json::object(), seed);
    std::vector<int32_t> stream;
    std::mt19937_64 random(seed);
    int32_t x = 0;
    for (int i = 0; i < 4000; ++i) {
        x = (random() % 10 == 0) ? int32_t(random() % 23) : (5 * x + 3) % 23;
        stream.push_back(x);
    }
    TrainOptions train;
    train.steps = 150;
    train.batchSize = 16;
    train.seqlen = 12;
    train.learningRate = 1e-2;
    train.minLearningRate = 1e-3;
    train.warmupSteps = 10;
    train.seed = seed;
    trainCausalLM(*model, stream, train);
    return model;
}

// Windows of the same process as trainedTinyLlama's text (held out: another seed).
at::Tensor patternWindows(int64_t count, int64_t length, uint64_t seed) {
    std::mt19937_64 random(seed);
    at::Tensor windows = at::empty({count, length}, at::kLong);
    int32_t x = 1;
    for (int64_t n = 0; n < count; ++n)
        for (int64_t t = 0; t < length; ++t) {
            x = (random() % 10 == 0) ? int32_t(random() % 23) : (5 * x + 3) % 23;
            windows[n][t] = x;
        }
    return windows;
}

// Perplexity of `model` on fixed windows: the callback the pruner measures with.
std::function<double()> perplexityOf(const CausalLM& model, const at::Tensor& windows) {
    return [&model, windows] {
        PerplexityOptions options;
        options.seqlen = windows.size(1);
        return evaluatePerplexity(model, windows, options).ppl;
    };
}

}  // namespace

class TestProbe : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void gradientMaximaMatchTheHandWorkedBackwardPass() {
        auto model = oneBlockMlp();
        const auto layers = model->prunableWeights();
        const at::Tensor windows = test::tinyIds(6, 5, 23, 5);
        GradientRecording recording{3, 2, false};  // batches of windows {0,1}, {2,3}, {4,5}
        const auto maxima = recordGradientMaxima(*model, layers, {0, 1}, windows, recording);
        at::Tensor expected1 = at::zeros_like(maxima[0], at::kDouble);
        at::Tensor expected2 = at::zeros_like(maxima[1], at::kDouble);
        for (int64_t b = 0; b < 3; ++b) {
            const MlpGradients hand = handGradients(model->weights(), windows.narrow(0, 2 * b, 2));
            expected1 = at::maximum(expected1, hand.fc1.abs());
            expected2 = at::maximum(expected2, hand.fc2.abs());
        }
        GP_COMPARE_TENSORS(maxima[0], expected1, 1e-7, 1e-5);
        GP_COMPARE_TENSORS(maxima[1], expected2, 1e-7, 1e-5);
        // The recording leaves no gradient state behind.
        QVERIFY(!model->weights().at("blocks.0.fc1.weight").requires_grad());
        QVERIFY(!model->weights().at("blocks.0.fc1.weight").grad().defined());
    }

    void probeDecisionFollowsTheRule() {
        const auto flags = [](std::vector<int64_t> values) {
            return at::tensor(values, at::kLong).to(at::kBool);
        };
        const at::Tensor candidates = flags({1, 1, 1, 0, 1});
        const at::Tensor g0 = at::tensor({1.0, 1.0, 0.0, 0.0, 2.0}, at::kFloat);
        const at::Tensor g1 = at::tensor({1.4, 1.6, 0.0, 0.0, 2.0}, at::kFloat);
        // tau 0.5: 1.4 <= 1.5 prune, 1.6 > 1.5 restore, 0 <= 0 prune, non-candidate untouched.
        const at::Tensor expected = flags({1, 0, 1, 0, 1});
        QVERIFY(at::equal(probeDecision(candidates, g0, g1, 0.5), expected));
        QVERIFY(at::equal(probeDecision(candidates, g0, g1, 0.0),
                          flags({0, 0, 1, 0, 1})));
    }

    void oneShotProbeEqualsTheRuleAppliedToHandGradients() {
        auto model = oneBlockMlp(21);
        const auto layers = model->prunableWeights();
        const at::Tensor windows = test::tinyIds(4, 6, 23, 9);
        const double tau = 0.2, reduction = 0.1, sparsity = 0.5;
        const WeightMap before = [&] {
            WeightMap copy;
            for (const auto& [name, tensor] : model->weights()) copy[name] = tensor.clone();
            return copy;
        }();

        // By hand: candidates = the 50% smallest |W| of each layer (layer group, exact), G0 on
        // the model, G1 with candidates scaled, prune where G1 <= G0 (1 + tau).
        std::map<std::string, at::Tensor> candidates;
        for (const PrunableWeight& layer : layers) {
            const at::Tensor flat = layer.matrix.abs().flatten();
            const int64_t k = int64_t(std::floor(sparsity * double(flat.numel())));
            const at::Tensor order = at::argsort(flat, /*stable=*/true, 0, false);
            at::Tensor mask = at::zeros({flat.numel()}, at::kBool);
            mask.index_fill_(0, order.narrow(0, 0, k), true);
            candidates[layer.name] = mask.view_as(layer.matrix);
        }
        MlpGradients g0{at::zeros_like(before.at("blocks.0.fc1.weight")),
                        at::zeros_like(before.at("blocks.0.fc2.weight"))};
        MlpGradients g1 = g0;
        WeightMap scaled = before;
        for (const auto& [name, mask] : candidates)
            scaled[name] = at::where(mask, before.at(name) * reduction, before.at(name));
        for (int64_t b = 0; b < 2; ++b) {
            const at::Tensor batch = windows.narrow(0, 2 * b, 2);
            const MlpGradients first = handGradients(before, batch);
            const MlpGradients second = handGradients(scaled, batch);
            g0 = {at::maximum(g0.fc1, first.fc1.abs()), at::maximum(g0.fc2, first.fc2.abs())};
            g1 = {at::maximum(g1.fc1, second.fc1.abs()), at::maximum(g1.fc2, second.fc2.abs())};
        }
        const at::Tensor prune1 = candidates["blocks.0.fc1.weight"].logical_and(
            g1.fc1.to(at::kFloat) <= g0.fc1.to(at::kFloat) * float(1 + tau));
        const at::Tensor prune2 = candidates["blocks.0.fc2.weight"].logical_and(
            g1.fc2.to(at::kFloat) <= g0.fc2.to(at::kFloat) * float(1 + tau));

        PruneOptions options;
        options.sparsity = sparsity;
        options.group = "layer";
        options.probe.enabled = true;
        options.probe.threshold = tau;
        options.probe.reduction = reduction;
        options.probe.batches = 2;
        options.batchSize = 2;
        PruneInputs inputs{model.get(), layers, windows, {}};
        const PruneResult result = runPrune(inputs, options);

        const at::Tensor expected1 = at::where(prune1, 0.0, before.at("blocks.0.fc1.weight"));
        const at::Tensor expected2 = at::where(prune2, 0.0, before.at("blocks.0.fc2.weight"));
        QVERIFY(at::equal(model->weights().at("blocks.0.fc1.weight"), expected1));
        QVERIFY(at::equal(model->weights().at("blocks.0.fc2.weight"), expected2));
        QCOMPARE(result.layers[0].pruned, prune1.sum().item<int64_t>());
        QCOMPARE(result.layers[0].restored,
                 candidates["blocks.0.fc1.weight"].sum().item<int64_t>() - result.layers[0].pruned);
        QVERIFY2(result.layers[0].restored + result.layers[1].restored > 0,
                 "the case must exercise restores");
        QVERIFY(result.sparsity <= sparsity);
    }

    void activationNormsEqualADirectComputationFromStoredActivations_data() {
        QTest::addColumn<QString>("statistic");
        QTest::newRow("paper") << "paper";
        QTest::newRow("library") << "library";
    }
    void activationNormsEqualADirectComputationFromStoredActivations() {
        QFETCH(QString, statistic);
        auto model = test::tinyModel("llama");
        const auto layers = model->prunableWeights();
        const at::Tensor windows = test::tinyIds(5, 9, 23, 4);
        const int64_t batchSize = 2;  // batches of 2, 2, 1 windows

        // Store every input of every linear layer, batch by batch.
        std::map<std::string, std::vector<at::Tensor>> stored;
        model->setLinearInputTap([&](const std::string& name, const at::Tensor& input) {
            stored[name].push_back(input.detach().reshape({-1, input.size(-1)}).to(at::kDouble));
        });
        {
            at::NoGradGuard noGrad;
            for (int64_t start = 0; start < 5; start += batchSize) {
                const at::Tensor batch = windows.narrow(0, start, std::min<int64_t>(batchSize, 5 - start));
                model->forward(batch);  // every id, as Wanda feeds its samples
            }
        }
        model->setLinearInputTap({});

        const auto norms = collectActivationNorms(*model, layers, windows, batchSize,
                                                  parseNormStatistic(statistic.toStdString()));
        for (const PrunableWeight& layer : layers) {
            const auto& batches = stored.at(layer.name);
            QCOMPARE(int(batches.size()), 3);
            at::Tensor expected;
            if (statistic == "paper") {
                expected = at::cat(batches).square().sum(0).sqrt();
            } else {
                expected = at::zeros({layer.matrix.size(1)}, at::kDouble);
                for (const at::Tensor& batch : batches)
                    expected = at::maximum(expected, batch.square().sum(0).sqrt());
            }
            GP_COMPARE_TENSORS(norms.at(layer.name), expected, 1e-6, 1e-5);
        }
        // WANDA's score is |W_ij| * a_j.
        const WandaScoreSource scores(layers, norms);
        GP_COMPARE_TENSORS(scores.scores(0),
                           layers[0].matrix.abs() * norms.at(layers[0].name).unsqueeze(0), 0, 1e-6);
    }

    // Wanda, SparseGPT and the GradProbe library feed every id of a calibration sample and
    // gather input statistics over every position, not over the L-1 inputs of next-token
    // prediction. The `mlp` model's layer inputs over all 5 x 9 positions, worked out from its
    // weights alone, against the whole-model pass, the block-wise pass and the sequential
    // (pruned-inputs) scheme's norms.
    void wandaNormsCoverEveryIdOfEveryWindow() {
        auto model = test::tinyModel("mlp");
        const std::vector<PrunableWeight> layers = model->prunableWeights(true);
        const at::Tensor windows = test::tinyIds(5, 9, model->config().vocabSize, 11);
        const WeightMap& w = model->weights();
        auto weight = [&](const std::string& name) { return w.at(name).to(at::kDouble); };
        // h0 = E[x]; per block: fc1 reads h, fc2 reads relu(W1 h + b1), h += W2 r + b2; the
        // head reads the last h. Rows: every position of every window.
        std::map<std::string, at::Tensor> inputs;
        at::Tensor h = weight("embed.weight").index_select(0, windows.reshape({-1}));
        for (int64_t b = 0; b < model->numBlocks(); ++b) {
            const std::string prefix = "blocks." + std::to_string(b) + ".";
            inputs[prefix + "fc1.weight"] = h;
            const at::Tensor r = at::relu(at::matmul(h, weight(prefix + "fc1.weight").t()) +
                                          weight(prefix + "fc1.bias"));
            inputs[prefix + "fc2.weight"] = r;
            h = h + at::matmul(r, weight(prefix + "fc2.weight").t()) + weight(prefix + "fc2.bias");
        }
        inputs["lm_head.weight"] = h;
        QCOMPARE(layers.size(), inputs.size());

        const auto whole = collectActivationNorms(*model, layers, windows, 2, NormStatistic::Paper);
        const auto blockwise = collectActivationNormsBlockwise(*model, ComputeSpec{}, layers,
                                                               windows, 2, NormStatistic::Paper);
        std::map<std::string, at::Tensor> sequential;
        pruneBlocksSequentially(
            *model, ComputeSpec{}, layers, windows, 2,
            [](const std::vector<PrunableWeight>& block) {
                return std::make_unique<NormAccumulator>(block, at::kCPU, NormStatistic::Paper);
            },
            [&](const std::vector<int64_t>&, const std::vector<PrunableWeight>&,
                const std::map<std::string, at::Tensor>& norms) {
                for (const auto& [name, norm] : norms) sequential[name] = norm.clone();
            });
        for (const auto& [name, rows] : inputs) {
            QCOMPARE(rows.size(0), int64_t(45));
            const at::Tensor expected = rows.square().sum(0).sqrt();
            GP_COMPARE_TENSORS(whole.at(name), expected, 1e-6, 1e-5);
            GP_COMPARE_TENSORS(blockwise.at(name), expected, 1e-6, 1e-5);
            GP_COMPARE_TENSORS(sequential.at(name), expected, 1e-6, 1e-5);
            // Without the last id of each window the norms are measurably different.
            const at::Tensor inputsOnly =
                rows.reshape({5, 9, -1}).narrow(1, 0, 8).reshape({40, -1});
            QVERIFY2(!test::allClose(whole.at(name), inputsOnly.square().sum(0).sqrt(), 1e-6,
                                     1e-5),
                     name.c_str());
        }
    }

    void layerwiseProbeSeesEarlierLayersPruned() {
        auto model = test::tinyModel("llama", nlohmann::json::object(), 31);
        const auto layers = model->prunableWeights();
        const at::Tensor windows = test::tinyIds(4, 10, 23, 8);
        PruneOptions options;
        options.sparsity = 0.4;
        options.schedule = "layerwise";
        options.layerOrder = "reverse";
        options.probe.enabled = true;
        options.probe.threshold = 0.1;
        options.probe.batches = 2;
        options.batchSize = 2;
        const auto original = cloneMatrices(layers);

        // When a layer's result arrives, every layer processed before it is pruned already and
        // every layer after it is still untouched.
        struct Watch : RunObserver {
            const std::vector<PrunableWeight>* layers;
            std::vector<std::string> order;
            bool sequential = true;
            void onLayerResult(const LayerResultEvent& event) override {
                if (std::find(order.begin(), order.end(), event.layer) != order.end()) return;
                order.push_back(event.layer);
                for (const PrunableWeight& layer : *layers) {
                    const bool done =
                        std::find(order.begin(), order.end(), layer.name) != order.end();
                    const bool touched = (layer.matrix == 0).any().item<bool>();
                    if (done != touched) sequential = false;
                }
            }
        } watch;
        watch.layers = &layers;
        PruneInputs inputs{model.get(), layers, windows, {}};
        runPrune(inputs, options, &watch);
        QCOMPARE(watch.order.front(), layers.back().name);  // reverse: output side first
        QVERIFY(watch.sequential);

        // The last layer processed (the first in the model) was probed on a model whose other
        // layers were already pruned: recompute its decision on exactly that model by hand.
        const at::Tensor finalFirst = layers[0].matrix.clone();
        {
            at::NoGradGuard noGrad;
            layers[0].matrix.copy_(original[0]);
        }
        const auto magnitude = original[0].abs().flatten();
        const int64_t k = int64_t(std::floor(0.4 * double(magnitude.numel())));
        at::Tensor candidates = at::zeros({magnitude.numel()}, at::kBool);
        candidates.index_fill_(0, at::argsort(magnitude, true, 0, false).narrow(0, 0, k), true);
        candidates = candidates.view_as(original[0]);
        GradientRecording recording{2, 2, false};
        const at::Tensor g0 = recordGradientMaxima(*model, layers, {0}, windows, recording)[0];
        {
            at::NoGradGuard noGrad;
            layers[0].matrix.copy_(at::where(candidates, original[0] * 0.1, original[0]));
        }
        const at::Tensor g1 = recordGradientMaxima(*model, layers, {0}, windows, recording)[0];
        const at::Tensor expected =
            at::where(probeDecision(candidates, g0, g1, 0.1), 0.0f, original[0]);
        QVERIFY(at::equal(finalFirst, expected));
    }

    void iterativeStopsAtTheToleranceAndRestoresTheLastGoodState() {
        auto model = trainedTinyLlama(41);
        const auto layers = model->prunableWeights();
        const at::Tensor evalWindows = patternWindows(6, 12, 1041);
        const double pplBefore = perplexityOf(*model, evalWindows)();
        PruneOptions options;
        options.schedule = "iterative";
        options.initialSparsity = 0.1;
        options.sparsityStep = 0.1;
        options.maxPplIncrease = pplBefore * 0.05;  // a tight tolerance: stops early
        PruneInputs inputs{model.get(), layers, at::Tensor(), perplexityOf(*model, evalWindows)};
        const PruneResult result = runPrune(inputs, options);

        for (const IterativeRound& round : result.rounds)
            qInfo("round %.2f: sparsity %.4f ppl %.4f (before %.4f) %s", round.targetSparsity,
                  round.sparsity, round.ppl, result.pplBefore, round.accepted ? "kept" : "rejected");
        QVERIFY(result.rounds.size() >= 2);
        QVERIFY2(!result.rounds.back().accepted, "the schedule ends on a failing round");
        const IterativeRound& lastGood = result.rounds[result.rounds.size() - 2];
        QVERIFY(lastGood.accepted);
        QVERIFY(result.rounds.back().ppl > result.pplBefore + options.maxPplIncrease);
        QVERIFY(result.pplAfter <= result.pplBefore + options.maxPplIncrease);
        QCOMPARE(result.pplAfter, lastGood.ppl);
        QCOMPARE(result.sparsity, lastGood.sparsity);
        // Restored exactly: the perplexity measured now is the last good round's.
        QCOMPARE(perplexityOf(*model, evalWindows)(), lastGood.ppl);
        // Magnitude rounds on top of each other equal one global selection at the last target.
        auto fresh = trainedTinyLlama(41);
        PruneOptions once;
        once.sparsity = lastGood.targetSparsity;
        PruneInputs freshInputs{fresh.get(), fresh->prunableWeights(), at::Tensor(), {}};
        runPrune(freshInputs, once);
        for (size_t i = 0; i < layers.size(); ++i)
            QVERIFY(at::equal(layers[i].matrix, fresh->prunableWeights()[i].matrix));
    }

    void iterativeFailingFirstRoundRestoresTheOriginal() {
        auto model = trainedTinyLlama(43);
        const auto layers = model->prunableWeights();
        const auto original = cloneMatrices(layers);
        const at::Tensor evalWindows = patternWindows(4, 12, 1043);
        PruneOptions options;
        options.schedule = "iterative";
        options.initialSparsity = 0.5;
        options.maxPplIncrease = 0.0;  // any loss fails
        PruneInputs inputs{model.get(), layers, at::Tensor(), perplexityOf(*model, evalWindows)};
        const PruneResult result = runPrune(inputs, options);
        QCOMPARE(int(result.rounds.size()), 1);
        QVERIFY(!result.rounds[0].accepted);
        QCOMPARE(result.sparsity, 0.0);
        QVERIFY(sameWeights(layers, original));
    }

    void tuneOnFailFindsAValidThreshold() {
        auto model = trainedTinyLlama(47);
        const auto layers = model->prunableWeights();
        const at::Tensor windows = patternWindows(4, 12, 1047);
        const double pplBefore = perplexityOf(*model, windows)();
        PruneOptions options;
        options.schedule = "iterative";
        options.initialSparsity = 0.3;
        options.sparsityStep = 0.2;
        options.maxPplIncrease = pplBefore * 0.06;
        options.probe.enabled = true;
        options.probe.threshold = 3.0;  // lenient: rounds prune too much and must be retuned
        options.probe.batches = 2;
        options.batchSize = 2;
        PruneInputs inputs{model.get(), layers, windows, perplexityOf(*model, windows)};
        const PruneResult result = runPrune(inputs, options);
        for (const IterativeRound& round : result.rounds)
            qInfo("round %.2f: sparsity %.4f ppl %.4f tau %.3f (limit %.4f) %s", round.targetSparsity,
                  round.sparsity, round.ppl, round.threshold, pplBefore + options.maxPplIncrease,
                  round.accepted ? "kept" : "rejected");
        QVERIFY(!result.rounds.empty());
        for (const IterativeRound& round : result.rounds)
            if (round.accepted) QVERIFY(round.ppl <= pplBefore + options.maxPplIncrease + 1e-9);
        QVERIFY(result.pplAfter <= pplBefore + options.maxPplIncrease + 1e-9);
        const bool retuned = std::any_of(result.rounds.begin(), result.rounds.end(),
                                         [](const IterativeRound& r) { return r.threshold != 3.0; });
        QVERIFY2(retuned, "a round with tau 3.0 fails this tolerance, so tau must have been tuned");
    }

    void cancelLeavesNoChangeForTheCallerToRestore() {
        auto model = test::tinyModel("llama", nlohmann::json::object(), 51);
        const auto layers = model->prunableWeights();
        const auto original = cloneMatrices(layers);
        CancelToken cancel;
        struct CancelOnProbe : RunObserver {
            CancelToken* token;
            void onProgress(const ProgressEvent& event) override {
                if (event.stage == Stage::Probe) token->cancel();
            }
        } trigger;
        trigger.token = &cancel;
        PruneOptions options;
        options.probe.enabled = true;
        options.probe.batches = 3;
        options.batchSize = 2;
        PruneInputs inputs{model.get(), layers, test::tinyIds(4, 10, 23, 2), {}};
        QVERIFY_THROWS_EXCEPTION(Cancelled, runPrune(inputs, options, &trigger, &cancel));
        // Cancelled inside G0's recording: the weights were not scaled yet.
        QVERIFY(sameWeights(layers, original));
        QVERIFY(!model->weights().at(layers[0].name).requires_grad());
    }

    void sameSeedSameResult() {
        PruneResult results[2];
        std::vector<at::Tensor> weights[2];
        for (int run = 0; run < 2; ++run) {
            auto model = test::tinyModel("gpt2", nlohmann::json::object(), 61);
            const auto layers = model->prunableWeights();
            const at::Tensor windows = test::tinyIds(4, 10, 23, 6);
            PruneOptions options;
            options.method = "wanda";
            options.group = "row";
            options.sparsity = 0.5;
            options.probe.enabled = true;
            options.probe.threshold = 0.5;
            options.probe.batches = 2;
            options.batchSize = 2;
            PruneInputs inputs{model.get(), layers, windows, perplexityOf(*model, windows)};
            results[run] = runPrune(inputs, options);
            weights[run] = cloneMatrices(layers);
        }
        QCOMPARE(results[0].pplAfter, results[1].pplAfter);
        QCOMPARE(results[0].prunedParameters, results[1].prunedParameters);
        for (size_t i = 0; i < weights[0].size(); ++i) QVERIFY(at::equal(weights[0][i], weights[1][i]));
    }

    void sweepReportsEveryThresholdAndKeepsTheRunsOwn() {
        auto model = test::tinyModel("llama", nlohmann::json::object(), 71);
        const auto layers = model->prunableWeights();
        const at::Tensor windows = test::tinyIds(4, 10, 23, 7);
        PruneOptions options;
        options.sparsity = 0.5;
        options.probe.enabled = true;
        options.probe.threshold = 0.0;
        options.probe.sweep = {0.0, 0.5, 2.0};
        options.probe.batches = 2;
        options.batchSize = 2;
        PruneInputs inputs{model.get(), layers, windows, perplexityOf(*model, windows)};
        const PruneResult result = runPrune(inputs, options);
        QCOMPARE(int(result.sweep.size()), 3);
        // A larger tau prunes at least as much (the rule is monotone in tau).
        QVERIFY(result.sweep[0].pruned <= result.sweep[1].pruned);
        QVERIFY(result.sweep[1].pruned <= result.sweep[2].pruned);
        QCOMPARE(result.prunedParameters, result.sweep[0].pruned);  // tau 0 applied at the end
        QCOMPARE(result.pplAfter, result.sweep[0].ppl);
    }

    void thresholdForms() {
        ThresholdRule rule;
        rule.threshold = 2.0;
        QCOMPARE(thresholdFor(rule, "a", 0, 100), 2.0);
        rule.adaptive = true;
        QCOMPARE(thresholdFor(rule, "a", 0, 38'597'376 / 4), 1.0);  // 2 * sqrt(1/4)
        rule.list = {0.5, 0.7};
        QCOMPARE(thresholdFor(rule, "a", 1, 100), 0.7);
        rule.byLayer = {{"a", 9.0}};
        QCOMPARE(thresholdFor(rule, "a", 1, 100), 9.0);

        auto model = test::tinyModel("llama");
        const auto layers = model->prunableWeights();
        ThresholdRule wrongLength;
        wrongLength.list = {1.0, 2.0};
        QVERIFY_THROWS_EXCEPTION(Error, checkThresholdRule(wrongLength, layers));
        ThresholdRule unknownName;
        unknownName.byLayer = {{"no.such.layer", 1.0}};
        try {
            checkThresholdRule(unknownName, layers);
            QFAIL("an unknown layer name must be refused");
        } catch (const Error& error) {
            QVERIFY(std::string(error.what()).find("no.such.layer") != std::string::npos);
        }
    }

    void badOptionsAreRefusedBeforeAnyWork_data() {
        QTest::addColumn<QString>("field");
        QTest::addColumn<QString>("expected");
        QTest::newRow("sparsity 1") << "sparsity" << "--sparsity";
        QTest::newRow("method") << "method" << "--method";
        QTest::newRow("schedule") << "schedule" << "--schedule";
        QTest::newRow("group") << "group" << "--group";
        QTest::newRow("reduction") << "reduction" << "--reduction";
    }
    void badOptionsAreRefusedBeforeAnyWork() {
        QFETCH(QString, field);
        QFETCH(QString, expected);
        PruneOptions options;
        if (field == "sparsity") options.sparsity = 1.0;
        if (field == "method") options.method = "optimal-brain-surgeon";
        if (field == "schedule") options.schedule = "gradual";
        if (field == "group") options.group = "block";
        if (field == "reduction") {
            options.probe.enabled = true;
            options.probe.reduction = 1.5;
        }
        try {
            checkPruneOptions(options);
            QFAIL("must throw");
        } catch (const Error& error) {
            QCOMPARE(error.kind(), ErrorKind::BadArgument);
            QVERIFY2(std::string(error.what()).find(expected.toStdString()) != std::string::npos,
                     error.what());
        }
    }
};

QTEST_GUILESS_MAIN(TestProbe)
#include "tst_probe.moc"
