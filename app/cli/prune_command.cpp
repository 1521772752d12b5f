// gradprobe prune: magnitude or WANDA scores, the optional GradProbe probe, one-shot, layer-wise
// or iterative; prints the result (or JSON) and, with --out, writes the pruned model and report.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "app/cli/command.h"
#include "app/cli/interrupt.h"
#include "app/cli/progress_printer.h"
#include "core/api/engine.h"
#include "core/bench/streamed_prune.h"
#include "core/io/export_folder.h"
#include "core/report/svg_figures.h"
#include "core/runtime/error.h"

namespace gp::cli {
namespace {

struct PruneCommandOptions {
    ModelOptions model;
    std::string nm = "2:4";
    std::string group;           // "" = the method's usual group
    std::string probeThreshold;  // "X" | "x1,x2,..." | "name=x,..." | "adaptive:X"
    std::string sweep;           // "t1,t2,..."
    std::string layerSparsity;   // "owl" | "name=s,..." | a JSON file
    bool noTuneOnFail = false;
    bool noEval = false;
    bool json = false;
    bool noMasks = false;
    std::string synthetic;
    std::string workDir;
    ExportOptions out;
    PruneOptions prune;
};

std::vector<std::string> splitList(const std::string& text) {
    std::vector<std::string> items;
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ','))
        if (!item.empty()) items.push_back(item);
    return items;
}

double parseNumber(const std::string& text, const std::string& option) {
    try {
        size_t used = 0;
        const double value = std::stod(text, &used);
        if (used == text.size()) return value;
    } catch (const std::exception&) {
    }
    throw badArgument(option, "'" + text + "' is not a number");
}

// The forms of the gradient threshold the upstream library accepts (GRADPROBE.md).
void parseProbeThreshold(const std::string& text, ProbeOptions& probe) {
    if (text.empty()) return;
    const std::string option = "--probe-threshold";
    if (text.rfind("adaptive:", 0) == 0) {
        probe.adaptive = true;
        probe.threshold = parseNumber(text.substr(9), option);
        return;
    }
    const std::vector<std::string> items = splitList(text);
    if (items.size() == 1 && items[0].find('=') == std::string::npos) {
        probe.threshold = parseNumber(items[0], option);
        return;
    }
    for (const std::string& item : items) {
        const size_t equals = item.find('=');
        if (equals == std::string::npos)
            probe.thresholdList.push_back(parseNumber(item, option));
        else
            probe.thresholdByLayer[item.substr(0, equals)] =
                parseNumber(item.substr(equals + 1), option);
    }
    if (!probe.thresholdList.empty() && !probe.thresholdByLayer.empty())
        throw badArgument(option, "mix of a list and name=value pairs; give one form");
}

void parseNm(const std::string& text, PruneOptions& prune) {
    const size_t colon = text.find(':');
    if (colon == std::string::npos) throw badArgument("--nm", "expected N:M, e.g. 2:4");
    prune.nmN = static_cast<int64_t>(parseNumber(text.substr(0, colon), "--nm"));
    prune.nmM = static_cast<int64_t>(parseNumber(text.substr(colon + 1), "--nm"));
}

nlohmann::json resultJson(const PruneResult& result) {
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerResultEvent& layer : result.layers) {
        layers.push_back({{"name", layer.layer},
                          {"numel", layer.numel},
                          {"candidates", layer.candidates},
                          {"pruned", layer.pruned},
                          {"restored", layer.restored},
                          {"target_sparsity", layer.targetSparsity},
                          {"sparsity", layer.sparsity}});
        if (layer.reconstructionError >= 0)
            layers.back()["reconstruction_error"] = layer.reconstructionError;
    }
    nlohmann::json rounds = nlohmann::json::array();
    for (const IterativeRound& round : result.rounds)
        rounds.push_back({{"target", round.targetSparsity},
                          {"sparsity", round.sparsity},
                          {"ppl", round.ppl},
                          {"probe_threshold", round.threshold},
                          {"accepted", round.accepted}});
    nlohmann::json sweep = nlohmann::json::array();
    for (const SweepPoint& point : result.sweep)
        sweep.push_back({{"probe_threshold", point.threshold},
                         {"sparsity", point.sparsity},
                         {"pruned", point.pruned},
                         {"ppl", point.ppl}});
    const PruneOptions& o = result.options;
    nlohmann::json out = {{"method", o.method},
                          {"probe", o.probe.enabled},
                          {"schedule", o.schedule},
                          {"blockwise", o.blockwise},
                          {"group", o.group},
                          {"select", o.select},
                          {"target", o.sparsity},
                          {"sparsity", result.sparsity},
                          {"pruned", result.prunedParameters},
                          {"prunable", result.prunableParameters},
                          {"threshold", result.threshold},
                          {"ppl_before", result.pplBefore},
                          {"ppl_after", result.pplAfter},
                          {"layers", layers},
                          {"seconds", result.seconds},
                          {"threads", result.threads},
                          {"peak_rss_mb", double(result.peakRssBytes) / (1 << 20)}};
    if (o.blockwise) out["block_inputs"] = o.blockInputs;
    if (o.method == "sparsegpt") {
        out["percdamp"] = o.percdamp;
        out["blocksize"] = o.blocksize;
    }
    if (result.peakVramBytes >= 0) out["peak_vram_mb"] = double(result.peakVramBytes) / (1 << 20);
    if (!rounds.empty()) out["rounds"] = rounds;
    if (!sweep.empty()) out["sweep"] = sweep;
    return out;
}

