// Model runtime: every architecture's logits on a hand-made tiny checkpoint against an independent
// computation written here from the equations (explicit loops over heads and positions, rotary
// embeddings as complex rotations, masks as explicit conditions); causality; batching; gradients
// against finite differences; GPT-2's transposed Conv1D weights; grouped-query attention;
// sliding and local windows; bf16; config and checkpoint errors.
#include <ATen/Parallel.h>
#include <QtTest/QtTest>

#include <cmath>
#include <complex>
#include <functional>
#include <set>

#include "core/model/causal_lm.h"
#include "core/model/model_config.h"
#include "core/runtime/error.h"
#include "tests/core/tiny_checkpoints.h"
#include "tests/support/test_support.h"

using gp::ModelConfig;
using gp::WeightMap;
using nlohmann::json;

namespace {

// ---- the independent reference: one sequence, double precision, straight from the equations --

namespace reference {

using Allowed = std::function<bool(int64_t query, int64_t key)>;

at::Tensor get(const WeightMap& weights, const std::string& name) {
    return weights.at(name).to(at::kDouble);
}

bool has(const WeightMap& weights, const std::string& name) {
    return weights.count(name) != 0;
}

// y = x W^T (+ b), W [out, in]
at::Tensor linear(const WeightMap& w, const at::Tensor& x, const std::string& module) {
    at::Tensor y = x.matmul(get(w, module + ".weight").t());
    if (has(w, module + ".bias")) y = y + get(w, module + ".bias");
    return y;
}

// y = x W + b, W stored [in, out] (GPT-2's Conv1D)
at::Tensor conv1D(const WeightMap& w, const at::Tensor& x, const std::string& module) {
    return x.matmul(get(w, module + ".weight")) + get(w, module + ".bias");
}

at::Tensor rmsNorm(const at::Tensor& x, const at::Tensor& weight, double eps) {
    at::Tensor out = at::empty_like(x);
    auto in = x.accessor<double, 2>();
    auto o = out.accessor<double, 2>();
    auto g = weight.accessor<double, 1>();
    for (int64_t t = 0; t < x.size(0); ++t) {
        double meanSquare = 0;
        for (int64_t j = 0; j < x.size(1); ++j) meanSquare += in[t][j] * in[t][j];
        meanSquare /= double(x.size(1));
        for (int64_t j = 0; j < x.size(1); ++j)
            o[t][j] = in[t][j] / std::sqrt(meanSquare + eps) * g[j];
    }
    return out;
}

at::Tensor layerNorm(const WeightMap& w, const at::Tensor& x, const std::string& module,
                     double eps) {
    const at::Tensor weight = get(w, module + ".weight"), bias = get(w, module + ".bias");
    at::Tensor out = at::empty_like(x);
    auto in = x.accessor<double, 2>();
    auto o = out.accessor<double, 2>();
    auto g = weight.accessor<double, 1>();
    auto b = bias.accessor<double, 1>();
    const int64_t d = x.size(1);
    for (int64_t t = 0; t < x.size(0); ++t) {
        double mean = 0, variance = 0;
        for (int64_t j = 0; j < d; ++j) mean += in[t][j] / double(d);
        for (int64_t j = 0; j < d; ++j)
            variance += (in[t][j] - mean) * (in[t][j] - mean) / double(d);
        for (int64_t j = 0; j < d; ++j)
            o[t][j] = (in[t][j] - mean) / std::sqrt(variance + eps) * g[j] + b[j];
    }
    return out;
}

at::Tensor geluTanh(const at::Tensor& x) {
    const double c = std::sqrt(2.0 / M_PI);
    return 0.5 * x * (1.0 + at::tanh(c * (x + 0.044715 * x * x * x)));
}

at::Tensor swish(const at::Tensor& x) {
    return x / (1.0 + at::exp(-x));
}

// Rotary embedding as a complex rotation: the pair (x[i], x[i + hd/2]) is the complex number
// x[i] + i x[i + hd/2], turned by the angle position * theta^(-2i/hd) (positions / linearFactor).
at::Tensor rotate(const at::Tensor& x, double theta, double linearFactor) {  // [T, heads, hd]
    at::Tensor out = x.clone();
    auto in = x.accessor<double, 3>();
    auto o = out.accessor<double, 3>();
    const int64_t hd = x.size(2), half = hd / 2;
    for (int64_t t = 0; t < x.size(0); ++t)
        for (int64_t h = 0; h < x.size(1); ++h)
            for (int64_t i = 0; i < half; ++i) {
                const double angle = double(t) / linearFactor * std::pow(theta, -2.0 * i / hd);
                const std::complex<double> z =
                    std::complex<double>(in[t][h][i], in[t][h][i + half]) * std::polar(1.0, angle);
                o[t][h][i] = z.real();
                o[t][h][i + half] = z.imag();
            }
    return out;
}

// q: [T, H, hd]; k, v: [T, KV, hd]; query head h reads kv head h / (H / KV).
at::Tensor attention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v, double scale,
                     const Allowed& allowed) {
    const int64_t tokens = q.size(0), heads = q.size(1), hd = q.size(2);
    const int64_t group = heads / k.size(1);
    at::Tensor out = at::zeros({tokens, heads * hd}, q.options());
    auto qa = q.accessor<double, 3>();
    auto ka = k.accessor<double, 3>();
    auto va = v.accessor<double, 3>();
    auto o = out.accessor<double, 2>();
    for (int64_t h = 0; h < heads; ++h) {
        const int64_t g = h / group;
        for (int64_t i = 0; i < tokens; ++i) {
            std::vector<std::pair<int64_t, double>> scores;
            for (int64_t j = 0; j < tokens; ++j) {
                if (!allowed(i, j)) continue;
                double dot = 0;
                for (int64_t d = 0; d < hd; ++d) dot += qa[i][h][d] * ka[j][g][d];
                scores.emplace_back(j, scale * dot);
            }
            double top = -INFINITY, total = 0;
            for (const auto& [j, s] : scores) top = std::max(top, s);
            for (const auto& [j, s] : scores) total += std::exp(s - top);
            for (const auto& [j, s] : scores)
                for (int64_t d = 0; d < hd; ++d)
                    o[i][h * hd + d] += std::exp(s - top) / total * va[j][g][d];
        }
    }
    return out;
}

at::Tensor heads(const at::Tensor& x, int64_t count) {
    return x.reshape({x.size(0), count, x.size(1) / count});
}

at::Tensor positionsOf(const std::vector<int64_t>& ids) {
    return at::tensor(ids, at::TensorOptions(at::kLong));
}

at::Tensor llama(const ModelConfig& c, const WeightMap& w, const std::vector<int64_t>& ids) {
    at::Tensor x = get(w, "model.embed_tokens.weight").index_select(0, positionsOf(ids));
    const int64_t window = c.slidingWindow;
    const Allowed allowed = [window](int64_t i, int64_t j) {
        return j <= i && (window == 0 || i - j < window);
    };
    for (int64_t l = 0; l < c.numLayers; ++l) {
        const std::string p = "model.layers." + std::to_string(l) + ".";
        const at::Tensor a = rmsNorm(x, get(w, p + "input_layernorm.weight"), c.normEps);
        const at::Tensor q = rotate(heads(linear(w, a, p + "self_attn.q_proj"), c.numHeads),
                                    c.ropeTheta, c.rope.factor);
        const at::Tensor k = rotate(heads(linear(w, a, p + "self_attn.k_proj"), c.numKvHeads),
                                    c.ropeTheta, c.rope.factor);
        const at::Tensor v = heads(linear(w, a, p + "self_attn.v_proj"), c.numKvHeads);
        const at::Tensor mixed = attention(q, k, v, 1.0 / std::sqrt(double(c.headDim)), allowed);
        x = x + linear(w, mixed, p + "self_attn.o_proj");
        const at::Tensor m = rmsNorm(x, get(w, p + "post_attention_layernorm.weight"), c.normEps);
        const at::Tensor gated =
            swish(linear(w, m, p + "mlp.gate_proj")) * linear(w, m, p + "mlp.up_proj");
        x = x + linear(w, gated, p + "mlp.down_proj");
    }
    x = rmsNorm(x, get(w, "model.norm.weight"), c.normEps);
    const char* head = c.tieWordEmbeddings ? "model.embed_tokens.weight" : "lm_head.weight";
    return x.matmul(get(w, head).t());
}

at::Tensor gptNeo(const ModelConfig& c, const WeightMap& w, const std::vector<int64_t>& ids) {
    const int64_t tokens = int64_t(ids.size());
    at::Tensor x = get(w, "transformer.wte.weight").index_select(0, positionsOf(ids)) +
                   get(w, "transformer.wpe.weight").slice(0, 0, tokens);
    for (int64_t l = 0; l < c.numLayers; ++l) {
        const std::string p = "transformer.h." + std::to_string(l) + ".";
        const bool local = c.attentionLayers.at(size_t(l)) == "local";
        const int64_t window = c.localWindow;
        const Allowed allowed = [local, window](int64_t i, int64_t j) {
            return j <= i && (!local || i - j < window);
        };
        const at::Tensor a = layerNorm(w, x, p + "ln_1", c.normEps);
        const at::Tensor q = heads(linear(w, a, p + "attn.attention.q_proj"), c.numHeads);
        const at::Tensor k = heads(linear(w, a, p + "attn.attention.k_proj"), c.numHeads);
        const at::Tensor v = heads(linear(w, a, p + "attn.attention.v_proj"), c.numHeads);
        x = x + linear(w, attention(q, k, v, 1.0, allowed), p + "attn.attention.out_proj");
        const at::Tensor m = layerNorm(w, x, p + "ln_2", c.normEps);
        x = x + linear(w, geluTanh(linear(w, m, p + "mlp.c_fc")), p + "mlp.c_proj");
    }
    x = layerNorm(w, x, "transformer.ln_f", c.normEps);
    return x.matmul(get(w, "transformer.wte.weight").t());
}

at::Tensor gpt2(const ModelConfig& c, const WeightMap& w, const std::vector<int64_t>& ids,
                const std::string& prefix) {
    const int64_t tokens = int64_t(ids.size()), d = c.hiddenSize;
    at::Tensor x = get(w, prefix + "wte.weight").index_select(0, positionsOf(ids)) +
                   get(w, prefix + "wpe.weight").slice(0, 0, tokens);
    const Allowed causal = [](int64_t i, int64_t j) { return j <= i; };
    for (int64_t l = 0; l < c.numLayers; ++l) {
        const std::string p = prefix + "h." + std::to_string(l) + ".";
        const at::Tensor a = layerNorm(w, x, p + "ln_1", c.normEps);
        const at::Tensor qkv = conv1D(w, a, p + "attn.c_attn");  // [T, 3D]: q | k | v
        double scale = 1.0 / std::sqrt(double(c.headDim));
        if (c.scaleAttnByInverseLayerIdx) scale /= double(l + 1);
        const at::Tensor mixed = attention(
            heads(qkv.slice(1, 0, d), c.numHeads), heads(qkv.slice(1, d, 2 * d), c.numHeads),
            heads(qkv.slice(1, 2 * d, 3 * d), c.numHeads), scale, causal);
        x = x + conv1D(w, mixed, p + "attn.c_proj");
        const at::Tensor m = layerNorm(w, x, p + "ln_2", c.normEps);
        x = x + conv1D(w, geluTanh(conv1D(w, m, p + "mlp.c_fc")), p + "mlp.c_proj");
    }
    x = layerNorm(w, x, prefix + "ln_f", c.normEps);
    return x.matmul(get(w, prefix + "wte.weight").t());
}

at::Tensor mlp(const ModelConfig& c, const WeightMap& w, const std::vector<int64_t>& ids) {
    at::Tensor x = get(w, "embed.weight").index_select(0, positionsOf(ids));
    for (int64_t l = 0; l < c.numLayers; ++l) {
        const std::string p = "blocks." + std::to_string(l) + ".";
        x = x + linear(w, at::clamp_min(linear(w, x, p + "fc1"), 0.0), p + "fc2");
    }
    return x.matmul(get(w, "lm_head.weight").t());
}

at::Tensor logits(const ModelConfig& c, const WeightMap& w, const std::vector<int64_t>& ids,
                  const std::string& gpt2Prefix = "transformer.") {
    switch (c.architecture) {
        case gp::Architecture::Llama:
        case gp::Architecture::Mistral:
            return llama(c, w, ids);
        case gp::Architecture::GptNeo:
            return gptNeo(c, w, ids);
        case gp::Architecture::Gpt2:
            return gpt2(c, w, ids, gpt2Prefix);
        case gp::Architecture::Mlp:
            return mlp(c, w, ids);
        default:  // the families of tst_architectures.cpp, checked there
            break;
    }
    return {};
}

}  // namespace reference

