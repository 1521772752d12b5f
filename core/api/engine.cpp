#include "core/api/engine.h"

#include <ATen/Parallel.h>
#include <torch/version.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>

#include "core/api/gguf_vocab.h"
#include "core/api/memory_estimate.h"
#include "core/api/session_impl.h"
#include "core/eval/document_perplexity.h"
#include "core/eval/perplexity.h"
#include "core/eval/token_stream.h"
#include "core/io/mask_file.h"
#include "core/io/text_file.h"
#include "core/prune/blockwise.h"
#include "core/runtime/error.h"
#include "core/runtime/memory.h"

namespace gp {
namespace {

const char* formatName(CheckpointFormat format) {
    switch (format) {
        case CheckpointFormat::HuggingFaceFolder: return "huggingface";
        case CheckpointFormat::SafetensorsFile: return "safetensors";
        case CheckpointFormat::Llama2c: return "llama2c";
        case CheckpointFormat::Gguf:
            return "gguf";
    }
    return "unknown";
}

// Floating weights go to the compute dtype and device; integer tensors keep their type.
void moveWeights(WeightMap& weights, const ComputeSpec& compute) {
    for (auto& [name, tensor] : weights) {
        if (at::isFloatingType(tensor.scalar_type()))
            tensor = tensor.to(compute.device, compute.dtype);
        else
            tensor = tensor.to(compute.device);
    }
}

// Copies what the file stores unaligned and converts the weights to the compute dtype and
// device, once the memory check has counted both. Block-wise: the weights stay mapped as stored
// (each block moves when it is used); only the unaligned copies are made, on the host.
void prepareWeights(const ModelSession::Impl& session, WeightMap& weights) {
    const bool convert = !session.options.blockwise;
    const bool onGpu = convert && session.compute.device.is_cuda();
    requireMemory(estimateLoadMemory(weights, session.compute, session.checkpoint, convert),
                  onGpu ? availableBytesFor(session.compute) : availableRamBytes(),
                  onGpu ? "GPU memory" : "RAM", "load");
    copyUnmappedTensors(session.checkpoint, weights);
    if (convert) moveWeights(weights, session.compute);
}

// The masks a pruned export left beside the model (gradprobe/masks.safetensors, or an older
// export's gradprobe_masks.safetensors). A broken masks file does not stop the model opening.
void describeMasks(const Checkpoint& checkpoint, ModelInfo& info) {
    if (checkpoint.configPath.empty()) return;
    info.maskPath =
        findMaskFile(std::filesystem::path(checkpoint.configPath).parent_path().string());
    if (info.maskPath.empty()) return;
    try {
        info.maskLayers = maskFileLayers(info.maskPath);
    } catch (const Error& error) {
        info.maskProblem = error.what();
    }
}

}  // namespace

namespace {

// The weights as the model will hold them, shapes only: floating tensors as meta tensors of the
// compute dtype (a GGUF F16 file stores its norms in F32; loading converts both), or as stored
// for a block-wise session, which keeps them so.
WeightMap headerView(const WeightMap& weights, const ComputeSpec& compute, bool asStored) {
    WeightMap view;
    for (const auto& [name, tensor] : weights)
        view[name] = asStored || !at::isFloatingType(tensor.scalar_type())
                         ? tensor
                         : at::empty(tensor.sizes(),
                                     at::TensorOptions().device(at::kMeta).dtype(compute.dtype));
    return view;
}

}  // namespace

ModelInfo describeSession(const ModelSession::Impl& session) {
    const ModelConfig& config = session.config;
    ModelInfo info;
    info.path = session.checkpoint.path;
    info.format = formatName(session.checkpoint.format);
    info.architecture = config.modelType;
    info.dtype = dtypeName(session.compute.dtype);
    info.device = session.compute.device.str();
    info.vocabSize = config.vocabSize;
    info.hiddenSize = config.hiddenSize;
    info.numLayers = config.numLayers;
    info.numHeads = config.numHeads;
    info.numKvHeads = config.numKvHeads;
    info.intermediateSize = config.intermediateSize;
    info.contextLength = config.maxPositions;
    for (const auto& [name, tensor] : session.model->weights()) info.totalParameters += tensor.numel();
    for (const PrunableWeight& weight : session.prunable) {
        LayerInfo layer;
        layer.name = weight.name;
        layer.block = weight.block;
        layer.shape = weight.matrix.sizes().vec();
        layer.numel = weight.matrix.numel();
        layer.parts = weight.parts;
        info.prunableParameters += layer.numel;
        info.prunableLayers.push_back(std::move(layer));
    }
    info.tokenizerPath = session.tokenizer ? session.checkpoint.tokenizerPath : "";
    if (session.tokenizer && info.tokenizerPath.empty() && !session.tokenizerJson.empty())
        info.tokenizerPath = session.checkpoint.path;  // the vocabulary inside the model file
    info.calibrationTextPath = session.checkpoint.calibrationTextPath;
    info.evaluationTextPath = session.checkpoint.evaluationTextPath;
    describeMasks(session.checkpoint, info);
    return info;
}

namespace {

double secondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

void initialiseEngine(int threads, int reservedCores) {
    initialiseLibTorch(threads, reservedCores);
}

int useComputeThreads(int threads, int reservedCores) {
    setComputeThreads(chooseThreadCount(threads, reservedCores));
    return computeThreads();
}

std::string engineVersion() {
    std::string version = "GradProbe " GP_VERSION_STRING ", LibTorch ";
    version += std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) +
               "." + std::to_string(TORCH_VERSION_PATCH);
    version += at::hasCUDA() ? " (CUDA)" : " (CPU)";
    return version;
}

std::string demoModelPath() {
    namespace fs = std::filesystem;
    if (const char* configured = std::getenv("GP_DEMO_MODEL_DIR")) return configured;
    std::error_code ignored;
    const fs::path beside = fs::read_symlink("/proc/self/exe", ignored).parent_path() / "demo-model";
    if (fs::exists(beside / "config.json")) return beside.string();
    return GP_DEMO_MODEL_DIR;
}

const Tokenizer& ModelSession::Impl::requireTokenizer() const {
    if (!tokenizer)
        throw badInput(checkpoint.path, "tokenizer",
                       "no tokenizer found beside the model (tokenizer.json, tokenizer.bin or "
                       "tok<vocab>.bin); pass one with --tokenizer");
    return *tokenizer;
}

void ModelSession::Impl::requireWeights() const {
    if (options.headersOnly)
        throw Error(ErrorKind::Internal, checkpoint.path, "",
                    "the model was opened to describe it only (headers, no weights)");
}

std::optional<int32_t> ModelSession::Impl::bosId() const {
    std::optional<int32_t> bos = requireTokenizer().bosId();
    if (!bos && config.bosTokenId >= 0) bos = int32_t(config.bosTokenId);
    return bos;
}

EvalResult ModelSession::Impl::evaluateDocuments(const std::string& path,
                                                 const EvalOptions& options,
                                                 const PerplexityOptions& perplexity,
                                                 RunObserver* observer, const CancelToken* cancel) {
    if (this->options.blockwise)
        throw badArgument("--per-document", "is not available with --blockwise yet");
    const std::optional<int32_t> bos = bosId();
    if (!bos)
        throw badArgument("--per-document",
                          "the model has no BOS token to start each document with");
    const std::vector<Document> documents =
        splitDocuments(requireTokenizer(), readTextFile(path), options.docSeparator, path);
    const DocumentPerplexityResult scored =
        gp::evaluateDocuments(*model, documents, *bos, perplexity.seqlen - 1, perplexity.batchSize,
                              ObserverRef(observer), cancel);
    EvalResult result;
    result.tokens = scored.tokens;
    result.windows = scored.windows;
    result.nll = scored.nll;
    result.ppl = scored.ppl;
    result.seconds = scored.seconds;
    result.documents = scored.documents;
    result.words = scored.words;
    result.bytes = scored.bytes;
    result.wordPerplexity = scored.wordPerplexity;
    result.bytePerplexity = scored.bytePerplexity;
    result.bitsPerByte = scored.bitsPerByte;
    result.threads = computeThreads();
    return result;
}

std::vector<int32_t> ModelSession::Impl::tokenizeFile(const std::string& path,
                                                      const std::string& docSeparator,
                                                      int64_t skipBytes) const {
    std::string text = readTextFile(path);
    if (skipBytes < 0 || skipBytes >= int64_t(text.size()))
        throw badArgument("--calib-skip-bytes", std::to_string(skipBytes) + " leaves nothing of " +
                                                    path + " (" + std::to_string(text.size()) +
                                                    " bytes)");
    size_t start = size_t(skipBytes);
    while (start < text.size() && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) ++start;
    text.erase(0, start);
    TokenStreamOptions stream;
    stream.docSeparator = docSeparator;
    if (!docSeparator.empty()) {
        stream.bos = bosId();
        if (!stream.bos)
            throw badArgument("--doc-separator",
                              "the model has no BOS token to start each document with");
    }
    return tokenizeText(requireTokenizer(), text, stream, path);
}

ModelSession::ModelSession(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
ModelSession::~ModelSession() = default;

std::unique_ptr<ModelSession> ModelSession::open(const std::string& path,
                                                 const LoadOptions& options,
                                                 RunObserver* observer) {
    ObserverRef watch(observer);
    const auto started = std::chrono::steady_clock::now();
    watch->onStage({Stage::Load, false, 0.0, path});
    auto session = std::make_unique<Impl>();
    session->options = options;
    session->compute = parseCompute(options.device, options.dtype.empty() ? "fp32" : options.dtype);
    session->checkpoint = loadCheckpoint(path);
    session->config = parseModelConfig(session->checkpoint.configText,
                                       session->checkpoint.configPath.empty()
                                           ? session->checkpoint.path
                                           : session->checkpoint.configPath);
    WeightMap weights = std::move(session->checkpoint.weights);
    // Every tensor's name, shape and dtype is checked against the config (a model over the
    // headers in the dtypes it will hold, thrown away) before any weight is copied, converted or
    // moved. Describing only, that model is the session's.
    const WeightMap headers = headerView(weights, session->compute, options.blockwise);
    createCausalLM(session->config, headers, path, session->checkpoint.tensorAliases);
    if (options.headersOnly)
        weights = headers;
    else
        prepareWeights(*session, weights);
    session->model = createCausalLM(session->config, std::move(weights), path,
                                    session->checkpoint.tensorAliases);
    const std::string tokenizerPath =
        options.tokenizerPath.empty() ? session->checkpoint.tokenizerPath : options.tokenizerPath;
    if (!tokenizerPath.empty()) {
        session->tokenizer = loadTokenizer(tokenizerPath, int32_t(session->config.vocabSize));
        session->checkpoint.tokenizerPath = tokenizerPath;
    } else if (session->checkpoint.embeddedVocab) {
        session->tokenizerJson = tokenizerJsonOfVocab(*session->checkpoint.embeddedVocab);
        if (!session->tokenizerJson.empty())
            session->tokenizer = tokenizerFromJsonText(session->tokenizerJson, path);
    }
    session->prunable = session->model->prunableWeights(options.includeHead);
    session->info = describeSession(*session);
    watch->onStage({Stage::Load, true, secondsSince(started), path});
    return std::unique_ptr<ModelSession>(new ModelSession(std::move(session)));
}

const ModelInfo& ModelSession::info() const { return m_impl->info; }

EvalResult ModelSession::evaluate(const EvalOptions& options, RunObserver* observer,
                                  const CancelToken* cancel) {
    Impl& session = *m_impl;
    session.requireWeights();
    const std::string textPath =
        options.textPath.empty() ? session.checkpoint.evaluationTextPath : options.textPath;
    if (textPath.empty())
        throw badArgument("--text", "this model ships no evaluation text; give a text file");
    const int64_t context = contextLength(session.config) > 0 ? contextLength(session.config) : 512;
    PerplexityOptions perplexity;
    perplexity.seqlen = options.seqlen > 0 ? options.seqlen : std::min<int64_t>(512, context);
    if (perplexity.seqlen < 2) throw badArgument("--seqlen", "must be at least 2");
    if (perplexity.seqlen - 1 > context)
        throw badArgument("--seqlen", "a window of " + std::to_string(perplexity.seqlen) +
                                          " ids feeds " + std::to_string(perplexity.seqlen - 1) +
                                          " positions, more than the model's context of " +
                                          std::to_string(context));
    perplexity.maxWindows = options.maxWindows;
    perplexity.batchSize = std::max<int64_t>(1, options.batchSize);
    // Refuse a job that cannot fit before reading the text.
    requireMemory(estimateEvalMemory(session, perplexity.batchSize, perplexity.seqlen),
                  session.compute, "eval");

    if (options.perDocument)
        return session.evaluateDocuments(textPath, options, perplexity, observer, cancel);
    const std::vector<int32_t> ids = session.tokenizeFile(textPath, options.docSeparator);
    const at::Tensor windows =
        cutWindows(ids, perplexity.seqlen, perplexity.maxWindows, textPath).to(session.compute.device);
    const PerplexityResult measured =
        session.options.blockwise
            ? evaluatePerplexityBlockwise(*session.model, session.compute, windows, perplexity,
                                          ObserverRef(observer), cancel, session.options.dist.get())
            : evaluatePerplexity(*session.model, windows, perplexity, ObserverRef(observer), cancel,
                                 session.options.dist.get());
    EvalResult result;
    result.tokens = measured.tokens;
    result.windows = measured.windows;
    result.nll = measured.nll;
    result.ppl = measured.ppl;
    result.seconds = measured.seconds;
    result.threads = computeThreads();
    return result;
}

}  // namespace gp