void printResult(const PruneResult& result) {
    const PruneOptions& o = result.options;
    std::printf(
        "%s%s, %s, group %s, select %s: sparsity %.2f%% (target %.2f%%), "
        "%lld of %lld prunable weights\n",
        o.method.c_str(), o.probe.enabled ? " + probe" : "", o.schedule.c_str(), o.group.c_str(),
        o.select.c_str(), 100.0 * result.sparsity, 100.0 * o.sparsity,
        (long long)result.prunedParameters, (long long)result.prunableParameters);
    if (result.pplBefore > 0)
        std::printf("perplexity %.4f -> %.4f\n", result.pplBefore, result.pplAfter);
    for (const IterativeRound& round : result.rounds)
        std::printf("  round target %.0f%%: sparsity %.2f%%, ppl %.4f, tau %.3g, %s\n",
                    100 * round.targetSparsity, 100 * round.sparsity, round.ppl, round.threshold,
                    round.accepted ? "kept" : "rejected");
    for (const SweepPoint& point : result.sweep)
        std::printf("  sweep tau %.3g: sparsity %.2f%%, ppl %.4f\n", point.threshold,
                    100 * point.sparsity, point.ppl);
    std::printf("%-52s %10s %10s %10s %9s\n", "layer", "numel", "pruned", "restored", "sparsity");
    for (const LayerResultEvent& layer : result.layers)
        std::printf("%-52s %10lld %10lld %10lld %8.2f%%\n", layer.layer.c_str(),
                    (long long)layer.numel, (long long)layer.pruned, (long long)layer.restored,
                    100.0 * layer.sparsity);
    std::printf("time %.2f s on %d threads, peak RSS %.0f MB\n",
                result.seconds.count("total") ? result.seconds.at("total") : 0.0, result.threads,
                double(result.peakRssBytes) / (1 << 20));
}

