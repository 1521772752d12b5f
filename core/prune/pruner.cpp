#include "core/prune/pruner.h"

#include <c10/core/GradMode.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>
#include <numeric>
#include <optional>

#include "core/prune/activation_norms.h"
#include "core/prune/blockwise.h"
#include "core/prune/gradient_probe.h"
#include "core/prune/layer_targets.h"
#include "core/prune/run_recorder.h"
#include "core/prune/score_source.h"
#include "core/prune/selection.h"
#include "core/prune/sparsegpt.h"
#include "core/prune/wanda_scores.h"
#include "core/runtime/compute.h"
#include "core/runtime/error.h"
#include "core/runtime/memory.h"

namespace gp {
namespace {

using Clock = std::chrono::steady_clock;

// Emits a stage's start and end and adds its time to the result's per-stage seconds.
class StageClock {
public:
    StageClock(Stage stage, ObserverRef observer, std::map<std::string, double>& seconds,
               std::string detail = "")
        : m_stage(stage), m_observer(observer), m_seconds(seconds), m_detail(std::move(detail)),
          m_start(Clock::now()) {
        m_observer->onStage({m_stage, false, 0.0, m_detail});
    }
    ~StageClock() {
        const double elapsed = std::chrono::duration<double>(Clock::now() - m_start).count();
        m_seconds[stageName(m_stage)] += elapsed;
        m_observer->onStage({m_stage, true, elapsed, m_detail});
    }

private:
    Stage m_stage;
    ObserverRef m_observer;
    std::map<std::string, double>& m_seconds;
    std::string m_detail;
    Clock::time_point m_start;
};

// A layer's scores seen as a one-layer source (layer-wise re-ranking selects inside one layer).
class OneLayerSource final : public ScoreSource {
public:
    OneLayerSource(const ScoreSource& all, int64_t layer) : m_all(all), m_layer(layer) {}
    int64_t layerCount() const override { return 1; }
    std::string layerName(int64_t) const override { return m_all.layerName(m_layer); }
    std::array<int64_t, 2> shape(int64_t) const override { return m_all.shape(m_layer); }
    at::ScalarType dtype(int64_t) const override { return m_all.dtype(m_layer); }
    at::Tensor scores(int64_t) const override { return m_all.scores(m_layer); }
    at::Tensor magnitudeOf(int64_t) const override { return m_all.magnitudeOf(m_layer); }
    at::Device device() const override { return m_all.device(); }

private:
    const ScoreSource& m_all;
    int64_t m_layer;
};

// What the probe of one layer leaves behind, so that any other tau is a cheap re-decision
// (sweeps, tune-on-fail) without recording gradients again.
struct ProbedLayer {
    int64_t layer = 0;
    at::Tensor candidates;  // bool [out, in]
    at::Tensor g0, g1;      // gradient maxima before / after scaling the candidates
    at::Tensor saved;       // the weights before the probe touched them
    double tau = 0.0;
};

// A copy of the prunable weights, to return to (iterative's last good state).
struct Snapshot {
    std::vector<at::Tensor> weights;
};

bool isOneOf(const std::string& value, std::initializer_list<const char*> words) {
    return std::any_of(words.begin(), words.end(), [&](const char* word) { return value == word; });
}

// SparseGPT updates the weights it keeps, block by block on the pruned blocks' outputs: its
// groups are the reference's (unstructured per layer, N:M), with nothing decided afterwards.
void checkSparseGptOptions(const PruneOptions& options) {
    if (!isOneOf(options.group, {"layer", "nm"}))
        throw badArgument("--group", "sparsegpt prunes per layer (layer) or N:M (nm), not '" +
                                         options.group + "'");
    if (options.schedule != "oneshot")
        throw badArgument("--schedule", "sparsegpt runs the one-shot sequential scheme");
    if (options.probe.enabled)
        throw badArgument("--probe", "the probe cannot veto SparseGPT's updated weights");
    if (!(options.percdamp >= 0.0)) throw badArgument("--percdamp", "must be >= 0");
    if (options.blocksize < 1) throw badArgument("--blocksize", "must be at least 1");
    if (options.group == "nm" && options.blocksize % options.nmM != 0)
        throw badArgument("--blocksize", "must be a multiple of M (" +
                                             std::to_string(options.nmM) + ") for N:M");
}

}  // namespace

void checkPruneOptions(const PruneOptions& options) {
    if (!(options.sparsity >= 0.0 && options.sparsity < 1.0))
        throw badArgument("--sparsity", "must be in [0, 1), got " + std::to_string(options.sparsity));
    if (!isOneOf(options.method, {"magnitude", "wanda", "sparsegpt"}))
        throw badArgument("--method", "unknown '" + options.method +
                                          "' (expected magnitude, wanda or sparsegpt)");
    if (options.method == "sparsegpt") checkSparseGptOptions(options);
    parseNormStatistic(options.wandaNorm);
    parseSelectionGroup(options.group, "--group");
    parseSelectionMethod(options.select, "--select");
    if (!isOneOf(options.schedule, {"oneshot", "layerwise", "iterative"}))
        throw badArgument("--schedule", "unknown '" + options.schedule +
                                            "' (expected oneshot, layerwise or iterative)");
    if (!isOneOf(options.layerOrder, {"reverse", "forward", "size"}))
        throw badArgument("--layer-order", "unknown '" + options.layerOrder +
                                               "' (expected reverse, forward or size)");
    if (!isOneOf(options.candidates, {"recompute", "cached"}))
        throw badArgument("--candidates", "unknown '" + options.candidates +
                                              "' (expected recompute or cached)");
    if (!isOneOf(options.iterativeInner, {"oneshot", "layerwise"}))
        throw badArgument("--iterative-schedule", "unknown '" + options.iterativeInner +
                                                      "' (expected oneshot or layerwise)");
    if (options.schedule == "iterative") {
        if (!(options.initialSparsity > 0.0 && options.initialSparsity < 1.0))
            throw badArgument("--initial-sparsity", "must be in (0, 1)");
        if (!(options.sparsityStep > 0.0 && options.sparsityStep < 1.0))
            throw badArgument("--sparsity-step", "must be in (0, 1)");
        if (!(options.maxPplIncrease >= 0.0))
            throw badArgument("--max-ppl-increase", "must be >= 0");
    }
    const ProbeOptions& probe = options.probe;
    if (probe.enabled) {
        if (!(probe.reduction >= 0.0 && probe.reduction < 1.0))
            throw badArgument("--reduction", "must be in [0, 1)");
        if (probe.batches < 1) throw badArgument("--probe-batches", "must be at least 1");
        if (probe.threshold < -1.0) throw badArgument("--probe-threshold", "must be >= -1");
    }
    if (options.batchSize < 1) throw badArgument("--batch-size", "must be at least 1");
    if (!isOneOf(options.layerSparsity, {"", "owl"}))
        throw badArgument("--layer-sparsity", "unknown '" + options.layerSparsity +
                                                  "' (expected owl, name=s,... or a JSON file)");
    if (!options.layerSparsity.empty() || !options.layerTargets.empty()) {
        if (!(options.owlLambda >= 0.0 && options.owlLambda < 0.5))
            throw badArgument("--owl-lambda", "must be in [0, 0.5)");
        if (!(options.owlM > 0.0)) throw badArgument("--owl-m", "must be > 0");
        if (options.group == "nm")
            throw badArgument("--layer-sparsity", "N:M fixes every layer's sparsity; per-layer "
                                                  "targets need group global, layer or row");
        if (options.schedule == "iterative")
            throw badArgument("--layer-sparsity", "the iterative schedule sets one sparsity per "
                                                  "round; per-layer targets need oneshot or "
                                                  "layerwise");
    }
    if (!isOneOf(options.blockInputs, {"original", "pruned"}))
        throw badArgument("--block-inputs", "unknown '" + options.blockInputs +
                                                "' (expected original or pruned)");
    if (options.blockInputs == "pruned" && options.method != "sparsegpt") {
        // Each block is pruned before the next one sees its outputs: nothing can be decided
        // across blocks, and the probe's gradient needs the whole model as it will be.
        if (!options.blockwise)
            throw badArgument("--block-inputs", "pruned inputs are a block-wise scheme; add --blockwise");
        if (options.group == "global")
            throw badArgument("--group", "block inputs 'pruned' select inside each block: use "
                                         "layer, row or nm (or --block-inputs original)");
        if (options.schedule != "oneshot")
            throw badArgument("--schedule", "block inputs 'pruned' run the one-shot schedule");
        if (options.probe.enabled)
            throw badArgument("--probe", "the probe needs --block-inputs original");
    }
}

namespace {

class PruneRun {
public:
    PruneRun(const PruneInputs& inputs, const PruneOptions& options, RunObserver* observer,
             const CancelToken* cancel)
        : m_inputs(inputs), m_options(options), m_recorder(observer, m_result),
          m_observer(&m_recorder), m_cancel(cancel) {
        m_rule.threshold = options.probe.threshold;
        m_rule.list = options.probe.thresholdList;
        m_rule.byLayer = options.probe.thresholdByLayer;
        m_rule.adaptive = options.probe.adaptive;
        m_selection.method = parseSelectionMethod(options.select, "--select");
        m_selection.group = parseSelectionGroup(options.group, "--group");
        m_selection.nmKeep = options.nmN;
        m_selection.nmGroup = options.nmM;
        m_selection.dist = inputs.dist;
    }

