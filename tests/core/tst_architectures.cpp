// The rotary decoder families beyond LLaMA — Qwen2, Qwen3, Phi-3, Gemma 2 — and the RoPE
// scalings (linear, dynamic NTK, yarn, llama3, longrope), each as transformers computes it: a
// tiny checkpoint written here from a seeded generator (config.json, model.safetensors, the demo
// model's tokenizer.json and texts) is evaluated by the engine (ModelSession, and once per family
// by the real `gradprobe eval`) and by a reference written below from the transformers sources
// (modeling_qwen2/qwen3/phi3/gemma2.py, modeling_rope_utils.py) in plain fp64 LibTorch ops that
// share nothing with core/model. The two agree to 1e-4 relative perplexity, and every feature
// of a family is shown to matter: the reference without it moves the perplexity by > 1%.
// Block-wise runs give the whole model's bits; WANDA 50% runs and reports (a fused layer's parts
// included); dense and compressed exports load back bit-identically.
#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <set>

#include "core/api/engine.h"
#include "core/api/session_impl.h"
#include "core/eval/perplexity.h"
#include "core/eval/token_stream.h"
#include "core/io/safetensors.h"
#include "core/prune/activation_norms.h"
#include "core/prune/blockwise.h"
#include "core/prune/gradient_probe.h"
#include "core/report/run_record.h"
#include "core/runtime/error.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/core/tiny_checkpoints.h"
#include "tests/support/test_support.h"

using namespace gp;
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr int64_t kSeqlen = 33;  // 32 positions per window: past every window and context below
constexpr int64_t kWindows = 3;

// ---------------------------------------------------------------------------------------------
// The checkpoints.

json baseConfig(const std::string& modelType) {
    json c = {
        {"model_type", modelType},  {"vocab_size", 512},  // the demo model's tokenizer
        {"hidden_size", 32},        {"intermediate_size", 64},  {"num_hidden_layers", 2},
        {"num_attention_heads", 4}, {"num_key_value_heads", 2}, {"max_position_embeddings", 64},
        {"rms_norm_eps", 1e-6},     {"rope_theta", 10000.0},    {"tie_word_embeddings", false},
        {"bos_token_id", 1},        {"eos_token_id", 2}};
    return c;
}

struct Case {
    std::string name;
    json config;
    std::vector<std::string> features;  // dropped one at a time from the reference
};

