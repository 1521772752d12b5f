// Exporting a (pruned) model: Hugging Face folders, dense and compressed-tensors' sparse-bitmask,
// load back bit-identically with the same perplexity; tensor names, shapes and dtypes are the
// input's; the masks file and the bitmasks hold the zeros in numpy's little bit order (checked
// bit by bit here); the compressed weights of a 50% sparse fp16 model take 56% of the dense;
// shards and their index; llama2.c <-> Hugging Face round trips; an export never writes into its
// input and does not replace a model without force. With $GRADPROBE_DATA: stories260K's loss on
// TinyStories is llama2.c's 1.259, and the same after conversion to a Hugging Face folder.
#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <algorithm>
#include <functional>
#include <map>
#include <set>

#include "core/api/engine.h"
#include "core/api/session_impl.h"
#include "core/eval/perplexity.h"
#include "core/io/bit_pack.h"
#include "core/io/compressed_tensors.h"
#include "core/io/mask_file.h"
#include "core/io/safetensors.h"
#include "core/runtime/error.h"
#include "tests/core/tiny_checkpoints.h"
#include "tests/support/test_support.h"

namespace {

using gp::test::readBytes;
using gp::test::writeBytes;

namespace fs = std::filesystem;
using nlohmann::json;

std::string errorMessage(const std::function<void()>& action) {
    try {
        action();
    } catch (const gp::Error& error) {
        return error.what();
    }
    return {};
}

// A Hugging Face folder of a tiny model: config.json + model.safetensors in `dtype`.
void writeTinyFolder(const fs::path& folder, const std::string& modelType, at::ScalarType dtype,
                     const json& overrides = json::object(), uint64_t seed = 11) {
    fs::create_directories(folder);
    const json config = gp::test::tinyConfigJson(modelType, overrides);
    writeBytes(folder / "config.json", config.dump(2));
    const gp::WeightMap weights =
        gp::test::tinyWeights(gp::test::tinyConfig(modelType, overrides), seed, dtype);
    std::vector<std::pair<std::string, at::Tensor>> tensors(weights.begin(), weights.end());
    gp::writeSafetensors((folder / "model.safetensors").string(), tensors, {{"format", "pt"}});
}

// Zeros the smaller-magnitude half of every row of every prunable layer (a stand-in for a prune
// run, independent of the pruning code). Writing through the [out, in] views also covers GPT-2's
// transposed Conv1D storage.
void pruneHalfOfEachRow(gp::ModelSession& session) {
    at::NoGradGuard noGradients;
    for (gp::PrunableWeight& weight : session.impl().model->prunableWeights(false)) {
        const at::Tensor magnitude = weight.matrix.abs().to(at::kFloat);
        const at::Tensor order = magnitude.argsort(int64_t(1), false);
        const at::Tensor drop = at::zeros_like(magnitude, at::kBool)
                                    .scatter_(1, order.slice(1, 0, magnitude.size(1) / 2), true);
        weight.matrix.masked_fill_(drop, 0.0);
    }
}

gp::PerplexityResult perplexityOf(gp::ModelSession& session) {
    const at::Tensor windows = gp::test::tinyIds(3, 13, session.impl().config.vocabSize, 5);
    gp::PerplexityOptions options;
    options.batchSize = 2;
    return gp::evaluatePerplexity(*session.impl().model, windows, options);
}

std::unique_ptr<gp::ModelSession> open(const fs::path& path, const std::string& dtype = "fp32") {
    gp::LoadOptions options;
    options.dtype = dtype;
    return gp::ModelSession::open(path.string(), options);
}

// Every weight of `b` equals the one of `a` (values; -0.0 == 0.0), and no name is missing.
std::string firstDifferentWeight(gp::ModelSession& a, gp::ModelSession& b) {
    const gp::WeightMap& left = a.impl().model->weights();
    const gp::WeightMap& right = b.impl().model->weights();
    if (left.size() != right.size()) return "different tensor counts";
    for (const auto& [name, tensor] : left) {
        const auto other = right.find(name);
        if (other == right.end()) return name + " missing";
        if (other->second.scalar_type() != tensor.scalar_type() ||
            !at::equal(other->second, tensor))
            return name;
    }
    return "";
}

std::map<std::string, std::pair<std::string, std::vector<int64_t>>> headerOf(const fs::path& file) {
    std::map<std::string, std::pair<std::string, std::vector<int64_t>>> header;
    const auto opened = gp::SafetensorsFile::open(file.string());
    for (const gp::SafetensorsEntry& entry : opened->entries())
        header[entry.name] = {entry.dtype, entry.shape};
    return header;
}

using Header = std::map<std::string, std::pair<std::string, std::vector<int64_t>>>;

// "" when equal, else the first tensor whose name, dtype or shape differs.
std::string headerDifference(const Header& a, const Header& b) {
    for (const auto& [name, entry] : a) {
        const auto other = b.find(name);
        if (other == b.end()) return name + " missing";
        if (other->second.first != entry.first) return name + ": " + other->second.first + " vs " + entry.first;
        if (other->second.second != entry.second) return name + ": shape differs";
    }
    return a.size() == b.size() ? "" : "extra tensors";
}

int64_t zerosIn(const at::Tensor& tensor) { return tensor.eq(0).sum().item<int64_t>(); }

// Runs the gradprobe binary; returns its exit code and stdout + stderr.
std::pair<int, std::string> runCli(const QStringList& arguments) {
    QProcess process;
    process.setProgram(QStringLiteral(GP_CLI_BINARY));
    process.setArguments(arguments);
    process.setProcessChannelMode(QProcess::MergedChannels);
    process.start();
    if (!process.waitForFinished(120000)) {
        process.kill();
        process.waitForFinished();
        return {-1, "timed out"};
    }
    return {process.exitCode(), process.readAll().toStdString()};
}

}  // namespace

