#include "core/prune/blockwise.h"

#include <c10/core/GradMode.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <chrono>
#include <memory>

#include "core/dist/collectives.h"
#include "core/eval/calibration.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

// The positions (in `which`) of the layers of each block; the output head under block -1.
std::map<int64_t, std::vector<int64_t>> layersByBlock(const std::vector<PrunableWeight>& layers,
                                                      const std::vector<int64_t>& which) {
    std::map<int64_t, std::vector<int64_t>> byBlock;
    for (size_t i = 0; i < which.size(); ++i)
        byBlock[layers[which[i]].block].push_back(int64_t(i));
    return byBlock;
}

std::vector<int64_t> allLayers(const std::vector<PrunableWeight>& layers) {
    std::vector<int64_t> all(layers.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
    return all;
}

// [out, in] views of the model's tensors as they are now (resident), for the given layers.
std::vector<PrunableWeight> currentViews(CausalLM& model, const std::vector<PrunableWeight>& layers,
                                         const std::vector<int64_t>& indices) {
    std::map<std::string, at::Tensor> views;
    for (PrunableWeight& weight : model.prunableWeights(true)) views[weight.name] = weight.matrix;
    std::vector<PrunableWeight> current;
    for (int64_t index : indices) {
        PrunableWeight weight = layers[index];
        weight.matrix = views.at(weight.name);
        current.push_back(std::move(weight));
    }
    return current;
}

// The windows in batches of `batchSize`, each its first L-1 ids (the loss's inputs), embedded.
std::vector<at::Tensor> embedLossBatches(const CausalLM& model, const at::Tensor& windows,
                                         int64_t batchSize) {
    std::vector<at::Tensor> states;
    for (int64_t start = 0; start < windows.size(0); start += batchSize) {
        const at::Tensor batch = windows.slice(0, start, std::min(windows.size(0), start + batchSize));
        states.push_back(model.embed(lossInputs(batch)));
    }
    return states;
}

bool sharesStorage(const at::Tensor& a, const at::Tensor& b) {
    return a.is_same(b) || (a.has_storage() && b.has_storage() && a.storage().is_alias_of(b.storage()));
}

}  // namespace

ResidentTensors::ResidentTensors(CausalLM& model, const std::vector<std::string>& names,
                                 const ComputeSpec& compute, bool copy)
    : m_model(model) {
    try {
        for (const std::string& name : names) {
            auto found = m_model.weights().find(name);
            if (found == m_model.weights().end()) continue;
            const at::Tensor host = found->second;
            const at::ScalarType dtype =
                at::isFloatingType(host.scalar_type()) ? compute.dtype : host.scalar_type();
            at::Tensor resident = host.to(compute.device, dtype, /*non_blocking=*/false, copy);
            m_host.emplace_back(name, host);
            found->second = std::move(resident);
        }
    } catch (...) {
        for (auto& [name, host] : m_host) m_model.weights()[name] = host;
        throw;
    }
}

ResidentTensors::~ResidentTensors() {
    for (auto& [name, host] : m_host) m_model.weights()[name] = host;
}

void ResidentTensors::writeBack(const std::vector<std::string>& only) {
    at::NoGradGuard noGrad;
    for (auto& [name, host] : m_host) {
        if (!only.empty() && std::find(only.begin(), only.end(), name) == only.end()) continue;
        const at::Tensor& resident = m_model.weights().at(name);
        if (!sharesStorage(resident, host)) host.copy_(resident);
    }
}

std::vector<std::string> globalTensorNames(const CausalLM& model) {
    std::vector<std::string> names;
    for (const TensorSpec& spec : model.tensorSpecs())
        if (spec.block < 0) names.push_back(spec.name);
    return names;
}

