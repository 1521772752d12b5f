// The engine's facade: everything the CLI and the GUI call, in plain C++ types (no LibTorch, no
// Qt). A ModelSession is an open model with its weights in memory; it runs one job at a time on
// the calling thread and reports through a RunObserver.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

// Process-wide set-up (LibTorch threads). Call once at start-up, before any session.
void initialiseEngine();
// "GradProbe 0.1.0, LibTorch 1.13.1 (CPU)" and the like, for reports.
std::string engineVersion();
// The built-in demo model folder: $GP_DEMO_MODEL_DIR, beside the executable, or the source tree.
std::string demoModelPath();

struct LayerInfo {
    std::string name;              // checkpoint tensor name
    int64_t block = 0;             // transformer block; -1 for the output head
    std::vector<int64_t> shape;    // [out, in]
    int64_t numel = 0;
};

struct ModelInfo {
    std::string path;
    std::string format;        // "huggingface" | "safetensors" | "llama2c"
    std::string architecture;  // "llama" | "mistral" | "gpt_neo" | "gpt2" | "mlp"
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
};

struct LoadOptions {
    std::string device = "cpu";  // "cpu" | "cuda" | "cuda:N"
    std::string dtype;           // "fp32" | "bf16" | "fp16"; "" = fp32 for float checkpoints
    bool includeHead = false;    // also prune the output projection (lm_head)
    std::string tokenizerPath;   // overrides the tokenizer found beside the model
};

struct EvalOptions {
    std::string textPath;        // evaluation text; "" = the model's own evaluation text
    int64_t seqlen = 0;          // window length in tokens; 0 = min(512, context)
    int64_t maxWindows = 0;      // 0 = all windows
    int64_t batchSize = 4;       // windows per forward pass
    std::string docSeparator;    // split documents here and start each with BOS ("" = off)
};

struct EvalResult {
    int64_t tokens = 0;   // predicted tokens
    int64_t windows = 0;
    double nll = 0.0;     // mean next-token negative log-likelihood (nats)
    double ppl = 0.0;     // exp(nll)
    double seconds = 0.0;
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

    struct Impl;  // engine-side state (LibTorch); defined in core/api/session_impl.h
    Impl& impl() { return *m_impl; }

private:
    explicit ModelSession(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

}  // namespace gp
