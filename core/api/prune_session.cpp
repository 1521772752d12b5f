// ModelSession's pruning: runs, preview, revert. Every run starts from the weights as loaded; a
// cancelled or failed run leaves them exactly as they were before it.
#include <chrono>
#include <cstdio>

#include "core/api/engine.h"
#include "core/api/memory_estimate.h"
#include "core/api/session_impl.h"
#include "core/eval/calibration.h"
#include "core/eval/perplexity.h"
#include "core/prune/blockwise.h"
#include "core/prune/layer_targets.h"
#include "core/prune/pruner.h"
#include "core/prune/score_source.h"
#include "core/prune/selection.h"
#include "core/prune/wanda_scores.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

// Keeps the histograms a preview's selection reports.
struct HistogramCollector final : RunObserver {
    std::vector<HistogramEvent> histograms;
    void onHistogram(const HistogramEvent& event) override { histograms.push_back(event); }
};

// A block-wise session keeps no copy of the weights as loaded (they would not fit): it prunes
// once, and what needs the originals afterwards is refused.
void refuseAfterBlockwiseRun(const ModelSession::Impl& session, const std::string& what) {
    if (session.options.blockwise && session.blockwiseRunStarted)
        throw badArgument("--blockwise",
                          "a block-wise session prunes once and keeps no copy of the weights as "
                          "loaded; open the model again to " + what);
}

void takeOriginals(ModelSession::Impl& session) {
    if (session.options.blockwise) return;
    if (!session.originals.empty()) return;
    for (const PrunableWeight& weight : session.prunable)
        session.originals.push_back(weight.matrix.clone());
}

void restoreOriginals(ModelSession::Impl& session) {
    at::NoGradGuard noGrad;
    for (size_t i = 0; i < session.originals.size(); ++i)
        session.prunable[i].matrix.copy_(session.originals[i]);
}

// The weights as loaded with the masks of run `runId` applied (0: as loaded).
void applyMasksOf(ModelSession::Impl& session, int runId) {
    const auto found = session.runMasks.find(runId);
    if (runId != 0 && found == session.runMasks.end())
        throw badArgument("run", "no run " + std::to_string(runId) + " in this session");
    restoreOriginals(session);
    session.appliedRunId = 0;
    if (runId == 0) return;
    at::NoGradGuard noGrad;
    const auto weights = session.runWeights.find(runId);
    for (size_t i = 0; i < session.prunable.size(); ++i) {
        if (weights != session.runWeights.end())
            session.prunable[i].matrix.copy_(weights->second[i]);
        else
            session.prunable[i].matrix.masked_fill_(found->second[i], 0);
    }
    session.appliedRunId = runId;
}

int64_t defaultSeqlen(const ModelSession::Impl& session, int64_t requested) {
    if (requested > 0) return requested;
    const int64_t context = contextLength(session.config) > 0 ? contextLength(session.config) : 512;
    return std::min<int64_t>(512, context);
}

std::string textOrShipped(const std::string& given, const std::string& shipped,
                          const std::string& option, const std::string& what) {
    if (!given.empty()) return given;
    if (!shipped.empty()) return shipped;
    throw badArgument(option, "this model ships no " + what + " text; give one with " + option);
}

at::Tensor calibrationWindows(const ModelSession::Impl& session, const PruneOptions& options,
                              const std::string& path) {
    CalibrationOptions calibration;
    calibration.nsamples = options.nsamples;
    calibration.seqlen = defaultSeqlen(session, options.seqlen);
    calibration.seed = options.seed;
    return sampleCalibrationWindows(session.tokenizeFile(path, "", options.calibSkipBytes),
                                    calibration, path);
}

std::string normsKeyOf(const PruneOptions& options, const std::string& calibPath) {
    return calibPath + "|" + std::to_string(options.calibSkipBytes) + "|" +
           std::to_string(options.nsamples) + "|" + std::to_string(options.seqlen) + "|" +
           std::to_string(options.seed) + "|" + options.wandaNorm;
}

}  // namespace