PerplexityResult evaluatePerplexityBlockwise(CausalLM& model, const ComputeSpec& compute,
                                             const at::Tensor& windows,
                                             const PerplexityOptions& options,
                                             ObserverRef observer, const CancelToken* cancel,
                                             DistGroup* group) {
    const auto started = std::chrono::steady_clock::now();
    c10::InferenceMode inference;
    const at::Tensor every = windowsToEvaluate(model, windows, options, compute.device);
    const at::Tensor all = windowsShare(group, every, options.batchSize);
    const int64_t count = all.size(0);

    ResidentTensors globals(model, globalTensorNames(model), compute);
    std::vector<at::Tensor> states = embedLossBatches(model, all, options.batchSize);
    for (int64_t block = 0; block < model.numBlocks(); ++block) {
        throwIfCancelled(cancel);
        ResidentTensors resident(model, model.blockWeightNames(block), compute);
        for (at::Tensor& state : states) state = model.block(block, state);
        observer->onProgress({Stage::Evaluate, block + 1, model.numBlocks(), "blocks"});
    }
    std::vector<double> nll;
    for (size_t b = 0; b < states.size(); ++b) {
        const int64_t start = int64_t(b) * options.batchSize;
        nll.push_back(summedNll(model.head(states[b]),
                                all.slice(0, start, std::min(count, start + options.batchSize))));
        states[b] = at::Tensor();
    }
    const int64_t batches = (every.size(0) + options.batchSize - 1) / options.batchSize;
    return perplexityOf(sumInBatchOrder(group, nll, batches, "evaluate"), every.size(0),
                        windows.size(1), started);
}

std::map<std::string, at::Tensor> collectActivationNormsBlockwise(
    CausalLM& model, const ComputeSpec& compute, const std::vector<PrunableWeight>& layers,
    const at::Tensor& windows, int64_t batchSize, NormStatistic statistic, ObserverRef observer,
    const CancelToken* cancel, DistGroup* group) {
    // No-grad rather than inference mode: the norms are used later next to autograd tensors.
    at::NoGradGuard noGrad;
    const std::map<int64_t, std::vector<int64_t>> byBlock = layersByBlock(layers, allLayers(layers));
    const int64_t batches = (windows.size(0) + batchSize - 1) / batchSize;
    auto layersOf = [&](int64_t block) {
        std::vector<PrunableWeight> selected;
        if (auto found = byBlock.find(block); found != byBlock.end())
            for (int64_t index : found->second) selected.push_back(layers[index]);
        return selected;
    };
    ResidentTensors globals(model, globalTensorNames(model), compute);
    std::vector<at::Tensor> states = embedStatisticsBatches(
        model, windowsShare(group, windows, batchSize).to(compute.device), batchSize);
    std::map<std::string, at::Tensor> norms;
    auto collect = [&](int64_t block, const std::function<void(at::Tensor&)>& pass) {
        NormAccumulator accumulator(layersOf(block), compute.device, statistic);
        if (group) accumulator.shareWith(group, batches);
        {
            const TapScope tapped(model, accumulator.tap());
            for (at::Tensor& state : states) {
                pass(state);
                accumulator.endBatch();
            }
        }
        norms.merge(accumulator.finish());
    };
    for (int64_t block = 0; block < model.numBlocks(); ++block) {
        throwIfCancelled(cancel);
        ResidentTensors resident(model, model.blockWeightNames(block), compute);
        collect(block, [&](at::Tensor& state) { state = model.block(block, state); });
        observer->onProgress({Stage::Calibrate, block + 1, model.numBlocks(), "blocks"});
    }
    if (byBlock.count(-1)) collect(-1, [&](at::Tensor& state) { model.head(state); });
    return norms;
}

namespace {

// Materialises block `block` (-1: the globals) and scales its candidates when recording G1.
class RecordingBlock {
public:
    RecordingBlock(CausalLM& model, const std::vector<std::string>& names,
                   const ComputeSpec& compute, const std::vector<PrunableWeight>& layers,
                   const std::vector<int64_t>& scaledHere, const ScaledCandidates* scaled)
        : m_resident(model, names, compute, /*copy=*/!scaledHere.empty()) {
        if (scaledHere.empty()) return;
        at::NoGradGuard noGrad;
        const std::vector<PrunableWeight> views = currentViews(model, layers, scaledHere);
        for (size_t i = 0; i < views.size(); ++i) {
            const at::Tensor& matrix = views[i].matrix;
            const at::Tensor candidates = scaled->candidates.at(scaledHere[i]).to(matrix.device());
            matrix.copy_(at::where(candidates, matrix * scaled->reduction, matrix));
        }
    }

private:
    ResidentTensors m_resident;
};

}  // namespace

