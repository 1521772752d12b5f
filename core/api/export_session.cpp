// ModelSession's export, generation and report entry points.
#include <torch/version.h>

#include <sys/utsname.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <filesystem>
#include <set>

#include "core/api/engine.h"
#include "core/api/gguf_vocab.h"
#include "core/api/session_impl.h"
#include "core/eval/generate.h"
#include "core/io/atomic_file.h"
#include "core/io/compressed_tensors.h"
#include "core/io/export_folder.h"
#include "core/io/gguf_model.h"
#include "core/io/hf_export.h"
#include "core/io/llama2c_checkpoint.h"
#include "core/io/mask_file.h"
#include "core/runtime/compute.h"
#include "core/runtime/error.h"
#include "core/tokenizer/llama2c_tokenizer.h"
#include "core/tokenizer/sentencepiece_json.h"

namespace gp {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFormatOption = "--format";

double secondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int64_t fileSize(const std::string& path) {
    std::error_code error;
    const auto size = fs::file_size(path, error);
    return error ? 0 : int64_t(size);
}

// The files the model was read from: an export must not be (or contain) any of them.
std::vector<std::string> inputFiles(const ModelSession::Impl& session) {
    std::vector<std::string> files = session.checkpoint.weightFiles;
    files.push_back(session.checkpoint.path);
    if (!session.checkpoint.configPath.empty()) files.push_back(session.checkpoint.configPath);
    if (!session.checkpoint.tokenizerPath.empty()) files.push_back(session.checkpoint.tokenizerPath);
    return files;
}

// What the exports write, in the input's terms (a checkpoint that recorded none, built in
// memory, as the model holds it), with every floating tensor in `dtype` when one is asked for.
std::vector<StoredTensor> storedLayout(const ModelSession::Impl& session,
                                       const std::string& dtype = "") {
    std::vector<StoredTensor> layout = session.checkpoint.storedTensors;
    if (layout.empty())
        for (const auto& [name, tensor] : session.model->weights())
            layout.push_back({name, tensor.scalar_type(), tensor.sizes().vec()});
    if (dtype.empty()) return layout;
    const at::ScalarType written = parseDtype(dtype);
    for (StoredTensor& stored : layout)
        if (at::isFloatingType(stored.dtype)) stored.dtype = written;
    return layout;
}

// The model's tensors under the names the checkpoint stores them by (a tied head stored as
// lm_head.weight is held as the embedding): what the layout's names look up.
WeightMap storedWeights(const ModelSession::Impl& session) {
    WeightMap weights = session.model->weights();
    for (const auto& [stored, held] : session.model->storedAs()) weights[stored] = weights.at(held);
    return weights;
}

// The modules compressed-tensors sees: transformers builds GPT-2's block layers as Conv1D and
// every other family's as nn.Linear; its output head is always nn.Linear.
struct CompressionTargets {
    std::set<std::string> weights;     // written in the sparse-bitmask layout
    std::vector<std::string> targets;  // sparsity_config.targets
    std::vector<std::string> ignore;   // sparsity_config.ignore
};

CompressionTargets compressionTargets(const ModelSession::Impl& session) {
    CompressionTargets result;
    const bool gpt2 = session.config.architecture == Architecture::Gpt2;
    result.targets.push_back(gpt2 ? "Conv1D" : "Linear");
    bool headCompressed = false;
    for (const TensorSpec& spec : session.model->tensorSpecs()) {
        if (spec.prunable) result.weights.insert(spec.name);
        // A tied head is the embedding (an nn.Embedding, never a target); an untied one is
        // compressed when it was pruned with the rest.
        if (spec.head && session.options.includeHead && !session.config.tieWordEmbeddings) {
            result.weights.insert(spec.name);
            headCompressed = true;
        }
    }
    if (gpt2 && headCompressed) result.targets.push_back("lm_head");
    if (!gpt2 && !headCompressed) result.ignore.push_back("lm_head");
    return result;
}

std::set<std::string> prunableNames(ModelSession::Impl& session) {
    std::set<std::string> names;
    for (const PrunableWeight& weight : session.model->prunableWeights(session.options.includeHead))
        names.insert(weight.name);
    for (const auto& [stored, held] : session.model->storedAs())
        if (names.count(held)) names.insert(stored);  // a tied head stored as lm_head.weight
    return names;
}

// Weights computed in a narrower dtype than the file stores are written back widened: the
// values keep the narrower precision. Worth a line in the result.
void noteWidening(const ModelSession::Impl& session, const std::vector<StoredTensor>& layout,
                  ExportResult& result) {
    const at::ScalarType compute = session.compute.dtype;
    for (const StoredTensor& stored : layout)
        if (at::isFloatingType(stored.dtype) &&
            at::elementSize(stored.dtype) > at::elementSize(compute)) {
            result.warnings.push_back("the model was computed in " + dtypeName(compute) +
                                      "; its weights are written back as " +
                                      dtypeName(stored.dtype) + " with " + dtypeName(compute) +
                                      " precision");
            return;
        }
}

// Every Hugging Face export carries a tokenizer.json, which transformers' AutoTokenizer reads: a
// llama2.c tokenizer is converted (with tokenizer_config.json; its tokenizer.bin stays beside
// it for llama2.c), a GGUF's vocabulary written as the tokenizer.json it was turned into.
void writeTokenizerJson(const ModelSession::Impl& session, const std::vector<std::string>& copied,
                        const ExportFolder& folder) {
    const auto has = [&](const char* name) {
        return std::find(copied.begin(), copied.end(), name) != copied.end();
    };
    if (has("tokenizer.json")) return;
    if (!session.tokenizerJson.empty()) {
        writeTextIntoFolder(session.tokenizerJson, folder, "tokenizer.json");
        return;
    }
    const auto* llama2c = dynamic_cast<const Llama2cTokenizer*>(session.tokenizer.get());
    if (!llama2c) return;
    const SentencePieceVocab vocab = llama2c->sentencePieceVocab();
    writeTextIntoFolder(sentencePieceTokenizerJson(vocab), folder, "tokenizer.json");
    if (!has("tokenizer_config.json"))
        writeTextIntoFolder(sentencePieceTokenizerConfigJson(vocab), folder,
                            "tokenizer_config.json");
}

void exportHuggingFace(ModelSession::Impl& session, const ExportOptions& options,
                       ExportFolder& folder, ExportResult& result, const CancelToken* cancel) {
    const bool compressed = options.format == "compressed";
    const std::vector<StoredTensor> layout = storedLayout(session, options.dtype);
    const std::set<std::string> prunable = prunableNames(session);
    const CompressionTargets targets = compressionTargets(session);
    noteWidening(session, layout, result);

    HfWeightOptions weightOptions;
    weightOptions.prunable = prunable;
    if (compressed) weightOptions.compressed = targets.weights;
    weightOptions.maxShardBytes = options.maxShardBytes;
    weightOptions.aliases = session.checkpoint.tensorAliases;
    const WeightMap stored = storedWeights(session);
    const HfWeightSummary weights = writeHfWeights(folder, layout, stored, weightOptions, cancel);
    result.shards = weights.shards;
    result.weightFileBytes = weights.fileBytes;
    result.denseWeightBytes = weights.denseTensorBytes;
    result.layerDenseBytes = weights.layerDenseBytes;
    result.layerCompressedBytes = weights.layerStoredBytes;
    result.sparsity =
        weights.parameters > 0 ? double(weights.zeros) / double(weights.parameters) : 0.0;

    const std::string source = session.checkpoint.configPath.empty()
                                   ? session.checkpoint.path
                                   : session.checkpoint.configPath;
    std::string config = withoutCompressionConfig(session.checkpoint.configText, source);
    if (!options.dtype.empty()) config = withTorchDtype(config, parseDtype(options.dtype), source);
    if (compressed) {
        SparsityConfig sparsity;
        sparsity.globalSparsity = result.sparsity;
        sparsity.targets = targets.targets;
        sparsity.ignore = targets.ignore;
        config = withSparsityConfig(config, sparsity, source);
    }
    writeTextIntoFolder(config, folder, "config.json");

    if (options.masks) {
        std::vector<std::pair<std::string, at::Tensor>> masks;
        for (const StoredTensor& tensor : layout)
            if (prunable.count(tensor.name))
                masks.emplace_back(tensor.name, stored.at(tensor.name).ne(0));
        writeMaskFile(folder.stagedPath(kMaskFileName), masks);
        result.maskFileBytes = fileSize(folder.stagedPath(kMaskFileName));
    }
    const std::vector<std::string> copied =
        copyCompanionFiles(session.checkpoint, session.checkpoint.tokenizerPath, folder);
    writeTokenizerJson(session, copied, folder);
    result.modelPath = folder.target();
}

// The llama2.c header of a Hugging Face LLaMA model, or an Error saying what run.c cannot run.
Llama2cConfig llama2cConfigOf(const ModelSession::Impl& session) {
    if (session.checkpoint.llama2cConfig) return *session.checkpoint.llama2cConfig;
    const ModelConfig& c = session.config;
    const auto refuse = [](const std::string& why) {
        return badArgument(kFormatOption, "llama2c export needs a LLaMA model that llama2.c's "
                                          "run.c can run: " + why);
    };
    if (c.architecture != Architecture::Llama) throw refuse("this is a " + c.modelType + " model");
    if (c.attentionBias || c.mlpBias) throw refuse("the model has biases");
    if (c.headDim * c.numHeads != c.hiddenSize) throw refuse("head_dim * heads != hidden_size");
    if (c.ropeTheta != 10000.0 || c.rope.type != "default")
        throw refuse("run.c's rotary base is 10000 without scaling");
    if (c.normEps != 1e-5) throw refuse("run.c's RMSNorm epsilon is 1e-5");
    if (!c.activation.empty() && c.activation != "silu") throw refuse("run.c's MLP uses SiLU");
    Llama2cConfig header;
    header.dim = c.hiddenSize;
    header.hiddenDim = c.intermediateSize;
    header.nLayers = c.numLayers;
    header.nHeads = c.numHeads;
    header.nKvHeads = c.numKvHeads;
    header.vocabSize = c.vocabSize;
    header.seqLen = c.maxPositions;
    header.sharedClassifier = c.tieWordEmbeddings;
    return header;
}

// The llama2.c tokenizer.bin to ship: the one in use, or the one a Hugging Face folder exported
// from llama2.c keeps beside its tokenizer.json.
std::string llama2cTokenizerOf(const ModelSession::Impl& session) {
    const fs::path tokenizer(session.checkpoint.tokenizerPath);
    if (tokenizer.empty() || tokenizer.extension() != ".json") return tokenizer.string();
    const std::string vocab = std::to_string(session.config.vocabSize);
    for (const std::string& name : {"tok" + vocab + ".bin", std::string("tokenizer.bin")}) {
        std::error_code error;
        if (fs::is_regular_file(tokenizer.parent_path() / name, error))
            return (tokenizer.parent_path() / name).string();
    }
    return tokenizer.string();
}

void exportLlama2c(ModelSession::Impl& session, const ExportOptions& options,
                   ExportFolder& folder, ExportResult& result) {
    if (!options.dtype.empty() && parseDtype(options.dtype) != at::kFloat)
        throw badArgument("--dtype", "a llama2.c checkpoint holds fp32 weights only");
    const Llama2cConfig header = llama2cConfigOf(session);
    const std::string name = session.checkpoint.format == CheckpointFormat::Llama2c
                                 ? fs::path(session.checkpoint.path).filename().string()
                                 : std::string("model.bin");
    writeLlama2c(folder.stagedPath(name), header, session.model->weights(),
                 session.checkpoint.llama2cFreqCisReal, session.checkpoint.llama2cFreqCisImag);
    result.weightFileBytes = fileSize(folder.stagedPath(name));
    result.denseWeightBytes = result.weightFileBytes;
    result.shards = 1;
    const fs::path tokenizer = llama2cTokenizerOf(session);
    if (!tokenizer.empty() && tokenizer.extension() != ".json")
        copyIntoFolder(tokenizer.string(), folder, tokenizer.filename().string());
    else
        result.warnings.push_back(
            "no llama2.c tokenizer written: the model's tokenizer is " +
            (tokenizer.empty() ? std::string("missing") : tokenizer.filename().string()) +
            ", and run.c needs a tokenizer.bin");
    result.modelPath = folder.finalPath(name);
}

// The GGUF architecture llama.cpp runs a model of ours as, or an Error saying why none.
std::string ggufArchitectureOf(const ModelConfig& c) {
    const auto refuse = [](const std::string& why) {
        return badArgument(kFormatOption, "gguf export writes LLaMA, Mistral and Qwen2 models: " + why);
    };
    if (c.architecture != Architecture::Llama && c.architecture != Architecture::Mistral &&
        c.architecture != Architecture::Qwen2)
        throw refuse("this is a " + c.modelType + " model");
    if (c.rope.type != "default") throw refuse("rope scaling \"" + c.rope.type + "\" is not written");
    if (c.mlpBias) throw refuse("the MLP has biases");
    if (c.architecture == Architecture::Qwen2) return "qwen2";
    if (c.attentionBias) throw refuse("llama.cpp's llama architecture has no attention biases");
    return "llama";
}

void exportGguf(ModelSession::Impl& session, const ExportOptions& options, ExportFolder& folder,
                ExportResult& result) {
    const ModelConfig& c = session.config;
    std::string type = options.ggufType;
    if (type.empty()) type = options.dtype.empty() ? "f16" : options.dtype;
    if (type == "fp32") type = "f32";
    if (type == "fp16") type = "f16";
    GgufModelHeader header;
    header.architecture = ggufArchitectureOf(c);
    header.name = fs::path(session.checkpoint.path).filename().string();
    header.vocabSize = c.vocabSize;
    header.contextLength = c.maxPositions;
    header.hiddenSize = c.hiddenSize;
    header.numLayers = c.numLayers;
    header.intermediateSize = c.intermediateSize;
    header.numHeads = c.numHeads;
    header.numKvHeads = c.numKvHeads;
    header.headDim = c.headDim;
    header.normEps = c.normEps;
    header.ropeTheta = c.ropeTheta;
    header.vocab = ggufVocabOf(session);
    WeightMap weights = session.model->weights();
    if (c.tieWordEmbeddings) weights.erase("lm_head.weight");  // llama.cpp ties when it is absent
    std::string upper = type;
    for (char& ch : upper) ch = char(std::toupper(static_cast<unsigned char>(ch)));
    const std::string name = "model-" + upper + ".gguf";
    writeGgufModel(folder.stagedPath(name), header, weights, type);
    result.weightFileBytes = fileSize(folder.stagedPath(name));
    result.shards = 1;
    int64_t parameters = 0, zeros = 0;
    for (const auto& [tensorName, tensor] : weights) {
        result.denseWeightBytes += int64_t(tensor.numel()) * int64_t(tensor.element_size());
        parameters += tensor.numel();
        zeros += tensor.eq(0).sum().item<int64_t>();
    }
    result.sparsity = parameters > 0 ? double(zeros) / double(parameters) : 0.0;
    result.modelPath = folder.finalPath(name);
}

std::string compilerVersion() {
#if defined(__clang__)
    return "clang " __clang_version__;
#elif defined(__GNUC__)
    return "gcc " __VERSION__;
#else
    return "unknown";
#endif
}

std::string systemName() {
    utsname names{};
    if (uname(&names) != 0) return "unknown";
    return std::string(names.sysname) + " " + names.release + " " + names.machine;
}

void writeFileAtomically(const std::string& path, const std::string& text) {
    AtomicFile file(path);
    file.write(text.data(), text.size());
    file.commit();
}

// A failed write names the file in the staging folder ("<out>.tmp-XXXXXX/model.safetensors"),
// which the user never sees: report it under the target the user gave ("<out>/...").
Error underTargetName(const ExportFolder& folder, const Error& error) {
    const std::string staging = folder.stagedPath("");
    if (error.file().rfind(staging, 0) != 0) return error;
    return Error(error.kind(), folder.finalPath(error.file().substr(staging.size())),
                 error.object(), error.problem());
}

}  // namespace