    PruneResult run();

private:
    CausalLM& model() const { return *m_inputs.model; }
    const std::vector<PrunableWeight>& layers() const { return m_inputs.layers; }

    // Block by block on the pruned blocks' outputs: block inputs "pruned", and SparseGPT always.
    bool sequential() const {
        return m_options.method == "sparsegpt" ||
               (m_options.blockwise && m_options.blockInputs == "pruned");
    }
    void prepareScores();
    const std::map<std::string, at::Tensor>& activationNorms();
    void prepareTargets();
    double targetOf(int64_t layer, double uniform) const {
        return m_targets.empty() ? uniform : m_targets[size_t(layer)];
    }
    at::Tensor ownCandidates(const ScoreSource& source, int64_t layer, double target);
    double evaluate(const std::string& detail);
    void oneShot(double target);
    void sequentialBlocks(double target);
    void selectInBlock(const std::vector<int64_t>& indices,
                       const std::vector<PrunableWeight>& resident,
                       const std::map<std::string, at::Tensor>& norms, double target);
    void sparseGptLayer(int64_t index, const PrunableWeight& resident, const at::Tensor& hessian,
                        double target);
    void layerWise(double target);
    void iterative();
    std::optional<double> tuneRound(double target, double limit, const Snapshot& beforeRound,
                                    const Snapshot* beforePrevious, double previousTarget);