PruneResult ModelSession::prune(const PruneOptions& requested, RunObserver* observer,
                                const CancelToken* cancel) {
    Impl& session = *m_impl;
    session.requireWeights();
    PruneOptions options = requested;
    if (session.options.blockwise) options.blockwise = true;
    checkPruneOptions(options);
    refuseAfterBlockwiseRun(session, "prune again");
    // Refuse a job that cannot fit before loading text or touching a weight.
    requireMemory(estimatePruneMemory(session, options, defaultSeqlen(session, options.seqlen)),
                  session.compute, "prune");
    const bool owl = options.layerSparsity == "owl";
    const bool needsCalibration = options.method != "magnitude" || options.probe.enabled || owl;
    PruneInputs inputs;
    inputs.model = session.model.get();
    inputs.layers = session.prunable;
    inputs.compute = session.compute;
    inputs.dist = session.options.dist.get();

    std::string calibPath;
    if (needsCalibration) {
        calibPath = textOrShipped(options.calibPath, session.checkpoint.calibrationTextPath,
                                  "--calib", "calibration");
        inputs.calibration = calibrationWindows(session, options, calibPath).to(session.compute.device);
    }
    at::Tensor evalWindows;
    if (options.evaluate) {
        const std::string evalPath = textOrShipped(
            options.evalPath, session.checkpoint.evaluationTextPath, "--eval", "evaluation");
        evalWindows = cutWindows(session.tokenizeFile(evalPath, ""),
                                 defaultSeqlen(session, options.seqlen), options.evalMaxWindows,
                                 evalPath)
                          .to(session.compute.device);
        PerplexityOptions perplexity;
        perplexity.seqlen = evalWindows.size(1);
        perplexity.batchSize = options.batchSize;
        const bool blockwise = options.blockwise;
        inputs.perplexity = [&session, evalWindows, perplexity, blockwise, observer, cancel] {
            DistGroup* dist = session.options.dist.get();
            if (blockwise)
                return evaluatePerplexityBlockwise(*session.model, session.compute, evalWindows,
                                                   perplexity, ObserverRef(observer), cancel, dist)
                    .ppl;
            return evaluatePerplexity(*session.model, evalWindows, perplexity,
                                      ObserverRef(observer), cancel, dist)
                .ppl;
        };
    }
    if (options.method == "wanda" || owl) {
        const std::string key = normsKeyOf(options, calibPath);
        if (key != session.normsKey) session.activationNorms.clear();
        session.normsKey = key;
        inputs.activationNorms = &session.activationNorms;
    }

    // Every run starts from the weights as loaded; a cancelled or failed one puts back the
    // state before the call (the weights as loaded with the applied run's masks, if any).
    takeOriginals(session);
    const int before = session.appliedRunId;
    restoreOriginals(session);
    if (session.options.blockwise) session.blockwiseRunStarted = true;
    PruneResult result;
    try {
        result = runPrune(inputs, options, observer, cancel);
    } catch (const Cancelled&) {
        applyMasksOf(session, before);
        result.options = options;
        result.cancelled = true;
        return result;
    } catch (const std::bad_alloc&) {
        applyMasksOf(session, before);
        throw outOfMemory("prune", "an allocation failed mid-run; the weights are as they were "
                                   "before the run");
    } catch (const c10::Error& error) {
        applyMasksOf(session, before);
        // LibTorch's allocators report failures as c10::Error (CPU: "DefaultCPUAllocator: can't
        // allocate memory" or "not enough memory") or OutOfMemoryError (CUDA).
        const std::string what = error.what_without_backtrace();
        if (dynamic_cast<const c10::OutOfMemoryError*>(&error) ||
            what.find("not enough memory") != std::string::npos ||
            what.find("can't allocate memory") != std::string::npos)
            throw outOfMemory("prune", what.substr(0, what.find('\n')) +
                                           "; the weights are as they were before the run");
        throw;
    } catch (...) {
        applyMasksOf(session, before);
        throw;
    }
    result.runId = session.nextRunId++;
    session.appliedRunId = result.runId;
    if (session.options.blockwise) return result;  // no revert: no masks kept (a byte per weight)
    std::vector<at::Tensor> masks;
    for (const PrunableWeight& weight : session.prunable) masks.push_back(weight.matrix == 0);
    session.runMasks[result.runId] = std::move(masks);
    if (options.method == "sparsegpt") {
        std::vector<at::Tensor> weights;
        for (const PrunableWeight& weight : session.prunable) weights.push_back(weight.matrix.clone());
        session.runWeights[result.runId] = std::move(weights);
    }
    return result;
}