ExportResult ModelSession::exportModel(const ExportOptions& options, RunObserver* observer,
                                       const CancelToken* cancel) {
    Impl& session = *m_impl;
    if (options.format != "dense" && options.format != "compressed" &&
        options.format != "llama2c" && options.format != "gguf")
        throw badArgument(kFormatOption, "\"" + options.format +
                                             "\" is not a format: dense, compressed, llama2c or gguf");
    if (options.maxShardBytes <= 0) throw badArgument("--max-shard-bytes", "must be > 0");
    if (!options.dtype.empty()) parseDtype(options.dtype);  // a bad word fails before any work
    ObserverRef watch(observer);
    const auto started = std::chrono::steady_clock::now();
    watch->onStage({Stage::Export, false, 0.0, options.outDir});
    throwIfCancelled(cancel);

    ExportFolder folder(options.outDir, inputFiles(session), options.force);
    ExportResult result;
    result.path = options.outDir;
    result.format = options.format;
    at::NoGradGuard noGradients;
    try {
        if (options.format == "llama2c")
            exportLlama2c(session, options, folder, result);
        else if (options.format == "gguf")
            exportGguf(session, options, folder, result);
        else
            exportHuggingFace(session, options, folder, result, cancel);
    } catch (const Error& error) {
        throw underTargetName(folder, error);
    }
    throwIfCancelled(cancel);
    result.files = folder.commit();
    for (const std::string& file : result.files)
        result.totalBytes += fileSize(folder.finalPath(file));
    for (const std::string& warning : result.warnings)
        watch->onLog({LogEvent::Level::Warning, warning});
    result.seconds = secondsSince(started);
    watch->onStage({Stage::Export, true, result.seconds, options.outDir});
    return result;
}

