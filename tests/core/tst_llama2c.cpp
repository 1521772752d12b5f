// llama2.c legacy checkpoints: a file written here byte by byte in llama2.c's order reads into
// Hugging Face names, with q and k rows moved exactly as convert_llama_weights_to_hf's permute
// moves them (checked element by element, and by equal attention scores under the two rotary
// conventions); export writes the same bytes back; malformed headers and sizes are refused.
// stories260K (from $GRADPROBE_DATA) round-trips byte for byte.
#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "core/io/checkpoint.h"
#include "core/io/llama2c_checkpoint.h"
#include "core/runtime/error.h"
#include "tests/support/test_support.h"

namespace {

using gp::test::readBytes;
using gp::test::writeBytes;

namespace fs = std::filesystem;

struct Shape {
    int dim, hidden, layers, heads, kvHeads, vocab, seqLen;
    bool shared;
    int headSize() const { return dim / heads; }
    int kvDim() const { return kvHeads * headSize(); }
};

// A model in llama2.c's own names and layout (model.py's Transformer).
struct Llama2cModel {
    Shape shape;
    at::Tensor tokEmbeddings, norm, freqsCos, freqsSin, output;
    std::vector<at::Tensor> attentionNorm, wq, wk, wv, wo, ffnNorm, w1, w2, w3;
};

Llama2cModel randomModel(const Shape& s, int64_t seed) {
    at::manual_seed(seed);
    Llama2cModel m;
    m.shape = s;
    m.tokEmbeddings = at::randn({s.vocab, s.dim});
    for (int l = 0; l < s.layers; ++l) {
        m.attentionNorm.push_back(at::rand({s.dim}) + 0.5);
        m.wq.push_back(at::randn({s.dim, s.dim}) * 0.3);
        m.wk.push_back(at::randn({s.kvDim(), s.dim}) * 0.3);
        m.wv.push_back(at::randn({s.kvDim(), s.dim}));
        m.wo.push_back(at::randn({s.dim, s.dim}));
        m.ffnNorm.push_back(at::rand({s.dim}) + 0.5);
        m.w1.push_back(at::randn({s.hidden, s.dim}));
        m.w2.push_back(at::randn({s.dim, s.hidden}));
        m.w3.push_back(at::randn({s.hidden, s.dim}));
    }
    m.norm = at::rand({s.dim}) + 0.5;
    m.freqsCos = at::randn({s.seqLen, s.headSize() / 2});  // arbitrary: they must just survive
    m.freqsSin = at::randn({s.seqLen, s.headSize() / 2});
    m.output = s.shared ? m.tokEmbeddings : at::randn({s.vocab, s.dim});
    return m;
}

// export.py's legacy_export, written independently of the engine.
std::string serialize(const Llama2cModel& m) {
    const Shape& s = m.shape;
    const int32_t header[7] = {
        s.dim, s.hidden, s.layers, s.heads, s.kvHeads, s.shared ? s.vocab : -s.vocab, s.seqLen};
    std::string bytes(reinterpret_cast<const char*>(header), sizeof header);
    const auto put = [&](const at::Tensor& t) {
        const at::Tensor c = t.contiguous();
        bytes.append(static_cast<const char*>(c.data_ptr()), size_t(c.numel()) * sizeof(float));
    };
    put(m.tokEmbeddings);
    for (const auto* group :
         {&m.attentionNorm, &m.wq, &m.wk, &m.wv, &m.wo, &m.ffnNorm, &m.w1, &m.w2, &m.w3})
        for (const at::Tensor& t : *group) put(t);
    put(m.norm);
    put(m.freqsCos);
    put(m.freqsSin);
    if (!s.shared) put(m.output);
    return bytes;
}

std::string layer(int l, const char* suffix) {
    return "model.layers." + std::to_string(l) + "." + suffix;
}

// HF row r of head h holds llama2.c row: r = j * hs/2 + i  <-  2i + j (i < hs/2, j in {0, 1}).
// Returns "" when every row is where it belongs, else the first misplaced row.
std::string misplacedRotaryRow(const at::Tensor& hf, const at::Tensor& llama2c, int heads) {
    if (hf.sizes() != llama2c.sizes()) return "shapes differ";
    const int hs = int(llama2c.size(0)) / heads;
    for (int h = 0; h < heads; ++h)
        for (int i = 0; i < hs / 2; ++i)
            for (int j = 0; j < 2; ++j)
                if (!at::equal(hf[h * hs + j * (hs / 2) + i], llama2c[h * hs + 2 * i + j]))
                    return "head " + std::to_string(h) + ": HF row " +
                           std::to_string(j * (hs / 2) + i) + " is not llama2.c row " +
                           std::to_string(2 * i + j);
    return "";
}

// Attention scores q_m . k_n per query head at positions m and n, both rotary conventions,
// written from their definitions: llama2.c's run.c rotates (2i, 2i+1) by pos / 10000^(2i/hs);
// HF's rotate_half rotates (i, i + hs/2) by the same angle.
std::vector<double> scores(const at::Tensor& wq, const at::Tensor& wk, const Shape& s,
                           const at::Tensor& xm, const at::Tensor& xn, int m, int n,
                           bool interleaved) {
    const int hs = s.headSize();
    const auto rotate = [&](at::Tensor v, int pos) {
        v = v.to(at::kDouble).clone();
        auto a = v.accessor<double, 1>();
        const int heads = int(v.size(0)) / hs;
        for (int h = 0; h < heads; ++h)
            for (int i = 0; i < hs / 2; ++i) {
                const double angle = pos / std::pow(10000.0, 2.0 * i / hs);
                const int p = h * hs + (interleaved ? 2 * i : i);
                const int q = h * hs + (interleaved ? 2 * i + 1 : i + hs / 2);
                const double v0 = a[p], v1 = a[q];
                a[p] = v0 * std::cos(angle) - v1 * std::sin(angle);
                a[q] = v0 * std::sin(angle) + v1 * std::cos(angle);
            }
        return v;
    };
    const at::Tensor q = rotate(at::mv(wq.to(at::kDouble), xm.to(at::kDouble)), m);
    const at::Tensor k = rotate(at::mv(wk.to(at::kDouble), xn.to(at::kDouble)), n);
    std::vector<double> result;
    const int group = s.heads / s.kvHeads;
    for (int h = 0; h < s.heads; ++h)
        result.push_back(at::dot(q.slice(0, h * hs, (h + 1) * hs),
                                 k.slice(0, (h / group) * hs, (h / group + 1) * hs))
                             .item<double>());
    return result;
}

void addShapeRows() {
    QTest::addColumn<int>("dim");
    QTest::addColumn<int>("hidden");
    QTest::addColumn<int>("layers");
    QTest::addColumn<int>("heads");
    QTest::addColumn<int>("kvHeads");
    QTest::addColumn<int>("vocab");
    QTest::addColumn<int>("seqLen");
    QTest::addColumn<bool>("shared");
    // Head sizes 8, 12 and 6: for a head size of 4 the permutation is its own inverse, which
    // would hide a permutation applied the wrong way round.
    QTest::newRow("multi-head, shared classifier") << 32 << 24 << 2 << 4 << 4 << 32 << 8 << true;
    QTest::newRow("grouped-query, own classifier") << 36 << 40 << 3 << 3 << 1 << 20 << 10 << false;
    QTest::newRow("one kv head, one layer") << 12 << 12 << 1 << 2 << 1 << 7 << 5 << true;
    QTest::newRow("grouped-query, 4 per group") << 64 << 16 << 1 << 8 << 2 << 9 << 6 << false;
}

Shape fetchShape() {
    QFETCH(int, dim);
    QFETCH(int, hidden);
    QFETCH(int, layers);
    QFETCH(int, heads);
    QFETCH(int, kvHeads);
    QFETCH(int, vocab);
    QFETCH(int, seqLen);
    QFETCH(bool, shared);
    return {dim, hidden, layers, heads, kvHeads, vocab, seqLen, shared};
}

}  // namespace