    std::vector<at::Tensor> candidatesOf(const Selection& selection, const ScoreSource& source,
                                         const std::vector<int64_t>& which);
    void probe(const std::vector<int64_t>& which, std::vector<at::Tensor> candidates,
               const std::vector<int64_t>& positions);
    void decide(ProbedLayer& probed, double tau);
    void zeroCandidates(int64_t layer, const at::Tensor& candidates);
    void sweepThresholds();
    LayerResultEvent& outcomeOf(int64_t layer);

    Snapshot snapshot() const;
    void restore(const Snapshot& state);
    double achievedSparsity() const;
    void account();

    const PruneInputs& m_inputs;
    PruneOptions m_options;
    PruneResult m_result;
    RunRecorder m_recorder;
    ObserverRef m_observer;
    const CancelToken* m_cancel;
    ThresholdRule m_rule;
    SelectionOptions m_selection;
    std::unique_ptr<ScoreSource> m_scores;
    std::map<std::string, at::Tensor> m_norms;      // WANDA's, once collected
    std::vector<double> m_targets;                   // per layer; empty: uniform
    std::vector<ProbedLayer> m_probed;             // this round's probe, for re-decisions
    std::map<int64_t, LayerResultEvent> m_outcome;  // this round's per-layer counts
};

PruneResult PruneRun::run() {
    const auto started = Clock::now();
    m_result.options = m_options;
    {
        // Stopped (joined) before the result is handed out: it records into m_result.
        MemorySampler sampler(&m_recorder, std::chrono::milliseconds(250));
        if (m_inputs.perplexity) m_result.pplBefore = evaluate("before");
        prepareScores();
        prepareTargets();
        if (sequential())
            sequentialBlocks(m_options.sparsity);
        else if (m_options.schedule == "iterative")
            iterative();
        else if (m_options.schedule == "layerwise")
            layerWise(m_options.sparsity);
        else
            oneShot(m_options.sparsity);
        if (m_options.schedule != "iterative" && !m_options.probe.sweep.empty()) sweepThresholds();
        if (m_inputs.perplexity && m_options.schedule != "iterative")
            m_result.pplAfter = evaluate("after");
        account();
        sampler.sampleNow();
        m_result.peakRssBytes = std::max(sampler.peakRssBytes(), peakRssBytes());
        m_result.peakVramBytes = sampler.peakVramBytes();
    }
    m_result.seconds["total"] = std::chrono::duration<double>(Clock::now() - started).count();
    m_result.threads = computeThreads();
    return std::move(m_result);
}

double PruneRun::evaluate(const std::string& detail) {
    StageClock clock(Stage::Evaluate, m_observer, m_result.seconds, "perplexity " + detail);
    const double ppl = m_inputs.perplexity();
    m_observer->onMetric({"ppl_" + detail, ppl});
    return ppl;
}

// Scores live as long as the run: magnitude reads the live weights whenever asked; WANDA's
// activation norms are collected once here and reused by every later selection (layer-wise and
// iterative rounds re-rank on the current weights with the same norms).
void PruneRun::prepareScores() {
    if (sequential()) return;  // per block, later
    if (m_options.method == "magnitude") {
        m_scores = std::make_unique<MagnitudeScoreSource>(layers());
        return;
    }
    m_scores = std::make_unique<WandaScoreSource>(layers(), activationNorms());
}

// WANDA's norms on the weights as loaded (the blocks before reading the original outputs),
// collected once per run, or taken from the session's cache.
const std::map<std::string, at::Tensor>& PruneRun::activationNorms() {
    if (!m_norms.empty()) return m_norms;
    if (!m_inputs.calibration.defined())
        throw Error(ErrorKind::Internal, "", "wanda", "no calibration windows were given");
    if (m_inputs.activationNorms && !m_inputs.activationNorms->empty()) {
        m_norms = *m_inputs.activationNorms;
        return m_norms;
    }
    StageClock clock(Stage::Calibrate, m_observer, m_result.seconds, "activation norms");
    const NormStatistic statistic = parseNormStatistic(m_options.wandaNorm);
    m_norms = m_options.blockwise
                  ? collectActivationNormsBlockwise(model(), m_inputs.compute, layers(),
                                                    m_inputs.calibration, m_options.batchSize,
                                                    statistic, m_observer, m_cancel, m_inputs.dist)
                  : collectActivationNorms(model(), layers(), m_inputs.calibration,
                                           m_options.batchSize, statistic, m_observer, m_cancel,
                                           m_inputs.dist);
    if (m_inputs.activationNorms) *m_inputs.activationNorms = m_norms;
    return m_norms;
}

// OWL's allocation (from WANDA's scores on the weights as loaded, whatever the method) and the
// targets named by the user, one per layer.
void PruneRun::prepareTargets() {
    std::vector<double> owl;
    if (m_options.layerSparsity == "owl") {
        const OwlAllocation allocation = owlAllocation(layers(), activationNorms(), m_options.sparsity,
                                                       m_options.owlLambda, m_options.owlM);
        owl = allocation.layerTargets;
        std::string text = "OWL: block outlier % -> target:";
        for (const auto& [block, ratio] : allocation.blockRatio)
            text += " " + std::to_string(block) + ": " + std::to_string(ratio) + " -> " +
                    std::to_string(allocation.blockTarget.at(block));
        m_observer->onLog({LogEvent::Level::Info, text});
    }
    m_targets = resolveLayerTargets(layers(), m_options, owl);
}

// One layer selected alone at its own target (global becomes the layer's own cut).
at::Tensor PruneRun::ownCandidates(const ScoreSource& source, int64_t layer, double target) {
    SelectionOptions options = m_selection;
    options.sparsity = target;
    if (options.group == SelectionGroup::Global) options.group = SelectionGroup::Layer;
    const OneLayerSource one(source, layer);
    return layerMask(selectScores(one, options, nullptr, m_cancel), one, 0);
}

std::vector<at::Tensor> PruneRun::candidatesOf(const Selection& selection,
                                               const ScoreSource& source,
                                               const std::vector<int64_t>& which) {
    std::vector<at::Tensor> masks;
    for (int64_t index : which) masks.push_back(layerMask(selection, source, index));
    return masks;
}

LayerResultEvent& PruneRun::outcomeOf(int64_t layer) {
    LayerResultEvent& outcome = m_outcome[layer];
    outcome.layer = layers()[layer].name;
    outcome.parts = layers()[layer].parts;
    outcome.numel = layers()[layer].matrix.numel();
    return outcome;
}

void PruneRun::zeroCandidates(int64_t layer, const at::Tensor& candidates) {
    at::NoGradGuard noGrad;
    layers()[layer].matrix.masked_fill_(candidates.to(layers()[layer].matrix.device()), 0);
    LayerResultEvent& outcome = outcomeOf(layer);
    outcome.candidates = candidates.sum().item<int64_t>();
    outcome.pruned = outcome.candidates;
    outcome.restored = 0;
}

void PruneRun::oneShot(double target) {
    std::vector<int64_t> all(layers().size());
    std::iota(all.begin(), all.end(), 0);
    if (!m_targets.empty()) {
        // Per-layer targets: each layer its own selection.
        std::vector<at::Tensor> candidates;
        for (int64_t layer : all) {
            throwIfCancelled(m_cancel);
            outcomeOf(layer).targetSparsity = m_targets[size_t(layer)];
            const at::Tensor mask = ownCandidates(*m_scores, layer, m_targets[size_t(layer)]);
            if (m_options.probe.enabled)
                candidates.push_back(mask);
            else
                zeroCandidates(layer, mask);
        }
        if (m_options.probe.enabled) probe(all, candidates, all);
        return;
    }
    Selection selection;
    {
        StageClock clock(Stage::Select, m_observer, m_result.seconds);
        SelectionOptions options = m_selection;
        options.sparsity = target;
        options.histograms = true;
        selection = selectScores(*m_scores, options, m_observer.get(), m_cancel);
        m_result.threshold = selection.threshold;
    }
    for (int64_t layer : all) outcomeOf(layer).targetSparsity = target;
    if (m_options.probe.enabled) {
        probe(all, candidatesOf(selection, *m_scores, all), all);
        return;
    }
    // One layer's mask at a time: the masks of a 7B model would be 7 GB of bools.
    StageClock clock(Stage::Apply, m_observer, m_result.seconds);
    for (int64_t layer : all) {
        throwIfCancelled(m_cancel);
        zeroCandidates(layer, layerMask(selection, *m_scores, layer));
    }
}

void PruneRun::layerWise(double target) {
    std::vector<int64_t> order(layers().size());
    std::iota(order.begin(), order.end(), 0);
    if (m_options.layerOrder == "reverse") std::reverse(order.begin(), order.end());
    if (m_options.layerOrder == "size")
        std::stable_sort(order.begin(), order.end(), [this](int64_t a, int64_t b) {
            return layers()[a].matrix.numel() > layers()[b].matrix.numel();
        });

    // "cached": one selection over the whole model on the weights as they are now; each layer
    // takes its slice. "recompute": each layer re-ranked on the current weights when its turn
    // comes, with its own k (so later layers see earlier ones pruned).
    std::vector<at::Tensor> cached;
    SelectionOptions options = m_selection;
    options.sparsity = target;
    {
        StageClock clock(Stage::Select, m_observer, m_result.seconds, "whole model");
        options.histograms = true;
        const Selection selection = selectScores(*m_scores, options, m_observer.get(), m_cancel);
        m_result.threshold = selection.threshold;
        if (m_options.candidates == "cached" && m_targets.empty())
            cached = candidatesOf(selection, *m_scores, order);
        options.histograms = false;
    }
    if (options.group == SelectionGroup::Global) options.group = SelectionGroup::Layer;
    for (size_t position = 0; position < order.size(); ++position) {
        throwIfCancelled(m_cancel);
        const int64_t layer = order[position];
        outcomeOf(layer).targetSparsity = targetOf(layer, target);
        at::Tensor candidates;
        if (!cached.empty()) {
            candidates = cached[position];
        } else {
            StageClock clock(Stage::Select, m_observer, m_result.seconds, layers()[layer].name);
            candidates = ownCandidates(*m_scores, layer, targetOf(layer, target));
        }
        if (m_options.probe.enabled)
            probe({layer}, {candidates}, {static_cast<int64_t>(position)});
        else
            zeroCandidates(layer, candidates);
        const Stage stage = m_options.probe.enabled ? Stage::Probe : Stage::Apply;
        m_observer->onProgress({stage, int64_t(position) + 1, int64_t(order.size()), "layers"});
    }
}

// Block inputs "pruned" (and SparseGPT): block by block, the block's layers are pruned on the
// calibration states that went through the pruned blocks before it — by a selection (layer, row
// or N:M groups) over WANDA or magnitude scores, or by SparseGPT's sweep on their Hessians —
// before its outputs feed the next block.
void PruneRun::sequentialBlocks(double target) {
    if (m_options.method != "magnitude" && !m_inputs.calibration.defined())
        throw Error(ErrorKind::Internal, "", m_options.method, "no calibration windows were given");
    StageClock clock(Stage::Apply, m_observer, m_result.seconds, "block by block");
    StatisticsFactory statistics;
    BlockPruner pruneBlock;
    if (m_options.method == "sparsegpt") {
        const at::Device device = m_inputs.compute.device;
        statistics = [device](const std::vector<PrunableWeight>& block) {
            return std::make_unique<HessianAccumulator>(block, device);
        };
        pruneBlock = [&](const std::vector<int64_t>& indices,
                         const std::vector<PrunableWeight>& resident,
                         const std::map<std::string, at::Tensor>& hessians) {
            for (size_t i = 0; i < indices.size(); ++i)
                sparseGptLayer(indices[i], resident[i], hessians.at(resident[i].name), target);
        };
    } else {
        if (m_options.method == "wanda") {
            const NormStatistic statistic = parseNormStatistic(m_options.wandaNorm);
            const at::Device device = m_inputs.compute.device;
            statistics = [device, statistic](const std::vector<PrunableWeight>& block) {
                return std::make_unique<NormAccumulator>(block, device, statistic);
            };
        }
        pruneBlock = [&](const std::vector<int64_t>& indices,
                         const std::vector<PrunableWeight>& resident,
                         const std::map<std::string, at::Tensor>& norms) {
            selectInBlock(indices, resident, norms, target);
        };
    }
    pruneBlocksSequentially(model(), m_inputs.compute, layers(), m_inputs.calibration,
                            m_options.batchSize, statistics, pruneBlock, m_observer, m_cancel,
                            m_inputs.dist);
}

void PruneRun::selectInBlock(const std::vector<int64_t>& indices,
                             const std::vector<PrunableWeight>& resident,
                             const std::map<std::string, at::Tensor>& norms, double target) {
    SelectionOptions options = m_selection;
    options.sparsity = target;
    std::unique_ptr<ScoreSource> source;
    if (m_options.method == "wanda")
        source = std::make_unique<WandaScoreSource>(resident, norms);
    else
        source = std::make_unique<MagnitudeScoreSource>(resident);
    Selection selection;
    if (m_targets.empty()) selection = selectScores(*source, options, nullptr, m_cancel);
    for (size_t i = 0; i < indices.size(); ++i) {
        const double own = targetOf(indices[i], target);
        const at::Tensor mask = m_targets.empty() ? layerMask(selection, *source, int64_t(i))
                                                  : ownCandidates(*source, int64_t(i), own);
        resident[i].matrix.masked_fill_(mask, 0);
        LayerResultEvent& outcome = outcomeOf(indices[i]);
        outcome.targetSparsity = own;
        outcome.candidates = outcome.pruned = mask.sum().item<int64_t>();
        outcome.restored = 0;
    }
}

// One layer's SparseGPT sweep, written into its resident view.
void PruneRun::sparseGptLayer(int64_t index, const PrunableWeight& resident,
                              const at::Tensor& hessian, double target) {
    throwIfCancelled(m_cancel);
    target = targetOf(index, target);
    SparseGptOptions options;
    options.sparsity = target;
    options.blocksize = m_options.blocksize;
    options.percdamp = m_options.percdamp;
    if (m_options.group == "nm") {
        options.pruneN = m_options.nmM - m_options.nmN;
        options.pruneM = m_options.nmM;
    }
    LayerResultEvent& outcome = outcomeOf(index);
    outcome.targetSparsity = target;
    outcome.candidates = outcome.pruned = outcome.restored = 0;
    if (options.pruneN == 0 && target <= 0.0) return;  // the reference would still prune one
    const SparseGptResult pruned = sparseGptPrune(resident.matrix, hessian, options, resident.name);
    resident.matrix.copy_(pruned.weight);
    outcome.candidates = outcome.pruned = pruned.mask.sum().item<int64_t>();
    outcome.reconstructionError = pruned.error;
    m_observer->onLayerResult(outcome);
}

// Records G0, scales the candidates, records G1, and applies the decision for each layer in
// `which` (positions: their places in the processing order, for a per-layer threshold list).
void PruneRun::probe(const std::vector<int64_t>& which, std::vector<at::Tensor> candidates,
                     const std::vector<int64_t>& positions) {
    StageClock clock(Stage::Probe, m_observer, m_result.seconds);
    const GradientRecording recording{m_options.probe.batches, m_options.batchSize,
                                      m_options.probe.fp16Gradients};
    if (!m_inputs.calibration.defined())
        throw Error(ErrorKind::Internal, "", "probe", "no calibration windows were given");
    // Block-wise, the candidates are scaled in each block's resident copy (in the compute dtype,
    // like the whole model's live weights) and the host weights stay as they are.
    ScaledCandidates scaled;
    scaled.reduction = m_options.probe.reduction;
    auto record = [&](const ScaledCandidates* scaling) {
        return m_options.blockwise
                   ? recordGradientMaximaBlockwise(model(), m_inputs.compute, layers(), which,
                                                   m_inputs.calibration, recording, scaling,
                                                   m_observer, m_cancel, m_inputs.dist)
                   : recordGradientMaxima(model(), layers(), which, m_inputs.calibration,
                                          recording, m_observer, m_cancel, m_inputs.dist);
    };
    std::vector<at::Tensor> g0 = record(nullptr);
    std::vector<ProbedLayer> probed;
    {
        at::NoGradGuard noGrad;
        for (size_t i = 0; i < which.size(); ++i) {
            const at::Tensor& matrix = layers()[which[i]].matrix;
            ProbedLayer layer;
            layer.layer = which[i];
            layer.candidates = candidates[i].to(matrix.device());
            layer.g0 = std::move(g0[i]);
            layer.saved = matrix.clone();
            // Scaled, not zeroed: the gradient must see the weight's influence shrink.
            if (m_options.blockwise)
                scaled.candidates[which[i]] = layer.candidates;
            else
                matrix.copy_(at::where(layer.candidates, matrix * m_options.probe.reduction, matrix));
            probed.push_back(std::move(layer));
        }
    }
    std::vector<at::Tensor> g1 = record(&scaled);
    for (size_t i = 0; i < probed.size(); ++i) {
        probed[i].g1 = std::move(g1[i]);
        const PrunableWeight& layer = layers()[probed[i].layer];
        decide(probed[i], thresholdFor(m_rule, layer.name, positions[i], layer.matrix.numel()));
        m_observer->onLayerResult(m_outcome[probed[i].layer]);
        m_probed.push_back(std::move(probed[i]));
    }
}

void PruneRun::decide(ProbedLayer& probed, double tau) {
    at::NoGradGuard noGrad;
    probed.tau = tau;
    const at::Tensor prune = probeDecision(probed.candidates, probed.g0, probed.g1, tau);
    const at::Tensor& matrix = layers()[probed.layer].matrix;
    matrix.copy_(probed.saved);
    matrix.masked_fill_(prune, 0);
    LayerResultEvent& outcome = outcomeOf(probed.layer);
    outcome.candidates = probed.candidates.sum().item<int64_t>();
    outcome.pruned = prune.sum().item<int64_t>();
    outcome.restored = outcome.candidates - outcome.pruned;
}

// The upstream threshold sweep: every tau re-decided on the same cached gradients, measured,
// then the run's own tau applied again.
void PruneRun::sweepThresholds() {
    if (m_probed.empty()) {
        m_observer->onLog({LogEvent::Level::Warning, "--probe-sweep needs --probe; ignored"});
        return;
    }
    for (double tau : m_options.probe.sweep) {
        throwIfCancelled(m_cancel);
        for (ProbedLayer& probed : m_probed) decide(probed, tau);
        SweepPoint point;
        point.threshold = tau;
        point.sparsity = achievedSparsity();
        for (const auto& [layer, outcome] : m_outcome) point.pruned += outcome.pruned;
        if (m_inputs.perplexity) point.ppl = evaluate("sweep tau " + std::to_string(tau));
        m_result.sweep.push_back(point);
    }
    for (ProbedLayer& probed : m_probed) {
        const PrunableWeight& layer = layers()[probed.layer];
        const int64_t position = probed.layer;  // one-shot: model order is processing order
        decide(probed, thresholdFor(m_rule, layer.name, position, layer.matrix.numel()));
    }
}

Snapshot PruneRun::snapshot() const {
    Snapshot state;
    for (const PrunableWeight& layer : layers()) state.weights.push_back(layer.matrix.clone());
    return state;
}

void PruneRun::restore(const Snapshot& state) {
    at::NoGradGuard noGrad;
    for (size_t i = 0; i < layers().size(); ++i) layers()[i].matrix.copy_(state.weights[i]);
}

double PruneRun::achievedSparsity() const {
    int64_t zeros = 0, total = 0;
    for (const PrunableWeight& layer : layers()) {
        zeros += (layer.matrix == 0).sum().item<int64_t>();
        total += layer.matrix.numel();
    }
    return total ? double(zeros) / double(total) : 0.0;
}

// Iterative (GRADPROBE.md): rounds at initialSparsity, +sparsityStep, ... each on top of the
// previous round's model (pruned weights score 0 and are selected again, so masks accumulate);
// a round is kept while ppl <= ppl_before + maxPplIncrease. A failing round is retuned (tau x0.9
// / x1.1 walk on the cached gradients) or ends the schedule with the last good state restored.
void PruneRun::iterative() {
    if (!m_inputs.perplexity)
        throw badArgument("--schedule", "iterative needs an evaluation text to measure perplexity");
    const double limit = m_result.pplBefore + m_options.maxPplIncrease;
    Snapshot lastGood = snapshot();
    std::unique_ptr<Snapshot> beforePrevious;
    double lastGoodSparsity = 0.0, lastGoodPpl = m_result.pplBefore, previousTarget = 0.0;
    int noIncrease = 0;
    std::map<int64_t, LayerResultEvent> lastGoodOutcome;
    for (double target = m_options.initialSparsity; target < 1.0 - 1e-9;
         target += m_options.sparsityStep) {
        throwIfCancelled(m_cancel);
        m_probed.clear();
        if (m_options.iterativeInner == "layerwise")
            layerWise(target);
        else
            oneShot(target);
        IterativeRound round;
        round.targetSparsity = target;
        round.threshold = m_rule.threshold;
        round.ppl = evaluate("round " + std::to_string(m_result.rounds.size() + 1));
        round.sparsity = achievedSparsity();
        round.accepted = round.ppl <= limit;
        if (!round.accepted) {
            m_result.rounds.push_back(round);  // the failing attempt, as measured
            const std::optional<double> tuned =
                tuneRound(target, limit, lastGood, beforePrevious.get(), previousTarget);
            if (!tuned) break;
            round.accepted = true;
            round.ppl = *tuned;
            round.threshold = m_rule.threshold;
            round.sparsity = achievedSparsity();
        }
        m_result.rounds.push_back(round);
        m_observer->onMetric({"round_sparsity", round.sparsity});
        noIncrease = round.sparsity <= lastGoodSparsity + 1e-12 ? noIncrease + 1 : 0;
        beforePrevious = std::make_unique<Snapshot>(std::move(lastGood));
        lastGood = snapshot();
        lastGoodSparsity = round.sparsity;
        lastGoodPpl = round.ppl;
        lastGoodOutcome = m_outcome;
        previousTarget = target;
        if (noIncrease >= 2) break;
    }
    restore(lastGood);
    m_outcome = lastGoodOutcome;
    m_result.pplAfter = lastGoodPpl;
}

// Tune-on-fail: re-decide this round's probe with tau x0.9 and x1.1 on the cached gradients,
// walk (at most 20 steps) in the direction whose perplexity is lower, and keep the highest
// sparsity that meets the limit. With tuneBothSteps the previous round is redone with the new
// tau as well. Returns the perplexity of the valid state it leaves applied, or nothing (and the
// state before the round restored).
std::optional<double> PruneRun::tuneRound(double target, double limit, const Snapshot& beforeRound,
                                          const Snapshot* beforePrevious, double previousTarget) {
    const double tau = m_rule.threshold;
    if (!m_options.probe.enabled || !m_options.probe.tuneOnFail || !(tau > 0.0) ||
        m_probed.empty()) {
        restore(beforeRound);
        return std::nullopt;
    }
    auto tryTau = [this](double candidate) {
        for (ProbedLayer& probed : m_probed) decide(probed, candidate);
        return evaluate("tune tau " + std::to_string(candidate));
    };
    const double factor = tryTau(tau * 0.9) <= tryTau(tau * 1.1) ? 0.9 : 1.1;
    double bestSparsity = -1.0, bestTau = tau, bestPpl = 0.0, candidate = tau;
    for (int step = 1; step <= 20; ++step) {
        throwIfCancelled(m_cancel);
        candidate *= factor;
        const double ppl = tryTau(candidate);
        if (ppl > limit) {
            if (bestSparsity >= 0.0) break;  // walked out of the valid range
            continue;
        }
        const double sparsity = achievedSparsity();
        if (sparsity > bestSparsity) {
            bestSparsity = sparsity;
            bestTau = candidate;
            bestPpl = ppl;
        }
    }
    if (bestSparsity < 0.0) {
        restore(beforeRound);
        return std::nullopt;
    }
    m_rule.threshold = bestTau;
    m_rule.list.clear();
    for (ProbedLayer& probed : m_probed) decide(probed, bestTau);
    m_observer->onLog({LogEvent::Level::Info,
                       "tuned the probe threshold to " + std::to_string(bestTau)});
    if (!m_options.probe.tuneBothSteps || !beforePrevious) return bestPpl;

    // Redo the previous round and this one with the tuned tau; keep that if it is valid and
    // prunes at least as much.
    const Snapshot tuned = snapshot();
    const auto tunedOutcome = m_outcome;
    restore(*beforePrevious);
    for (double redo : {previousTarget, target}) {
        m_probed.clear();
        if (m_options.iterativeInner == "layerwise")
            layerWise(redo);
        else
            oneShot(redo);
    }
    const double ppl = evaluate("tune both steps");
    if (ppl <= limit && achievedSparsity() >= bestSparsity) return ppl;
    restore(tuned);
    m_outcome = tunedOutcome;
    return bestPpl;
}

void PruneRun::account() {
    m_result.layers.clear();
    m_result.prunableParameters = 0;
    m_result.prunedParameters = 0;
    for (size_t i = 0; i < layers().size(); ++i) {
        const PrunableWeight& layer = layers()[i];
        LayerResultEvent outcome = m_outcome[int64_t(i)];
        outcome.layer = layer.name;
        outcome.numel = layer.matrix.numel();
        const int64_t zeros = (layer.matrix == 0).sum().item<int64_t>();
        outcome.sparsity = outcome.numel ? double(zeros) / double(outcome.numel) : 0.0;
        m_result.prunableParameters += outcome.numel;
        m_result.prunedParameters += zeros;
        m_observer->onLayerResult(outcome);
        m_result.layers.push_back(outcome);
    }
    m_result.sparsity = m_result.prunableParameters
                            ? double(m_result.prunedParameters) / double(m_result.prunableParameters)
                            : 0.0;
    m_observer->onMetric({"sparsity", m_result.sparsity});
}

}  // namespace

PruneResult runPrune(const PruneInputs& inputs, const PruneOptions& options,
                     RunObserver* observer, const CancelToken* cancel) {
    checkPruneOptions(options);
    if (!inputs.model) throw Error(ErrorKind::Internal, "", "prune", "no model");
    return PruneRun(inputs, options, observer, cancel).run();
}

}  // namespace gp