void addOptions(CLI::App* command, PruneCommandOptions& o) {
    PruneOptions& p = o.prune;
    addModelOptions(command, o.model, /*modelRequired=*/false);
    command->add_option("--block-inputs", p.blockInputs,
                        "--blockwise: original (each block reads the outputs of the blocks "
                        "before it as loaded: the whole-model result) | pruned (as pruned: "
                        "Wanda's sequential scheme; needs --group layer, row or nm)");
    command->add_option(
        "--synthetic", o.synthetic,
        "instead of --model: mistral-7b (32 bf16 blocks, streamed from a 14 GB file "
        "in --work-dir; magnitude only, needs --out)");
    command->add_option("--work-dir", o.workDir,
                        "--synthetic: folder for the generated model file, reused by later runs");
    command->add_option("--method", p.method,
                        "magnitude | wanda | sparsegpt (OBS reconstruction, block by block on "
                        "the pruned blocks' outputs; --group layer or nm)");
    command->add_option("--percdamp", p.percdamp,
                        "sparsegpt: Hessian dampening, this x mean(diag H) (default 0.01)");
    command->add_option("--blocksize", p.blocksize, "sparsegpt: columns per block (default 128)");
    command->add_option("--layer-sparsity", o.layerSparsity,
                        "per-layer targets: owl (outlier-weighted around --sparsity) | "
                        "name=s,name=s | a JSON file {\"name\": s} (other layers: --sparsity)");
    command->add_option("--owl-lambda", p.owlLambda,
                        "owl: targets within --sparsity +- this (default 0.08)");
    command->add_option("--owl-m", p.owlM,
                        "owl: outliers are WANDA scores above M x their block's mean (default 5)");
    command->add_option("--wanda-norm", p.wandaNorm,
                        "paper: L2 over all calibration tokens | library: max over batches");
    command->add_option("--sparsity", p.sparsity, "target fraction of prunable weights, [0, 1)");
    command->add_option("--group", o.group,
                        "global | layer | row | nm (default: global for magnitude, row for wanda, "
                        "layer for sparsegpt)");
    command->add_option("--nm", o.nm, "N:M for --group nm (keep N of every M inputs)");
    command->add_option("--select", p.select, "threshold selection: exact | statistical | sort");
    command->add_option("--schedule", p.schedule, "oneshot | layerwise | iterative");
    command->add_option("--layer-order", p.layerOrder,
                        "layer-wise order: reverse | forward | size");
    command->add_option(
        "--candidates", p.candidates,
        "layer-wise candidates: recompute (per layer) | cached (one global selection)");
    command->add_option("--initial-sparsity", p.initialSparsity, "iterative: first target");
    command->add_option("--sparsity-step", p.sparsityStep, "iterative: added each round");
    command->add_option("--max-ppl-increase", p.maxPplIncrease,
                        "iterative: stop when perplexity rises more than this (points)");
    command->add_option("--iterative-schedule", p.iterativeInner,
                        "iterative rounds: oneshot | layerwise");
    command->add_flag("--probe", p.probe.enabled, "GradProbe: let gradients veto candidates");
    command->add_option(
        "--probe-threshold", o.probeThreshold,
        "tau: X | x1,x2,... (per layer, processing order) | name=x,... | adaptive:X");
    command->add_option("--reduction", p.probe.reduction, "probe: candidates scaled by this");
    command->add_option("--probe-batches", p.probe.batches,
                        "probe: calibration batches per recording");
    command->add_option("--probe-sweep", o.sweep, "probe: also measure these taus (t1,t2,...)");
    command->add_flag("--fp16-gradients", p.probe.fp16Gradients, "probe: keep gradients in fp16");
    command->add_flag("--no-tune-on-fail", o.noTuneOnFail,
                      "iterative: do not retune tau on a failed round");
    command->add_flag("--tune-both-steps", p.probe.tuneBothSteps,
                      "iterative: retuning redoes the previous round too");
    command->add_option("--calib", p.calibPath, "calibration text (default: the model's own)");
    command->add_option("--calib-skip-bytes", p.calibSkipBytes,
                        "start calibrating past the first N bytes of --calib (e.g. text held out "
                        "for evaluation at its start)")
        ->check(CLI::NonNegativeNumber);
    command->add_option("--eval", p.evalPath, "evaluation text (default: the model's own)");
    command->add_option("--nsamples", p.nsamples, "calibration windows");
    command->add_option("--seqlen", p.seqlen, "ids per window (default min(512, context))");
    command->add_option("--batch-size", p.batchSize, "windows per forward/backward pass");
    command->add_option("--eval-max-windows", p.evalMaxWindows,
                        "evaluate at most N windows (0 = all)");
    command->add_flag("--no-eval", o.noEval, "skip the perplexity before and after");
    command->add_option("--seed", p.seed, "calibration sampling seed");
    command->add_flag("--include-head", o.model.load.includeHead, "also prune the output head");
    command->add_flag("--json", o.json, "print the result as JSON on stdout");
    command->add_option("--out", o.out.outDir,
                        "write the pruned model, report.json and report.html here");
    command->add_option("--format", o.out.format,
                        "--out model format: dense | compressed | llama2c | gguf");
    command->add_option("--gguf-type", o.out.ggufType,
                        "--format gguf: f32 | f16 | bf16 | q8_0 (default: --dtype's, else f16)");
    command->add_flag("--force", o.out.force, "replace a model already in --out");
    command->add_flag("--no-masks", o.noMasks, "do not write gradprobe/masks.safetensors");
}

// Each rank's share, time and peak memory, gathered at the "confirm" step (world size 1: none).
DistributedFacts distributedFacts(DistGroup* dist, const PruneOptions& prune,
                                  const PruneResult& result) {
    DistributedFacts facts;
    if (!dist) return facts;
    const int64_t batches = (prune.nsamples + prune.batchSize - 1) / prune.batchSize;
    const Share share = shareOf(batches, dist->rank(), dist->worldSize());
    const double seconds = result.seconds.count("total") ? result.seconds.at("total") : 0.0;
    const auto rows = dist->gatherNumbers(
        {double(share.begin), double(share.end), seconds, double(result.peakRssBytes)}, "confirm");
    facts.worldSize = dist->worldSize();
    facts.backend = dist->backend();
    for (size_t r = 0; r < rows.size(); ++r)
        facts.ranks.push_back({int(r), int64_t(rows[r][0]), int64_t(rows[r][1]), rows[r][2],
                               int64_t(rows[r][3])});
    return facts;
}