// ---- small tools ---------------------------------------------------------------------------

std::vector<int64_t> row(const at::Tensor& ids, int64_t index) {
    const at::Tensor r = ids[index].contiguous();
    return std::vector<int64_t>(r.data_ptr<int64_t>(), r.data_ptr<int64_t>() + r.numel());
}

WeightMap deepCopy(const WeightMap& weights) {
    WeightMap copy;
    for (const auto& [name, tensor] : weights) copy[name] = tensor.clone();
    return copy;
}

// The message of the gp::Error `action` throws, or "" if it throws none.
std::string errorMessage(const std::function<void()>& action) {
    try {
        action();
    } catch (const gp::Error& error) {
        return error.what();
    }
    return {};
}

void addArchitectureRows() {
    QTest::addColumn<QString>("modelType");
    for (const char* type : {"llama", "mistral", "gpt_neo", "gpt2", "mlp"})
        QTest::newRow(type) << QString(type);
}

std::string embeddingName(const std::string& modelType) {
    if (modelType == "llama" || modelType == "mistral") return "model.embed_tokens.weight";
    if (modelType == "mlp") return "embed.weight";
    return "transformer.wte.weight";
}

double maxAbs(const at::Tensor& x) {
    return x.abs().max().item<double>();
}

}  // namespace

