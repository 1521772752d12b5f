#include "core/bench/forward_bench.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <functional>
#include <numeric>

#include "core/eval/calibration.h"
#include "core/eval/perplexity.h"
#include "core/io/checkpoint.h"
#include "core/model/causal_lm.h"
#include "core/model/model_config.h"
#include "core/prune/activation_norms.h"
#include "core/prune/gradient_probe.h"
#include "core/runtime/compute.h"
#include "core/runtime/error.h"
#include "core/runtime/memory.h"

namespace gp {
namespace {

// Writing "5" to clear_refs resets VmHWM to the current RSS (Linux 4.0+); false where refused.
bool resetPeakRss() {
    std::ofstream clear("/proc/self/clear_refs");
    clear << "5";
    clear.flush();
    return bool(clear);
}

double medianOf(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const size_t middle = values.size() / 2;
    return values.size() % 2 ? values[middle] : 0.5 * (values[middle - 1] + values[middle]);
}

std::unique_ptr<CausalLM> loadModel(const ForwardBenchOptions& options, ModelConfig& config) {
    Checkpoint checkpoint = loadCheckpoint(options.model);
    config =
        parseModelConfig(checkpoint.configText,
                         checkpoint.configPath.empty() ? checkpoint.path : checkpoint.configPath);
    const ComputeSpec compute = parseCompute(options.device, options.dtype);
    WeightMap weights = std::move(checkpoint.weights);
    for (auto& [name, tensor] : weights)
        tensor = at::isFloatingType(tensor.scalar_type()) ? tensor.to(compute.device, compute.dtype)
                                                          : tensor.to(compute.device);
    return createCausalLM(config, std::move(weights), options.model);
}

void checkOptions(const ForwardBenchOptions& options, const ModelConfig& config) {
    if (options.seqlen < 2) throw badArgument("--seqlen", "must be at least 2");
    const int64_t context = contextLength(config);
    if (context > 0 && options.seqlen > context)
        throw badArgument("--seqlen", "longer than the model's context of " +
                                          std::to_string(context) + " tokens");
    if (options.windows < 1) throw badArgument("--windows", "must be at least 1");
    if (options.batchSize < 1) throw badArgument("--batch-size", "must be at least 1");
    if (options.repeat < 1) throw badArgument("--repeat", "must be at least 1");
}

// One stage: a warm-up run, then `repeat` timed runs with the resident peak reset before each.
ForwardBenchRow measureStage(const std::string& stage, int64_t tokens, int repeat,
                             const std::function<void()>& run) {
    ForwardBenchRow row;
    row.stage = stage;
    row.tokens = tokens;
    run();
    const bool peakResets = resetPeakRss();
    for (int r = 0; r < repeat; ++r) {
        const auto started = std::chrono::steady_clock::now();
        run();
        row.seconds.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    row.secondsMedian = medianOf(row.seconds);
    row.tokensPerSecond = row.secondsMedian > 0 ? double(tokens) / row.secondsMedian : 0.0;
    row.peakRssBytes = peakResets ? peakRssBytes() : -1;
    return row;
}

}  // namespace

ForwardBenchReport runForwardBench(const ForwardBenchOptions& options) {
    ModelConfig config;
    std::unique_ptr<CausalLM> model = loadModel(options, config);
    checkOptions(options, config);
    std::vector<PrunableWeight> layers = model->prunableWeights();

    ForwardBenchReport report;
    report.model = options.model;
    report.architecture = config.modelType;
    report.device = model->device().str();
    report.dtype = options.dtype;
    for (const auto& [name, tensor] : model->weights())
        if (tensor.defined()) report.parameters += tensor.numel();
    report.seqlen = options.seqlen;
    report.windows = options.windows;
    report.batchSize = options.batchSize;
    report.threads = at::get_num_threads();
    report.repeat = options.repeat;
    report.loadedRssBytes = currentRssBytes();

    at::manual_seed(int64_t(options.seed));
    const at::Tensor windows =
        at::randint(config.vocabSize, {options.windows, options.seqlen}, at::kLong);
    const int64_t tokens = options.windows * options.seqlen;
    for (const std::string& stage : options.stages) {
        if (stage == "eval") {
            PerplexityOptions perplexity;
            perplexity.batchSize = options.batchSize;
            const at::Tensor onDevice = windows.to(model->device());
            report.rows.push_back(measureStage(stage, tokens, options.repeat, [&] {
                evaluatePerplexity(*model, onDevice, perplexity);
            }));
        } else if (stage == "calibration") {
            report.rows.push_back(measureStage(stage, tokens, options.repeat, [&] {
                collectActivationNorms(*model, layers, windows, options.batchSize,
                                       NormStatistic::Paper);
            }));
        } else if (stage == "probe") {
            std::vector<int64_t> all(layers.size());
            std::iota(all.begin(), all.end(), 0);
            GradientRecording recording;
            recording.batchSize = options.batchSize;
            recording.batches = (options.windows + options.batchSize - 1) / options.batchSize;
            report.rows.push_back(measureStage(stage, tokens, options.repeat, [&] {
                recordGradientMaxima(*model, layers, all, windows, recording);
            }));
        } else {
            throw badArgument(
                "--stage", "unknown stage '" + stage + "' (expected eval, calibration or probe)");
        }
    }
    return report;
}

std::string forwardBenchJson(const ForwardBenchReport& report) {
    nlohmann::ordered_json stages = nlohmann::ordered_json::array();
    for (const ForwardBenchRow& row : report.rows)
        stages.push_back({{"stage", row.stage},
                          {"tokens", row.tokens},
                          {"seconds_median", row.secondsMedian},
                          {"tokens_per_second", row.tokensPerSecond},
                          {"peak_rss_bytes", row.peakRssBytes},
                          {"seconds", row.seconds}});
    const nlohmann::ordered_json out = {{"stages", stages},
                                        {"model", report.model},
                                        {"architecture", report.architecture},
                                        {"device", report.device},
                                        {"dtype", report.dtype},
                                        {"parameters", report.parameters},
                                        {"seqlen", report.seqlen},
                                        {"windows", report.windows},
                                        {"batch_size", report.batchSize},
                                        {"threads", report.threads},
                                        {"repeat", report.repeat},
                                        {"loaded_rss_bytes", report.loadedRssBytes}};
    return out.dump(2) + "\n";
}

std::string forwardBenchTable(const ForwardBenchReport& report) {
    char line[256];
    std::string out;
    std::snprintf(line, sizeof line,
                  "%s (%s, %lld parameters) on %s, %s, %d threads: %lld windows x %lld tokens, "
                  "batch %lld, median of %d\n",
                  report.model.c_str(), report.architecture.c_str(),
                  static_cast<long long>(report.parameters), report.device.c_str(),
                  report.dtype.c_str(), report.threads, static_cast<long long>(report.windows),
                  static_cast<long long>(report.seqlen), static_cast<long long>(report.batchSize),
                  report.repeat);
    out += line;
    std::snprintf(line, sizeof line, "resident after loading: %.1f MB\n",
                  double(report.loadedRssBytes) / 1e6);
    out += line;
    std::snprintf(line, sizeof line, "%-12s %10s %12s %14s\n", "stage", "median s", "tokens/s",
                  "peak RSS MB");
    out += line;
    for (const ForwardBenchRow& row : report.rows) {
        std::snprintf(line, sizeof line, "%-12s %10.3f %12.0f %14.1f\n", row.stage.c_str(),
                      row.secondsMedian, row.tokensPerSecond,
                      row.peakRssBytes < 0 ? -1.0 : double(row.peakRssBytes) / 1e6);
        out += line;
    }
    return out;
}

}  // namespace gp