// --synthetic mistral-7b: selection and output streamed through the file, one layer at a time.
int runStreamedPrune(const PruneCommandOptions& o) {
    if (o.prune.method != "magnitude")
        throw badArgument("--method", "a streamed synthetic model is pruned by magnitude only");
    if (o.prune.probe.enabled)
        throw badArgument("--probe", "a synthetic model has no text to probe with");
    StreamedPruneOptions options;
    options.synthetic = o.synthetic;
    options.workDir = o.workDir;
    options.sparsity = o.prune.sparsity;
    options.group = o.group.empty() ? "global" : o.group;
    options.outDir = o.out.outDir;
    options.force = o.out.force;
    options.seed = o.prune.seed;
    ProgressPrinter progress;
    const StreamedPruneReport report = gp::runStreamedPrune(options, &progress, &interruptToken());
    if (o.json) {
        std::cout << streamedPruneJson(report);
    } else {
        std::printf(
            "pruned %lld of %lld weights (%.4f), threshold %.6g; select %.1f s, write "
            "%.1f s, peak RSS %.2f GB\nwrote %s\nwrote %s\n",
            (long long)report.pruned, (long long)report.weights, report.sparsity, report.threshold,
            report.selectSeconds, report.writeSeconds, report.peakRssBytes / 1e9,
            report.modelPath.c_str(), report.reportPath.c_str());
    }
    return 0;
}

int runPrune(PruneCommandOptions& o) {
    if (!o.synthetic.empty() && !o.model.model.empty())
        throw badArgument("--synthetic", "give --model or --synthetic, not both");
    if (!o.synthetic.empty()) return runStreamedPrune(o);
    if (o.model.model.empty()) throw badArgument("--model", "is required (or --synthetic)");
    parseNm(o.nm, o.prune);
    // WANDA's scores are comparable within a layer's rows, not across layers (the Wanda paper
    // compares per output row); magnitude uses GradProbe's one global threshold.
    const std::map<std::string, std::string> usualGroup = {{"wanda", "row"}, {"sparsegpt", "layer"}};
    const auto usual = usualGroup.find(o.prune.method);
    o.prune.group = !o.group.empty() ? o.group : usual != usualGroup.end() ? usual->second : "global";
    parseProbeThreshold(o.probeThreshold, o.prune.probe);
    if (o.layerSparsity == "owl")
        o.prune.layerSparsity = "owl";
    else if (!o.layerSparsity.empty())
        o.prune.layerTargets = parseLayerTargets(o.layerSparsity, "--layer-sparsity");
    for (const std::string& item : splitList(o.sweep))
        o.prune.probe.sweep.push_back(parseNumber(item, "--probe-sweep"));
    o.prune.probe.tuneOnFail = !o.noTuneOnFail;
    o.prune.evaluate = !o.noEval;

    // Refuse an occupied --out before the run, not after it.
    if (!o.out.outDir.empty() && !o.out.force && folderHoldsModel(o.out.outDir))
        throw badArgument("--out", "'" + o.out.outDir +
                                       "' already holds a model; choose another folder or --force");
    const int rank = joinDistributedRun(o.model);
    DistGroup* dist = o.model.load.dist.get();
    ProgressPrinter progress(/*quiet=*/rank != 0);
    const auto session = ModelSession::open(o.model.model, o.model.load, &progress);
    const PruneResult result = session->prune(o.prune, &progress, &interruptToken());
    if (result.cancelled) throw Cancelled();
    // Data-parallel ranks end with the same weights: every rank confirms (with its facts for the
    // record) before rank 0 writes anything, and the others wait until it has.
    const DistributedFacts facts = distributedFacts(dist, o.prune, result);
    if (rank != 0) {
        dist->barrier("write");
        return 0;
    }
    nlohmann::json json = resultJson(result);
    if (dist) json["world_size"] = dist->worldSize();
    if (!o.out.outDir.empty()) {
        o.out.masks = !o.noMasks;
        o.out.dtype = o.model.load.dtype;  // --dtype: computed and written in it
        const ExportResult exported = session->exportModel(o.out, &progress, &interruptToken());
        RunRecord record = session->runRecord(result, &exported);
        record.distributed = facts;
        const std::vector<std::string> reports =
            writeReport(exported.path, record, renderSvgFigures(record));
        json["out"] = exported.path;
        json["reports"] = reports;
        if (!o.json) {
            printExportSummary(exported);
            for (const std::string& report : reports) std::printf("wrote %s\n", report.c_str());
        }
    }
    if (dist) dist->barrier("write");
    if (o.json)
        std::cout << json.dump(2) << "\n";
    else
        printResult(result);
    return 0;
}

}  // namespace

void addPruneCommand(CLI::App& root, Action& action) {
    auto options = std::make_shared<PruneCommandOptions>();
    CLI::App* command = root.add_subcommand(
        "prune", "Prune a model: magnitude or WANDA scores, optional GradProbe probe");
    addOptions(command, *options);
    addDistOptions(command, options->model);
    command->callback([options, &action] { action = [options] { return runPrune(*options); }; });
}

}  // namespace gp::cli
