// Every malformed input we know of, as one table: each row writes a real broken file (or gives a
// bad option) in a temporary folder, feeds it to the real loader through the engine's facade
// (ModelSession: open, evaluate, prune), and checks the gp::Error it gets: its kind (and so the
// CLI's exit code), that the message names the file (or option, or layer) and says what is
// wrong. Anything else (no error, another exception, a crash) fails the row.
//
// With GP_MALFORMED_TABLE=<file> set, the rows and the messages they produced are written to
// that file as a Markdown table (tests/MALFORMED.md is made that way).
#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>

#include "core/api/engine.h"
#include "core/io/llama2c_checkpoint.h"
#include "core/io/safetensors.h"
#include "core/runtime/error.h"
#include "tests/core/tiny_checkpoints.h"
#include "tests/core/unaligned_checkpoint.h"
#include "tests/support/test_support.h"

namespace {

using gp::test::readBytes;
using gp::test::writeBytes;

namespace fs = std::filesystem;
using Json = nlohmann::json;
using Tensors = std::vector<std::pair<std::string, at::Tensor>>;

// ---- bytes on disk ----

template <class T>
std::string bytesOf(T value) {
    return std::string(reinterpret_cast<const char*>(&value), sizeof value);
}

// A safetensors file assembled by hand: length prefix, header text as given, data bytes.
std::string safetensorsBytes(const std::string& header, const std::string& data) {
    return bytesOf<uint64_t>(header.size()) + header + data;
}

std::string floats(size_t count) {
    return std::string(count * 4, '\0');
}

// The llama2.c model of the table: tiny LLaMA sizes with a 300-piece vocabulary (a llama2.c
// tokenizer needs <unk>, <s>, </s> and the 256 byte pieces).
gp::Llama2cConfig tinyLlama2cConfig() {
    gp::Llama2cConfig config;
    config.dim = 16;
    config.hiddenDim = 24;
    config.nLayers = 2;
    config.nHeads = 4;
    config.nKvHeads = 2;
    config.vocabSize = 300;
    config.seqLen = 64;
    config.sharedClassifier = false;
    return config;
}

void writeTinyLlama2c(const fs::path& path) {
    const gp::ModelConfig config = gp::test::tinyConfig("llama", {{"vocab_size", 300}});
    gp::writeLlama2c(path.string(), tinyLlama2cConfig(), gp::test::tinyWeights(config, 11));
}

// A llama2.c tokenizer.bin: max_token_length, then score, length, bytes per piece.
std::string llama2cTokenizerBytes(int32_t pieces, uint32_t maxTokenLength = 8) {
    std::string bytes = bytesOf<uint32_t>(maxTokenLength);
    for (int32_t id = 0; id < pieces; ++id) {
        std::string piece;
        if (id == 0)
            piece = "<unk>";
        else if (id == 1)
            piece = "<s>";
        else if (id == 2)
            piece = "</s>";
        else if (id < 3 + 256) {
            char name[8];
            std::snprintf(name, sizeof name, "<0x%02X>", id - 3);
            piece = name;
        } else {
            piece = std::string(1, char('a' + (id - 259) % 26)) + char('a' + (id - 259) / 26);
        }
        bytes += bytesOf<float>(-float(id)) + bytesOf<int32_t>(int32_t(piece.size())) + piece;
    }
    return bytes;
}

// ---- one case ----

// The temporary folder of a case: `model/` is a copy of the demo model, and the helpers write
// the broken files and call the engine the way the CLI does.
struct Fixture {
    fs::path root;

    fs::path path(const std::string& relative) const { return root / relative; }
    fs::path model() const { return root / "model"; }

    void write(const std::string& relative, const std::string& bytes) const {
        fs::create_directories(path(relative).parent_path());
        writeBytes(path(relative), bytes);
    }
    void writeJson(const std::string& relative, const Json& json) const {
        write(relative, json.dump(2));
    }
    Json demoConfig() const { return Json::parse(readBytes(model() / "config.json")); }
    // The demo model's tensors, in file order, for rewriting a changed model.safetensors.
    Tensors demoTensors() const {
        const auto file = gp::SafetensorsFile::open((model() / "model.safetensors").string());
        Tensors tensors;
        for (const gp::SafetensorsEntry& entry : file->entries())
            tensors.emplace_back(entry.name, file->tensor(entry.name).clone());
        return tensors;
    }
    void writeTensors(const Tensors& tensors) const {
        const fs::path weights = model() / "model.safetensors";
        fs::remove(weights);
        gp::writeSafetensors(weights.string(), tensors);
    }
    // Replaces the model's weights file by hand-made bytes.
    void writeWeights(const std::string& bytes) const { write("model/model.safetensors", bytes); }

    // The `gradprobe` command line doing what the case does through the facade (set by open,
    // evaluate and prune), run afterwards to check what the CLI prints for the same input.
    mutable QStringList cli;

