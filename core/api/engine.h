// The engine's facade: everything the CLI and the GUI call, in plain C++ types (no LibTorch, no
// Qt). A ModelSession is an open model with its weights in memory; it runs one job at a time on
// the calling thread and reports through a RunObserver.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/dist/dist_group.h"
#include "core/prune/prune_options.h"
#include "core/prune/prune_result.h"
#include "core/report/html_report.h"
#include "core/report/run_record.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

// Process-wide set-up (the heap, LibTorch threads). Call once at start-up, before any session.
// Compute threads: `threads` when > 0 (--threads), else OMP_NUM_THREADS when set, else the
// machine's cores less `reservedCores` (the Studio keeps one for the interface).
void initialiseEngine(int threads = 0, int reservedCores = 0);
// Compute threads for the jobs the CALLING thread runs from now on, chosen as above (a worker
// thread calls it before each job: the count is kept per thread). Returns the count set.
int useComputeThreads(int threads, int reservedCores = 0);
// "GradProbe 0.1.0, LibTorch 1.13.1 (CPU)" and the like, for reports.
std::string engineVersion();
// The built-in demo model folder: $GP_DEMO_MODEL_DIR, beside the executable, or the source tree.
std::string demoModelPath();

struct LayerInfo {
    std::string name;              // checkpoint tensor name
    int64_t block = 0;             // transformer block; -1 for the output head
    std::vector<int64_t> shape;    // [out, in]
    int64_t numel = 0;
    std::vector<LayerPart> parts;  // a fused tensor's parts by rows (Phi-3 qkv_proj: q, k, v)
};

struct ModelInfo {
    std::string path;
    std::string format;        // "huggingface" | "safetensors" | "llama2c" | "gguf"
    std::string architecture;  // config.json model_type: "llama", "qwen2", "gemma2", ...
    std::string dtype;         // compute dtype: "fp32" | "bf16" | "fp16"
    std::string device;        // "cpu" | "cuda:0"
    int64_t vocabSize = 0;
    int64_t hiddenSize = 0;
    int64_t numLayers = 0;
    int64_t numHeads = 0;
    int64_t numKvHeads = 0;
    int64_t intermediateSize = 0;
    int64_t contextLength = 0;
    int64_t totalParameters = 0;
    int64_t prunableParameters = 0;
    std::vector<LayerInfo> prunableLayers;
    std::string tokenizerPath;
    std::string calibrationTextPath;  // text the model ships ("" if none)
    std::string evaluationTextPath;
    // The masks file of a pruned export beside the model: gradprobe/masks.safetensors, or
    // gradprobe_masks.safetensors as earlier exports wrote it; "" when there is none.
    std::string maskPath;
    int64_t maskLayers = 0;   // layers it holds
    std::string maskProblem;  // why it cannot be read ("" when it can)
};

// What running a model needs, planned from its config.json alone (`gradprobe info --config`).
struct MemoryNeed {
    std::string run;          // "eval", "prune wanda", "prune wanda --probe --blockwise", ...
    std::string dtype;        // compute dtype: "fp32" | "bf16"
    int64_t weightBytes = 0;  // the weights in memory (0 block-wise: mapped from disk)
    int64_t runBytes = 0;     // the run's own allocations (memory_estimate.h), default options
    int64_t bytes = 0;        // the two together
};

struct ConfigPlan {
    ModelInfo info;           // as `info --model` would describe it (computed in fp32)
    std::string storedDtype;  // the config's torch_dtype: what a download holds
    std::vector<MemoryNeed> needs;
};

// An Error naming the file for a config that cannot be read or describes no supported model.
ConfigPlan planFromConfig(const std::string& configPath, bool includeHead = false);

struct LoadOptions {
    std::string device = "cpu";  // "cpu" | "cuda" | "cuda:N"
    std::string dtype;           // "fp32" | "bf16" | "fp16"; "" = fp32 for float checkpoints
    bool includeHead = false;    // also prune the output projection (lm_head)
    std::string tokenizerPath;   // overrides the tokenizer found beside the model
    // Models larger than memory: the weights stay memory-mapped on the host in their stored
    // dtype and every evaluation and prune run goes block by block (one transformer block on
    // `device` in `dtype` at a time; PruneOptions::blockwise is implied). Pruned weights are
    // written back into the mapping (private copies of the pages a run changes), so such a
    // session keeps no copy of the weights as loaded: it prunes once (another run, a revert or
    // a preview afterwards is refused: open the model again), and a run that is cancelled or
    // fails leaves it unusable. Text generation runs on the host tensors as stored.
    bool blockwise = false;
    // Describing only (`gradprobe info`): the headers are read, no weight is copied, converted or
    // moved. Such a session answers info() and runs no job.
    bool headersOnly = false;
    // A distributed run (DistGroup::fromEnvironment): every rank opens the same model and its
    // runs split their calibration and evaluation batches with the other ranks; null = alone.
    std::shared_ptr<DistGroup> dist;
};

