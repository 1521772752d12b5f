#include "core/api/memory_estimate.h"

#include <algorithm>
#include <cstdio>
#include <map>

#include "core/model/attention.h"
#include "core/runtime/compute.h"
#include "core/runtime/error.h"
#include "core/runtime/memory.h"

namespace gp {
namespace {

// Products saturate instead of wrapping: absurd options must give a huge estimate, not a small one.
int64_t times(int64_t a, int64_t b) {
    int64_t product = 0;
    if (__builtin_mul_overflow(a, b, &product)) return INT64_MAX;
    return product;
}

int64_t times(std::initializer_list<int64_t> factors) {
    int64_t product = 1;
    for (const int64_t factor : factors) product = times(product, factor);
    return product;
}

int64_t plus(int64_t a, int64_t b) {
    int64_t sum = 0;
    if (__builtin_add_overflow(a, b, &sum)) return INT64_MAX;
    return sum;
}

// One forward pass of `batch` windows of `seqlen` tokens in float32: hidden states, the MLP's
// inner activations, attention scores and the logits with their log-softmax.
int64_t forwardActivationBytes(const ModelConfig& c, int64_t batch, int64_t seqlen) {
    const int64_t tokens = times(std::max<int64_t>(batch, 1), seqlen);
    const int64_t perToken =
        plus(times(8, c.hiddenSize), plus(times(3, c.intermediateSize), times(3, c.vocabSize)));
    // Attention holds one query chunk's scores and probabilities at a time.
    const int64_t attention =
        times(attentionScoreBlockBytes(times(std::max<int64_t>(batch, 1), c.numHeads), seqlen), 2);
    return plus(times(times(tokens, perToken), 4), attention);
}

}  // namespace

int64_t MemoryEstimate::totalBytes() const {
    int64_t total = 0;
    for (const MemoryPart& part : parts) total = plus(total, part.bytes);
    return total;
}

namespace {

// SparseGPT, block by block: the Hessians of one block's layers (in² fp32 each, all collected in
// one pass as the reference does), one layer's sweep (H⁻¹ and its factors: 2·in² fp32, the fp32
// weights and mask), and the hidden states of every calibration window between blocks.
void addSparseGptParts(const ModelSession::Impl& session, const PruneOptions& options,
                       int64_t seqlen, int64_t element, MemoryEstimate& estimate) {
    std::map<int64_t, int64_t> blockHessians;
    int64_t largestHessians = 0, largestSweep = 0;
    for (const PrunableWeight& weight : session.prunable) {
        const int64_t in = weight.matrix.size(1);
        largestHessians = std::max(largestHessians, blockHessians[weight.block] += times({in, in, 4}));
        largestSweep = std::max(largestSweep, plus(times({in, in, 4, 2}),
                                                   times(weight.matrix.numel(), 4 + 4 + 1)));
    }
    estimate.parts.push_back({"Hessians of one block's layers (in² fp32 each)", largestHessians, ""});
    estimate.parts.push_back({"one layer's SparseGPT sweep (H⁻¹, its Cholesky factor, fp32 weights)",
                              largestSweep, ""});
    estimate.parts.push_back({"hidden states of the calibration windows",
                              times({std::max<int64_t>(options.nsamples, 1), seqlen,
                                     session.config.hiddenSize, element}),
                              "a smaller --nsamples or --seqlen"});
}

// Block-wise (the weights mapped, one block on the device): the block, the hidden states of every
// calibration window, one batch's activations, one layer's scores; with the probe the state it
// keeps for every prunable weight (G0, G1, the weights before scaling, the candidates) and, per
// batch, the states at the block boundaries plus one block's backward.
MemoryEstimate estimateBlockwisePruneMemory(const ModelSession::Impl& session,
                                            const PruneOptions& options, int64_t seqlen) {
    const ModelConfig& c = session.config;
    const int64_t element = int64_t(c10::elementSize(session.compute.dtype));
    int64_t prunable = 0, largestLayer = 0, largestBlock = 0;
    std::map<int64_t, int64_t> blockNumel;
    for (const PrunableWeight& weight : session.prunable) {
        prunable += weight.matrix.numel();
        largestLayer = std::max(largestLayer, weight.matrix.numel());
        largestBlock = std::max(largestBlock, blockNumel[weight.block] += weight.matrix.numel());
    }
    MemoryEstimate estimate;
    estimate.parts.push_back({"one block on the device", times(largestBlock, element), ""});
    estimate.parts.push_back({"one layer's scores and mask", times(largestLayer, 4 + 1), ""});
    const int64_t batch = std::max<int64_t>(1, std::min(options.nsamples, options.batchSize));
    const int64_t batchTokens = times(batch, seqlen);
    if (options.method == "sparsegpt") addSparseGptParts(session, options, seqlen, element, estimate);
    if (options.method == "wanda" || options.probe.enabled)
        estimate.parts.push_back({"hidden states of the calibration windows",
                                  times({std::max<int64_t>(options.nsamples, 1), seqlen,
                                         c.hiddenSize, element}),
                                  "a smaller --nsamples or --seqlen"});
    const int64_t perToken =
        plus(times(8, c.hiddenSize), plus(times(3, c.intermediateSize), times(3, c.vocabSize)));
    estimate.parts.push_back(
        {"activations of one batch",
         plus(times(times(batchTokens, perToken), 4),
              times(attentionScoreBlockBytes(times(batch, c.numHeads), seqlen), 2)),
         "a smaller --batch-size or --seqlen"});
    if (options.probe.enabled) {
        const int64_t gradientElement = options.probe.fp16Gradients ? 2 : 4;
        estimate.parts.push_back({"probe state per prunable weight (G0, G1, saved weight, "
                                  "candidate)",
                                  times(prunable, plus(times(2, gradientElement), element + 1)),
                                  "--fp16-gradients"});
        estimate.parts.push_back({"block-boundary states of one batch",
                                  times({c.numLayers + 1, batchTokens, c.hiddenSize, element}),
                                  "a smaller --batch-size or --seqlen"});
    }
    return estimate;
}

}  // namespace

MemoryEstimate estimatePruneMemory(const ModelSession::Impl& session, const PruneOptions& options,
                                   int64_t seqlen) {
    if (options.blockwise) return estimateBlockwisePruneMemory(session, options, seqlen);
    const ModelConfig& c = session.config;
    const int64_t element = int64_t(c10::elementSize(session.compute.dtype));
    int64_t prunable = 0;
    for (const PrunableWeight& weight : session.prunable) prunable += weight.matrix.numel();
    int64_t parameters = 0;
    for (const auto& [name, tensor] : session.model->weights())
        if (tensor.defined()) parameters += tensor.numel();

    MemoryEstimate estimate;
    if (session.originals.empty())
        estimate.parts.push_back({"copy of the prunable weights (to restore them)",
                                  times(prunable, element), "--dtype bf16"});
    estimate.parts.push_back({"masks and scores", times(prunable, 1 + 4), ""});

    if (options.method == "sparsegpt") addSparseGptParts(session, options, seqlen, element, estimate);
    const bool calibrates = options.method != "magnitude" || options.probe.enabled;
    const int64_t windows =
        calibrates ? std::min(options.nsamples, options.batchSize) : options.batchSize;
    if (calibrates || options.evaluate)
        estimate.parts.push_back({"activations of one batch",
                                  forwardActivationBytes(c, windows, seqlen),
                                  "a smaller --batch-size or --seqlen"});
    if (options.probe.enabled) {
        const int64_t gradientElement = options.probe.fp16Gradients ? 2 : 4;
        estimate.parts.push_back({"gradients and their recorded maxima",
                                  times({parameters, gradientElement, 2}),
                                  "--fp16-gradients or --dtype bf16"});
        // Saved for backward: per block roughly the inputs of every linear layer, the attention
        // probabilities and the normalisations.
        const int64_t tokens = times(std::max<int64_t>(windows, 1), seqlen);
        const int64_t perBlock =
            plus(times(tokens, plus(times(8, c.hiddenSize), times(4, c.intermediateSize))),
                 times({std::max<int64_t>(windows, 1), c.numHeads, seqlen, seqlen, 2}));
        estimate.parts.push_back({"activations saved for the backward pass",
                                  times({perBlock, std::max<int64_t>(c.numLayers, 1), element}),
                                  "a smaller --batch-size or --seqlen"});
    }
    return estimate;
}

MemoryEstimate estimateEvalMemory(const ModelSession::Impl& session, int64_t batchSize,
                                  int64_t seqlen) {
    MemoryEstimate estimate;
    estimate.parts.push_back({"activations of one batch",
                              forwardActivationBytes(session.config, batchSize, seqlen),
                              "a smaller --batch-size or --seqlen"});
    return estimate;
}

MemoryEstimate estimateGenerateMemory(const ModelSession::Impl& session, int64_t tokens) {
    MemoryEstimate estimate;
    estimate.parts.push_back({"activations of a forward pass over the prompt and the new tokens",
                              forwardActivationBytes(session.config, 1, tokens),
                              "a smaller --steps or a shorter prompt"});
    return estimate;
}

MemoryEstimate estimateLoadMemory(const WeightMap& weights, const ComputeSpec& compute,
                                  const Checkpoint& checkpoint, bool convert) {
    MemoryEstimate estimate;
    const UnmappedSize unmapped = unmappedSize(checkpoint);
    if (unmapped.bytes > 0)
        estimate.parts.push_back(
            {"aligned copies of the tensors " + unmapped.largestFile +
                 " stores unaligned (the largest " + unmapped.largestTensor + ")",
             unmapped.bytes, "the checkpoint re-saved (safetensors' writer aligns every tensor)"});
    if (!convert) return estimate;
    int64_t copied = 0;
    std::string storedDtype;
    for (const auto& [name, tensor] : weights) {
        if (!tensor.defined()) continue;
        const bool floating = at::isFloatingType(tensor.scalar_type());
        const at::ScalarType target = floating ? compute.dtype : tensor.scalar_type();
        // An unaligned tensor's copy (counted above) is made on the host.
        const at::Device device = tensor.is_meta() ? at::Device(at::kCPU) : tensor.device();
        if (target == tensor.scalar_type() && device == compute.device) continue;
        copied = plus(copied, times(tensor.numel(), int64_t(c10::elementSize(target))));
        if (floating && storedDtype.empty()) storedDtype = dtypeName(tensor.scalar_type());
    }
    if (copied > 0)
        estimate.parts.push_back(
            {"weights converted to " + dtypeName(compute.dtype) + " on " + compute.device.str(),
             copied,
             storedDtype.empty()
                 ? "a smaller --dtype"
                 : "--dtype " + storedDtype + ", the checkpoint's own (mapped, not copied)"});
    return estimate;
}

int64_t availableBytesFor(const ComputeSpec& compute) {
    if (!compute.device.is_cuda()) return availableRamBytes();
    const DeviceMemory gpu = cudaMemory();
    if (gpu.deviceTotalBytes < 0 || gpu.deviceUsedBytes < 0) return -1;
    return gpu.deviceTotalBytes - gpu.deviceUsedBytes;
}

void requireMemory(const MemoryEstimate& estimate, int64_t availableBytes, const std::string& where,
                   const std::string& job) {
    const int64_t needed = estimate.totalBytes();
    if (availableBytes < 0 || needed <= availableBytes) return;
    std::vector<MemoryPart> parts = estimate.parts;
    std::sort(parts.begin(), parts.end(),
              [](const MemoryPart& a, const MemoryPart& b) { return a.bytes > b.bytes; });
    std::string detail;
    for (const MemoryPart& part : parts)
        detail += (detail.empty() ? "" : ", ") + part.what + " " + describeBytes(part.bytes);
    std::string advice;
    for (const MemoryPart& part : parts)
        if (!part.lowerBy.empty()) {
            advice = "; lower the " + part.what + " with " + part.lowerBy;
            break;
        }
    throw outOfMemory(job, "needs about " + describeBytes(needed) + " of " + where + " (" + detail +
                               ") but " + describeBytes(availableBytes) + " are available" +
                               advice);
}

void requireMemory(const MemoryEstimate& estimate, const ComputeSpec& compute,
                   const std::string& job) {
    requireMemory(estimate, availableBytesFor(compute),
                  compute.device.is_cuda() ? "GPU memory" : "RAM", job);
}

std::string describeBytes(int64_t bytes) {
    static const char* const units[] = {"bytes", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB"};
    double value = double(bytes);
    int unit = 0;
    while (value >= 1024.0 && unit < 6) {
        value /= 1024.0;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", value, units[unit]);
    return text;
}

}  // namespace gp