    std::unique_ptr<gp::ModelSession> open(const std::string& relative = "model",
                                           const gp::LoadOptions& options = {}) const {
        // `info` takes no --tokenizer: `eval` loads the same way and fails at the same point.
        if (cli.isEmpty()) {
            cli << (options.tokenizerPath.empty() ? "info" : "eval") << "--model"
                << QString::fromStdString(path(relative).string());
            if (!options.tokenizerPath.empty())
                cli << "--tokenizer" << QString::fromStdString(options.tokenizerPath);
        }
        return gp::ModelSession::open(path(relative).string(), options);
    }
    void evaluate(const std::string& textRelative, int64_t seqlen = 32) const {
        gp::EvalOptions options;
        options.textPath = textRelative.empty() ? "" : path(textRelative).string();
        options.seqlen = seqlen;
        options.maxWindows = 1;
        cli = QStringList{"eval", "--model", QString::fromStdString(model().string())};
        cli << "--seqlen" << QString::number(seqlen) << "--max-windows"
            << "1";
        if (!options.textPath.empty()) cli << "--text" << QString::fromStdString(options.textPath);
        open()->evaluate(options);
    }
    void prune(gp::PruneOptions options) const {
        options.evaluate = false;
        options.nsamples = 2;
        options.seqlen = 32;
        cli = QStringList{"prune", "--model", QString::fromStdString(model().string())};
        cli << "--method" << QString::fromStdString(options.method) << "--sparsity"
            << QString::number(options.sparsity) << "--nsamples"
            << "2"
            << "--seqlen"
            << "32"
            << "--no-eval"
            << "--out" << QString::fromStdString(path("out").string());
        open()->prune(options);
    }
};

// What `gradprobe` prints and returns for a case's command line.
struct CliOutcome {
    int exitCode = -1;
    QString output;
};

CliOutcome runCli(const QStringList& arguments) {
    QProcess process;
    process.setProcessChannelMode(QProcess::MergedChannels);
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert("OMP_WAIT_POLICY", "PASSIVE");
    process.setProcessEnvironment(environment);
    process.start(QStringLiteral(GP_CLI_BINARY), arguments);
    CliOutcome outcome;
    if (!process.waitForFinished(120000)) {
        process.kill();
        process.waitForFinished();
        outcome.output = "TIMED OUT\n";
    }
    outcome.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    outcome.output += QString::fromLocal8Bit(process.readAll());
    return outcome;
}

struct MalformedCase {
    const char* name;
    const char* what;  // what is wrong, for the table
    gp::ErrorKind kind;
    const char* file;    // the path (relative to the case folder) the message must name
    const char* object;  // the tensor/key/option/layer the message must name ("" if none)
    std::vector<const char*> problem;  // fragments the message must contain
    std::function<void(const Fixture&)> run;
};

const gp::ErrorKind kBadInput = gp::ErrorKind::BadInput;
const gp::ErrorKind kBadArgument = gp::ErrorKind::BadArgument;
const gp::ErrorKind kOutOfMemory = gp::ErrorKind::OutOfMemory;

// A tokenizer.json like the demo model's whose pre-tokenizer splits on `pattern`.
Json tokenizerWithSplit(const Fixture& f, const std::string& pattern) {
    Json tokenizer = Json::parse(readBytes(f.model() / "tokenizer.json"));
    tokenizer["pre_tokenizer"] = {{"type", "Split"},
                                  {"pattern", {{"Regex", pattern}}},
                                  {"behavior", "Isolated"},
                                  {"invert", false}};
    return tokenizer;
}

const std::vector<MalformedCase>& cases() {
    static const std::vector<MalformedCase> table = {
        // ---- safetensors ----
        {"safetensors_empty",
         "model.safetensors is 0 bytes",
         kBadInput,
         "model/model.safetensors",
         "",
         {"0 bytes", "shorter than the 8-byte header length"},
         [](const Fixture& f) {
             f.writeWeights("");
             f.open();
         }},
        {"safetensors_truncated_prefix",
         "model.safetensors is 5 bytes (cut in the length)",
         kBadInput,
         "model/model.safetensors",
         "",
         {"5 bytes", "shorter than the 8-byte"},
         [](const Fixture& f) {
             f.writeWeights(std::string("\x10\0\0\0\0", 5));
             f.open();
         }},
        {"safetensors_header_beyond_file",
         "header length 4096, file holds 40 bytes",
         kBadInput,
         "model/model.safetensors",
         "",
         {"header length 4096", "runs past the end of the file"},
         [](const Fixture& f) {
             f.writeWeights(bytesOf<uint64_t>(4096) + std::string(32, ' '));
             f.open();
         }},
        {"safetensors_header_over_100mb",
         "header length claims 200 MB",
         kBadInput,
         "model/model.safetensors",
         "",
         {"header length 200000000", "100 MB limit"},
         [](const Fixture& f) {
             f.writeWeights(bytesOf<uint64_t>(200'000'000) + "{}");
             f.open();
         }},
        {"safetensors_header_huge_u64",
         "header length 2^64-1",
         kBadInput,
         "model/model.safetensors",
         "",
         {"header length 18446744073709551615", "100 MB limit"},
         [](const Fixture& f) {
             f.writeWeights(bytesOf<uint64_t>(UINT64_MAX) + "{}");
             f.open();
         }},
        {"safetensors_bad_json",
         "header is not JSON",
         kBadInput,
         "model/model.safetensors",
         "",
         {"header is not valid JSON"},
         [](const Fixture& f) {
             f.writeWeights(safetensorsBytes("{\"a\": [1, 2", ""));
             f.open();
         }},
        {"safetensors_header_not_object",
         "header is a JSON array",
         kBadInput,
         "model/model.safetensors",
         "",
         {"header is not a JSON object"},
         [](const Fixture& f) {
             f.writeWeights(safetensorsBytes("[1, 2, 3]", ""));
             f.open();
         }},
        {"safetensors_unknown_dtype",
         "dtype \"Q4\"",
         kBadInput,
         "model/model.safetensors",
         "w",
         {"unsupported dtype \"Q4\"", "supported: F64 F32"},
         [](const Fixture& f) {
             f.writeWeights(safetensorsBytes(
                 R"({"w": {"dtype": "Q4", "shape": [2], "data_offsets": [0, 8]}})", floats(2)));
             f.open();
         }},
        {"safetensors_offsets_outside_data",
         "data_offsets end 4096 beyond 16 data bytes",
         kBadInput,
         "model/model.safetensors",
         "w",
         {"data_offsets end 4096", "beyond the data area (16 bytes)"},
         [](const Fixture& f) {
             f.writeWeights(safetensorsBytes(
                 R"({"w": {"dtype": "F32", "shape": [1024], "data_offsets": [0, 4096]}})",
                 floats(4)));
             f.open();
         }},
        {"safetensors_offsets_reversed",
         "data_offsets [8, 0]",
         kBadInput,
         "model/model.safetensors",
         "w",
         {"begin 8 is after end 0"},
         [](const Fixture& f) {
             f.writeWeights(safetensorsBytes(
                 R"({"w": {"dtype": "F32", "shape": [2], "data_offsets": [8, 0]}})", floats(2)));
             f.open();
         }},
        {"safetensors_overlapping_tensors",
         "tensors a [0,16) and b [8,24) share bytes",
         kBadInput,
         "model/model.safetensors",
         "b",
         {"overlap tensor a"},
         [](const Fixture& f) {
             f.writeWeights(safetensorsBytes(
                 R"({"a": {"dtype": "F32", "shape": [4], "data_offsets": [0, 16]},)"
                 R"( "b": {"dtype": "F32", "shape": [4], "data_offsets": [8, 24]}})",
                 floats(6)));
             f.open();
         }},
        {"safetensors_shape_dtype_span_mismatch",
         "shape [3] x F32 is 12 bytes, span is 16",
         kBadInput,
         "model/model.safetensors",
         "w",
         {"shape [3] x F32", "needs 12 bytes but data_offsets span 16"},
         [](const Fixture& f) {
             f.writeWeights(safetensorsBytes(
                 R"({"w": {"dtype": "F32", "shape": [3], "data_offsets": [0, 16]}})", floats(4)));
             f.open();
         }},
        {"safetensors_negative_shape",
         "shape [-4]",
         kBadInput,
         "model/model.safetensors",
         "w",
         {"negative size -4 in shape"},
         [](const Fixture& f) {
             f.writeWeights(safetensorsBytes(
                 R"({"w": {"dtype": "F32", "shape": [-4], "data_offsets": [0, 16]}})", floats(4)));
             f.open();
         }},
        {"safetensors_shape_overflow",
         "shape whose byte size overflows 64 bits",
         kBadInput,
         "model/model.safetensors",
         "w",
         {"overflows 64 bits"},
         [](const Fixture& f) {
             f.writeWeights(
                 safetensorsBytes(R"({"w": {"dtype": "F64", "shape": [4294967296, 4294967296], )"
                                  R"("data_offsets": [0, 0]}})",
                                  ""));
             f.open();
         }},
        {"safetensors_duplicate_name",
         "tensor name given twice",
         kBadInput,
         "model/model.safetensors",
         "w",
         {"appears more than once"},
         [](const Fixture& f) {
             f.writeWeights(safetensorsBytes(
                 R"({"w": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]},)"
                 R"( "w": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}})",
                 floats(2)));
             f.open();
         }},
        {"safetensors_missing_offsets",
         "entry without data_offsets",
         kBadInput,
         "model/model.safetensors",
         "w",
         {"entry has no \"data_offsets\""},
         [](const Fixture& f) {
             f.writeWeights(
                 safetensorsBytes(R"({"w": {"dtype": "F32", "shape": [1]}})", floats(1)));
             f.open();
         }},
        {"safetensors_metadata_not_strings",
         "__metadata__ value is a number",
         kBadInput,
         "model/model.safetensors",
         "__metadata__",
         {"\"format\" is not a string"},
         [](const Fixture& f) {
             f.writeWeights(safetensorsBytes(R"({"__metadata__": {"format": 7}})", ""));
             f.open();
         }},
        {"safetensors_truncated_real_file",
         "the demo model's weights cut 1000 bytes short",
         kBadInput,
         "model/model.safetensors",
         "",
         {"data_offsets end", "beyond the data area"},
         [](const Fixture& f) {
             const std::string bytes = readBytes(f.model() / "model.safetensors");
             f.writeWeights(bytes.substr(0, bytes.size() - 1000));
             f.open();
         }},
        // ---- Hugging Face folder and config.json ----
        {"folder_missing_config",
         "the folder has no config.json",
         kBadInput,
         "model",
         "",
         {"has no config.json", "found: calibration.txt"},
         [](const Fixture& f) {
             fs::remove(f.model() / "config.json");
             f.open();
         }},
        {"folder_missing_weights",
         "the folder has no model.safetensors",
         kBadInput,
         "model",
         "",
         {"has no weights", "model.safetensors"},
         [](const Fixture& f) {
             fs::remove(f.model() / "model.safetensors");
             f.open();
         }},
        {"folder_pytorch_pickle_only",
         "weights only as pytorch_model.bin",
         kBadInput,
         "model",
         "",
         {"pytorch_model.bin is a PyTorch pickle"},
         [](const Fixture& f) {
             fs::rename(f.model() / "model.safetensors", f.model() / "pytorch_model.bin");
             f.open();
         }},
        {"shard_index_escapes_folder",
         "the shard index names ../outside.safetensors",
         kBadInput,
         "model/model.safetensors.index.json",
         "model.norm.weight",
         {"is not a file in the folder"},
         [](const Fixture& f) {
             fs::remove(f.model() / "model.safetensors");
             f.writeJson("model/model.safetensors.index.json",
                         {{"weight_map", {{"model.norm.weight", "../outside.safetensors"}}}});
             f.open();
         }},
        {"config_bad_json",
         "config.json is not JSON",
         kBadInput,
         "model/config.json",
         "",
         {"not valid JSON"},
         [](const Fixture& f) {
             f.write("model/config.json", "{\"model_type\": \"llama\",,}");
             f.open();
         }},
        {"config_unknown_architecture",
         "model_type \"bert\"",
         kBadInput,
         "model/config.json",
         "model_type",
         {"unsupported model_type \"bert\"", "supported: llama"},
         [](const Fixture& f) {
             Json config = f.demoConfig();
             config["model_type"] = "bert";
             f.writeJson("model/config.json", config);
             f.open();
         }},
        {"config_missing_size",
         "config.json without hidden_size",
         kBadInput,
         "model/config.json",
         "hidden_size",
         {"missing (required for model_type llama)"},
         [](const Fixture& f) {
             Json config = f.demoConfig();
             config.erase("hidden_size");
             f.writeJson("model/config.json", config);
             f.open();
         }},
        {"config_negative_layers",
         "num_hidden_layers -5",
         kBadInput,
         "model/config.json",
         "num_hidden_layers",
         {"must be a positive integer, got -5"},
         [](const Fixture& f) {
             Json config = f.demoConfig();
             config["num_hidden_layers"] = -5;
             f.writeJson("model/config.json", config);
             f.open();
         }},
        {"config_heads_do_not_divide",
         "num_key_value_heads 3 with 8 heads",
         kBadInput,
         "model/config.json",
         "num_key_value_heads",
         {"3 does not divide num_attention_heads 8"},
         [](const Fixture& f) {
             Json config = f.demoConfig();
             config["num_key_value_heads"] = 3;
             f.writeJson("model/config.json", config);
             f.open();
         }},
        {"config_weight_shape_mismatch",
         "config says hidden_size 32, weights are 64 wide",
         kBadInput,
         "model",
         "model.embed_tokens.weight",
         {"[512, 64]", "[512, 32]"},
         [](const Fixture& f) {
             Json config = f.demoConfig();
             config["hidden_size"] = 32;
             f.writeJson("model/config.json", config);
             f.open();
         }},
        {"weights_missing_tensor",
         "model.safetensors lacks model.norm.weight",
         kBadInput,
         "model",
         "model.norm.weight",
         {"missing"},
         [](const Fixture& f) {
             Tensors tensors = f.demoTensors();
             tensors.erase(
                 std::remove_if(tensors.begin(), tensors.end(),
                                [](const auto& t) { return t.first == "model.norm.weight"; }),
                 tensors.end());
             f.writeTensors(tensors);
             f.open();
         }},
        {"weights_nan",
         "a NaN in model.layers.0.mlp.up_proj.weight (magnitude pruning)",
         kBadInput,
         "",
         "model.layers.0.mlp.up_proj.weight",
         {"is NaN", "finite"},
         [](const Fixture& f) {
             Tensors tensors = f.demoTensors();
             for (auto& [name, tensor] : tensors)
                 if (name == "model.layers.0.mlp.up_proj.weight") tensor.view(-1)[5] = std::nan("");
             f.writeTensors(tensors);
             gp::PruneOptions options;
             options.method = "magnitude";
             f.prune(options);
         }},
        {"weights_infinite",
         "+inf in model.layers.1.self_attn.q_proj.weight (magnitude)",
         kBadInput,
         "",
         "model.layers.1.self_attn.q_proj.weight",
         {"inf", "finite"},
         [](const Fixture& f) {
             Tensors tensors = f.demoTensors();
             for (auto& [name, tensor] : tensors)
                 if (name == "model.layers.1.self_attn.q_proj.weight")
                     tensor.view(-1)[0] = INFINITY;
             f.writeTensors(tensors);
             gp::PruneOptions options;
             options.method = "magnitude";
             f.prune(options);
         }},
        // Unaligned data is copied per tensor, never before the headers are checked against
        // the config and the copies counted against the machine's memory (sparse 40 GB files).
        {"safetensors_unaligned_huge_wrong_shape",
         "every tensor 1 byte off its boundary; model.embed_tokens.weight declared 40 GB "
         "(sparse file) where config.json implies 512 rows",
         kBadInput,
         "model",
         "model.embed_tokens.weight",
         {"but the config implies [512, 64]"},
         [](const Fixture& f) {
             gp::test::writeUnalignedCheckpoint(gp::test::demoModelDir(), f.model(),
                                                gp::test::HugeEmbedding::WrongShape);
             f.open();
         }},
        {"safetensors_unaligned_too_big_to_copy",
         "every tensor 1 byte off its boundary; config.json's vocab_size matches a declared "
         "40 GB model.embed_tokens.weight (sparse file)",
         kOutOfMemory,
         "model/model.safetensors",
         "load",
         {"stores unaligned (the largest model.embed_tokens.weight)", "model.embed_tokens.weight",
          "are available"},
         [](const Fixture& f) {
             gp::test::writeUnalignedCheckpoint(gp::test::demoModelDir(), f.model(),
                                                gp::test::HugeEmbedding::MatchingConfig);
             f.evaluate("model/evaluation.txt");
         }},
        // ---- tokenizers ----
        {"tokenizer_regex_backtracks",
         "pre_tokenizer pattern (a|aa)+$ on 60 a's and a b (exponential backtracking)",
         kBadInput,
         "model/tokenizer.json",
         "pre_tokenizer.pattern",
         {"(a|aa)+$", "match limit exceeded"},
         [](const Fixture& f) {
             f.writeJson("model/tokenizer.json", tokenizerWithSplit(f, "(a|aa)+$"));
             f.write("aaa.txt", std::string(60, 'a') + "b\n");
             f.evaluate("aaa.txt");
         }},
        {"tokenizer_missing",
         "no tokenizer beside the model, evaluation asked",
         kBadInput,
         "model",
         "tokenizer",
         {"no tokenizer found beside the model"},
         [](const Fixture& f) {
             fs::remove(f.model() / "tokenizer.json");
             f.evaluate("model/evaluation.txt");
         }},
        {"tokenizer_bad_json",
         "tokenizer.json is not JSON",
         kBadInput,
         "model/tokenizer.json",
         "",
         {"malformed JSON"},
         [](const Fixture& f) {
             f.write("model/tokenizer.json", "{\"model\": {");
             f.open();
         }},
        {"tokenizer_number_overflow",
         "a vocabulary id of 1e400 (overflows a double)",
         kBadInput,
         "model/tokenizer.json",
         "",
         {"malformed JSON", "number overflow"},
         [](const Fixture& f) {
             f.write("model/tokenizer.json",
                     R"({"model": {"type": "BPE", "vocab": {"a": 1e400}}})");
             f.open();
         }},
        {"config_number_overflow",
         "vocab_size 1e400 in config.json",
         kBadInput,
         "model/config.json",
         "",
         {"not valid JSON", "number overflow"},
         [](const Fixture& f) {
             f.write("model/config.json", R"({"model_type": "llama", "vocab_size": 1e400})");
             f.open();
         }},
        {"tokenizer_unsupported_model",
         "tokenizer model WordPiece",
         kBadInput,
         "model/tokenizer.json",
         "model.type",
         {"unsupported tokenizer model \"WordPiece\""},
         [](const Fixture& f) {
             f.writeJson("model/tokenizer.json",
                         {{"model", {{"type", "WordPiece"}, {"vocab", Json::object()}}}});
             f.open();
         }},
        {"tokenizer_negative_id",
         "vocabulary id -3",
         kBadInput,
         "model/tokenizer.json",
         "model.vocab[\"a\"]",
         {"non-negative 31-bit id"},
         [](const Fixture& f) {
             f.writeJson(
                 "model/tokenizer.json",
                 {{"model", {{"type", "BPE"}, {"vocab", {{"a", -3}}}, {"merges", Json::array()}}}});
             f.open();
         }},
        {"tokenizer_id_far_beyond_vocabulary",
         "vocabulary id 2000000000 among 2 pieces",
         kBadInput,
         "model/tokenizer.json",
         "model.vocab[\"b\"]",
         {"id 2000000000 is far beyond the 2 pieces"},
         [](const Fixture& f) {
             f.writeJson("model/tokenizer.json", {{"model",
                                                   {{"type", "BPE"},
                                                    {"vocab", {{"a", 0}, {"b", 2000000000}}},
                                                    {"merges", Json::array()}}}});
             f.open();
         }},
        {"tokenizer_bad_merge",
         "a merge without a space",
         kBadInput,
         "model/tokenizer.json",
         "model.merges[0]",
         {"expected \"left right\""},
         [](const Fixture& f) {
             f.writeJson(
                 "model/tokenizer.json",
                 {{"model",
                   {{"type", "BPE"}, {"vocab", {{"a", 0}, {"b", 1}}}, {"merges", {"ab"}}}}});
             f.open();
         }},
        // ---- llama2.c checkpoint ----
        {"llama2c_truncated_header",
         "a .bin of 10 bytes",
         kBadInput,
         "tiny.bin",
         "",
         {"10 bytes", "shorter than the 28-byte llama2.c header"},
         [](const Fixture& f) {
             f.write("tiny.bin", std::string(10, '\x01'));
             f.open("tiny.bin");
         }},
        {"llama2c_lying_dims",
         "header says dim 32, the file holds dim 16",
         kBadInput,
         "tiny.bin",
         "",
         {"dim=32", "implies"},
         [](const Fixture& f) {
             writeTinyLlama2c(f.path("tiny.bin"));
             std::string bytes = readBytes(f.path("tiny.bin"));
             const int32_t dim = 32;
             std::memcpy(bytes.data(), &dim, 4);
             f.write("tiny.bin", bytes);
             f.open("tiny.bin");
         }},
        {"llama2c_truncated_body",
         "a valid .bin cut 4 bytes short",
         kBadInput,
         "tiny.bin",
         "",
         {"bytes but its header", "implies"},
         [](const Fixture& f) {
             writeTinyLlama2c(f.path("tiny.bin"));
             const std::string bytes = readBytes(f.path("tiny.bin"));
             f.write("tiny.bin", bytes.substr(0, bytes.size() - 4));
             f.open("tiny.bin");
         }},
        {"llama2c_zero_layers",
         "header n_layers 0",
         kBadInput,
         "tiny.bin",
         "n_layers",
         {"header value 0 must be a positive int32"},
         [](const Fixture& f) {
             writeTinyLlama2c(f.path("tiny.bin"));
             std::string bytes = readBytes(f.path("tiny.bin"));
             std::memset(bytes.data() + 8, 0, 4);
             f.write("tiny.bin", bytes);
             f.open("tiny.bin");
         }},
        {"llama2c_heads_do_not_divide",
         "header n_heads 3 with dim 16",
         kBadInput,
         "tiny.bin",
         "n_heads",
         {"n_heads=3 does not divide dim=16"},
         [](const Fixture& f) {
             writeTinyLlama2c(f.path("tiny.bin"));
             std::string bytes = readBytes(f.path("tiny.bin"));
             const int32_t heads = 3;
             std::memcpy(bytes.data() + 12, &heads, 4);
             f.write("tiny.bin", bytes);
             f.open("tiny.bin");
         }},
        {"llama2c_versioned_file",
         "a llama2.c v1 file (magic ak42)",
         kBadInput,
         "tiny.bin",
         "",
         {"version 1", "only the legacy v0 format"},
         [](const Fixture& f) {
             f.write("tiny.bin",
                     bytesOf<uint32_t>(0x616b3432) + bytesOf<int32_t>(1) + std::string(248, '\0'));
             f.open("tiny.bin");
         }},
        {"llama2c_pytorch_pickle",
         "a torch.save zip named .bin",
         kBadInput,
         "tiny.bin",
         "",
         {"PyTorch pickle checkpoint"},
         [](const Fixture& f) {
             f.write("tiny.bin", std::string("PK\x03\x04", 4) + std::string(60, '\0'));
             f.open("tiny.bin");
         }},
        // ---- llama2.c tokenizer.bin (beside a valid tiny.bin with a 300-piece vocabulary) ----
        {"tokenizer_bin_truncated",
         "tokenizer.bin cut inside piece 299",
         kBadInput,
         "tokenizer.bin",
         "piece 299",
         {"file truncated"},
         [](const Fixture& f) {
             writeTinyLlama2c(f.path("tiny.bin"));
             const std::string bytes = llama2cTokenizerBytes(300);
             f.write("tokenizer.bin", bytes.substr(0, bytes.size() - 1));
             f.open("tiny.bin");
         }},
        {"tokenizer_bin_implausible_max_length",
         "max_token_length 0",
         kBadInput,
         "tokenizer.bin",
         "max_token_length",
         {"implausible value 0"},
         [](const Fixture& f) {
             writeTinyLlama2c(f.path("tiny.bin"));
             f.write("tokenizer.bin", llama2cTokenizerBytes(300, 0));
             f.open("tiny.bin");
         }},
        {"tokenizer_bin_piece_too_long",
         "a piece longer than max_token_length",
         kBadInput,
         "tokenizer.bin",
         "piece 0",
         {"length 5 outside 0..4"},
         [](const Fixture& f) {
             writeTinyLlama2c(f.path("tiny.bin"));
             f.write("tokenizer.bin", llama2cTokenizerBytes(300, 4));
             f.open("tiny.bin");
         }},
        {"tokenizer_bin_more_pieces_than_model",
         "tokenizer.bin of 310 pieces, model of 300",
         kBadInput,
         "tokenizer.bin",
         "",
         {"more than the model's 300 pieces", "do not match"},
         [](const Fixture& f) {
             writeTinyLlama2c(f.path("tiny.bin"));
             f.write("tokenizer.bin", llama2cTokenizerBytes(310));
             f.open("tiny.bin");
         }},
        {"tokenizer_bin_too_few_pieces",
         "--tokenizer of 100 pieces for a 300-piece model",
         kBadInput,
         "tok100.bin",
         "piece 100",
         {"holds 100 pieces but the model's vocabulary has 300"},
         [](const Fixture& f) {
             writeTinyLlama2c(f.path("tiny.bin"));
             f.write("tok100.bin", llama2cTokenizerBytes(100));
             gp::LoadOptions options;
             options.tokenizerPath = f.path("tok100.bin").string();
             f.open("tiny.bin", options);
         }},
        // ---- text ----
        {"text_missing",
         "--text names no file",
         kBadInput,
         "nowhere.txt",
         "",
         {"file not found"},
         [](const Fixture& f) { f.evaluate("nowhere.txt"); }},
        {"text_empty",
         "an empty text file",
         kBadInput,
         "empty.txt",
         "",
         {"is empty"},
         [](const Fixture& f) {
             f.write("empty.txt", "");
             f.evaluate("empty.txt");
         }},
        {"text_only_whitespace",
         "a text of spaces and newlines",
         kBadInput,
         "blank.txt",
         "",
         {"holds only white space"},
         [](const Fixture& f) {
             f.write("blank.txt", "  \n\t\n  ");
             f.evaluate("blank.txt");
         }},
        {"text_binary_nul",
         "a binary file (NUL byte)",
         kBadInput,
         "binary.txt",
         "",
         {"NUL byte at byte offset 3", "binary file"},
         [](const Fixture& f) {
             f.write("binary.txt", std::string("abc\0def", 7));
             f.evaluate("binary.txt");
         }},
        {"text_invalid_utf8",
         "Latin-1 text (invalid UTF-8)",
         kBadInput,
         "latin1.txt",
         "",
         {"not valid UTF-8", "0xE9 at byte offset 4"},
         [](const Fixture& f) {
             f.write("latin1.txt", "caf\x20\xE9t\xE9");
             f.evaluate("latin1.txt");
         }},
        {"text_is_folder",
         "--text names a folder",
         kBadInput,
         "model",
         "",
         {"is a folder, not a text file"},
         [](const Fixture& f) { f.evaluate("model"); }},
        {"text_shorter_than_window",
         "a text of a few tokens, windows of 64",
         kBadInput,
         "short.txt",
         "",
         {"fewer than one window of 64"},
         [](const Fixture& f) {
             f.write("short.txt", "Tom ran.");
             f.evaluate("short.txt", 64);
         }},
        {"windows_seqlen_one",
         "--seqlen 1 (a window predicts nothing)",
         kBadArgument,
         "",
         "--seqlen",
         {"must be at least 2"},
         [](const Fixture& f) { f.evaluate("model/evaluation.txt", 1); }},
        {"windows_longer_than_context",
         "--seqlen 1000 on a 256-token context",
         kBadArgument,
         "",
         "--seqlen",
         {"a window of 1000 ids"},
         [](const Fixture& f) { f.evaluate("model/evaluation.txt", 1000); }},
        // ---- options ----
        {"sparsity_above_one",
         "--sparsity 1.2",
         kBadArgument,
         "",
         "--sparsity",
         {"must be in [0, 1), got 1.2"},
         [](const Fixture& f) {
             gp::PruneOptions options;
             options.sparsity = 1.2;
             f.prune(options);
         }},
        {"sparsity_one",
         "--sparsity 1 (nothing left)",
         kBadArgument,
         "",
         "--sparsity",
         {"must be in [0, 1), got 1"},
         [](const Fixture& f) {
             gp::PruneOptions options;
             options.sparsity = 1.0;
             f.prune(options);
         }},
        {"sparsity_negative",
         "--sparsity -0.1",
         kBadArgument,
         "",
         "--sparsity",
         {"must be in [0, 1), got -0.1"},
         [](const Fixture& f) {
             gp::PruneOptions options;
             options.sparsity = -0.1;
             f.prune(options);
         }},
    };
    return table;
}

const char* kindName(gp::ErrorKind kind) {
    switch (kind) {
        case gp::ErrorKind::BadArgument:
            return "BadArgument";
        case gp::ErrorKind::BadInput:
            return "BadInput";
        case gp::ErrorKind::OutOfMemory:
            return "OutOfMemory";
        case gp::ErrorKind::Internal:
            return "Internal";
    }
    return "?";
}

struct Outcome {
    std::string name, what, kind, message;
};

}  // namespace