struct EvalOptions {
    std::string textPath;        // evaluation text; "" = the model's own evaluation text
    int64_t seqlen = 0;          // window length in tokens; 0 = min(512, context)
    int64_t maxWindows = 0;      // 0 = all windows
    int64_t batchSize = 4;       // windows per forward pass
    std::string docSeparator;    // split documents here and start each with BOS ("" = off)
    // Score each document alone as lm-evaluation-harness does (document_perplexity.h): BOS +
    // the document in rolling windows of seqlen - 1 positions, none crossing into another
    // document; maxWindows does not apply. Adds the word/byte measures to the result.
    bool perDocument = false;
};

struct EvalResult {
    int64_t tokens = 0;   // predicted tokens
    int64_t windows = 0;
    double nll = 0.0;     // mean next-token negative log-likelihood (nats)
    double ppl = 0.0;     // exp(nll)
    double seconds = 0.0;
    int threads = 0;  // compute threads the evaluation ran on
    // perDocument only (0 otherwise): lm-eval's tokenizer-independent measures.
    int64_t documents = 0;
    int64_t words = 0;
    int64_t bytes = 0;
    double wordPerplexity = 0.0;
    double bytePerplexity = 0.0;
    double bitsPerByte = 0.0;
};

// What the sparsity slider shows without running anything: the selection a target would make
// on the cached scores (magnitude, or the last run's WANDA scores).
struct PreviewOptions {
    double sparsity = 0.5;
    std::string method = "magnitude";
    std::string group = "global";
    int64_t nmN = 2;
    int64_t nmM = 4;
    // Per-layer targets by layer name (the rest at `sparsity`); with `owl`, OWL's allocation
    // (needs the activation norms of an earlier WANDA or OWL run) under the named ones.
    std::map<std::string, double> layerTargets;
    bool owl = false;
    double owlLambda = 0.08;
    double owlM = 5.0;
};

struct Preview {
    double threshold = 0.0;
    std::vector<double> layerSparsity;  // predicted, in prunable-layer order
    std::vector<double> layerTargets;   // the per-layer targets predicted for; empty: uniform
    std::vector<HistogramEvent> histograms;  // per layer, then the global one (layer "")
};

// Writing the model out (core/api/export_session.cpp). The target is a folder; it must not be
// (or contain) the model's input, and one already holding a model is refused unless `force`.
// Files are staged in a folder beside it and moved into place at the end (export_folder.h), so
// the target never shows half a model.
struct ExportOptions {
    std::string outDir;
    // "dense": a Hugging Face folder (config.json, tokenizer files, model.safetensors or shards +
    //          index) with the input's tensor names, shapes and dtypes, pruned weights exactly 0;
    // "compressed": the same with the pruned layers in compressed-tensors' sparse-bitmask layout
    //          (and its quantization_config entry in config.json);
    // "llama2c": a llama2.c .bin (LLaMA models only) and the llama2.c tokenizer .bin;
    // "gguf": one llama.cpp GGUF v3 file, model-<TYPE>.gguf (LLaMA/Mistral as arch "llama",
    //          Qwen2 as "qwen2"), in `ggufType`, with the tokenizer's vocabulary (gguf_model.h).
    // A llama2.c input exported as dense/compressed becomes a Hugging Face LLaMA folder.
    std::string format = "dense";
    std::string ggufType;  // "f32" | "f16" | "bf16" | "q8_0"; "" = `dtype`'s, else f16
    bool force = false;
    bool masks = true;                     // also gradprobe/masks.safetensors (not for llama2c)
    int64_t maxShardBytes = 4000000000;    // shard the weights above this ("4GB" as HF counts)
    // "" = every tensor in its stored dtype; "fp32" | "fp16" | "bf16" = every floating tensor
    // written in that dtype (F32 / F16 / BF16) and config.json's torch_dtype set to match.
    std::string dtype;
};