GenerateResult ModelSession::generate(const GenerateOptions& options, const CancelToken* cancel) {
    const Impl& session = *m_impl;
    const Tokenizer& tokenizer = session.requireTokenizer();
    const auto started = std::chrono::steady_clock::now();
    std::optional<int32_t> bos = tokenizer.bosId(), eos = tokenizer.eosId();
    if (!bos && session.config.bosTokenId >= 0) bos = int32_t(session.config.bosTokenId);
    if (!eos && session.config.eosTokenId >= 0) eos = int32_t(session.config.eosTokenId);

    GenerateResult result;
    if (bos) result.promptIds.push_back(*bos);
    const std::vector<int32_t> promptBody = tokenizer.encode(options.prompt);
    result.promptIds.insert(result.promptIds.end(), promptBody.begin(), promptBody.end());
    if (result.promptIds.empty())
        throw badArgument("--prompt", "the model has no BOS token to start from: give a prompt");

    GenerationOptions generation;
    generation.steps = options.steps;
    generation.temperature = options.temperature;
    generation.seed = options.seed;
    for (const std::optional<int32_t>& stop : {eos, bos})
        if (stop) generation.stopIds.push_back(*stop);
    const Generation generated =
        generateTokens(*session.model, result.promptIds, generation, cancel);
    result.ids = generated.ids;
    result.stopped = generated.stopped;

    std::vector<int32_t> all = promptBody;
    all.insert(all.end(), generated.ids.begin(), generated.ids.end());
    result.text = tokenizer.decode(all);
    const std::string promptText = tokenizer.decode(promptBody);
    result.continuation = result.text.compare(0, promptText.size(), promptText) == 0
                              ? result.text.substr(promptText.size())
                              : tokenizer.decode(generated.ids);
    result.seconds = secondsSince(started);
    result.tokensPerSecond = result.seconds > 0 ? double(result.ids.size()) / result.seconds : 0.0;
    return result;
}