class TestMalformed : public QObject {
    Q_OBJECT

    std::vector<Outcome> m_outcomes;

private Q_SLOTS:
    void initTestCase() { gp::initialiseEngine(); }

    void table_data() {
        QTest::addColumn<int>("index");
        for (size_t i = 0; i < cases().size(); ++i) QTest::newRow(cases()[i].name) << int(i);
    }

    void table() {
        QFETCH(int, index);
        const MalformedCase& c = cases()[size_t(index)];
        QTemporaryDir temporary;
        QVERIFY(temporary.isValid());
        Fixture fixture{fs::path(temporary.path().toStdString())};
        fs::copy(gp::test::demoModelDir(), fixture.model(), fs::copy_options::recursive);

        std::string message;
        try {
            c.run(fixture);
        } catch (const gp::Error& error) {
            message = error.what();
            QVERIFY2(error.kind() == c.kind,
                     qPrintable(QString("kind %1, expected %2: %3")
                                    .arg(kindName(error.kind()), kindName(c.kind),
                                         QString::fromStdString(message))));
        } catch (const std::exception& error) {
            QFAIL(qPrintable(QString("not a gp::Error: ") + error.what()));
        }
        QVERIFY2(!message.empty(), "no error: the malformed input was accepted");

        std::vector<std::string> expected(c.problem.begin(), c.problem.end());
        if (*c.file) expected.push_back(fixture.path(c.file).string());
        if (*c.object) expected.push_back(c.object);
        for (const std::string& fragment : expected)
            QVERIFY2(message.find(fragment) != std::string::npos,
                     qPrintable(QString::fromStdString("the message does not say \"" + fragment +
                                                       "\": " + message)));

        // The folder is random: the table shows it as <tmp>.
        const std::string root = fixture.root.string();
        for (size_t at; (at = message.find(root)) != std::string::npos;)
            message.replace(at, root.size(), "<tmp>");
        m_outcomes.push_back({c.name, c.what, kindName(c.kind), message});

        // The CLI on the same input: the exit code of the kind, one line naming the same file,
        // never an unclassified failure or LibTorch's C++ backtrace.
        if (fixture.cli.isEmpty()) return;
        const CliOutcome cli = runCli(fixture.cli);
        const QString report = fixture.cli.join(' ') + "\n" + cli.output;
        QVERIFY2(cli.exitCode == gp::exitCodeFor(c.kind),
                 qPrintable(QString("exit %1, expected %2: %3")
                                .arg(cli.exitCode)
                                .arg(gp::exitCodeFor(c.kind))
                                .arg(report)));
        for (const char* never : {"internal error", "frame #", "unexpected failure", "terminate"})
            QVERIFY2(!cli.output.contains(never), qPrintable(report));
        if (*c.file)
            QVERIFY2(cli.output.contains(QString::fromStdString(fixture.path(c.file).string())),
                     qPrintable(report));
    }