std::vector<at::Tensor> recordGradientMaximaBlockwise(
    CausalLM& model, const ComputeSpec& compute, const std::vector<PrunableWeight>& layers,
    const std::vector<int64_t>& which, const at::Tensor& windows,
    const GradientRecording& recording, const ScaledCandidates* scaled, ObserverRef observer,
    const CancelToken* cancel, DistGroup* group) {
    // The scaled layers of each block (indices into `layers`).
    std::map<int64_t, std::vector<int64_t>> scaledByBlock;
    if (scaled)
        for (const auto& [index, candidates] : scaled->candidates)
            scaledByBlock[layers[index].block].push_back(index);
    auto materialise = [&](int64_t block) {
        return std::make_unique<RecordingBlock>(
            model, block < 0 ? globalTensorNames(model) : model.blockWeightNames(block), compute,
            layers, scaledByBlock[block], scaled);
    };
    const std::map<int64_t, std::vector<int64_t>> byBlock = layersByBlock(layers, which);
    std::vector<at::Tensor> maxima;
    for (int64_t index : which)
        maxima.push_back(at::zeros(layers[index].matrix.sizes(),
                                   layers[index].matrix.options().dtype(
                                       recording.fp16 ? at::kHalf : at::kFloat)));
    // The backward pass must reach the lowest block with a recorded layer; a head tied to the
    // token embedding also takes the gradient of the embedding lookup, so it goes all the way.
    const std::string embeddingName = globalTensorNames(model).front();
    bool throughEmbedding = false;
    if (auto head = byBlock.find(-1); head != byBlock.end())
        for (int64_t position : head->second)
            throughEmbedding |= layers[which[position]].name == embeddingName;
    int64_t lowest = model.numBlocks();
    for (const auto& [block, positions] : byBlock)
        if (block >= 0) lowest = std::min(lowest, block);
    if (throughEmbedding) lowest = 0;

    // The resident tensors of a block's recorded layers, where their gradients will land.
    auto storedOf = [&](int64_t block) {
        std::vector<StoredWeight> stored;
        const auto found = byBlock.find(block);
        if (found == byBlock.end()) return stored;
        std::vector<int64_t> indices;
        for (int64_t position : found->second) indices.push_back(which[position]);
        for (const PrunableWeight& view : currentViews(model, layers, indices))
            stored.push_back(storedWeightOf(model, view));
        return stored;
    };
    auto fold = [&](int64_t block, std::vector<StoredWeight>& stored) {
        const std::vector<int64_t>& positions = byBlock.at(block);
        for (size_t i = 0; i < stored.size(); ++i) foldGradientMaximum(maxima[positions[i]], stored[i]);
    };

    const auto globals = materialise(-1);
    const int64_t blocks = model.numBlocks();
    const Share share = batchShare(group, recording.batches);
    for (int64_t b = share.begin; b < share.end; ++b) {
        throwIfCancelled(cancel);
        const at::Tensor batch = recordingBatch(windows, b, recording.batchSize, compute.device);
        const at::Tensor inputs = lossInputs(batch);
        // Forward: keep the hidden states at the block boundaries only.
        std::vector<at::Tensor> boundary;
        {
            at::NoGradGuard noGrad;
            boundary.push_back(model.embed(inputs));
            for (int64_t block = 0; block < blocks; ++block) {
                const auto resident = materialise(block);
                boundary.push_back(model.block(block, boundary.back()));
            }
        }
        at::AutoGradMode gradients(true);
        std::vector<StoredWeight> headStored = storedOf(-1);
        GradientScope headScope(headStored);
        at::Tensor x = boundary[blocks].detach().requires_grad_(lowest < blocks);
        windowLoss(model.head(x), batch).backward();
        at::Tensor incoming = lowest < blocks ? x.grad() : at::Tensor();
        // Backward, block by block from the top, each from its stored input.
        for (int64_t block = blocks - 1; block >= lowest; --block) {
            const auto resident = materialise(block);
            std::vector<StoredWeight> stored = storedOf(block);
            GradientScope scope(stored);
            const bool needsInputGradient = block > lowest || throughEmbedding;
            x = boundary[size_t(block)].detach().requires_grad_(needsInputGradient);
            model.block(block, x).backward(incoming);
            if (!stored.empty()) fold(block, stored);
            incoming = needsInputGradient ? x.grad() : at::Tensor();
            boundary[size_t(block) + 1] = at::Tensor();
        }
        if (throughEmbedding) model.embed(inputs).backward(incoming);
        if (!headStored.empty()) fold(-1, headStored);
        observer->onProgress({Stage::Probe, b + 1 - share.begin, share.size(), "batches"});
    }
    maximumAcrossRanks(group, maxima, "probe");
    return maxima;
}