RunRecord ModelSession::runRecord(const PruneResult& result, const ExportResult* exported,
                                  const std::vector<RunHistoryPoint>& history) const {
    const ModelInfo& info = m_impl->info;
    RunRecord record;
    record.createdAt = currentUtcTimestamp();
    record.model.path = info.path;
    record.model.format = info.format;
    record.model.architecture = info.architecture;
    record.model.dtype = info.dtype;
    record.model.device = info.device;
    record.model.tokenizerPath = info.tokenizerPath;
    record.model.vocabSize = info.vocabSize;
    record.model.hiddenSize = info.hiddenSize;
    record.model.numLayers = info.numLayers;
    record.model.numHeads = info.numHeads;
    record.model.numKvHeads = info.numKvHeads;
    record.model.intermediateSize = info.intermediateSize;
    record.model.contextLength = info.contextLength;
    record.model.totalParameters = info.totalParameters;
    record.model.prunableParameters = info.prunableParameters;
    record.result = result;
    record.history = history;
    if (exported) {
        record.exported = true;
        ExportFacts& facts = record.exportFacts;
        facts.path = exported->path;
        facts.format = exported->format;
        facts.files = exported->files;
        facts.shards = exported->shards;
        facts.weightFileBytes = exported->weightFileBytes;
        facts.denseWeightBytes = exported->denseWeightBytes;
        facts.layerDenseBytes = exported->layerDenseBytes;
        facts.layerCompressedBytes = exported->layerCompressedBytes;
        facts.maskFileBytes = exported->maskFileBytes;
        facts.totalBytes = exported->totalBytes;
    }
    record.versions["gradprobe"] = GP_VERSION_STRING;
    record.versions["libtorch"] = std::to_string(TORCH_VERSION_MAJOR) + "." +
                                  std::to_string(TORCH_VERSION_MINOR) + "." +
                                  std::to_string(TORCH_VERSION_PATCH) +
                                  (at::hasCUDA() ? " (CUDA)" : " (CPU)");
    record.versions["compiler"] = compilerVersion();
    record.versions["system"] = systemName();
    return record;
}

std::vector<std::string> writeReport(const std::string& folder, const RunRecord& record,
                                     const ReportImages& images) {
    const std::string json = (fs::path(folder) / "report.json").string();
    const std::string html = (fs::path(folder) / "report.html").string();
    writeFileAtomically(json, runRecordJson(record));
    writeHtmlReport(html, record, images);
    return {json, html};
}

void writeHtmlReport(const std::string& path, const RunRecord& record, const ReportImages& images) {
    writeFileAtomically(path, renderHtmlReport(record, images));
}

}  // namespace gp