    void cleanupTestCase() {
        QVERIFY2(cases().size() >= 30, "the table must keep at least 30 cases");
        const QByteArray target = qgetenv("GP_MALFORMED_TABLE");
        if (target.isEmpty()) return;
        std::ofstream out(target.toStdString(), std::ios::trunc);
        out << "# Malformed inputs and the errors they produce\n\n"
               "Every row is a case of `tests/core/tst_malformed.cpp`: a real broken file (or a "
               "bad\n"
               "option) fed to the real loader through the engine's facade. The message is what\n"
               "`gradprobe` prints after `gradprobe: error: `; the exit code follows the error "
               "kind.\n"
               "Each case also runs the `gradprobe` command doing the same; it must exit with "
               "that\n"
               "code, name the same file, and print no \"internal error\" and no stack trace.\n"
               "`<tmp>` is the case's temporary folder; `model/` in it is a copy of the demo "
               "model.\n"
               "Regenerate with\n\n"
               "    GP_MALFORMED_TABLE=tests/MALFORMED.md build/release/tests/tst_malformed\n\n";
        out << "| # | case | what is wrong | error (exit code) | message |\n"
               "| --- | --- | --- | --- | --- |\n";
        int row = 0;
        for (const Outcome& o : m_outcomes) {
            const auto escaped = [](std::string text) {
                for (size_t at = 0; (at = text.find('|', at)) != std::string::npos; at += 2)
                    text.replace(at, 1, "\\|");
                return text;
            };
            const std::string message = escaped(o.message);
            const int code = gp::exitCodeFor(o.kind == "BadArgument"   ? kBadArgument
                                             : o.kind == "OutOfMemory" ? kOutOfMemory
                                                                       : kBadInput);
            out << "| " << ++row << " | `" << o.name << "` | " << escaped(o.what) << " | " << o.kind
                << " (" << code << ") | `" << message << "` |\n";
        }
    }
};

QTEST_GUILESS_MAIN(TestMalformed)
#include "tst_malformed.moc"