class TestLlama2c : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_dir;
    fs::path path(const std::string& name) const {
        return fs::path(m_dir.path().toStdString()) / name;
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void importUsesHuggingFaceNamesAndLayout_data() { addShapeRows(); }
    void importUsesHuggingFaceNamesAndLayout() {
        const Shape s = fetchShape();
        const Llama2cModel m = randomModel(s, 42);
        const fs::path file = path("model.bin");
        writeBytes(file, serialize(m));
        const gp::Llama2cFile read = gp::readLlama2c(file.string());

        QCOMPARE(read.config.dim, int64_t(s.dim));
        QCOMPARE(read.config.hiddenDim, int64_t(s.hidden));
        QCOMPARE(read.config.nLayers, int64_t(s.layers));
        QCOMPARE(read.config.nHeads, int64_t(s.heads));
        QCOMPARE(read.config.nKvHeads, int64_t(s.kvHeads));
        QCOMPARE(read.config.vocabSize, int64_t(s.vocab));
        QCOMPARE(read.config.seqLen, int64_t(s.seqLen));
        QCOMPARE(read.config.sharedClassifier, s.shared);

        std::set<std::string> expectedNames = {"model.embed_tokens.weight", "model.norm.weight"};
        if (!s.shared) expectedNames.insert("lm_head.weight");
        for (int l = 0; l < s.layers; ++l)
            for (const char* suffix :
                 {"input_layernorm.weight", "self_attn.q_proj.weight", "self_attn.k_proj.weight",
                  "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                  "post_attention_layernorm.weight", "mlp.gate_proj.weight", "mlp.down_proj.weight",
                  "mlp.up_proj.weight"})
                expectedNames.insert(layer(l, suffix));
        std::set<std::string> names;
        for (const auto& [name, tensor] : read.weights) names.insert(name);
        QCOMPARE(names, expectedNames);

        const auto& w = read.weights;
        QVERIFY(at::equal(w.at("model.embed_tokens.weight"), m.tokEmbeddings));
        QVERIFY(at::equal(w.at("model.norm.weight"), m.norm));
        if (!s.shared) QVERIFY(at::equal(w.at("lm_head.weight"), m.output));
        for (int l = 0; l < s.layers; ++l) {
            QVERIFY(at::equal(w.at(layer(l, "input_layernorm.weight")), m.attentionNorm[l]));
            const std::string q =
                misplacedRotaryRow(w.at(layer(l, "self_attn.q_proj.weight")), m.wq[l], s.heads);
            QVERIFY2(q.empty(), ("q_proj: " + q).c_str());
            const std::string k =
                misplacedRotaryRow(w.at(layer(l, "self_attn.k_proj.weight")), m.wk[l], s.kvHeads);
            QVERIFY2(k.empty(), ("k_proj: " + k).c_str());
            QVERIFY(at::equal(w.at(layer(l, "self_attn.v_proj.weight")), m.wv[l]));
            QVERIFY(at::equal(w.at(layer(l, "self_attn.o_proj.weight")), m.wo[l]));
            QVERIFY(at::equal(w.at(layer(l, "post_attention_layernorm.weight")), m.ffnNorm[l]));
            QVERIFY(at::equal(w.at(layer(l, "mlp.gate_proj.weight")), m.w1[l]));
            QVERIFY(at::equal(w.at(layer(l, "mlp.down_proj.weight")), m.w2[l]));
            QVERIFY(at::equal(w.at(layer(l, "mlp.up_proj.weight")), m.w3[l]));
        }
        QVERIFY(at::equal(read.freqCisReal, m.freqsCos));
        QVERIFY(at::equal(read.freqCisImag, m.freqsSin));

        const auto config = nlohmann::json::parse(gp::llama2cConfigJson(read.config));
        QCOMPARE(config["model_type"].get<std::string>(), std::string("llama"));
        QCOMPARE(config["hidden_size"].get<int>(), s.dim);
        QCOMPARE(config["intermediate_size"].get<int>(), s.hidden);
        QCOMPARE(config["num_hidden_layers"].get<int>(), s.layers);
        QCOMPARE(config["num_attention_heads"].get<int>(), s.heads);
        QCOMPARE(config["num_key_value_heads"].get<int>(), s.kvHeads);
        QCOMPARE(config["vocab_size"].get<int>(), s.vocab);
        QCOMPARE(config["max_position_embeddings"].get<int>(), s.seqLen);
        QCOMPARE(config["rms_norm_eps"].get<double>(), 1e-5);
        QCOMPARE(config["rope_theta"].get<double>(), 10000.0);
        QCOMPARE(config["tie_word_embeddings"].get<bool>(), s.shared);
        QCOMPARE(config["bos_token_id"].get<int>(), 1);
        QCOMPARE(config["eos_token_id"].get<int>(), 2);
    }

    void attentionScoresAgreeAcrossRotaryConventions_data() { addShapeRows(); }
    void attentionScoresAgreeAcrossRotaryConventions() {
        // The point of the permutation: HF's rotate-half attention over the imported weights
        // computes llama2.c's interleaved attention over the original ones.
        const Shape s = fetchShape();
        const Llama2cModel m = randomModel(s, 7);
        const fs::path file = path("scores.bin");
        writeBytes(file, serialize(m));
        const gp::Llama2cFile read = gp::readLlama2c(file.string());
        at::manual_seed(8);
        const at::Tensor xm = at::randn({s.dim}), xn = at::randn({s.dim});
        for (int l = 0; l < s.layers; ++l)
            for (const auto& [posM, posN] :
                 std::vector<std::pair<int, int>>{{0, 0}, {3, 1}, {4, 4}}) {
                const std::vector<double> original =
                    scores(m.wq[l], m.wk[l], s, xm, xn, posM, posN, true);
                const std::vector<double> imported =
                    scores(read.weights.at(layer(l, "self_attn.q_proj.weight")),
                           read.weights.at(layer(l, "self_attn.k_proj.weight")), s, xm, xn, posM,
                           posN, false);
                for (size_t h = 0; h < original.size(); ++h)
                    QVERIFY2(
                        std::abs(original[h] - imported[h]) < 1e-9 * (1 + std::abs(original[h])),
                        qPrintable(QString("layer %1 head %2: %3 vs %4")
                                       .arg(l)
                                       .arg(h)
                                       .arg(original[h])
                                       .arg(imported[h])));
                // And the layout matters: without the permutation, scores differ (posM != 0).
                if (posM == 3) {
                    const std::vector<double> unpermuted =
                        scores(m.wq[l], m.wk[l], s, xm, xn, posM, posN, false);
                    double difference = 0;
                    for (size_t h = 0; h < original.size(); ++h)
                        difference += std::abs(unpermuted[h] - original[h]);
                    QVERIFY(difference > 1e-6);
                }
            }
    }

    void exportIsByteIdentical_data() { addShapeRows(); }
    void exportIsByteIdentical() {
        const Shape s = fetchShape();
        const std::string bytes = serialize(randomModel(s, 3));
        const fs::path original = path("original.bin"), exported = path("exported.bin");
        writeBytes(original, bytes);

        const gp::Llama2cFile read = gp::readLlama2c(original.string());
        gp::writeLlama2c(exported.string(), read.config, read.weights, read.freqCisReal,
                         read.freqCisImag);
        QVERIFY(readBytes(exported) == bytes);

        // Through the checkpoint loader, which is what the application holds.
        fs::remove(exported);
        const gp::Checkpoint checkpoint = gp::loadCheckpoint(original.string());
        QVERIFY(checkpoint.llama2cConfig.has_value());
        gp::writeLlama2c(exported.string(), *checkpoint.llama2cConfig, checkpoint.weights,
                         checkpoint.llama2cFreqCisReal, checkpoint.llama2cFreqCisImag);
        QVERIFY(readBytes(exported) == bytes);
    }

    void prunedWeightsSurviveTheRoundTrip() {
        const Shape s{16, 24, 2, 4, 2, 32, 8, false};
        const fs::path original = path("dense.bin"), exported = path("pruned.bin");
        writeBytes(original, serialize(randomModel(s, 5)));
        gp::Checkpoint checkpoint = gp::loadCheckpoint(original.string());
        const QByteArray before = QByteArray::fromStdString(readBytes(original));
        for (auto& [name, tensor] : checkpoint.weights)  // prune in place: half of every tensor
            if (tensor.dim() == 2) tensor.masked_fill_(tensor.abs() < tensor.abs().median(), 0);
        QCOMPARE(QByteArray::fromStdString(readBytes(original)), before);  // input untouched
        gp::writeLlama2c(exported.string(), *checkpoint.llama2cConfig, checkpoint.weights,
                         checkpoint.llama2cFreqCisReal, checkpoint.llama2cFreqCisImag);
        const gp::Llama2cFile back = gp::readLlama2c(exported.string());
        for (const auto& [name, tensor] : checkpoint.weights)
            QVERIFY2(at::equal(back.weights.at(name), tensor), name.c_str());
    }

    void exportConvertsOtherDtypesAndComputesRotaryTables() {
        const Shape s{16, 24, 1, 2, 2, 12, 16, true};
        const fs::path original = path("fp32.bin"), exported = path("from-bf16.bin");
        writeBytes(original, serialize(randomModel(s, 9)));
        gp::Llama2cFile read = gp::readLlama2c(original.string());
        for (auto& [name, tensor] : read.weights) tensor = tensor.to(at::kBFloat16);
        gp::writeLlama2c(exported.string(), read.config, read.weights);  // no rotary tables
        const gp::Llama2cFile back = gp::readLlama2c(exported.string());
        for (const auto& [name, tensor] : read.weights)
            QVERIFY2(at::equal(back.weights.at(name), tensor.to(at::kFloat)), name.c_str());
        // llama2.c's model.py: cos/sin(pos / 10000^(2i / head_size)).
        const int hs = s.headSize();
        at::Tensor cosines = at::empty({s.seqLen, hs / 2}, at::kDouble);
        at::Tensor sines = at::empty({s.seqLen, hs / 2}, at::kDouble);
        for (int pos = 0; pos < s.seqLen; ++pos)
            for (int i = 0; i < hs / 2; ++i) {
                const double angle = pos / std::pow(10000.0, 2.0 * i / hs);
                cosines[pos][i] = std::cos(angle);
                sines[pos][i] = std::sin(angle);
            }
        GP_COMPARE_TENSORS(back.freqCisReal, cosines, 1e-5, 0);
        GP_COMPARE_TENSORS(back.freqCisImag, sines, 1e-5, 0);
    }

    void exportRefusesWhatTheFormatCannotHold_data() {
        QTest::addColumn<QString>("change");
        QTest::addColumn<QString>("object");
        QTest::addColumn<QStringList>("words");
        QTest::newRow("tensor missing")
            << "drop"
            << "model.layers.1.self_attn.q_proj.weight" << QStringList{"missing"};
        QTest::newRow("wrong shape") << "reshape"
                                     << "model.layers.0.mlp.up_proj.weight"
                                     << QStringList{"shape [12, 48]", "needs [24, 24]"};
        QTest::newRow("integer weights") << "integer"
                                         << "model.norm.weight" << QStringList{"float weights"};
        QTest::newRow("untied head with a shared header")
            << "head"
            << "lm_head.weight" << QStringList{"differs from model.embed_tokens"};
        QTest::newRow("n_kv_heads not dividing n_heads")
            << "kv heads"
            << "n_kv_heads" << QStringList{"does not divide n_heads=4"};
    }

    void exportRefusesWhatTheFormatCannotHold() {
        QFETCH(QString, change);
        QFETCH(QString, object);
        QFETCH(QStringList, words);
        const Shape s{24, 24, 2, 4, 4, 10, 6, true};
        const fs::path original = path("source.bin"), exported = path("refused.bin");
        writeBytes(original, serialize(randomModel(s, 13)));
        gp::Llama2cFile read = gp::readLlama2c(original.string());
        const std::string name = object.toStdString();
        if (change == "drop") read.weights.erase(name);
        if (change == "reshape") read.weights[name] = read.weights[name].reshape({12, 48});
        if (change == "integer") read.weights[name] = read.weights[name].to(at::kInt);
        if (change == "head") read.weights[name] = at::zeros({s.vocab, s.dim});
        if (change == "kv heads") read.config.nKvHeads = 3;
        fs::remove(exported);
        try {
            gp::writeLlama2c(exported.string(), read.config, read.weights);
            QFAIL("the export must be refused");
        } catch (const gp::Error& error) {
            const QString message = QString::fromStdString(error.what());
            QCOMPARE(error.file(), exported.string());
            QCOMPARE(QString::fromStdString(error.object()), object);
            for (const QString& word : words)
                QVERIFY2(message.contains(word),
                         qPrintable(message + "  (expected: " + word + ")"));
        }
        QVERIFY(!fs::exists(exported));
    }

    void rejectsMalformedFiles_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QStringList>("words");
        const Shape good{16, 24, 1, 4, 2, 8, 4, true};
        const std::string valid = serialize(randomModel(good, 1));
        const auto withHeader = [&](std::vector<int32_t> header) {
            std::string bytes = valid;
            std::memcpy(bytes.data(), header.data(), 28);
            return QByteArray::fromStdString(bytes);
        };
        const auto sizeOf = [](size_t n) { return QString::number(n); };
        QTest::newRow("shorter than the header")
            << QByteArray(10, '\1') << QStringList{"10 bytes", "28-byte"};
        QTest::newRow("dim zero") << withHeader({0, 24, 1, 4, 2, 8, 4})
                                  << QStringList{"dim", "must be a positive"};
        QTest::newRow("negative layers")
            << withHeader({16, 24, -1, 4, 2, 8, 4}) << QStringList{"n_layers", "-1"};
        QTest::newRow("vocab zero")
            << withHeader({16, 24, 1, 4, 2, 0, 4}) << QStringList{"vocab_size"};
        QTest::newRow("seq_len negative")
            << withHeader({16, 24, 1, 4, 2, 8, -4}) << QStringList{"seq_len"};
        QTest::newRow("n_heads not dividing dim")
            << withHeader({16, 24, 1, 3, 1, 8, 4})
            << QStringList{"n_heads=3 does not divide dim=16"};
        QTest::newRow("n_kv_heads not dividing n_heads")
            << withHeader({16, 24, 1, 4, 3, 8, 4}) << QStringList{"n_kv_heads=3"};
        QTest::newRow("odd head size")
            << withHeader({12, 24, 1, 4, 2, 8, 4}) << QStringList{"head size", "odd"};
        QTest::newRow("truncated by one float")
            << QByteArray::fromStdString(valid.substr(0, valid.size() - 4))
            << QStringList{sizeOf(valid.size() - 4) + " bytes", "implies " + sizeOf(valid.size())};
        QTest::newRow("trailing bytes") << QByteArray::fromStdString(valid + "xx")
                                        << QStringList{sizeOf(valid.size() + 2) + " bytes"};
        QTest::newRow("unshared flag without the classifier")
            << withHeader({16, 24, 1, 4, 2, -8, 4})
            << QStringList{"vocab_size=-8", "implies " + sizeOf(valid.size() + 8 * 16 * 4)};
        QTest::newRow("absurd header")
            << withHeader({1 << 30, 1 << 30, 1 << 30, 2, 2, 1 << 30, 1 << 30})
            << QStringList{"implies"};
        QTest::newRow("versioned llama2.c file")
            << withHeader({0x616b3432, 1, 16, 24, 1, 4, 2}) << QStringList{"version 1", "v0"};
    }

    void rejectsMalformedFiles() {
        QFETCH(QByteArray, bytes);
        QFETCH(QStringList, words);
        const fs::path file = path("bad.bin");
        writeBytes(file, bytes.toStdString());
        try {
            (void)gp::loadCheckpoint(file.string());
            QFAIL("the file must be refused");
        } catch (const gp::Error& error) {
            const QString message = QString::fromStdString(error.what());
            QCOMPARE(error.kind(), gp::ErrorKind::BadInput);
            QCOMPARE(error.file(), file.string());
            for (const QString& word : words)
                QVERIFY2(message.contains(word),
                         qPrintable(message + "  (expected: " + word + ")"));
        }
    }

    void findsTheTokenizerBeside_data() {
        QTest::addColumn<QStringList>("files");
        QTest::addColumn<QString>("expected");
        QTest::newRow("tok<vocab>.bin") << QStringList{"tok32.bin"} << "tok32.bin";
        QTest::newRow("tokenizer.bin") << QStringList{"tokenizer.bin"} << "tokenizer.bin";
        QTest::newRow("both: the vocabulary's own first")
            << QStringList{"tokenizer.bin", "tok32.bin"} << "tok32.bin";
        QTest::newRow("another vocabulary is not taken") << QStringList{"tok512.bin"} << "";
        QTest::newRow("none") << QStringList{} << "";
    }

    void findsTheTokenizerBeside() {
        QFETCH(QStringList, files);
        QFETCH(QString, expected);
        QTemporaryDir dir;
        const fs::path folder = dir.path().toStdString();
        const Shape s{16, 24, 1, 4, 4, 32, 8, true};
        writeBytes(folder / "stories.bin", serialize(randomModel(s, 2)));
        for (const QString& name : files) writeBytes(folder / name.toStdString(), "tokens");
        const gp::Checkpoint checkpoint = gp::loadCheckpoint((folder / "stories.bin").string());
        QCOMPARE(checkpoint.format, gp::CheckpointFormat::Llama2c);
        QCOMPARE(checkpoint.tokenizerPath,
                 expected.isEmpty() ? std::string() : (folder / expected.toStdString()).string());
        QCOMPARE(checkpoint.configPath, std::string());
        QCOMPARE(checkpoint.configText, gp::llama2cConfigJson(*checkpoint.llama2cConfig));
        QCOMPARE(checkpoint.weightFiles,
                 std::vector<std::string>{(folder / "stories.bin").string()});
    }

    void permutationsAreInverses() {
        at::manual_seed(4);
        const at::Tensor w = at::randn({24, 5});
        for (const int heads : {1, 2, 3, 6}) {
            const at::Tensor there = gp::interleavedToRotateHalf(w, heads);
            QVERIFY(!at::equal(there, w));
            QVERIFY(at::equal(gp::rotateHalfToInterleaved(there, heads), w));
        }
        QVERIFY_THROWS_EXCEPTION(gp::Error, gp::interleavedToRotateHalf(w, 5));
        QVERIFY_THROWS_EXCEPTION(gp::Error, gp::interleavedToRotateHalf(w, 24));  // head size 1
    }

    void stories260kRoundTripsByteForByte() {
        GP_REQUIRE_DATA(bin, "stories260K/stories260K.bin");
        QElapsedTimer timer;
        timer.start();
        const gp::Checkpoint checkpoint = gp::loadCheckpoint(bin);
        const qint64 loadMs = timer.elapsed();
        QCOMPARE(checkpoint.format, gp::CheckpointFormat::Llama2c);
        const gp::Llama2cConfig& c = *checkpoint.llama2cConfig;
        QCOMPARE(c.dim, int64_t(64));
        QCOMPARE(c.hiddenDim, int64_t(172));
        QCOMPARE(c.nLayers, int64_t(5));
        QCOMPARE(c.nHeads, int64_t(8));
        QCOMPARE(c.nKvHeads, int64_t(4));
        QCOMPARE(c.vocabSize, int64_t(512));
        QCOMPARE(c.seqLen, int64_t(512));
        QVERIFY(c.sharedClassifier);
        QCOMPARE(checkpoint.weights.size(), size_t(1 + 5 * 9 + 1));
        QVERIFY(!checkpoint.weights.count("lm_head.weight"));
        QCOMPARE(fs::path(checkpoint.tokenizerPath).filename().string(), std::string("tok512.bin"));
        QCOMPARE(checkpoint.weights.at("model.layers.4.self_attn.k_proj.weight").sizes().vec(),
                 (std::vector<int64_t>{32, 64}));
        // The stored rotary tables sit where the layout says: they equal model.py's formula.
        const auto [cosines, sines] = gp::llama2cRotaryTables(c);
        GP_COMPARE_TENSORS(checkpoint.llama2cFreqCisReal, cosines, 1e-4, 0);
        GP_COMPARE_TENSORS(checkpoint.llama2cFreqCisImag, sines, 1e-4, 0);
        // Trained RMSNorm weights are not noise: all positive here, around 1.
        QVERIFY(checkpoint.weights.at("model.norm.weight").min().item<float>() > 0);

        const fs::path exported = path("stories260K.bin");
        timer.restart();
        gp::writeLlama2c(exported.string(), c, checkpoint.weights, checkpoint.llama2cFreqCisReal,
                         checkpoint.llama2cFreqCisImag);
        const qint64 writeMs = timer.elapsed();
        QVERIFY(readBytes(exported) == readBytes(bin));
        qInfo("stories260K: load %lld ms, export %lld ms", loadMs, writeMs);
    }
};

QTEST_GUILESS_MAIN(TestLlama2c)
#include "tst_llama2c.moc"