namespace {

// A distributed sequential run: each rank gathers its share of the batches and the statistics
// are the whole job's. WANDA's norms know how; SparseGPT's Hessians are not summed across ranks.
void shareStatistics(LayerStatistics& statistics, DistGroup* group, int64_t batches) {
    auto* norms = dynamic_cast<NormAccumulator*>(&statistics);
    if (!norms)
        throw badArgument("--method", "sparsegpt does not run distributed yet: run it in one process");
    norms->shareWith(group, batches);
}

}  // namespace

void pruneBlocksSequentially(CausalLM& model, const ComputeSpec& compute,
                             const std::vector<PrunableWeight>& layers, const at::Tensor& windows,
                             int64_t batchSize, const StatisticsFactory& statistics,
                             const BlockPruner& pruneBlock, ObserverRef observer,
                             const CancelToken* cancel, DistGroup* group) {
    at::NoGradGuard noGrad;
    const int64_t batches = (windows.size(0) + batchSize - 1) / batchSize;
    const std::map<int64_t, std::vector<int64_t>> byBlock = layersByBlock(layers, allLayers(layers));
    ResidentTensors globals(model, globalTensorNames(model), compute);
    // Magnitude needs no activations: then no states are carried at all.
    std::vector<at::Tensor> states;
    if (statistics)
        states = embedStatisticsBatches(
            model, windowsShare(group, windows, batchSize).to(compute.device), batchSize);

    auto pruneResident = [&](int64_t block, const std::function<void(const at::Tensor&)>& pass) {
        const auto found = byBlock.find(block);
        if (found == byBlock.end()) return;
        const std::vector<PrunableWeight> resident = currentViews(model, layers, found->second);
        std::map<std::string, at::Tensor> collected;
        if (statistics) {
            const std::unique_ptr<LayerStatistics> accumulator = statistics(resident);
            if (group) shareStatistics(*accumulator, group, batches);
            const TapScope tapped(model, accumulator->tap());
            for (const at::Tensor& state : states) {
                pass(state);
                accumulator->endBatch();
            }
            collected = accumulator->finish();
        }
        pruneBlock(found->second, resident, collected);
    };
    for (int64_t block = 0; block < model.numBlocks(); ++block) {
        throwIfCancelled(cancel);
        ResidentTensors resident(model, model.blockWeightNames(block), compute);
        pruneResident(block, [&](const at::Tensor& state) { model.block(block, state); });
        resident.writeBack();
        for (at::Tensor& state : states) state = model.block(block, state);
        observer->onProgress({Stage::Apply, block + 1, model.numBlocks(), "blocks"});
    }
    if (byBlock.count(-1)) {
        pruneResident(-1, [&](const at::Tensor& state) { model.head(state); });
        std::vector<std::string> heads;
        for (int64_t index : byBlock.at(-1)) heads.push_back(layers[index].name);
        globals.writeBack(heads);  // not the embedding or norms, which nothing changed
    }
}

}  // namespace gp