class TestExport : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_dir;
    int m_counter = 0;
    fs::path fresh(const std::string& name) {
        return fs::path(m_dir.path().toStdString()) / (name + "-" + std::to_string(++m_counter));
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void roundTrip_data() {
        QTest::addColumn<QString>("modelType");
        QTest::addColumn<QString>("fileDtype");
        QTest::addColumn<QString>("format");
        for (const char* format : {"dense", "compressed"}) {
            const std::string f = format;
            QTest::newRow((f + ": llama fp32").c_str()) << "llama" << "fp32" << format;
            QTest::newRow((f + ": llama bf16 file, fp32 compute").c_str())
                << "llama" << "bf16" << format;
            QTest::newRow((f + ": gpt2 fp16 file (Conv1D)").c_str()) << "gpt2" << "fp16" << format;
            QTest::newRow((f + ": gpt_neo fp32").c_str()) << "gpt_neo" << "fp32" << format;
        }
    }
    // Export -> load: the weights as computed are bit-identical, so is the perplexity; the file
    // holds the input's names, shapes and dtypes (dense), the pruned weights exactly zero.
    void roundTrip() {
        QFETCH(QString, modelType);
        QFETCH(QString, fileDtype);
        QFETCH(QString, format);
        const fs::path input = fresh("input");
        writeTinyFolder(input, modelType.toStdString(), gp::parseDtype(fileDtype.toStdString()));
        auto session = open(input);
        pruneHalfOfEachRow(*session);
        const gp::PerplexityResult before = perplexityOf(*session);

        gp::ExportOptions options;
        options.outDir = fresh("export").string();
        options.format = format.toStdString();
        const gp::ExportResult result = session->exportModel(options);
        QCOMPARE(result.modelPath, options.outDir);
        QCOMPARE(result.shards, int64_t(1));

        auto exported = open(options.outDir);
        QCOMPARE(QString::fromStdString(firstDifferentWeight(*session, *exported)), QString());
        const gp::PerplexityResult after = perplexityOf(*exported);
        QCOMPARE(after.nll, before.nll);

        const fs::path out(options.outDir);
        const auto inputHeader = headerOf(input / "model.safetensors");
        const auto outputHeader = headerOf(out / "model.safetensors");
        if (format == "dense") {
            QCOMPARE(QString::fromStdString(headerDifference(inputHeader, outputHeader)), QString());
            QCOMPARE(readBytes(out / "config.json"), readBytes(input / "config.json"));
            // Zeros in the file == zeros of the pruned model (ignoring the input's own zeros).
            const auto file = gp::SafetensorsFile::open((out / "model.safetensors").string());
            int64_t fileZeros = 0, liveZeros = 0;
            for (const auto& [name, tensor] : session->impl().model->weights()) {
                liveZeros += zerosIn(tensor);
                fileZeros += zerosIn(file->tensor(name));
            }
            QCOMPARE(fileZeros, liveZeros);
            QVERIFY(fileZeros * 3 > session->info().prunableParameters);
        } else {
            // Every prunable layer replaced by its four tensors, in the input's dtype; the rest
            // as in the input.
            std::set<std::string> prunable;
            for (const gp::LayerInfo& layer : session->info().prunableLayers)
                prunable.insert(layer.name);
            for (const auto& [name, entry] : inputHeader) {
                if (!prunable.count(name)) {
                    QVERIFY2(outputHeader.count(name) && outputHeader.at(name) == entry, name.c_str());
                    continue;
                }
                const std::string prefix = name.substr(0, name.size() - 7);  // ".weight"
                QVERIFY2(!outputHeader.count(name), name.c_str());
                QCOMPARE(outputHeader.at(prefix + ".compressed").first, entry.first);
                QCOMPARE(outputHeader.at(prefix + ".bitmask").first, std::string("U8"));
                QCOMPARE(outputHeader.at(prefix + ".shape").first, std::string("I64"));
                QCOMPARE(outputHeader.at(prefix + ".shape").second, std::vector<int64_t>{2});
                QCOMPARE(outputHeader.at(prefix + ".row_offsets").first, std::string("I64"));
                QCOMPARE(outputHeader.at(prefix + ".row_offsets").second,
                         std::vector<int64_t>{entry.second[0]});
                QCOMPARE(outputHeader.at(prefix + ".bitmask").second,
                         (std::vector<int64_t>{entry.second[0], (entry.second[1] + 7) / 8}));
            }
            const json config = json::parse(readBytes(out / "config.json"));
            const json& block = config.at("quantization_config");
            QCOMPARE(block.at("quant_method").get<std::string>(), std::string("compressed-tensors"));
            const json& sparsity = block.at("sparsity_config");
            QCOMPARE(sparsity.at("format").get<std::string>(), std::string("sparse-bitmask"));
            QCOMPARE(sparsity.at("sparsity_structure").get<std::string>(),
                     std::string("unstructured"));
            const std::string moduleClass = modelType == "gpt2" ? "Conv1D" : "Linear";
            QCOMPARE(sparsity.at("targets"), json::array({moduleClass}));
            QCOMPARE(sparsity.at("ignore"),
                     modelType == "gpt2" ? json::array() : json::array({"lm_head"}));
            QCOMPARE(sparsity.at("global_sparsity").get<double>(), result.sparsity);
            // The rest of config.json is the input's.
            json withoutBlock = config;
            withoutBlock.erase("quantization_config");
            QCOMPARE(withoutBlock, json::parse(readBytes(input / "config.json")));
        }
    }

    void writtenDtype_data() {
        QTest::addColumn<QString>("fileDtype");
        QTest::addColumn<QString>("written");
        QTest::addColumn<QString>("format");
        QTest::newRow("fp32 file -> fp16") << "fp32" << "fp16" << "dense";
        QTest::newRow("fp32 file -> bf16") << "fp32" << "bf16" << "dense";
        QTest::newRow("bf16 file -> fp32") << "bf16" << "fp32" << "dense";
        QTest::newRow("fp32 file -> fp16, compressed") << "fp32" << "fp16" << "compressed";
    }
    // ExportOptions::dtype: every floating tensor stored in that dtype (the safetensors dtype
    // string checked in the header), each value the model's weight rounded to it by LibTorch's
    // own conversion, config.json's torch_dtype renamed; the folder loads back to those values.
    void writtenDtype() {
        QFETCH(QString, fileDtype);
        QFETCH(QString, written);
        QFETCH(QString, format);
        const std::map<QString, std::pair<std::string, at::ScalarType>> kinds = {
            {"fp32", {"F32", at::kFloat}}, {"fp16", {"F16", at::kHalf}},
            {"bf16", {"BF16", at::kBFloat16}}};
        const auto [word, dtype] = kinds.at(written);
        const fs::path input = fresh("input");
        writeTinyFolder(input, "llama", kinds.at(fileDtype).second);
        auto session = open(input);
        pruneHalfOfEachRow(*session);
        gp::ExportOptions options;
        options.outDir = fresh("export").string();
        options.dtype = written.toStdString();
        options.format = format.toStdString();
        session->exportModel(options);

        const fs::path out(options.outDir);
        const auto file = gp::SafetensorsFile::open((out / "model.safetensors").string());
        for (const gp::SafetensorsEntry& entry : file->entries()) {
            if (entry.dtype == "I64" || entry.dtype == "U8") continue;  // bitmask parts
            QCOMPARE(entry.dtype, word);
        }
        const json config = json::parse(readBytes(out / "config.json"));
        const std::map<QString, std::string> torchNames = {
            {"fp32", "float32"}, {"fp16", "float16"}, {"bf16", "bfloat16"}};
        QCOMPARE(config.at("torch_dtype").get<std::string>(), torchNames.at(written));
        auto exported = open(out, written.toStdString());
        for (const auto& [name, tensor] : session->impl().model->weights()) {
            const at::Tensor back = exported->impl().model->weights().at(name);
            QVERIFY2(at::equal(back.to(dtype), tensor.to(dtype)), name.c_str());
        }
    }

    // The CLI: `export --dtype fp16` writes F16; `info` finds the masks in gradprobe/ and where
    // earlier exports put them; `prune --dtype bf16 --out` writes BF16.
    void cliDtypeAndMasks() {
        const fs::path out = fresh("cli-export");
        const auto [code, output] = runCli({"export", "--model", QString::fromStdString(gp::demoModelPath()),
                                            "--out", QString::fromStdString(out.string()),
                                            "--dtype", "fp16"});
        QVERIFY2(code == 0, output.c_str());
        for (const gp::SafetensorsEntry& entry :
             gp::SafetensorsFile::open((out / "model.safetensors").string())->entries())
            QCOMPARE(entry.dtype, std::string("F16"));
        const auto infoJson = [&] {
            const auto [infoCode, text] =
                runCli({"info", "--model", QString::fromStdString(out.string()), "--json"});
            if (infoCode != 0) qWarning("%s", text.c_str());
            return json::parse(text.substr(text.find('{')));
        };
        QCOMPARE(infoJson().at("masks").get<std::string>(), (out / gp::kMaskFileName).string());
        fs::rename(out / gp::kMaskFileName, out / gp::kLegacyMaskFileName);
        const json legacy = infoJson();
        QCOMPARE(legacy.at("masks").get<std::string>(), (out / gp::kLegacyMaskFileName).string());
        QVERIFY(legacy.at("mask_layers").get<int64_t>() > 0);

        // prune --out with --dtype writes that dtype too.
        const fs::path pruned = fresh("cli-prune");
        const auto [pruneCode, pruneOutput] =
            runCli({"prune", "--model", QString::fromStdString(gp::demoModelPath()), "--method",
                    "magnitude", "--sparsity", "0.5", "--no-eval", "--dtype", "bf16", "--out",
                    QString::fromStdString(pruned.string())});
        QVERIFY2(pruneCode == 0, pruneOutput.c_str());
        const auto prunedFile = gp::SafetensorsFile::open((pruned / "model.safetensors").string());
        for (const gp::SafetensorsEntry& entry : prunedFile->entries())
            QCOMPARE(entry.dtype, std::string("BF16"));
        QCOMPARE(json::parse(readBytes(pruned / "config.json")).at("torch_dtype").get<std::string>(),
                 std::string("bfloat16"));
    }

    // The demo model in fp16: F16 tensors and a weight file of about half the fp32 size (the
    // header is the same size in both).
    void demoModelInFp16() {
        gp::initialiseEngine();
        auto session = open(gp::demoModelPath());
        gp::ExportOptions options;
        options.masks = false;
        options.outDir = fresh("demo-fp32").string();
        options.dtype = "fp32";
        const gp::ExportResult full = session->exportModel(options);
        options.outDir = fresh("demo-fp16").string();
        options.dtype = "fp16";
        const gp::ExportResult half = session->exportModel(options);
        const auto file =
            gp::SafetensorsFile::open((fs::path(options.outDir) / "model.safetensors").string());
        for (const gp::SafetensorsEntry& entry : file->entries())
            QCOMPARE(entry.dtype, std::string("F16"));
        const double ratio = double(half.weightFileBytes) / double(full.weightFileBytes);
        qInfo("demo model: model.safetensors %lld B in fp32, %lld B in fp16 (%.4f)",
              (long long)full.weightFileBytes, (long long)half.weightFileBytes, ratio);
        QVERIFY2(ratio > 0.49 && ratio < 0.51, std::to_string(ratio).c_str());
    }

    // A compressed folder loads dense; written dense again it is the input once more (names,
    // dtypes, shapes, config.json without the compressed-tensors entry).
    void compressedBackToDense() {
        const fs::path input = fresh("input");
        writeTinyFolder(input, "llama", at::kBFloat16);
        auto session = open(input);
        pruneHalfOfEachRow(*session);
        gp::ExportOptions options;
        options.format = "compressed";
        options.outDir = fresh("compressed").string();
        session->exportModel(options);
        auto compressed = open(options.outDir);
        options.format = "dense";
        options.outDir = fresh("dense-again").string();
        compressed->exportModel(options);
        const fs::path out(options.outDir);
        QCOMPARE(QString::fromStdString(headerDifference(headerOf(input / "model.safetensors"),
                                                         headerOf(out / "model.safetensors"))),
                 QString());
        QCOMPARE(json::parse(readBytes(out / "config.json")),
                 json::parse(readBytes(input / "config.json")));
        auto dense = open(out);
        QCOMPARE(QString::fromStdString(firstDifferentWeight(*session, *dense)), QString());
    }

    // The compressed tensors as compressed-tensors defines them, checked element by element:
    // values row-major, row offsets, and the bitmask in numpy's little bit order.
    void sparseBitmaskLayout() {
        at::manual_seed(3);
        at::Tensor weight = at::randn({5, 19}).to(at::kHalf);
        weight.masked_fill_(at::rand({5, 19}) < 0.5, 0.0);
        weight[1].fill_(0.0);  // an empty row
        weight[2][0] = -0.0;   // a negative zero is a zero
        const gp::SparseBitmaskTensors parts = gp::compressSparseBitmask(weight);
        QCOMPARE(parts.shape.scalar_type(), at::kLong);
        QCOMPARE(parts.bitmask.sizes().vec(), (std::vector<int64_t>{5, 3}));
        std::vector<float> values;
        std::vector<int64_t> offsets;
        for (int r = 0; r < 5; ++r) {
            offsets.push_back(int64_t(values.size()));
            for (int c = 0; c < 19; ++c) {
                const float v = weight[r][c].item<float>();
                const int bit = (parts.bitmask[r][c / 8].item<int>() >> (c % 8)) & 1;
                QCOMPARE(bit, v != 0.0f ? 1 : 0);
                if (v != 0.0f) values.push_back(v);
            }
            for (int c = 19; c < 24; ++c)  // padding bits are clear
                QCOMPARE((parts.bitmask[r][c / 8].item<int>() >> (c % 8)) & 1, 0);
        }
        QCOMPARE(parts.compressed.scalar_type(), at::kHalf);
        QCOMPARE(parts.compressed.numel(), int64_t(values.size()));
        for (size_t i = 0; i < values.size(); ++i)
            QCOMPARE(parts.compressed[int64_t(i)].item<float>(), values[i]);
        QCOMPARE(parts.rowOffsets.scalar_type(), at::kLong);
        for (int r = 0; r < 5; ++r) QCOMPARE(parts.rowOffsets[r].item<int64_t>(), offsets[size_t(r)]);
        QVERIFY(at::equal(gp::decompressSparseBitmask(parts, "test", "w"), weight));

        gp::SparseBitmaskTensors broken = parts;
        broken.compressed = parts.compressed.slice(0, 1);
        QVERIFY(errorMessage([&] { gp::decompressSparseBitmask(broken, "f.safetensors", "w"); })
                    .find("w.compressed") != std::string::npos);
        broken = parts;
        broken.rowOffsets = parts.rowOffsets + 1;
        QVERIFY(errorMessage([&] { gp::decompressSparseBitmask(broken, "f.safetensors", "w"); })
                    .find("row_offsets") != std::string::npos);
    }

    // gradprobe/masks.safetensors: one bit per weight, set where the exported weight is kept.
    void masksFileMatchesTheZeros() {
        const fs::path input = fresh("input");
        writeTinyFolder(input, "gpt2", at::kFloat);
        auto session = open(input);
        pruneHalfOfEachRow(*session);
        // A weight pruned by multiplying with 0 is -0.0 when it was negative: still pruned, and
        // written as +0.0.
        const std::string first = session->info().prunableLayers.front().name;
        session->impl().model->weights().at(first).view(-1)[0] = -0.0;
        gp::ExportOptions options;
        options.outDir = fresh("export").string();
        const gp::ExportResult result = session->exportModel(options);
        QVERIFY(result.maskFileBytes > 0);
        const at::Tensor written = gp::SafetensorsFile::open(
            (fs::path(options.outDir) / "model.safetensors").string())->tensor(first);
        QCOMPARE(written.view(-1)[0].item<float>(), 0.0f);
        QVERIFY(!std::signbit(written.view(-1)[0].item<float>()));
        const fs::path maskPath = fs::path(options.outDir) / gp::kMaskFileName;
        const auto masks = gp::readMaskFile(maskPath.string());
        const auto weights = gp::SafetensorsFile::open(
            (fs::path(options.outDir) / "model.safetensors").string());
        QCOMPARE(int64_t(masks.size()), int64_t(session->info().prunableLayers.size()));
        for (const auto& [name, mask] : masks) {
            const at::Tensor stored = weights->tensor(name);  // Conv1D: [in, out] as stored
            QCOMPARE(mask.sizes(), stored.sizes());
            QVERIFY2(at::equal(mask, stored.ne(0)), name.c_str());
        }
        // The raw bytes, packed here by hand: bit c % 8 of byte c / 8, least significant first.
        const auto raw = gp::SafetensorsFile::open(maskPath.string());
        const std::string name = session->info().prunableLayers.front().name;
        const at::Tensor stored = weights->tensor(name);
        const at::Tensor bytes = raw->tensor(name);
        for (int64_t r = 0; r < stored.size(0); ++r)
            for (int64_t b = 0; b < bytes.size(1); ++b) {
                int expected = 0;
                for (int64_t c = b * 8; c < std::min<int64_t>(b * 8 + 8, stored.size(1)); ++c)
                    if (stored[r][c].item<float>() != 0.0f) expected |= 1 << (c - b * 8);
                QCOMPARE(bytes[r][b].item<int>(), expected);
            }
        QCOMPARE(raw->metadata().at("bit_order"), std::string("little"));
    }

    // The masks live in gradprobe/ so that no loader globbing *.safetensors (vLLM without an
    // index) or model*.safetensors (llama.cpp's converter) takes them for weights: the export's
    // top level holds exactly one .safetensors. Opening the export finds them there, and in the
    // old place beside the weights (earlier exports); a re-export replaces either.
    void masksOutsideTheWeightsFolder() {
        const fs::path input = fresh("input");
        writeTinyFolder(input, "llama", at::kFloat);
        auto session = open(input);
        pruneHalfOfEachRow(*session);
        gp::ExportOptions options;
        options.outDir = fresh("export").string();
        const gp::ExportResult result = session->exportModel(options);
        const fs::path out(options.outDir);
        std::vector<std::string> topLevel;
        for (const auto& entry : fs::directory_iterator(out))
            if (entry.path().extension() == ".safetensors")
                topLevel.push_back(entry.path().filename().string());
        QCOMPARE(topLevel, std::vector<std::string>{"model.safetensors"});
        QVERIFY(fs::is_regular_file(out / "gradprobe" / "masks.safetensors"));
        QVERIFY(std::count(result.files.begin(), result.files.end(), "gradprobe/masks.safetensors"));
        const int64_t layers = int64_t(session->info().prunableLayers.size());
        auto reopened = open(out);
        QCOMPARE(reopened->info().maskPath, (out / "gradprobe" / "masks.safetensors").string());
        QCOMPARE(reopened->info().maskLayers, layers);
        reopened.reset();

        // The old location, as an earlier export left it.
        fs::rename(out / "gradprobe" / "masks.safetensors", out / gp::kLegacyMaskFileName);
        fs::remove(out / "gradprobe");
        auto legacy = open(out);
        QCOMPARE(legacy->info().maskPath, (out / gp::kLegacyMaskFileName).string());
        QCOMPARE(legacy->info().maskLayers, layers);
        QCOMPARE(int64_t(gp::readMaskFile(legacy->info().maskPath).size()), layers);
        legacy.reset();

        // Exporting over it with force leaves the masks in the new place only.
        options.force = true;
        session->exportModel(options);
        QVERIFY(!fs::exists(out / gp::kLegacyMaskFileName));
        QVERIFY(fs::is_regular_file(out / gp::kMaskFileName));
        // and over that again (the staged gradprobe/ replaces the one there); without masks,
        // none is left behind.
        session->exportModel(options);
        QVERIFY(fs::is_regular_file(out / gp::kMaskFileName));
        options.masks = false;
        session->exportModel(options);
        QVERIFY(!fs::exists(out / "gradprobe"));
        QVERIFY(open(out)->info().maskPath.empty());
    }

    // At 50% sparsity in fp16 the compressed layers take (1 byte of values + 1/8 byte of mask)
    // per weight against 2 bytes dense: 56.25%, plus 8 bytes of row offset per row (1.4% more
    // for these rows of 256 and 512 weights) and the 16-byte shape.
    void compressedSizeAtHalfSparsity() {
        const json big = {{"hidden_size", 256}, {"intermediate_size", 512},
                          {"num_hidden_layers", 1}, {"num_attention_heads", 4},
                          {"num_key_value_heads", 4}, {"vocab_size", 64}};
        const fs::path input = fresh("input");
        writeTinyFolder(input, "llama", at::kHalf, big);
        auto session = open(input, "fp16");
        pruneHalfOfEachRow(*session);

        gp::ExportOptions options;
        options.outDir = fresh("dense").string();
        const gp::ExportResult dense = session->exportModel(options);
        options.outDir = fresh("compressed").string();
        options.format = "compressed";
        const gp::ExportResult compressed = session->exportModel(options);

        int64_t weights = 0, rows = 0;
        for (const gp::LayerInfo& layer : session->info().prunableLayers) {
            weights += layer.numel;
            rows += layer.shape[0];
        }
        const int64_t layers = int64_t(session->info().prunableLayers.size());
        const int64_t expected = weights / 2 * 2 + weights / 8 + rows * 8 + layers * 2 * 8;
        QCOMPARE(compressed.layerDenseBytes, weights * 2);
        QCOMPARE(compressed.layerCompressedBytes, expected);
        const double ratio = double(compressed.layerCompressedBytes) / double(compressed.layerDenseBytes);
        QVERIFY2(ratio > 0.5625 && ratio < 0.58, std::to_string(ratio).c_str());
        QVERIFY(compressed.weightFileBytes < dense.weightFileBytes);
        qInfo("fp16, 50%% sparse: compressed layers %lld B / dense %lld B = %.4f; weight files "
              "%lld B compressed vs %lld B dense",
              (long long)compressed.layerCompressedBytes, (long long)compressed.layerDenseBytes,
              ratio, (long long)compressed.weightFileBytes, (long long)dense.weightFileBytes);
    }

    void shards_data() {
        QTest::addColumn<QString>("format");
        QTest::newRow("dense") << "dense";
        QTest::newRow("compressed") << "compressed";
    }
    // Above maxShardBytes the weights go to model-0000i-of-0000N.safetensors with an index.
    void shards() {
        QFETCH(QString, format);
        const fs::path input = fresh("input");
        writeTinyFolder(input, "llama", at::kFloat);
        auto session = open(input);
        pruneHalfOfEachRow(*session);
        gp::ExportOptions options;
        options.outDir = fresh("sharded").string();
        options.format = format.toStdString();
        options.maxShardBytes = 3000;
        const gp::ExportResult result = session->exportModel(options);
        QVERIFY(result.shards > 2);
        const fs::path out(options.outDir);
        QVERIFY(!fs::exists(out / "model.safetensors"));
        const json index = json::parse(readBytes(out / "model.safetensors.index.json"));
        int64_t total = 0;
        std::set<std::string> shardFiles;
        for (int64_t i = 1; i <= result.shards; ++i) {
            char name[64];
            std::snprintf(name, sizeof name, "model-%05lld-of-%05lld.safetensors", (long long)i,
                          (long long)result.shards);
            QVERIFY2(fs::exists(out / name), name);
            const auto file = gp::SafetensorsFile::open((out / name).string());
            QCOMPARE(file->metadata().at("format"), std::string("pt"));
            for (const gp::SafetensorsEntry& entry : file->entries()) {
                QCOMPARE(index.at("weight_map").at(entry.name).get<std::string>(), std::string(name));
                total += int64_t(entry.end - entry.begin);
            }
            shardFiles.insert(name);
        }
        QCOMPARE(index.at("metadata").at("total_size").get<int64_t>(), total);
        auto exported = open(out);
        QCOMPARE(QString::fromStdString(firstDifferentWeight(*session, *exported)), QString());

        // Replacing it with force by a single-file export leaves no stale shard or index.
        options.maxShardBytes = gp::ExportOptions().maxShardBytes;
        options.force = true;
        session->exportModel(options);
        QVERIFY(fs::exists(out / "model.safetensors"));
        QVERIFY(!fs::exists(out / "model.safetensors.index.json"));
        for (const std::string& shard : shardFiles) QVERIFY(!fs::exists(out / shard));
        auto replaced = open(out);
        QCOMPARE(QString::fromStdString(firstDifferentWeight(*session, *replaced)), QString());
    }

    // An export never writes into the folder it read, nor replaces a model without --force.
    void refusals() {
        const fs::path input = fresh("input");
        writeTinyFolder(input, "llama", at::kFloat);
        auto session = open(input);
        gp::ExportOptions options;
        options.outDir = input.string();
        options.force = true;
        std::string message = errorMessage([&] { session->exportModel(options); });
        QVERIFY2(message.find("input") != std::string::npos, message.c_str());

        // A single .safetensors file opened: its folder contains the input.
        auto fileSession = open(input / "model.safetensors");
        options.outDir = input.string();
        message = errorMessage([&] { fileSession->exportModel(options); });
        QVERIFY2(message.find("contains the input") != std::string::npos, message.c_str());
        options.outDir = input.parent_path().string();  // an ancestor of the input
        message = errorMessage([&] { fileSession->exportModel(options); });
        QVERIFY2(message.find("contains the input") != std::string::npos, message.c_str());

        const fs::path holder = fresh("holder");
        options.outDir = holder.string();
        options.force = false;
        session->exportModel(options);
        message = errorMessage([&] { session->exportModel(options); });
        QVERIFY2(message.find("already holds a model") != std::string::npos &&
                     message.find("--force") != std::string::npos,
                 message.c_str());
        options.force = true;
        session->exportModel(options);

        // A folder with other files (no model) is written into, its files kept.
        const fs::path notes = fresh("notes");
        fs::create_directories(notes);
        writeBytes(notes / "notes.txt", "mine");
        options.outDir = notes.string();
        options.force = false;
        session->exportModel(options);
        QCOMPARE(readBytes(notes / "notes.txt"), std::string("mine"));
        QVERIFY(fs::exists(notes / "model.safetensors"));

        // Nothing but the target appears: no staging folder is left beside it.
        for (const auto& entry : fs::directory_iterator(m_dir.path().toStdString()))
            QVERIFY2(entry.path().filename().string().find(".tmp-") == std::string::npos,
                     entry.path().c_str());
        options.format = "zip";
        message = errorMessage([&] { session->exportModel(options); });
        QVERIFY2(message.find("--format") != std::string::npos, message.c_str());
        options.format = "llama2c";
        options.outDir = fresh("neo").string();
        const fs::path neoInput = fresh("neo-in");
        writeTinyFolder(neoInput, "gpt_neo", at::kFloat);
        auto neo = open(neoInput);
        message = errorMessage([&] { neo->exportModel(options); });
        QVERIFY2(message.find("gpt_neo") != std::string::npos, message.c_str());
    }

    // Hugging Face LLaMA -> llama2.c .bin -> Hugging Face: the weights come back bit for bit
    // (q and k rows permuted there and back), and so do the dtype-free parts of config.json.
    void huggingFaceToLlama2cAndBack() {
        const json tied = {{"tie_word_embeddings", true}, {"bos_token_id", 1}, {"eos_token_id", 2}};
        const fs::path input = fresh("input");
        writeTinyFolder(input, "llama", at::kFloat, tied);
        auto session = open(input);
        pruneHalfOfEachRow(*session);
        const double nll = perplexityOf(*session).nll;

        gp::ExportOptions options;
        options.format = "llama2c";
        options.outDir = fresh("llama2c").string();
        const gp::ExportResult bin = session->exportModel(options);
        QCOMPARE(bin.modelPath, (fs::path(options.outDir) / "model.bin").string());
        auto fromBin = open(bin.modelPath);
        QCOMPARE(QString::fromStdString(firstDifferentWeight(*session, *fromBin)), QString());
        QCOMPARE(perplexityOf(*fromBin).nll, nll);

        options.format = "dense";
        options.outDir = fresh("hf-again").string();
        fromBin->exportModel(options);
        auto again = open(options.outDir);
        QCOMPARE(QString::fromStdString(firstDifferentWeight(*session, *again)), QString());
        QCOMPARE(QString::fromStdString(
                     headerDifference(headerOf(input / "model.safetensors"),
                                      headerOf(fs::path(options.outDir) / "model.safetensors"))),
                 QString());

        // llama2.c -> llama2.c is byte-identical (the rotary tables kept).
        options.format = "llama2c";
        options.outDir = fresh("llama2c-again").string();
        const gp::ExportResult binAgain = fromBin->exportModel(options);
        QCOMPARE(readBytes(binAgain.modelPath), readBytes(bin.modelPath));
    }

    // ---- with $GRADPROBE_DATA ----

    // llama2.c's own run.c measures a mean loss of 1.259 for stories260K on these 69 stories
    // (one BOS per story, windows of 513 ids predicting 512 tokens). The Hugging Face folder our
    // export makes of it gives the same loss; llama2.c -> llama2.c is byte-identical.
    void stories260KLossAndConversion() {
        GP_REQUIRE_DATA(model, "stories260K/stories260K.bin");
        GP_REQUIRE_DATA(text, "tinystories/TinyStories-valid.first69.txt");
        gp::initialiseEngine();
        auto session = open(model);
        gp::EvalOptions eval;
        eval.textPath = text;
        eval.seqlen = 513;
        eval.docSeparator = "<|endoftext|>";
        const gp::EvalResult original = session->evaluate(eval);
        qInfo("stories260K on TinyStories-valid.first69: %lld windows, %lld tokens, loss %.6f "
              "(llama2.c run.c: 1.259), perplexity %.4f",
              (long long)original.windows, (long long)original.tokens, original.nll, original.ppl);
        QVERIFY2(std::abs(original.nll - 1.259) <= 0.005, std::to_string(original.nll).c_str());

        gp::ExportOptions options;
        options.outDir = fresh("stories-hf").string();
        const gp::ExportResult hf = session->exportModel(options);
        QVERIFY(fs::exists(fs::path(options.outDir) / "tok512.bin"));
        auto converted = open(hf.modelPath);
        // It reads its converted tokenizer.json (which AutoTokenizer also reads), tok512.bin kept.
        QCOMPARE(fs::path(converted->info().tokenizerPath).filename().string(),
                 std::string("tokenizer.json"));
        // The same weights bit for bit and the same tokenizer: the same loss. Measured on the
        // first windows here to keep the test short (the full 43 windows give the same 1.258882).
        QCOMPARE(QString::fromStdString(firstDifferentWeight(*session, *converted)), QString());
        eval.maxWindows = 6;
        const gp::EvalResult head = session->evaluate(eval);
        const gp::EvalResult again = converted->evaluate(eval);
        qInfo("first %lld windows: loss %.6f as llama2.c, %.6f as a Hugging Face folder",
              (long long)head.windows, head.nll, again.nll);
        QVERIFY(std::abs(again.nll - head.nll) <= 1e-4);
        QCOMPARE(again.tokens, head.tokens);

        options.outDir = fresh("stories-bin").string();
        options.format = "llama2c";
        const gp::ExportResult bin = session->exportModel(options);
        QCOMPARE(readBytes(bin.modelPath), readBytes(model));
        QCOMPARE(readBytes(fs::path(options.outDir) / "tok512.bin"),
                 readBytes(fs::path(model).parent_path() / "tok512.bin"));
        // And back from the Hugging Face folder to llama2.c: the same bytes again, except the
        // two rotary tables at the end (run.c skips them), which are recomputed here and agree
        // to float rounding.
        options.outDir = fresh("stories-bin-from-hf").string();
        const gp::ExportResult back = converted->exportModel(options);
        const std::string written = readBytes(back.modelPath), input = readBytes(model);
        QCOMPARE(written.size(), input.size());
        const size_t tables = 2 * 512 * (64 / 8 / 2) * sizeof(float);  // seq_len x head_size / 2
        const size_t tablesAt = input.size() - tables;  // shared classifier: nothing after
        QVERIFY(written.compare(0, tablesAt, input, 0, tablesAt) == 0);
        const auto floats = [&](const std::string& bytes) {
            return at::from_blob(const_cast<char*>(bytes.data() + tablesAt),
                                 {int64_t(tables / sizeof(float))}, at::kFloat)
                .clone();
        };
        GP_COMPARE_TENSORS(floats(written), floats(input), 1e-6, 1e-6);
    }

    // raincandy-u/TinyStories-656K as it is stored: its tied embedding only as lm_head.weight,
    // with the safetensors metadata alias {"model.embed_tokens.weight": "lm_head.weight"}. It
    // opens, speaks (greedy: TinyStories English), prunes, and exports the same way back: one
    // lm_head.weight, the alias kept, the weights loading back bit for bit.
    void tinyStories656KOpensAsStored() {
        GP_REQUIRE_DATA(model, "tinystories-656k/model.safetensors");
        GP_REQUIRE_DATA(text, "tinystories/TinyStories-valid.first69.txt");
        gp::initialiseEngine();
        auto session = open(fs::path(model).parent_path());
        QCOMPARE(session->info().totalParameters, int64_t(656000));
        gp::GenerateOptions generate;
        generate.prompt = "Once upon a time";
        generate.steps = 20;
        const std::string story = session->generate(generate).text;
        qInfo("greedy: %s", story.c_str());
        QVERIFY2(story.rfind("Once upon a time, ", 0) == 0, story.c_str());
        // Per document as lm-eval scores it; every story is shorter than a window, so each is
        // one forward of BOS + story here, its log-probabilities summed by hand.
        gp::EvalOptions eval;
        eval.textPath = text;
        eval.docSeparator = "<|endoftext|>";
        eval.perDocument = true;
        const gp::EvalResult perDocument = session->evaluate(eval);
        qInfo("per document: %lld stories, %lld tokens, mean NLL %.6f, word ppl %.4f, byte ppl "
              "%.6f, bits per byte %.6f", (long long)perDocument.documents,
              (long long)perDocument.tokens, perDocument.nll, perDocument.wordPerplexity,
              perDocument.bytePerplexity, perDocument.bitsPerByte);
        QCOMPARE(perDocument.documents, int64_t(69));
        QCOMPARE(perDocument.windows, int64_t(69));
        const auto& impl = session->impl();
        double summed = 0.0;
        int64_t tokens = 0;
        const std::string all = readBytes(text);
        for (size_t start = 0; start < all.size();) {
            size_t end = all.find("<|endoftext|>", start);
            if (end == std::string::npos) end = all.size();
            std::string story = all.substr(start, end - start);
            story.erase(0, story.find_first_not_of(" \n"));
            story.erase(story.find_last_not_of(" \n") + 1);
            start = end + std::string("<|endoftext|>").size();
            if (story.empty()) continue;
            std::vector<int64_t> ids = {1};  // <|start_story|>
            for (int32_t id : impl.tokenizer->encode(story)) ids.push_back(id);
            const at::Tensor input = at::tensor(ids, at::kLong).unsqueeze(0);
            const at::Tensor logits = impl.model->forward(input.slice(1, 0, int64_t(ids.size()) - 1));
            const at::Tensor logp = at::log_softmax(logits[0].to(at::kDouble), -1);
            summed -= logp.gather(-1, input[0].slice(0, 1).unsqueeze(-1)).sum().item<double>();
            tokens += int64_t(ids.size()) - 1;
        }
        QCOMPARE(perDocument.tokens, tokens);
        QVERIFY2(std::abs(perDocument.nll - summed / double(tokens)) <= 1e-6,
                 qPrintable(QString("%1 vs %2").arg(perDocument.nll).arg(summed / tokens)));

        gp::PruneOptions prune;
        prune.method = "wanda";
        prune.sparsity = 0.5;
        prune.calibPath = text;
        prune.evalPath = text;
        prune.nsamples = 8;
        prune.seqlen = 128;
        prune.evalMaxWindows = 4;
        const gp::PruneResult pruned = session->prune(prune);
        QVERIFY(pruned.pplBefore > 1.0 && pruned.pplAfter > pruned.pplBefore);

        gp::ExportOptions options;
        options.outDir = fresh("tinystories-656k").string();
        const gp::ExportResult exported = session->exportModel(options);
        const auto file = gp::SafetensorsFile::open(exported.modelPath + "/model.safetensors");
        QVERIFY(file->find("lm_head.weight") != nullptr);
        QVERIFY(file->find("model.embed_tokens.weight") == nullptr);
        QCOMPARE(file->metadata().at("model.embed_tokens.weight"), std::string("lm_head.weight"));
        auto back = open(exported.modelPath);
        QCOMPARE(QString::fromStdString(firstDifferentWeight(*session, *back)), QString());
    }
};

QTEST_GUILESS_MAIN(TestExport)
#include "tst_export.moc"