class TestModels : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() { at::set_num_threads(2); }

    // ---- each architecture against its equations ----

    void logitsMatchIndependentComputation_data() {
        QTest::addColumn<QString>("modelType");
        QTest::addColumn<QString>("overrides");
        QTest::addColumn<bool>("stripPrefix");
        QTest::newRow("llama gqa") << "llama"
                                   << "{}" << false;
        QTest::newRow("llama tied, biases, head_dim 6, theta 500")
            << "llama"
            << R"({"tie_word_embeddings": true, "attention_bias": true, "mlp_bias": true,
                  "head_dim": 6, "rope_theta": 500.0, "num_key_value_heads": 4})"
            << false;
        QTest::newRow("llama linear rope scaling")
            << "llama"
            << R"({"rope_scaling": {"type": "linear", "factor": 2.0}})" << false;
        QTest::newRow("mistral window 3, one kv head")
            << "mistral"
            << R"({"sliding_window": 3, "num_key_value_heads": 1})" << false;
        QTest::newRow("gpt_neo global+local") << "gpt_neo"
                                              << "{}" << false;
        QTest::newRow("gpt_neo local window 2")
            << "gpt_neo"
            << R"({"window_size": 2, "attention_types": [[["local"], 2]]})" << false;
        QTest::newRow("gpt2") << "gpt2"
                              << "{}" << false;
        QTest::newRow("gpt2 inverse layer scaling")
            << "gpt2"
            << R"({"scale_attn_by_inverse_layer_idx": true, "n_layer": 3})" << false;
        QTest::newRow("gpt2 without transformer. prefix") << "gpt2"
                                                          << "{}" << true;
        QTest::newRow("mlp") << "mlp"
                             << "{}" << false;
    }

    void logitsMatchIndependentComputation() {
        QFETCH(QString, modelType);
        QFETCH(QString, overrides);
        QFETCH(bool, stripPrefix);
        const ModelConfig config =
            gp::test::tinyConfig(modelType.toStdString(), json::parse(overrides.toStdString()));
        WeightMap weights = gp::test::tinyWeights(config, 11);
        std::string prefix = "transformer.";
        if (stripPrefix) {  // as openai-community/gpt2 stores them
            WeightMap renamed;
            for (auto& [name, tensor] : weights)
                renamed[name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name] = tensor;
            weights = std::move(renamed);
            prefix.clear();
        }
        // A buffer older transformers saved beside the weights is accepted, unread.
        const std::string buffer = modelType == "gpt2" ? prefix + "h.0.attn.bias"
                                                       : "model.layers.0.self_attn.rotary_emb.inv_freq";
        weights[buffer] = at::ones({3});
        const auto model = gp::createCausalLM(config, weights, "tiny");
        QVERIFY(model->weights().count(buffer) == 1);
        weights.erase(buffer);

        const at::Tensor ids = gp::test::tinyIds(2, 9, config.vocabSize);
        const at::Tensor logits = model->forward(ids);
        QCOMPARE(logits.sizes().vec(), (std::vector<int64_t>{2, 9, config.vocabSize}));
        QCOMPARE(logits.scalar_type(), at::kFloat);
        for (int64_t b = 0; b < 2; ++b) {
            const at::Tensor expected = reference::logits(config, weights, row(ids, b), prefix);
            QVERIFY2(maxAbs(expected) > 1.0, "the reference logits are not trivially small");
            GP_COMPARE_TENSORS(logits[b], expected, 2e-4, 1e-4);
        }
    }

    // ---- causality and batching ----

    void laterTokensDoNotChangeEarlierLogits_data() { addArchitectureRows(); }
    void laterTokensDoNotChangeEarlierLogits() {
        QFETCH(QString, modelType);
        const auto model = gp::test::tinyModel(modelType.toStdString());
        const int64_t vocab = model->config().vocabSize, tokens = 10;
        const at::Tensor ids = gp::test::tinyIds(1, tokens, vocab);
        const at::Tensor before = model->forward(ids);
        for (int64_t t = 0; t + 1 < tokens; ++t) {
            at::Tensor changed = ids.clone();
            changed[0][t + 1] = (changed[0][t + 1].item<int64_t>() + 1) % vocab;
            const at::Tensor after = model->forward(changed);
            GP_COMPARE_TENSORS(after.slice(1, 0, t + 1), before.slice(1, 0, t + 1), 1e-6, 0.0);
            QVERIFY2(!at::allclose(after[0][t + 1], before[0][t + 1]),
                     "the changed token must change its own logits");
        }
    }

    void batchEqualsOneByOne_data() { addArchitectureRows(); }
    void batchEqualsOneByOne() {
        QFETCH(QString, modelType);
        const auto model = gp::test::tinyModel(modelType.toStdString());
        const at::Tensor ids = gp::test::tinyIds(3, 8, model->config().vocabSize);
        const at::Tensor batched = model->forward(ids);
        for (int64_t b = 0; b < 3; ++b)
            GP_COMPARE_TENSORS(batched[b], model->forward(ids.slice(0, b, b + 1))[0], 1e-5, 1e-5);
    }

    void blockwiseEqualsForward_data() { addArchitectureRows(); }
    void blockwiseEqualsForward() {
        QFETCH(QString, modelType);
        const auto model = gp::test::tinyModel(modelType.toStdString());
        const at::Tensor ids = gp::test::tinyIds(2, 6, model->config().vocabSize);
        at::Tensor hidden = model->embed(ids);
        QCOMPARE(hidden.sizes().vec(), (std::vector<int64_t>{2, 6, model->config().hiddenSize}));
        for (int64_t i = 0; i < model->numBlocks(); ++i) hidden = model->block(i, hidden);
        GP_COMPARE_TENSORS(model->head(hidden), model->forward(ids), 0.0, 0.0);
    }

    // ---- gradients: autograd against central finite differences, in double ----

    void gradientMatchesFiniteDifferences_data() { addArchitectureRows(); }
    void gradientMatchesFiniteDifferences() {
        QFETCH(QString, modelType);
        const std::string type = modelType.toStdString();
        const auto model = gp::test::tinyModel(type, json::object(), 5, at::kDouble);
        const at::Tensor ids = gp::test::tinyIds(2, 6, model->config().vocabSize);
        at::Generator generator = at::detail::createCPUGenerator(17);
        const at::Tensor probe =
            at::randn({2, 6, model->config().vocabSize}, generator, at::TensorOptions(at::kDouble));
        const auto loss = [&] { return (model->forward(ids) * probe).sum(); };

        std::vector<std::string> checked = model->blockWeightNames(0);
        checked.push_back(embeddingName(type));
        for (const std::string& name : checked) model->weights().at(name).requires_grad_(true);
        loss().backward();

        at::NoGradGuard noGrad;
        double largest = 0.0;
        for (const std::string& name : checked) {
            at::Tensor weight = model->weights().at(name);
            const at::Tensor gradient = weight.grad().flatten();
            at::Tensor flat = weight.view({-1});
            std::vector<int64_t> entries = {0, flat.numel() / 2, flat.numel() - 1};
            if (name == embeddingName(type))  // an embedding row the ids actually use
                entries = {ids[0][0].item<int64_t>() * weight.size(1) + 1};
            for (const int64_t entry : entries) {
                const double original = flat[entry].item<double>(), step = 1e-6;
                flat[entry] = original + step;
                const double up = loss().item<double>();
                flat[entry] = original - step;
                const double down = loss().item<double>();
                flat[entry] = original;
                const double numeric = (up - down) / (2 * step);
                const double analytic = gradient[entry].item<double>();
                largest = std::max(largest, std::abs(analytic));
                QVERIFY2(std::abs(numeric - analytic) <= 1e-6 * std::max(1.0, std::abs(numeric)),
                         qPrintable(QString("%1[%2]: autograd %3 vs finite difference %4")
                                        .arg(QString::fromStdString(name))
                                        .arg(entry)
                                        .arg(analytic, 0, 'g', 12)
                                        .arg(numeric, 0, 'g', 12)));
            }
        }
        QVERIFY2(largest > 1e-3, "some checked gradient must be clearly non-zero");
    }

    // ---- GPT-2: Conv1D weights stored [in, out], pruned through an [out, in] view ----

    void gpt2PruningThroughMatrixZeroesStoredTranspose_data() {
        QTest::addColumn<QString>("name");
        QTest::newRow("c_attn (packed q, k, v)") << "transformer.h.0.attn.c_attn.weight";
        QTest::newRow("attn c_proj") << "transformer.h.1.attn.c_proj.weight";
        QTest::newRow("mlp c_fc") << "transformer.h.0.mlp.c_fc.weight";
        QTest::newRow("mlp c_proj") << "transformer.h.1.mlp.c_proj.weight";
    }

    void gpt2PruningThroughMatrixZeroesStoredTranspose() {
        QFETCH(QString, name);
        const std::string target = name.toStdString();
        const ModelConfig config = gp::test::tinyConfig("gpt2");
        const WeightMap original = gp::test::tinyWeights(config, 13);
        const auto model = gp::createCausalLM(config, deepCopy(original), "tiny");
        const at::Tensor ids = gp::test::tinyIds(2, 7, config.vocabSize);
        const at::Tensor unpruned = model->forward(ids);

        at::Tensor matrix;
        for (const gp::PrunableWeight& weight : model->prunableWeights())
            if (weight.name == target) matrix = weight.matrix;
        QVERIFY(matrix.defined());
        const at::Tensor stored = model->weights().at(target);
        QCOMPARE(matrix.sizes().vec(), (std::vector<int64_t>{stored.size(1), stored.size(0)}));
        QCOMPARE(matrix.data_ptr(), stored.data_ptr());  // a view, not a copy

        at::Generator generator = at::detail::createCPUGenerator(21);
        const at::Tensor mask = at::rand(matrix.sizes(), generator) < 0.3;  // [out, in]
        matrix.masked_fill_(mask, 0.0);

        // The same pruning done by hand on the stored [in, out] tensor: W^T[o][i] is W[i][o].
        WeightMap expectedWeights = deepCopy(original);
        at::Tensor expectedStored = expectedWeights.at(target);
        auto m = mask.accessor<bool, 2>();
        auto e = expectedStored.accessor<float, 2>();
        int64_t zeroed = 0;
        for (int64_t o = 0; o < mask.size(0); ++o)
            for (int64_t i = 0; i < mask.size(1); ++i)
                if (m[o][i]) e[i][o] = 0.0f, ++zeroed;
        QVERIFY(zeroed > 0);
        GP_COMPARE_TENSORS(model->weights().at(target), expectedStored, 0.0, 0.0);

        const auto byHand = gp::createCausalLM(config, std::move(expectedWeights), "tiny");
        const at::Tensor pruned = model->forward(ids);
        GP_COMPARE_TENSORS(pruned, byHand->forward(ids), 0.0, 0.0);
        QVERIFY2(!at::allclose(pruned, unpruned), "pruning must change the output");
    }

    // ---- grouped-query attention ----

    void groupedQueryAttentionEqualsRepeatedHeads() {
        const ModelConfig grouped = gp::test::tinyConfig("llama", {{"num_key_value_heads", 2}});
        const ModelConfig full = gp::test::tinyConfig("llama", {{"num_key_value_heads", 4}});
        const WeightMap weights = gp::test::tinyWeights(grouped, 19);
        const int64_t hd = grouped.headDim, heads = grouped.numHeads, kvHeads = grouped.numKvHeads;

        // Query head h reads kv head h / (heads / kvHeads): give the full model those rows.
        const auto repeatedHeads = [&](bool hfGrouping) {
            WeightMap repeated = deepCopy(weights);
            for (const auto& [name, tensor] : weights) {
                if (name.find("k_proj") == std::string::npos &&
                    name.find("v_proj") == std::string::npos)
                    continue;
                std::vector<at::Tensor> rows;
                for (int64_t h = 0; h < heads; ++h) {
                    const int64_t g = hfGrouping ? h / (heads / kvHeads) : h % kvHeads;
                    rows.push_back(tensor.slice(0, g * hd, (g + 1) * hd));
                }
                repeated[name] = at::cat(rows, 0);
            }
            return repeated;
        };
        const at::Tensor ids = gp::test::tinyIds(2, 8, grouped.vocabSize);
        const at::Tensor logits = gp::createCausalLM(grouped, weights, "tiny")->forward(ids);
        const at::Tensor expanded =
            gp::createCausalLM(full, repeatedHeads(true), "tiny")->forward(ids);
        GP_COMPARE_TENSORS(logits, expanded, 1e-5, 1e-5);
        const at::Tensor interleaved =
            gp::createCausalLM(full, repeatedHeads(false), "tiny")->forward(ids);
        QVERIFY2(!at::allclose(logits, interleaved, 1e-4, 1e-4),
                 "the other grouping must give other logits (the test tells them apart)");
    }

    // ---- windows ----

    void mistralSlidingWindowChangesOnlyLogitsBeyondIt() {
        const int64_t window = 4, tokens = 12;
        const ModelConfig mistral = gp::test::tinyConfig("mistral", {{"sliding_window", window}});
        const ModelConfig wide = gp::test::tinyConfig("mistral", {{"sliding_window", tokens}});
        const ModelConfig llama = gp::test::tinyConfig("llama");
        const WeightMap weights = gp::test::tinyWeights(llama, 23);
        const at::Tensor ids = gp::test::tinyIds(1, tokens, llama.vocabSize);
        const at::Tensor full = gp::createCausalLM(llama, weights, "tiny")->forward(ids);
        const at::Tensor windowed = gp::createCausalLM(mistral, weights, "tiny")->forward(ids);

        // A window at least as long as the text is no window at all.
        GP_COMPARE_TENSORS(gp::createCausalLM(wide, weights, "tiny")->forward(ids), full, 0.0, 0.0);
        // Positions whose whole past fits in the window see what LLaMA sees; later ones do not.
        GP_COMPARE_TENSORS(windowed.slice(1, 0, window), full.slice(1, 0, window), 1e-6, 0.0);
        for (int64_t t = window; t < tokens; ++t)
            QVERIFY2(!at::allclose(windowed[0][t], full[0][t], 1e-4, 1e-4),
                     qPrintable(QString("position %1 is beyond the window").arg(t)));
    }

    void mistralTokenReachesOnlyWithinWindowPerLayer_data() {
        QTest::addColumn<int>("layers");
        QTest::newRow("one layer") << 1;
        QTest::newRow("two layers") << 2;
    }

    void mistralTokenReachesOnlyWithinWindowPerLayer() {
        QFETCH(int, layers);
        const int64_t window = 3, tokens = 10;
        const auto model = gp::test::tinyModel(
            "mistral", {{"sliding_window", window}, {"num_hidden_layers", layers}}, 29);
        const at::Tensor ids = gp::test::tinyIds(1, tokens, model->config().vocabSize);
        at::Tensor changed = ids.clone();
        changed[0][0] = (ids[0][0].item<int64_t>() + 1) % model->config().vocabSize;
        const at::Tensor before = model->forward(ids), after = model->forward(changed);
        // Each layer lets information travel at most window - 1 positions forward.
        const int64_t reach = layers * (window - 1);
        for (int64_t t = 0; t < tokens; ++t) {
            const bool same = at::allclose(before[0][t], after[0][t], 1e-6, 0.0);
            QVERIFY2(same == (t > reach), qPrintable(QString("position %1, reach %2: %3")
                                                         .arg(t)
                                                         .arg(reach)
                                                         .arg(same ? "unchanged" : "changed")));
        }
    }

    void gptNeoLocalLayersIgnoreTokensBeyondWindow_data() {
        QTest::addColumn<QString>("kind");
        QTest::newRow("local") << "local";
        QTest::newRow("global") << "global";
    }

    void gptNeoLocalLayersIgnoreTokensBeyondWindow() {
        QFETCH(QString, kind);
        const int64_t window = 3, tokens = 8;
        const json types = json::array({json::array({json::array({kind.toStdString()}), 1})});
        const auto model = gp::test::tinyModel(
            "gpt_neo", {{"window_size", window}, {"num_layers", 1}, {"attention_types", types}});
        QCOMPARE(model->config().attentionLayers, std::vector<std::string>{kind.toStdString()});
        const at::Tensor ids = gp::test::tinyIds(1, tokens, model->config().vocabSize);
        at::Tensor changed = ids.clone();
        changed[0][0] = (ids[0][0].item<int64_t>() + 1) % model->config().vocabSize;
        const at::Tensor before = model->forward(ids), after = model->forward(changed);
        for (int64_t t = 0; t < tokens; ++t) {
            const bool same = at::allclose(before[0][t], after[0][t], 1e-6, 0.0);
            const bool expectSame = kind == "local" && t >= window;
            QVERIFY2(
                same == expectSame,
                qPrintable(QString("position %1: %2").arg(t).arg(same ? "unchanged" : "changed")));
        }
    }

    // ---- precision ----

    void bf16ForwardCloseToFp32_data() { addArchitectureRows(); }
    void bf16ForwardCloseToFp32() {
        QFETCH(QString, modelType);
        const ModelConfig config = gp::test::tinyConfig(modelType.toStdString());
        // Same (bf16-representable) weights in both, so only the compute precision differs.
        const WeightMap bf16 = gp::test::tinyWeights(config, 31, at::kBFloat16);
        WeightMap fp32;
        for (const auto& [name, tensor] : bf16) fp32[name] = tensor.to(at::kFloat);
        const auto low = gp::createCausalLM(config, bf16, "tiny");
        const auto high = gp::createCausalLM(config, fp32, "tiny");
        QCOMPARE(low->dtype(), at::kBFloat16);
        const at::Tensor ids = gp::test::tinyIds(2, 9, config.vocabSize);
        const at::Tensor lowLogits = low->forward(ids);
        QCOMPARE(lowLogits.scalar_type(), at::kBFloat16);
        const at::Tensor highLogits = high->forward(ids);
        // bf16 keeps 8 significant bits (relative rounding 2^-9 per operation); through two
        // blocks with bf16 attention scores the logits move by ~1% (RMS) here.
        const at::Tensor difference = lowLogits.to(at::kFloat) - highLogits;
        const double error = (difference.norm() / highLogits.norm()).item<double>();
        qInfo("%s: relative RMS |bf16 - fp32| = %.4f, max %.3f of max |logit| %.3f",
              qPrintable(modelType), error, maxAbs(difference), maxAbs(highLogits));
        QVERIFY2(error < 0.03, qPrintable(QString("bf16 relative error %1").arg(error)));
        QVERIFY(error > 0.0);  // it really ran in bf16
    }

    // ---- config.json ----

    void configErrorsNameFileAndKey_data() {
        QTest::addColumn<QString>("configText");
        QTest::addColumn<QString>("expected");  // substrings, '|' separated

        const auto without = [](const char* type, const char* key) {
            json config = gp::test::tinyConfigJson(type);
            config.erase(key);
            return QString::fromStdString(config.dump());
        };
        const auto with = [](const char* type, const json& overrides) {
            return QString::fromStdString(gp::test::tinyConfigJson(type, overrides).dump());
        };
        QTest::newRow("not JSON") << "{\"model_type\": "
                                  << "not valid JSON";
        QTest::newRow("not an object") << "[1, 2]"
                                       << "JSON object";
        QTest::newRow("no model_type") << "{}"
                                       << "model_type|llama, mistral, gpt_neo, gpt2, mlp";
        QTest::newRow("unknown model_type")
            << R"({"model_type": "bert"})"
            << "model_type|\"bert\"|llama, mistral, gpt_neo, gpt2, mlp";
        QTest::newRow("llama without hidden_size")
            << without("llama", "hidden_size") << "hidden_size|missing";
        QTest::newRow("llama without intermediate_size")
            << without("llama", "intermediate_size") << "intermediate_size|missing";
        QTest::newRow("llama hidden_size 0")
            << with("llama", {{"hidden_size", 0}}) << "hidden_size|positive";
        QTest::newRow("llama vocab_size as text")
            << with("llama", {{"vocab_size", "23"}}) << "vocab_size|positive integer";
        QTest::newRow("llama negative layers")
            << with("llama", {{"num_hidden_layers", -2}}) << "num_hidden_layers|positive";
        QTest::newRow("heads do not divide hidden")
            << with("llama", {{"num_attention_heads", 5}, {"num_key_value_heads", 5}})
            << "num_attention_heads|does not divide hidden_size 16";
        QTest::newRow("kv heads do not divide heads")
            << with("llama", {{"num_key_value_heads", 3}}) << "num_key_value_heads|does not divide";
        QTest::newRow("odd head_dim") << with("llama", {{"head_dim", 5}}) << "head_dim|even";
        QTest::newRow("unknown rope scaling")
            << with("llama", {{"rope_scaling", {{"rope_type", "mrope"}, {"factor", 4.0}}}})
            << "rope_scaling|\"mrope\"|default, linear, dynamic, yarn, llama3, longrope";
        QTest::newRow("linear rope without factor")
            << with("llama", {{"rope_scaling", {{"type", "linear"}}}}) << "rope_scaling|factor";
        QTest::newRow("unknown activation")
            << with("llama", {{"hidden_act", "swishy"}}) << "hidden_act|swishy|silu";
        QTest::newRow("mistral window 0")
            << with("mistral", {{"sliding_window", 0}}) << "sliding_window|positive";
        QTest::newRow("gpt_neo attention_types count")
            << with("gpt_neo", {{"num_layers", 3}})
            << "attention_types|expands to 2|num_layers is 3";
        QTest::newRow("gpt_neo unknown attention type")
            << with("gpt_neo", {{"attention_types", json::parse(R"([[["sparse"], 2]])")}})
            << "attention_types|sparse";
        QTest::newRow("gpt_neo malformed attention_types")
            << with("gpt_neo", {{"attention_types", json::parse(R"(["global", "local"])")}})
            << "attention_types|expected";
        QTest::newRow("gpt_neo heads do not divide hidden")
            << with("gpt_neo", {{"num_heads", 3}}) << "num_heads|hidden_size";
        QTest::newRow("gpt2 without n_embd") << without("gpt2", "n_embd") << "n_embd|missing";
        QTest::newRow("gpt2 n_head 6") << with("gpt2", {{"n_head", 6}}) << "n_head|n_embd";
        QTest::newRow("mlp negative intermediate")
            << with("mlp", {{"intermediate_size", -1}}) << "intermediate_size|positive";
    }

    void configErrorsNameFileAndKey() {
        QFETCH(QString, configText);
        QFETCH(QString, expected);
        gp::ErrorKind kind = gp::ErrorKind::Internal;
        const std::string message = errorMessage([&] {
            try {
                gp::parseModelConfig(configText.toStdString(), "/models/tiny/config.json");
            } catch (const gp::Error& error) {
                kind = error.kind();
                throw;
            }
        });
        QVERIFY2(!message.empty(), "no error for a bad config");
        QCOMPARE(kind, gp::ErrorKind::BadInput);
        QVERIFY2(message.find("/models/tiny/config.json") != std::string::npos, message.c_str());
        for (const QString& part : expected.split('|'))
            QVERIFY2(
                message.find(part.toStdString()) != std::string::npos,
                qPrintable(QString("'%1' not in: %2").arg(part, QString::fromStdString(message))));
    }

    void configDefaultsFollowHuggingFace() {
        const ModelConfig gpt2 = gp::parseModelConfig(
            R"({"model_type": "gpt2", "vocab_size": 50, "n_embd": 16, "n_layer": 2, "n_head": 4,
                "n_inner": null, "bos_token_id": 49, "eos_token_id": [49, 3]})",
            "c.json");
        QCOMPARE(gpt2.architecture, gp::Architecture::Gpt2);
        QCOMPARE(gpt2.intermediateSize, int64_t(64));
        QCOMPARE(gpt2.maxPositions, int64_t(1024));
        QCOMPARE(gpt2.headDim, int64_t(4));
        QCOMPARE(gpt2.numKvHeads, int64_t(4));
        QCOMPARE(gpt2.activation, std::string("gelu_new"));
        QCOMPARE(gpt2.normEps, 1e-5);
        QVERIFY(gpt2.tieWordEmbeddings);
        QVERIFY(gpt2.scaleAttnWeights);
        QVERIFY(!gpt2.scaleAttnByInverseLayerIdx);
        QCOMPARE(gpt2.bosTokenId, int64_t(49));
        QCOMPARE(gpt2.eosTokenId, int64_t(49));

        json llamaJson = gp::test::tinyConfigJson("llama");
        for (const char* key : {"num_key_value_heads", "rms_norm_eps", "rope_theta",
                                "max_position_embeddings", "tie_word_embeddings"})
            llamaJson.erase(key);
        const ModelConfig llama = gp::parseModelConfig(llamaJson.dump(), "c.json");
        QCOMPARE(llama.numKvHeads, int64_t(4));
        QCOMPARE(llama.headDim, int64_t(4));
        QCOMPARE(llama.normEps, 1e-6);
        QCOMPARE(llama.ropeTheta, 10000.0);
        QCOMPARE(llama.maxPositions, int64_t(2048));
        QCOMPARE(llama.activation, std::string("silu"));
        QVERIFY(!llama.tieWordEmbeddings);
        QCOMPARE(llama.slidingWindow, int64_t(0));
        QCOMPARE(llama.bosTokenId, int64_t(-1));
        QCOMPARE(gp::test::tinyConfig("llama", {{"head_dim", 8}}).headDim, int64_t(8));
        QCOMPARE(
            gp::test::tinyConfig("llama", {{"rope_scaling", {{"type", "linear"}, {"factor", 4}}}})
                .rope.factor,
            4.0);
        QCOMPARE(gp::test::tinyConfig("llama", {{"rope_scaling", nullptr}}).rope.type,
                 std::string("default"));

        json mistralJson = gp::test::tinyConfigJson("mistral");
        mistralJson.erase("sliding_window");
        QCOMPARE(gp::parseModelConfig(mistralJson.dump(), "c.json").slidingWindow, int64_t(4096));
        QCOMPARE(gp::test::tinyConfig("mistral", {{"sliding_window", nullptr}}).slidingWindow,
                 int64_t(0));

        json neoJson = gp::test::tinyConfigJson(
            "gpt_neo", {{"num_layers", 24}, {"intermediate_size", nullptr}});
        neoJson.erase("attention_types");
        neoJson.erase("window_size");
        const ModelConfig neo = gp::parseModelConfig(neoJson.dump(), "c.json");
        QCOMPARE(neo.attentionLayers.size(), size_t(24));
        QCOMPARE(neo.attentionLayers[0], std::string("global"));
        QCOMPARE(neo.attentionLayers[1], std::string("local"));
        QCOMPARE(neo.attentionLayers[23], std::string("local"));
        QCOMPARE(neo.intermediateSize, int64_t(64));
        QCOMPARE(neo.localWindow, int64_t(256));
        QVERIFY(neo.tieWordEmbeddings);
        const ModelConfig neo4 = gp::test::tinyConfig(
            "gpt_neo",
            {{"num_layers", 4}, {"attention_types", json::parse(R"([[["global", "local"], 2]])")}});
        QCOMPARE(neo4.attentionLayers,
                 (std::vector<std::string>{"global", "local", "global", "local"}));

        QCOMPARE(gp::supportedModelTypes(),
                 (std::vector<std::string>{"llama", "mistral", "gpt_neo", "gpt2", "mlp", "qwen2",
                                           "qwen3", "phi3", "gemma2"}));
        QCOMPARE(std::string(gp::architectureName(gp::Architecture::GptNeo)),
                 std::string("gpt_neo"));
    }

    // ---- checkpoint tensors against the config ----

    void tensorErrorsNameSourceAndTensor_data() {
        QTest::addColumn<QString>("modelType");
        QTest::addColumn<QString>("overrides");
        QTest::addColumn<QString>("tensor");
        QTest::addColumn<QString>("change");
        QTest::addColumn<QString>("expected");
        QTest::newRow("llama k_proj mis-shaped") << "llama"
                                                 << "{}"
                                                 << "model.layers.1.self_attn.k_proj.weight"
                                                 << "square"
                                                 << "shape [16, 16]|config implies [8, 16]";
        QTest::newRow("llama lm_head missing") << "llama"
                                               << "{}"
                                               << "lm_head.weight"
                                               << "remove"
                                               << "missing tensor|[23, 16]";
        QTest::newRow("llama bias missing") << "llama"
                                            << R"({"attention_bias": true})"
                                            << "model.layers.0.self_attn.q_proj.bias"
                                            << "remove"
                                            << "missing tensor|[16]";
        QTest::newRow("llama norm in double") << "llama"
                                              << "{}"
                                              << "model.norm.weight"
                                              << "double"
                                              << "dtype|differs";
        QTest::newRow("gpt2 c_attn stored as [out, in]")
            << "gpt2"
            << "{}"
            << "transformer.h.0.attn.c_attn.weight"
            << "transpose"
            << "shape [48, 16]|config implies [16, 48]";
        QTest::newRow("gpt_neo wpe missing") << "gpt_neo"
                                             << "{}"
                                             << "transformer.wpe.weight"
                                             << "remove"
                                             << "missing tensor|[32, 16]";
        QTest::newRow("mlp fc2 bias mis-shaped") << "mlp"
                                                 << "{}"
                                                 << "blocks.1.fc2.bias"
                                                 << "square"
                                                 << "config implies [16]";
        QTest::newRow("mlp embedding as integers") << "mlp"
                                                   << "{}"
                                                   << "embed.weight"
                                                   << "integer"
                                                   << "floating-point";
    }

    void tensorErrorsNameSourceAndTensor() {
        QFETCH(QString, modelType);
        QFETCH(QString, overrides);
        QFETCH(QString, tensor);
        QFETCH(QString, change);
        QFETCH(QString, expected);
        const ModelConfig config =
            gp::test::tinyConfig(modelType.toStdString(), json::parse(overrides.toStdString()));
        WeightMap weights = gp::test::tinyWeights(config, 3);
        const std::string name = tensor.toStdString();
        QVERIFY(weights.count(name) == 1);
        at::Tensor& target = weights[name];
        if (change == "remove")
            weights.erase(name);
        else if (change == "square")
            target = at::zeros({16, 16});
        else if (change == "transpose")
            target = target.t().contiguous();
        else if (change == "double")
            target = target.to(at::kDouble);
        else if (change == "integer")
            target = target.to(at::kInt);

        const std::string message = errorMessage(
            [&] { gp::createCausalLM(config, std::move(weights), "/models/tiny.safetensors"); });
        QVERIFY2(!message.empty(), "no error for a bad checkpoint");
        QVERIFY2(message.find("/models/tiny.safetensors") != std::string::npos, message.c_str());
        QVERIFY2(message.find(name) != std::string::npos, message.c_str());
        for (const QString& part : expected.split('|'))
            QVERIFY2(message.find(part.toStdString()) != std::string::npos, message.c_str());
    }

    // ---- checkpoints as stored: tied weights under either name, unused tensors refused ----

    // transformers stores a tied embedding once, under either name (TinyStories-656K: only
    // lm_head.weight, with the safetensors metadata alias {"model.embed_tokens.weight":
    // "lm_head.weight"}); with both stored, tie_weights makes the head the embedding.
    void tiedHeadOpensUnderEitherName_data() {
        QTest::addColumn<QString>("stored");
        QTest::newRow("as the embedding") << "embedding";
        QTest::newRow("as lm_head") << "head";
        QTest::newRow("as lm_head with the metadata alias") << "alias";
        QTest::newRow("under both names") << "both";
    }
    void tiedHeadOpensUnderEitherName() {
        QFETCH(QString, stored);
        const ModelConfig config = gp::test::tinyConfig("llama", {{"tie_word_embeddings", true}});
        const WeightMap weights = gp::test::tinyWeights(config, 5);
        const std::string embedding = "model.embed_tokens.weight", head = "lm_head.weight";
        const auto expected = gp::createCausalLM(config, weights, "tiny");
        WeightMap asStored = weights;
        std::map<std::string, std::string> aliases;
        if (stored != "embedding") {
            asStored[head] = asStored.at(embedding);
            if (stored != "both") asStored.erase(embedding);
            if (stored == "both") asStored[head] = at::zeros_like(asStored.at(embedding));
            if (stored == "alias") aliases[embedding] = head;
        }
        const auto model = gp::createCausalLM(config, asStored, "tiny", aliases);
        const at::Tensor ids = gp::test::tinyIds(2, 9, config.vocabSize);
        QVERIFY(at::equal(model->forward(ids), expected->forward(ids)));
        QCOMPARE(model->weights().count(head), size_t(0));  // one tensor, read as the embedding
        if (stored == "embedding")
            QVERIFY(model->storedAs().empty());
        else
            QCOMPARE(model->storedAs().at(head), embedding);
    }

    // The opposite mistake: q/k/v biases under a config that says llama without attention_bias
    // would be ignored (perplexity silently off); the load is refused, naming them.
    void tensorsTheConfigDoesNotUseAreRefusedByName() {
        const ModelConfig config = gp::test::tinyConfig("llama");
        WeightMap weights = gp::test::tinyWeights(config, 3);
        const ModelConfig withBias = gp::test::tinyConfig("llama", {{"attention_bias", true}});
        const WeightMap biased = gp::test::tinyWeights(withBias, 3);
        std::vector<std::string> added;
        for (const auto& [name, tensor] : biased)
            if (!weights.count(name) && name.find("o_proj") == std::string::npos) {
                weights[name] = tensor;
                added.push_back(name);
            }
        QCOMPARE(added.size(), size_t(6));  // q, k, v biases of two blocks
        const std::string message = errorMessage(
            [&] { gp::createCausalLM(config, weights, "/models/qkv-bias/model.safetensors"); });
        QVERIFY2(message.find("/models/qkv-bias/model.safetensors") != std::string::npos,
                 message.c_str());
        QVERIFY2(message.find("6 tensors") != std::string::npos, message.c_str());
        QVERIFY2(message.find("\"llama\"") != std::string::npos, message.c_str());
        for (const std::string& name : added)
            QVERIFY2(message.find(name) != std::string::npos, message.c_str());
    }

    // ---- prunable weights, block tensors, the linear-input tap ----

    void prunableWeightsInBlockOrderWithOptionalHead_data() {
        QTest::addColumn<QString>("modelType");
        QTest::addColumn<QString>("overrides");
        QTest::addColumn<QStringList>("blockZero");  // module names of block 0, in order
        QTest::addColumn<QString>("head");
        QTest::newRow("llama") << "llama"
                               << "{}" << QStringList{"model.layers.0.self_attn.q_proj",
                                                      "model.layers.0.self_attn.k_proj",
                                                      "model.layers.0.self_attn.v_proj",
                                                      "model.layers.0.self_attn.o_proj",
                                                      "model.layers.0.mlp.gate_proj",
                                                      "model.layers.0.mlp.up_proj",
                                                      "model.layers.0.mlp.down_proj"}
                               << "lm_head.weight";
        QTest::newRow("llama tied")
            << "llama"
            << R"({"tie_word_embeddings": true})"
            << QStringList{"model.layers.0.self_attn.q_proj", "model.layers.0.self_attn.k_proj",
                           "model.layers.0.self_attn.v_proj", "model.layers.0.self_attn.o_proj",
                           "model.layers.0.mlp.gate_proj",    "model.layers.0.mlp.up_proj",
                           "model.layers.0.mlp.down_proj"}
            << "model.embed_tokens.weight";
        QTest::newRow("gpt_neo") << "gpt_neo"
                                 << "{}"
                                 << QStringList{"transformer.h.0.attn.attention.q_proj",
                                                "transformer.h.0.attn.attention.k_proj",
                                                "transformer.h.0.attn.attention.v_proj",
                                                "transformer.h.0.attn.attention.out_proj",
                                                "transformer.h.0.mlp.c_fc",
                                                "transformer.h.0.mlp.c_proj"}
                                 << "transformer.wte.weight";
        QTest::newRow("gpt2") << "gpt2"
                              << "{}"
                              << QStringList{"transformer.h.0.attn.c_attn",
                                             "transformer.h.0.attn.c_proj",
                                             "transformer.h.0.mlp.c_fc",
                                             "transformer.h.0.mlp.c_proj"}
                              << "transformer.wte.weight";
        QTest::newRow("mlp") << "mlp"
                             << "{}" << QStringList{"blocks.0.fc1", "blocks.0.fc2"}
                             << "lm_head.weight";
    }

    void prunableWeightsInBlockOrderWithOptionalHead() {
        QFETCH(QString, modelType);
        QFETCH(QString, overrides);
        QFETCH(QStringList, blockZero);
        QFETCH(QString, head);
        const auto model =
            gp::test::tinyModel(modelType.toStdString(), json::parse(overrides.toStdString()));
        const std::vector<gp::PrunableWeight> weights = model->prunableWeights();
        const int perBlock = int(blockZero.size());
        QCOMPARE(int(weights.size()), perBlock * int(model->numBlocks()));
        for (int i = 0; i < int(weights.size()); ++i) {
            QString expected = blockZero[i % perBlock] + ".weight";
            expected.replace(".0.", QString(".%1.").arg(i / perBlock));
            QCOMPARE(QString::fromStdString(weights[size_t(i)].name), expected);
            QCOMPARE(weights[size_t(i)].block, int64_t(i / perBlock));
            QCOMPARE(weights[size_t(i)].matrix.dim(), int64_t(2));
            QCOMPARE(weights[size_t(i)].matrix.data_ptr(),
                     model->weights().at(weights[size_t(i)].name).data_ptr());
        }
        const std::vector<gp::PrunableWeight> withHead = model->prunableWeights(true);
        QCOMPARE(withHead.size(), weights.size() + 1);
        QCOMPARE(QString::fromStdString(withHead.back().name), head);
        QCOMPARE(withHead.back().block, int64_t(-1));
        QCOMPARE(withHead.back().matrix.sizes().vec(),
                 (std::vector<int64_t>{model->config().vocabSize, model->config().hiddenSize}));

        // Every tensor of block 1 and nothing else.
        for (const std::string& name : model->blockWeightNames(1)) {
            QVERIFY2(name.find(".1.") != std::string::npos, name.c_str());
            QVERIFY(model->weights().count(name) == 1);
        }
        std::set<std::string> owned;
        for (int64_t b = 0; b < model->numBlocks(); ++b)
            for (const std::string& name : model->blockWeightNames(b)) owned.insert(name);
        for (const auto& [name, tensor] : model->weights()) {
            const bool inBlock =
                name.find(".0.") != std::string::npos || name.find(".1.") != std::string::npos;
            QVERIFY2(inBlock == (owned.count(name) == 1), name.c_str());
        }
    }

    void linearInputTapSeesEveryLinearLayer_data() { addArchitectureRows(); }
    void linearInputTapSeesEveryLinearLayer() {
        QFETCH(QString, modelType);
        const auto model = gp::test::tinyModel(modelType.toStdString());
        std::vector<std::pair<std::string, std::vector<int64_t>>> seen;
        model->setLinearInputTap([&](const std::string& name, const at::Tensor& input) {
            seen.emplace_back(name, input.sizes().vec());
        });
        const at::Tensor ids = gp::test::tinyIds(2, 5, model->config().vocabSize);
        model->forward(ids);

        // Each prunable layer (and the head) once, in forward order, with its [B, T, in] input.
        const std::vector<gp::PrunableWeight> layers = model->prunableWeights(true);
        QCOMPARE(seen.size(), layers.size());
        for (size_t i = 0; i < layers.size(); ++i) {
            QCOMPARE(seen[i].first, layers[i].name);
            QCOMPARE(seen[i].second, (std::vector<int64_t>{2, 5, layers[i].matrix.size(1)}));
        }
    }

    void learnedPositionsRefuseLongerInput() {
        const auto model = gp::test::tinyModel("gpt2");
        const std::string message = errorMessage(
            [&] { model->forward(gp::test::tinyIds(1, 33, model->config().vocabSize)); });
        QVERIFY2(message.find("seqlen") != std::string::npos, message.c_str());
        QVERIFY2(message.find("32") != std::string::npos, message.c_str());
    }

    void deviceAndDtypeAreTheEmbeddings() {
        const auto model = gp::test::tinyModel("llama", json::object(), 7, at::kDouble);
        QCOMPARE(model->dtype(), at::kDouble);
        QVERIFY(model->device().is_cpu());
        QCOMPARE(model->forward(gp::test::tinyIds(1, 3, 23)).scalar_type(), at::kDouble);
    }
};

QTEST_GUILESS_MAIN(TestModels)
#include "tst_models.moc"