std::vector<Case> cases() {
    std::vector<Case> all;
    json qwen2 = baseConfig("qwen2");
    qwen2.update({{"use_sliding_window", true}, {"sliding_window", 8}, {"max_window_layers", 1}});
    all.push_back({"qwen2", qwen2, {"q/k/v bias", "sliding window"}});

    json qwen3 = baseConfig("qwen3");
    qwen3.update({{"head_dim", 12}, {"rope_theta", 1000.0}});
    all.push_back({"qwen3", qwen3, {"q/k norm"}});

    const json llamaBase = [] {
        json c = baseConfig("llama");
        c["rope_theta"] = 500.0;
        return c;
    }();
    json llama3 = llamaBase;
    llama3["rope_scaling"] = {{"rope_type", "llama3"},
                              {"factor", 8.0},
                              {"low_freq_factor", 1.0},
                              {"high_freq_factor", 4.0},
                              {"original_max_position_embeddings", 16}};
    all.push_back({"llama3", llama3, {"rope scaling"}});
    json linear = llamaBase;
    linear["rope_scaling"] = {{"type", "linear"}, {"factor", 4.0}};
    all.push_back({"llama linear", linear, {"rope scaling"}});
    json dynamic = llamaBase;
    dynamic["max_position_embeddings"] = 16;  // 32 positions: past it, where dynamic acts
    dynamic["rope_scaling"] = {{"type", "dynamic"}, {"factor", 4.0}};
    all.push_back({"llama dynamic", dynamic, {"rope scaling"}});
    json yarn = llamaBase;
    yarn["rope_scaling"] = {
        {"rope_type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 16}};
    all.push_back({"llama yarn", yarn, {"rope scaling"}});

    json phi3 = baseConfig("phi3");
    phi3.update({{"partial_rotary_factor", 0.5}, {"sliding_window", 8}, {"rope_theta", 500.0}});
    all.push_back({"phi3", phi3, {"partial rotary", "sliding window"}});
    json longrope = baseConfig("phi3");
    longrope.update(
        {{"partial_rotary_factor", 0.5},
         {"rope_theta", 500.0},
         {"original_max_position_embeddings", 16},
         {"rope_scaling",
          {{"type", "longrope"}, {"short_factor", {1.0, 1.5}}, {"long_factor", {0.25, 0.05}}}}});
    all.push_back({"phi3 longrope", longrope, {"rope scaling"}});

    json gemma2 = baseConfig("gemma2");
    gemma2.update({{"head_dim", 16},
                   {"query_pre_attn_scalar", 64},
                   {"attn_logit_softcapping", 1.5},
                   {"final_logit_softcapping", 30.0},
                   {"sliding_window", 8},
                   {"hidden_activation", "gelu_pytorch_tanh"},
                   {"tie_word_embeddings", true}});
    all.push_back({"gemma2",
                   gemma2,
                   {"(1+w) norm", "embedding scale", "attention soft-cap", "final soft-cap",
                    "query_pre_attn_scalar", "sliding window", "post norms"}});
    return all;
}

int64_t headDimOf(const json& c) {
    if (c.contains("head_dim")) return c["head_dim"].get<int64_t>();
    return c["hidden_size"].get<int64_t>() / c["num_attention_heads"].get<int64_t>();
}

// Seeded weights under the names transformers' modules give them, written out by hand.
WeightMap caseWeights(const json& c, uint64_t seed = 5) {
    const std::string type = c["model_type"];
    test::TinyWeights w(seed, at::kFloat);
    const int64_t d = c["hidden_size"], inner = c["intermediate_size"], v = c["vocab_size"];
    const int64_t hd = headDimOf(c), q = c["num_attention_heads"].get<int64_t>() * hd,
                  kv = c["num_key_value_heads"].get<int64_t>() * hd;
    const bool gemma = type == "gemma2";
    // Gemma's norm weights are offsets from 1 (x * (1 + w)); the others' are the scale itself.
    const auto norm = [&](const std::string& name, int64_t size) {
        w.vector(name, size, gemma ? 0.3 : 0.2, gemma ? 0.0 : 1.0);
    };
    w.matrix("model.embed_tokens.weight", v, d, 1.0);
    for (int64_t i = 0; i < c["num_hidden_layers"].get<int64_t>(); ++i) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        norm(p + "input_layernorm.weight", d);
        if (type == "phi3") {
            w.matrix(p + "self_attn.qkv_proj.weight", q + 2 * kv, d, 0.5);
        } else {
            w.matrix(p + "self_attn.q_proj.weight", q, d, 0.5);
            w.matrix(p + "self_attn.k_proj.weight", kv, d, 0.5);
            w.matrix(p + "self_attn.v_proj.weight", kv, d);
        }
        if (type == "qwen2") {
            w.vector(p + "self_attn.q_proj.bias", q, 1.0);
            w.vector(p + "self_attn.k_proj.bias", kv, 1.0);
            w.vector(p + "self_attn.v_proj.bias", kv, 1.0);
        }
        if (type == "qwen3") {
            w.vector(p + "self_attn.q_norm.weight", hd, 0.3, 1.5);
            w.vector(p + "self_attn.k_norm.weight", hd, 0.3, 1.5);
        }
        w.matrix(p + "self_attn.o_proj.weight", d, q, 0.4);
        if (gemma) {
            norm(p + "post_attention_layernorm.weight", d);
            norm(p + "pre_feedforward_layernorm.weight", d);
            norm(p + "post_feedforward_layernorm.weight", d);
        } else {
            norm(p + "post_attention_layernorm.weight", d);
        }
        if (type == "phi3") {
            w.matrix(p + "mlp.gate_up_proj.weight", 2 * inner, d, 0.4);
        } else {
            w.matrix(p + "mlp.gate_proj.weight", inner, d, 0.4);
            w.matrix(p + "mlp.up_proj.weight", inner, d, 0.4);
        }
        w.matrix(p + "mlp.down_proj.weight", d, inner, 0.3);
    }
    norm("model.norm.weight", d);
    if (!c.value("tie_word_embeddings", false)) w.matrix("lm_head.weight", v, d, 0.4);
    return w.take();
}

// A Hugging Face folder: config.json, model.safetensors, the demo model's tokenizer and texts.
std::string writeFolder(const fs::path& folder, const json& config, const WeightMap& weights) {
    fs::create_directories(folder);
    test::writeBytes((folder / "config.json").string(), config.dump(2));
    std::vector<std::pair<std::string, at::Tensor>> tensors(weights.begin(), weights.end());
    writeSafetensors((folder / "model.safetensors").string(), tensors, {{"format", "pt"}});
    const fs::path demo = test::demoModelDir();
    for (const char* file : {"tokenizer.json", "calibration.txt", "evaluation.txt"})
        fs::copy_file(demo / file, folder / file, fs::copy_options::overwrite_existing);
    return folder.string();
}

// The windows `gradprobe eval --seqlen 33 --max-windows 3` scores on the folder's text.
at::Tensor evaluationWindows(const std::string& folder) {
    const auto tokenizer = loadTokenizerJson(folder + "/tokenizer.json");
    const std::string text = test::readBytes(folder + "/evaluation.txt");
    const std::vector<int32_t> ids = tokenizeText(*tokenizer, text, {}, "evaluation.txt");
    return cutWindows(ids, kSeqlen, kWindows, "evaluation.txt");
}

// ---------------------------------------------------------------------------------------------
// The reference: transformers' forward, written from its sources in fp64 (nothing from
// core/model). `dropped` names features to leave out, to show that each one matters.

class Reference {
public:
    Reference(json config, const WeightMap& weights, std::set<std::string> dropped)
        : c(std::move(config)), m_dropped(std::move(dropped)) {
        for (const auto& [name, tensor] : weights) m_w[name] = tensor.to(at::kDouble);
        type = c["model_type"].get<std::string>();
        heads = c["num_attention_heads"].get<int64_t>();
        kvHeads = c["num_key_value_heads"].get<int64_t>();
        hd = headDimOf(c);
        eps = c["rms_norm_eps"].get<double>();
    }

    // Mean next-token NLL over the windows (each fed its first L-1 ids).
    double nll(const at::Tensor& windows) {
        const at::Tensor inputs = windows.slice(1, 0, windows.size(1) - 1);
        const at::Tensor targets = windows.slice(1, 1);
        const at::Tensor logp = at::log_softmax(logits(inputs), -1);
        return -logp.gather(-1, targets.unsqueeze(-1)).mean().item<double>();
    }

private:
    bool has(const char* feature) const { return m_dropped.count(feature) == 0; }
    const at::Tensor& w(const std::string& name) const { return m_w.at(name); }
    at::Tensor proj(const at::Tensor& x, const std::string& module, bool bias = false) const {
        at::Tensor y = at::matmul(x, w(module + ".weight").t());
        return bias ? y + w(module + ".bias") : y;
    }

    // LlamaRMSNorm: w * x / rms; Gemma2RMSNorm: (1 + w) * x / rms.
    at::Tensor norm(const at::Tensor& x, const std::string& name) const {
        const at::Tensor normed = x * at::rsqrt(x.pow(2).mean(-1, true) + eps);
        const bool offset = type == "gemma2" && has("(1+w) norm");
        return normed * (offset ? 1.0 + w(name) : w(name));
    }

    // modeling_rope_utils.py: inverse frequencies and the cos/sin attention factor.
    at::Tensor frequencies(int64_t dim, int64_t positions, double* attention) const {
        *attention = 1.0;
        const double theta = c["rope_theta"];
        const at::Tensor exponent = at::arange(0, dim, 2, at::kDouble) / double(dim);
        const at::Tensor plain = 1.0 / at::pow(theta, exponent);
        const json scaling = c.value("rope_scaling", json());
        if (scaling.is_null() || !has("rope scaling")) return plain;
        const std::string kind = scaling.value("rope_type", scaling.value("type", ""));
        const double maxPositions = c["max_position_embeddings"];
        if (kind == "linear") return plain / scaling["factor"].get<double>();
        if (kind == "dynamic") {
            const double factor = scaling["factor"],
                         length = std::max(double(positions), maxPositions);
            const double base =
                theta * std::pow(factor * length / maxPositions - (factor - 1), dim / (dim - 2.0));
            return 1.0 / at::pow(base, exponent);
        }
        if (kind == "llama3") {
            const double factor = scaling["factor"], low = scaling["low_freq_factor"],
                         high = scaling["high_freq_factor"],
                         old = scaling["original_max_position_embeddings"];
            at::Tensor out = plain.clone();
            for (int64_t i = 0; i < out.size(0); ++i) {
                const double f = plain[i].item<double>(), wavelength = 2 * M_PI / f;
                if (wavelength > old / low) {
                    out[i] = f / factor;
                } else if (wavelength >= old / high) {
                    const double smooth = (old / wavelength - low) / (high - low);
                    out[i] = (1 - smooth) * f / factor + smooth * f;
                }
            }
            return out;
        }
        if (kind == "yarn") {
            const double factor = scaling["factor"],
                         old = scaling["original_max_position_embeddings"];
            *attention = 0.1 * std::log(factor) + 1.0;
            const auto correction = [&](double rotations) {
                return dim * std::log(old / (rotations * 2 * M_PI)) / (2 * std::log(theta));
            };
            const double low = std::max(std::floor(correction(32.0)), 0.0);
            double high = std::min(std::ceil(correction(1.0)), double(dim - 1));
            if (low == high) high += 0.001;
            const at::Tensor ramp =
                ((at::arange(dim / 2, at::kDouble) - low) / (high - low)).clamp(0, 1);
            const at::Tensor keep = 1.0 - ramp;  // extrapolation weight
            return plain / factor * (1.0 - keep) + plain * keep;
        }
        if (kind == "longrope") {
            const double old = c["original_max_position_embeddings"];
            *attention = std::sqrt(1.0 + std::log(maxPositions / old) / std::log(old));
            const std::vector<double> factors =
                positions > old ? scaling["long_factor"].get<std::vector<double>>()
                                : scaling["short_factor"].get<std::vector<double>>();
            return plain / at::tensor(factors, at::kDouble);
        }
        throw std::runtime_error("reference: no rope " + kind);
    }

    at::Tensor rotate(const at::Tensor& x, int64_t dim) const {  // x [B, H, T, hd]
        const int64_t positions = x.size(2);
        double attention = 1.0;
        const at::Tensor f = frequencies(dim, positions, &attention);
        const at::Tensor angles = at::outer(at::arange(positions, at::kDouble), f);
        const at::Tensor emb = at::cat({angles, angles}, -1);
        const at::Tensor cos = emb.cos() * attention, sin = emb.sin() * attention;
        const at::Tensor r = x.slice(-1, 0, dim), pass = x.slice(-1, dim);
        const at::Tensor half = at::cat({-r.slice(-1, dim / 2), r.slice(-1, 0, dim / 2)}, -1);
        return at::cat({r * cos + half * sin, pass}, -1);
    }

    int64_t window(int64_t layer) const {
        if (!has("sliding window")) return 0;
        if (type == "qwen2" || type == "qwen3")
            return c.value("use_sliding_window", false) && layer >= c.value("max_window_layers", 28)
                       ? c["sliding_window"].get<int64_t>()
                       : 0;
        if (type == "gemma2") return layer % 2 == 0 ? c["sliding_window"].get<int64_t>() : 0;
        if (type == "phi3") return c.value("sliding_window", 0);
        return 0;
    }

    at::Tensor attention(const at::Tensor& x, int64_t layer) const {
        const std::string p = "model.layers." + std::to_string(layer) + ".self_attn.";
        const int64_t B = x.size(0), T = x.size(1);
        at::Tensor q, k, v;
        if (type == "phi3") {
            const at::Tensor qkv = proj(x, p + "qkv_proj");
            q = qkv.slice(-1, 0, heads * hd);
            k = qkv.slice(-1, heads * hd, (heads + kvHeads) * hd);
            v = qkv.slice(-1, (heads + kvHeads) * hd);
        } else {
            const bool bias = type == "qwen2" && has("q/k/v bias");
            q = proj(x, p + "q_proj", bias);
            k = proj(x, p + "k_proj", bias);
            v = proj(x, p + "v_proj", bias);
        }
        q = q.reshape({B, T, heads, hd});
        k = k.reshape({B, T, kvHeads, hd});
        v = v.reshape({B, T, kvHeads, hd}).transpose(1, 2);
        if (type == "qwen3" && has("q/k norm")) {  // Qwen3RMSNorm over head_dim
            q = q * at::rsqrt(q.pow(2).mean(-1, true) + eps) * w(p + "q_norm.weight");
            k = k * at::rsqrt(k.pow(2).mean(-1, true) + eps) * w(p + "k_norm.weight");
        }
        const double partial = has("partial rotary") ? c.value("partial_rotary_factor", 1.0) : 1.0;
        const int64_t dim = int64_t(hd * partial);
        q = rotate(q.transpose(1, 2), dim);
        k = rotate(k.transpose(1, 2), dim).repeat_interleave(heads / kvHeads, 1);
        v = v.repeat_interleave(heads / kvHeads, 1);
        double scalar = double(hd);
        if (type == "gemma2" && has("query_pre_attn_scalar"))
            scalar = c["query_pre_attn_scalar"].get<double>();
        at::Tensor scores = at::matmul(q, k.transpose(2, 3)) / std::sqrt(scalar);
        if (type == "gemma2" && has("attention soft-cap")) {
            const double cap = c["attn_logit_softcapping"];
            scores = at::tanh(scores / cap) * cap;
        }
        const at::Tensor i = at::arange(T).unsqueeze(1), j = at::arange(T).unsqueeze(0);
        at::Tensor allowed = j <= i;
        if (window(layer) > 0) allowed = allowed & (i - j < window(layer));
        scores = scores.masked_fill(allowed.logical_not(), -INFINITY);
        const at::Tensor mixed = at::matmul(at::softmax(scores, -1), v);  // [B, H, T, hd]
        return proj(mixed.transpose(1, 2).reshape({B, T, heads * hd}), p + "o_proj");
    }

    at::Tensor mlp(const at::Tensor& x, int64_t layer) const {
        const std::string p = "model.layers." + std::to_string(layer) + ".mlp.";
        if (type == "phi3") {
            const std::vector<at::Tensor> halves = proj(x, p + "gate_up_proj").chunk(2, -1);
            return proj(halves[1] * at::silu(halves[0]), p + "down_proj");
        }
        const at::Tensor gate = proj(x, p + "gate_proj");
        const at::Tensor active = type == "gemma2" ? at::gelu(gate, "tanh") : at::silu(gate);
        return proj(active * proj(x, p + "up_proj"), p + "down_proj");
    }

    at::Tensor logits(const at::Tensor& ids) const {
        at::Tensor x = at::embedding(w("model.embed_tokens.weight"), ids);
        if (type == "gemma2" && has("embedding scale"))
            x = x * std::sqrt(c["hidden_size"].get<double>());
        const bool sandwich = type == "gemma2" && has("post norms");
        for (int64_t l = 0; l < c["num_hidden_layers"].get<int64_t>(); ++l) {
            const std::string p = "model.layers." + std::to_string(l) + ".";
            at::Tensor a = attention(norm(x, p + "input_layernorm.weight"), l);
            if (sandwich) a = norm(a, p + "post_attention_layernorm.weight");
            x = x + a;
            const std::string mlpNorm =
                type == "gemma2" ? "pre_feedforward_layernorm" : "post_attention_layernorm";
            at::Tensor m = mlp(norm(x, p + mlpNorm + ".weight"), l);
            if (sandwich) m = norm(m, p + "post_feedforward_layernorm.weight");
            x = x + m;
        }
        x = norm(x, "model.norm.weight");
        const bool tied = c.value("tie_word_embeddings", false);
        at::Tensor out =
            at::matmul(x, w(tied ? "model.embed_tokens.weight" : "lm_head.weight").t());
        if (type == "gemma2" && has("final soft-cap")) {
            const double cap = c["final_logit_softcapping"];
            out = at::tanh(out / cap) * cap;
        }
        return out;
    }

    json c;
    std::set<std::string> m_dropped;
    std::map<std::string, at::Tensor> m_w;
    std::string type;
    int64_t heads = 0, kvHeads = 0, hd = 0;
    double eps = 1e-6;
};

double referencePpl(const Case& item, const WeightMap& weights, const at::Tensor& windows,
                    const std::set<std::string>& dropped = {}) {
    return std::exp(Reference(item.config, weights, dropped).nll(windows));
}

const Case& caseNamed(const QString& name) {
    static const std::vector<Case> all = cases();
    for (const Case& item : all)
        if (item.name == name.toStdString()) return item;
    throw std::runtime_error("no case " + name.toStdString());
}

void addCaseRows() {
    QTest::addColumn<QString>("name");
    for (const Case& item : cases())
        QTest::newRow(item.name.c_str()) << QString::fromStdString(item.name);
}

// One row per family (the scalings share llama's code path).
void addFamilyRows() {
    QTest::addColumn<QString>("name");
    for (const char* name : {"qwen2", "qwen3", "llama3", "phi3", "phi3 longrope", "gemma2"})
        QTest::newRow(name) << QString(name);
}

EvalResult evaluateFolder(const std::string& folder, bool blockwise = false) {
    LoadOptions load;
    load.blockwise = blockwise;
    const auto session = ModelSession::open(folder, load);
    EvalOptions eval;
    eval.seqlen = kSeqlen;
    eval.maxWindows = kWindows;
    return session->evaluate(eval);
}

double relative(double a, double b) {
    return std::abs(a - b) / std::abs(b);
}

std::vector<at::Tensor> zeroMasks(ModelSession& session) {
    std::vector<at::Tensor> masks;
    for (const PrunableWeight& weight : session.impl().prunable)
        masks.push_back(weight.matrix == 0);
    return masks;
}

}  // namespace