struct ExportResult {
    std::string path;       // the folder
    std::string modelPath;  // what to open again: the folder, or the .bin for llama2c
    std::string format;
    std::vector<std::string> files;  // names inside the folder
    int64_t shards = 0;
    int64_t weightFileBytes = 0;       // weight files on disk
    int64_t denseWeightBytes = 0;      // tensor bytes of the same weights stored dense
    int64_t layerDenseBytes = 0;       // the pruned layers, dense tensor bytes
    int64_t layerCompressedBytes = 0;  // the pruned layers as written (compressed format)
    int64_t maskFileBytes = 0;
    int64_t totalBytes = 0;            // every file written
    double sparsity = 0.0;             // zeros / parameters over the floating tensors written
    double seconds = 0.0;
    std::vector<std::string> warnings;
};

// Text generation (core/api/export_session.cpp): BOS, then the prompt's tokens, then up to
// `steps` new tokens; stops early at EOS (or at BOS, which llama2.c's stories models emit
// between stories, as run.c does).
struct GenerateOptions {
    std::string prompt;
    int64_t steps = 256;       // new tokens at most
    double temperature = 0.0;  // 0 = greedy
    uint64_t seed = 0;         // for temperature > 0
};

struct GenerateResult {
    std::string text;                 // prompt + continuation, decoded
    std::string continuation;         // the generated part only
    std::vector<int32_t> promptIds;   // BOS (when the model has one) + the prompt's ids
    std::vector<int32_t> ids;         // generated ids (without the stop token)
    bool stopped = false;             // reached EOS/BOS before `steps`
    double seconds = 0.0;
    double tokensPerSecond = 0.0;
};

class ModelSession {
public:
    // Loads a Hugging Face folder, a .safetensors file or a llama2.c .bin. Error on bad input.
    static std::unique_ptr<ModelSession> open(const std::string& path,
                                              const LoadOptions& options = {},
                                              RunObserver* observer = nullptr);
    ~ModelSession();

    const ModelInfo& info() const;
    EvalResult evaluate(const EvalOptions& options, RunObserver* observer = nullptr,
                        const CancelToken* cancel = nullptr);

    // Prunes the model in memory. On cancel (or an error) the weights are restored exactly to
    // what they were before the call. The pruned state stays until restoreOriginal() or another
    // run; every run starts from the original weights.
    PruneResult prune(const PruneOptions& options, RunObserver* observer = nullptr,
                      const CancelToken* cancel = nullptr);
    // Back to the weights as loaded.
    void restoreOriginal();
    // Re-applies the masks of an earlier run of this session (run history "revert").
    void applyRun(int runId);
    // Fast selection on cached scores for interactive tuning (no calibration, no probe).
    Preview preview(const PreviewOptions& options);
    // A 64-bit fingerprint (FNV-1a) of every prunable weight's bytes, as hex: equal fingerprints
    // mean bit-identical weights (tests and the GUI check that a cancelled run restored them).
    std::string weightFingerprint() const;

    // ---- export, generation, reports (core/api/export_session.cpp) ----

    // Writes the model as it is now (pruned or not); see ExportOptions. Reports Stage::Export.
    ExportResult exportModel(const ExportOptions& options, RunObserver* observer = nullptr,
                             const CancelToken* cancel = nullptr);
    // Generates from the model as it is now (before or after pruning: same options, same text
    // for the same weights).
    GenerateResult generate(const GenerateOptions& options, const CancelToken* cancel = nullptr);
    // The run record (report.json) of a result of this session: model facts, settings, the
    // result, the export when given, software versions and the time.
    RunRecord runRecord(const PruneResult& result, const ExportResult* exported = nullptr,
                        const std::vector<RunHistoryPoint>& history = {}) const;

    struct Impl;  // engine-side state (LibTorch); defined in core/api/session_impl.h
    Impl& impl() { return *m_impl; }

private:
    explicit ModelSession(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

// Writes report.json (the record) and report.html (with `images`, PNG bytes by plot name; empty
// when drawn without Qt) into `folder` (which must exist), each atomically. Returns the two paths.
std::vector<std::string> writeReport(const std::string& folder, const RunRecord& record,
                                     const ReportImages& images = {});
// Writes one HTML report file atomically (`gradprobe report RUN.json --html OUT`).
void writeHtmlReport(const std::string& path, const RunRecord& record,
                     const ReportImages& images = {});

}  // namespace gp