void ModelSession::restoreOriginal() {
    refuseAfterBlockwiseRun(*m_impl, "go back to the weights as loaded");
    takeOriginals(*m_impl);
    applyMasksOf(*m_impl, 0);
}

void ModelSession::applyRun(int runId) {
    refuseAfterBlockwiseRun(*m_impl, "revert to another run");
    takeOriginals(*m_impl);
    applyMasksOf(*m_impl, runId);
}

std::string ModelSession::weightFingerprint() const {
    uint64_t hash = 1469598103934665603ull;  // FNV-1a offset basis
    for (const PrunableWeight& weight : m_impl->prunable) {
        const at::Tensor bytes = weight.matrix.contiguous().cpu();
        const auto* data = static_cast<const uint8_t*>(bytes.data_ptr());
        for (size_t i = 0; i < bytes.nbytes(); ++i) hash = (hash ^ data[i]) * 1099511628211ull;
    }
    char text[17];
    std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(hash));
    return text;
}

Preview ModelSession::preview(const PreviewOptions& options) {
    Impl& session = *m_impl;
    session.requireWeights();
    refuseAfterBlockwiseRun(session, "preview the weights as loaded");
    takeOriginals(session);
    // Scores of the weights as loaded, whatever run is applied now (a block-wise session before
    // its run: the mapped weights themselves).
    std::vector<PrunableWeight> originals = session.prunable;
    for (size_t i = 0; i < session.originals.size(); ++i) originals[i].matrix = session.originals[i];
    std::unique_ptr<ScoreSource> scores;
    std::vector<double> owl;
    if (options.owl) {
        if (session.activationNorms.empty())
            throw badArgument("--layer-sparsity", "OWL's allocation needs activation norms: run a "
                                                  "wanda prune (or any run with OWL) once");
        owl = owlAllocation(originals, session.activationNorms, options.sparsity,
                            options.owlLambda, options.owlM)
                  .layerTargets;
    }
    PruneOptions targetOptions;
    targetOptions.sparsity = options.sparsity;
    targetOptions.layerTargets = options.layerTargets;
    const std::vector<double> targets = resolveLayerTargets(originals, targetOptions, owl);
    if (options.method == "wanda") {
        if (session.activationNorms.empty())
            throw badArgument("--method", "the WANDA preview needs activation norms: run a wanda "
                                          "prune once to collect them");
        scores = std::make_unique<WandaScoreSource>(originals, session.activationNorms);
    } else {
        scores = std::make_unique<MagnitudeScoreSource>(originals);
    }
    SelectionOptions selection;
    selection.method = SelectionMethod::Exact;
    selection.group = parseSelectionGroup(options.group, "--group");
    selection.sparsity = options.sparsity;
    selection.nmKeep = options.nmN;
    selection.nmGroup = options.nmM;
    selection.histograms = true;
    Preview preview;
    if (!targets.empty()) {
        // Each layer at its own target, selected alone (a global group cuts per layer).
        if (selection.group == SelectionGroup::Global) selection.group = SelectionGroup::Layer;
        selection.histograms = false;
        for (int64_t layer = 0; layer < scores->layerCount(); ++layer) {
            selection.sparsity = targets[size_t(layer)];
            TensorScoreSource one({{scores->layerName(layer), scores->scores(layer)}});
            const at::Tensor mask = layerMask(selectScores(one, selection), one, 0);
            preview.layerSparsity.push_back(double(mask.sum().item<int64_t>()) / double(mask.numel()));
        }
        preview.layerTargets = targets;
        return preview;
    }
    HistogramCollector collector;
    const Selection selected = selectScores(*scores, selection, &collector);
    preview.threshold = selected.threshold;
    for (int64_t layer = 0; layer < scores->layerCount(); ++layer) {
        const at::Tensor mask = layerMask(selected, *scores, layer);
        preview.layerSparsity.push_back(double(mask.sum().item<int64_t>()) / double(mask.numel()));
    }
    preview.histograms = std::move(collector.histograms);
    return preview;
}

}  // namespace gp