class TestArchitectures : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void initTestCase() {
        initialiseEngine();
        QVERIFY(m_root.isValid());
    }

    // ---- the engine against the reference, and every feature matters ----

    void engineMatchesReference_data() { addCaseRows(); }
    void engineMatchesReference() {
        QFETCH(QString, name);
        const Case& item = caseNamed(name);
        const WeightMap weights = caseWeights(item.config);
        const std::string folder =
            writeFolder(fs::path(m_root.path().toStdString()) / item.name, item.config, weights);
        const at::Tensor windows = evaluationWindows(folder);
        QCOMPARE(windows.size(0), kWindows);
        const double expected = referencePpl(item, weights, windows);
        const EvalResult measured = evaluateFolder(folder);
        QCOMPARE(measured.tokens, kWindows * (kSeqlen - 1));
        const double agreement = relative(measured.ppl, expected);
        qInfo("%s: ppl %.6f, reference %.6f, relative difference %.2e", item.name.c_str(),
              measured.ppl, expected, agreement);
        QVERIFY2(agreement < 1e-4, qPrintable(QString("%1 vs %2").arg(measured.ppl).arg(expected)));
        for (const std::string& feature : item.features) {
            const double without = referencePpl(item, weights, windows, {feature});
            const double change = relative(without, expected);
            qInfo("%s: without %s ppl %.6f (%+.2f%%)", item.name.c_str(), feature.c_str(), without,
                  100.0 * (without - expected) / expected);
            QVERIFY2(change > 0.01, qPrintable(QString("%1 moves ppl by only %2%")
                                                   .arg(QString::fromStdString(feature))
                                                   .arg(100.0 * change)));
        }
    }

    // The real CLI binary, once per family.
    void cliEvalMatchesReference_data() { addFamilyRows(); }
    void cliEvalMatchesReference() {
        QFETCH(QString, name);
        const Case& item = caseNamed(name);
        const WeightMap weights = caseWeights(item.config);
        const std::string folder = writeFolder(
            fs::path(m_root.path().toStdString()) / ("cli " + item.name), item.config, weights);
        const double expected = referencePpl(item, weights, evaluationWindows(folder));
        QProcess process;
        process.setProgram(QStringLiteral(GP_CLI_BINARY));
        process.setArguments({"eval", "--model", QString::fromStdString(folder), "--seqlen",
                              QString::number(kSeqlen), "--max-windows", QString::number(kWindows),
                              "--json"});
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert("OMP_WAIT_POLICY", "PASSIVE");
        process.setProcessEnvironment(environment);
        process.start();
        QVERIFY(process.waitForFinished(120000));
        const QByteArray out = process.readAllStandardOutput();
        QVERIFY2(process.exitCode() == 0, process.readAllStandardError().constData());
        const json result = json::parse(out.toStdString());
        const double ppl = result["ppl"];
        qInfo("%s: gradprobe eval ppl %.6f, reference %.6f, relative %.2e", item.name.c_str(), ppl,
              expected, relative(ppl, expected));
        QVERIFY2(relative(ppl, expected) < 1e-4, out.constData());
    }

    // ---- config semantics ----

    void qwenWindowFollowsUseSlidingWindow() {
        json c = baseConfig("qwen2");
        c.update({{"sliding_window", 8}, {"max_window_layers", 1}});
        ModelConfig off = parseModelConfig(c.dump(), "c.json");  // use_sliding_window absent
        QCOMPARE(attentionWindow(off, 0), int64_t(0));
        QCOMPARE(attentionWindow(off, 1), int64_t(0));
        c["use_sliding_window"] = true;
        const ModelConfig on = parseModelConfig(c.dump(), "c.json");
        QCOMPARE(attentionWindow(on, 0), int64_t(0));  // below max_window_layers
        QCOMPARE(attentionWindow(on, 1), int64_t(8));
        c["layer_types"] = {"sliding_attention", "full_attention"};
        const ModelConfig typed = parseModelConfig(c.dump(), "c.json");
        QCOMPARE(attentionWindow(typed, 0), int64_t(8));
        QCOMPARE(attentionWindow(typed, 1), int64_t(0));
        const ModelConfig gemma = parseModelConfig(caseNamed("gemma2").config.dump(), "c.json");
        QCOMPARE(attentionWindow(gemma, 0), int64_t(8));  // blocks 0, 2, ... slide
        QCOMPARE(attentionWindow(gemma, 1), int64_t(0));
        QCOMPARE(gemma.queryPreAttnScalar, 64.0);
        QCOMPARE(parseModelConfig(baseConfig("qwen3").dump(), "c.json").headDim, int64_t(128));
    }

    void ropeConfigsAreReadOrRefused_data() {
        QTest::addColumn<QString>("overrides");
        QTest::addColumn<QString>("error");  // "" = accepted
        QTest::newRow("rope_parameters (transformers 5)")
            << R"({"rope_parameters": {"rope_type": "linear", "factor": 2.0, "rope_theta": 500.0}})"
            << "";
        QTest::newRow("su is longrope")
            << R"({"rope_scaling": {"type": "su", "short_factor": [1,1], "long_factor": [2,2]},
                  "head_dim": 4})"
            << "";
        QTest::newRow("unknown type")
            << R"({"rope_scaling": {"rope_type": "ntk-by-parts", "factor": 2.0}})"
            << "rope_scaling|\"ntk-by-parts\" is not supported|llama3, longrope";
        QTest::newRow("llama3 without low_freq_factor")
            << R"({"rope_scaling": {"rope_type": "llama3", "factor": 8.0, "high_freq_factor": 4.0,
                  "original_max_position_embeddings": 16}})"
            << "rope_scaling|low_freq_factor";
        QTest::newRow("longrope factors of the wrong length")
            << R"({"rope_scaling": {"type": "longrope", "short_factor": [1], "long_factor": [1]}})"
            << "rope_scaling|4 entries";
        QTest::newRow("partial rotary out of range") << R"({"partial_rotary_factor": 1.5})"
                                                     << "partial_rotary_factor|(0, 1]";
    }
    void ropeConfigsAreReadOrRefused() {
        QFETCH(QString, overrides);
        QFETCH(QString, error);
        json c = baseConfig("llama");
        c.update(json::parse(overrides.toStdString()));
        std::string message;
        try {
            parseModelConfig(c.dump(), "tiny/config.json");
        } catch (const Error& e) {
            message = e.what();
        }
        if (error.isEmpty()) QVERIFY2(message.empty(), message.c_str());
        for (const QString& part : error.split('|', Qt::SkipEmptyParts))
            QVERIFY2(QString::fromStdString(message).contains(part), message.c_str());
    }

    // ---- block-wise: the whole model's bits ----

    void blockwiseEqualsWholeModel_data() { addFamilyRows(); }
    void blockwiseEqualsWholeModel() {
        QFETCH(QString, name);
        const Case& item = caseNamed(name);
        const ModelConfig config = parseModelConfig(item.config.dump(), "tiny/config.json");
        const auto model = createCausalLM(config, caseWeights(item.config), "tiny");
        const at::Tensor windows = test::tinyIds(5, 20, config.vocabSize, 3);
        PerplexityOptions options;
        options.batchSize = 2;
        const PerplexityResult whole = evaluatePerplexity(*model, windows, options);
        const PerplexityResult blockwise =
            evaluatePerplexityBlockwise(*model, ComputeSpec{}, windows, options);
        QCOMPARE(blockwise.nll, whole.nll);

        const std::vector<PrunableWeight> layers = model->prunableWeights(true);
        const auto norms = collectActivationNorms(*model, layers, windows, 2, NormStatistic::Paper);
        const auto blockNorms = collectActivationNormsBlockwise(*model, ComputeSpec{}, layers,
                                                                windows, 2, NormStatistic::Paper);
        for (const PrunableWeight& layer : layers)
            QVERIFY2(at::equal(blockNorms.at(layer.name), norms.at(layer.name)),
                     layer.name.c_str());

        std::vector<int64_t> all(layers.size());
        for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
        const GradientRecording recording{3, 2, false};
        const auto maxima = recordGradientMaxima(*model, layers, all, windows, recording);
        const auto blockMaxima =
            recordGradientMaximaBlockwise(*model, ComputeSpec{}, layers, all, windows, recording);
        for (size_t i = 0; i < maxima.size(); ++i) {
            GP_COMPARE_TENSORS(blockMaxima[i], maxima[i], 0.0, 0.0);
            QVERIFY2(maxima[i].gt(0).any().item<bool>(), layers[i].name.c_str());
        }
    }

    // A whole WANDA run through the facade, whole-model and --blockwise: the same masks and
    // perplexity; the run reports, a fused layer with its parts.
    void wandaRunsAndReportsBlockwiseToo_data() { addFamilyRows(); }
    void wandaRunsAndReportsBlockwiseToo() {
        QFETCH(QString, name);
        const Case& item = caseNamed(name);
        const std::string folder =
            writeFolder(fs::path(m_root.path().toStdString()) / ("wanda " + item.name), item.config,
                        caseWeights(item.config));
        PruneOptions options;
        options.method = "wanda";
        options.sparsity = 0.5;
        options.nsamples = 8;
        options.seqlen = kSeqlen;
        options.evalMaxWindows = kWindows;
        const auto whole = ModelSession::open(folder);
        const PruneResult result = whole->prune(options);
        QCOMPARE(result.sparsity, 0.5);
        QVERIFY(std::isfinite(result.pplAfter) && result.pplAfter > 1.0);
        LoadOptions load;
        load.blockwise = true;
        const auto blockwise = ModelSession::open(folder, load);
        PruneOptions blockOptions = options;
        blockOptions.blockwise = true;
        const PruneResult blockResult = blockwise->prune(blockOptions);
        QCOMPARE(blockResult.pplBefore, result.pplBefore);
        QCOMPARE(blockResult.pplAfter, result.pplAfter);
        const std::vector<at::Tensor> masks = zeroMasks(*whole), blockMasks = zeroMasks(*blockwise);
        for (size_t i = 0; i < masks.size(); ++i) QVERIFY(at::equal(masks[i], blockMasks[i]));

        const std::string record = runRecordJson(whole->runRecord(result));
        const bool fused = item.config["model_type"] == "phi3";
        bool sawParts = false;
        for (const LayerResultEvent& layer : result.layers) {
            if (layer.layer.find("qkv_proj") != std::string::npos) {
                QCOMPARE(layer.parts.size(), size_t(3));
                QCOMPARE(layer.parts[1].name, std::string("k"));
                QCOMPARE(layer.parts[1].firstRow, int64_t(32));  // after 4 heads x 8 of q
                QCOMPARE(layer.parts[2].rows, int64_t(16));      // 2 kv heads x 8
                sawParts = true;
            }
        }
        QCOMPARE(sawParts, fused);
        QCOMPARE(record.find("\"first_row\"") != std::string::npos, fused);
        const RunRecord back = parseRunRecord(record, "report.json");
        QCOMPARE(back.result.layers.front().parts.size(), result.layers.front().parts.size());
    }

    // ---- export -> load, dense and compressed: the same bits and perplexity ----

    void exportLoadsBackBitIdentical_data() {
        QTest::addColumn<QString>("name");
        QTest::addColumn<QString>("format");
        for (const char* name : {"qwen2", "qwen3", "llama3", "phi3", "gemma2"})
            for (const char* format : {"dense", "compressed"})
                QTest::newRow(qPrintable(QString("%1 %2").arg(name, format)))
                    << QString(name) << QString(format);
    }
    void exportLoadsBackBitIdentical() {
        QFETCH(QString, name);
        QFETCH(QString, format);
        const Case& item = caseNamed(name);
        const fs::path root = fs::path(m_root.path().toStdString()) /
                              ("export " + item.name + " " + format.toStdString());
        const std::string folder = writeFolder(root / "in", item.config, caseWeights(item.config));
        const auto session = ModelSession::open(folder);
        PruneOptions options;
        options.method = "wanda";
        options.nsamples = 4;
        options.seqlen = kSeqlen;
        options.evaluate = false;
        session->prune(options);
        ExportOptions exportOptions;
        exportOptions.outDir = (root / "out").string();
        exportOptions.format = format.toStdString();
        const ExportResult exported = session->exportModel(exportOptions);
        const auto back = ModelSession::open(exported.modelPath);
        QCOMPARE(back->info().architecture, item.config["model_type"].get<std::string>());
        const WeightMap& before = session->impl().model->weights();
        const WeightMap& after = back->impl().model->weights();
        for (const auto& [tensorName, tensor] : before)
            QVERIFY2(at::equal(after.at(tensorName), tensor), tensorName.c_str());
        EvalOptions eval;
        eval.seqlen = kSeqlen;
        eval.maxWindows = kWindows;
        QCOMPARE(back->evaluate(eval).ppl, session->evaluate(eval).ppl);
        for (const LayerInfo& layer : back->info().prunableLayers) {
            const bool qkv = layer.name.find("qkv_proj") != std::string::npos;
            const bool gateUp = layer.name.find("gate_up_proj") != std::string::npos;
            QCOMPARE(layer.parts.size(), size_t(qkv ? 3 : gateUp ? 2 : 0));
        }
    }

    // ---- info --config: the same description as the weights give, and a real config ----

    void planFromConfigDescribesWhatLoadingWould_data() { addFamilyRows(); }
    void planFromConfigDescribesWhatLoadingWould() {
        QFETCH(QString, name);
        const Case& item = caseNamed(name);
        const std::string folder = writeFolder(
            fs::path(m_root.path().toStdString()) / ("plan " + item.name), item.config,
            caseWeights(item.config));
        const ConfigPlan plan = planFromConfig(folder + "/config.json");
        const ModelInfo loaded = ModelSession::open(folder)->info();
        QCOMPARE(plan.info.totalParameters, loaded.totalParameters);
        QCOMPARE(plan.info.prunableParameters, loaded.prunableParameters);
        QCOMPARE(plan.info.prunableLayers.size(), loaded.prunableLayers.size());
        for (size_t i = 0; i < loaded.prunableLayers.size(); ++i) {
            QCOMPARE(plan.info.prunableLayers[i].name, loaded.prunableLayers[i].name);
            QCOMPARE(plan.info.prunableLayers[i].parts.size(), loaded.prunableLayers[i].parts.size());
        }
        QCOMPARE(plan.needs.size(), size_t(12));  // six ways of running, fp32 and bf16
        for (const MemoryNeed& need : plan.needs) {
            const bool blockwise = need.run.find("--blockwise") != std::string::npos;
            QCOMPARE(need.weightBytes == 0, blockwise);
            QVERIFY2(need.runBytes > 0, need.run.c_str());
            if (!blockwise)  // the weights in the compute dtype
                QCOMPARE(need.weightBytes,
                         loaded.totalParameters * (need.dtype == "fp32" ? 4 : 2));
        }
    }

    // Llama-3.2-1B's published config.json (resources/configs): its parameters counted here from
    // the architecture (tied embedding; q, k, v, o, gate, up, down; two norms per block; one
    // final norm): 1,235,814,400, the "1.24B" of the model card.
    void planFromRealLlama32Config() {
        const std::string config = std::string(GP_SOURCE_DIR) + "/resources/configs/llama-3.2-1b.json";
        const ConfigPlan plan = planFromConfig(config);
        const int64_t v = 128256, d = 2048, kv = 8 * 64, inner = 8192, layers = 16;
        const int64_t perBlock = d * d + 2 * kv * d + d * d + 3 * d * inner + 2 * d;
        QCOMPARE(plan.info.totalParameters, v * d + layers * perBlock + d);
        QCOMPARE(plan.info.totalParameters, int64_t(1235814400));
        QCOMPARE(plan.info.prunableLayers.size(), size_t(16 * 7));
        QCOMPARE(plan.storedDtype, std::string("bf16"));
    }

private:
    QTemporaryDir m_root;
};

QTEST_GUILESS_MAIN(TestArchitectures)
#include "tst_architectures.moc"
