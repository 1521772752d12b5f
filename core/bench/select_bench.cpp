#include "core/bench/select_bench.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <functional>
#include <utility>

#include "core/bench/allocation_meter.h"
#include "core/bench/synthetic_weights.h"
#include "core/io/checkpoint.h"
#include "core/io/safetensors.h"
#include "core/model/causal_lm.h"
#include "core/model/model_config.h"
#include "core/prune/score_source.h"
#include "core/prune/selection.h"
#include "core/prune/sort_select.h"
#include "core/runtime/compute.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

using Layers = std::vector<std::pair<std::string, at::Tensor>>;

constexpr const char* kTimed =
    "selectScores(): the selection producing the threshold and per-layer cuts, on scores in "
    "memory, without masks or histograms; median of the repeats";
constexpr const char* kExtraMeasure =
    "peak bytes held by LibTorch's CPU allocator during one selection beyond what it held at "
    "its start (the allocator wrapped for the benchmark), largest over the repeats";

struct LoadedWeights {
    Layers weights;
    std::string source;
    int64_t skipped = 0;
};

bool isFloat(at::ScalarType type) {
    return type == at::kFloat || type == at::kBFloat16 || type == at::kHalf || type == at::kDouble;
}

LoadedWeights loadWeights(const SelectBenchOptions& options) {
    const int given = int(!options.model.empty()) + int(!options.weights.empty()) +
                      int(!options.synthetic.empty());
    if (given != 1) throw badArgument("--model/--weights/--synthetic", "give exactly one of them");
    LoadedWeights loaded;
    if (!options.synthetic.empty()) {
        loaded.weights = syntheticWeights(options.synthetic, options.seed);
        loaded.source = "synthetic " + options.synthetic;
    } else if (!options.weights.empty()) {
        const auto file = SafetensorsFile::open(options.weights);
        for (const SafetensorsEntry& entry : file->entries()) {
            const at::ScalarType type = safetensorsScalarType(entry.dtype);
            if (entry.shape.size() == 2 && isFloat(type))
                loaded.weights.emplace_back(entry.name, file->tensor(entry.name));
            else
                ++loaded.skipped;
        }
        loaded.source = options.weights;
    } else {
        Checkpoint checkpoint = loadCheckpoint(options.model);
        const ModelConfig config = parseModelConfig(checkpoint.configText, checkpoint.configPath);
        const auto model = createCausalLM(config, std::move(checkpoint.weights), options.model);
        for (const PrunableWeight& weight : model->prunableWeights(false))
            loaded.weights.emplace_back(weight.name, weight.matrix);
        loaded.source = options.model;
    }
    if (loaded.weights.empty())
        throw badInput(loaded.source, "", "no 2-D floating-point tensor to select from");
    return loaded;
}

// |W| in the weights' dtype, row-major, on the device: the scores every method sees.
Layers magnitudeScores(Layers weights, const at::Device& device) {
    Layers scores;
    for (auto& [name, weight] : weights) {
        scores.emplace_back(name, weight.abs().contiguous().to(device));
        weight = at::Tensor();  // a mapped or model tensor is released as soon as it is read
    }
    return scores;
}

std::string machineName() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("model name", 0) != 0) continue;
        const auto colon = line.find(':');
        if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
    }
    return "unknown";
}

std::string dtypeSummary(const ScoreSource& source) {
    std::string name;
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        const std::string type = dtypeName(source.dtype(layer));
        if (name.empty()) name = type;
        if (name != type) return "mixed";
    }
    return name;
}

double median(std::vector<double> values) {
    std::sort(values.begin(), values.end());
    const size_t n = values.size();
    return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

void checkOptions(const SelectBenchOptions& options) {
    if (options.repeat < 1) throw badArgument("--repeat", "must be at least 1");
    if (options.sparsities.empty()) throw badArgument("--sparsity", "give at least one value");
    for (const double sparsity : options.sparsities) {
        SelectionOptions probe;
        probe.sparsity = sparsity;
        checkSelectionOptions(probe);
    }
    if (options.methods.empty()) throw badArgument("--method", "give at least one method");
    for (const std::string& method : options.methods) parseSelectionMethod(method, "--method");
    parseSelectionGroup(options.group, "--group");
}

// Runs one method at one sparsity `repeat` times and compares its masks with the reference.
SelectBenchRow measure(const ScoreSource& source, const SelectionOptions& selection, int repeat,
                       const std::vector<at::Tensor>& reference, CpuAllocationMeter& meter,
                       const std::function<void()>& ranOnce, const CancelToken* cancel) {
    SelectBenchRow row;
    row.method = selectionMethodName(selection.method);
    Selection last;
    for (int run = 0; run < repeat; ++run) {
        throwIfCancelled(cancel);
        last = Selection();
        meter.resetPeak();
        const int64_t before = meter.currentBytes();
        last = selectScores(source, selection, nullptr, cancel);
        row.extraBytes = std::max(row.extraBytes, meter.peakBytes() - before);
        row.seconds.push_back(last.seconds);
        ranOnce();
    }
    row.sparsity = last.sparsity;
    row.secondsMedian = median(row.seconds);
    row.target = last.target;
    row.reportedExtraBytes = last.extraBytes;
    row.passes = last.passes;
    row.steps = last.steps;
    row.threshold = last.threshold;
    int64_t equal = 0;
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        const at::Tensor mask = layerMask(last, source, layer);
        row.selected += mask.sum().item<int64_t>();
        equal += at::eq(mask, reference[layer]).sum().item<int64_t>();
    }
    row.agreement = double(equal) / double(std::max<int64_t>(1, source.totalNumel()));
    return row;
}

std::string withThousands(int64_t value) {
    std::string digits = std::to_string(value), text;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') text += ',';
        text += digits[i];
    }
    return text;
}

}  // namespace

SelectBenchReport runSelectBench(const SelectBenchOptions& options, RunObserver* observer,
                                 const CancelToken* cancel) {
    checkOptions(options);
    const ObserverRef events(observer);
    c10::InferenceMode inference;
    const at::Device device = parseDevice(options.device);
    LoadedWeights loaded = loadWeights(options);
    const TensorScoreSource source(magnitudeScores(std::move(loaded.weights), device));

    SelectBenchReport report;
    report.source = loaded.source;
    report.skippedTensors = loaded.skipped;
    report.scoreDtype = dtypeSummary(source);
    report.device = options.device;
    report.group = options.group;
    report.layers = source.layerCount();
    report.weights = source.totalNumel();
    for (int64_t layer = 0; layer < source.layerCount(); ++layer)
        report.scoreBytes += int64_t(source.scores(layer).nbytes());
    report.threads = at::get_num_threads();
    report.repeat = options.repeat;
    report.machine = machineName();

    SelectionOptions base;
    base.group = parseSelectionGroup(options.group, "--group");
    base.nmKeep = options.nmKeep;
    base.nmGroup = options.nmGroup;
    const bool nm = base.group == SelectionGroup::NM;
    const std::vector<double> sparsities = nm ? std::vector<double>{0.0} : options.sparsities;
    std::vector<SelectionMethod> methods;
    for (const std::string& name : options.methods) {
        const SelectionMethod method = parseSelectionMethod(name, "--method");
        const bool perRow = base.group == SelectionGroup::Row || nm;
        if (method == SelectionMethod::Statistical && perRow) {
            events->onLog({LogEvent::Level::Warning,
                           "statistical skipped: it searches the global and layer groups only"});
            continue;
        }
        methods.push_back(method);
    }

    const int64_t runs = int64_t(sparsities.size() * methods.size()) * options.repeat;
    int64_t done = 0;
    const auto ranOnce = [&] {
        events->onProgress(ProgressEvent{Stage::Select, ++done, runs, "runs"});
    };
    CpuAllocationMeter meter;
    for (const double sparsity : sparsities) {
        SelectionOptions selection = base;
        selection.sparsity = sparsity;
        const std::vector<at::Tensor> reference = sortReferenceMasks(source, selection);
        for (const SelectionMethod method : methods) {
            selection.method = method;
            report.rows.push_back(
                measure(source, selection, options.repeat, reference, meter, ranOnce, cancel));
        }
    }
    return report;
}

std::string selectBenchJson(const SelectBenchReport& report) {
    nlohmann::ordered_json results = nlohmann::ordered_json::array(),
                           details = nlohmann::ordered_json::array();
    for (const SelectBenchRow& row : report.rows) {
        results.push_back({{"method", row.method},
                           {"sparsity", row.sparsity},
                           {"seconds_median", row.secondsMedian},
                           {"selected", row.selected},
                           {"target", row.target},
                           {"agreement", row.agreement},
                           {"extra_bytes", row.extraBytes}});
        details.push_back({{"method", row.method},
                           {"sparsity", row.sparsity},
                           {"seconds", row.seconds},
                           {"passes", row.passes},
                           {"steps", row.steps},
                           {"threshold", row.threshold},
                           {"extra_bytes_reported", row.reportedExtraBytes}});
    }
    nlohmann::ordered_json out = {{"results", results},
                                  {"source", report.source},
                                  {"score_dtype", report.scoreDtype},
                                  {"device", report.device},
                                  {"group", report.group},
                                  {"layers", report.layers},
                                  {"weights", report.weights},
                                  {"score_bytes", report.scoreBytes},
                                  {"threads", report.threads},
                                  {"repeat", report.repeat},
                                  {"machine", report.machine},
                                  {"timed", kTimed},
                                  {"extra_bytes_measure", kExtraMeasure},
                                  {"details", details}};
    if (report.skippedTensors) out["skipped_tensors"] = report.skippedTensors;
    return out.dump(2) + "\n";
}

std::string selectBenchTable(const SelectBenchReport& report) {
    std::string text;
    char line[256];
    std::snprintf(line, sizeof line,
                  "%s: %lld layers, %s weights (%s scores, %.1f MB), group %s, %s, %d threads, "
                  "%s\n",
                  report.source.c_str(), (long long)report.layers,
                  withThousands(report.weights).c_str(), report.scoreDtype.c_str(),
                  report.scoreBytes / 1e6, report.group.c_str(), report.device.c_str(),
                  report.threads, report.machine.c_str());
    text += line;
    text += std::string("timed: ") + kTimed + " (" + std::to_string(report.repeat) + ")\n";
    text += std::string("extra: ") + kExtraMeasure + "\n\n";
    std::snprintf(line, sizeof line, "%-12s %8s %11s %9s %13s %13s %10s %13s %7s\n", "method",
                  "sparsity", "median s", "vs exact", "selected", "target", "agreement",
                  "extra bytes", "extra%");
    text += line;
    for (const SelectBenchRow& row : report.rows) {
        double exactSeconds = 0.0;
        for (const SelectBenchRow& other : report.rows)
            if (other.method == "exact" && other.sparsity == row.sparsity)
                exactSeconds = other.secondsMedian;
        const std::string ratio =
            exactSeconds > 0 ? std::to_string(row.secondsMedian / exactSeconds).substr(0, 6) + "x"
                             : "-";
        std::snprintf(
            line, sizeof line, "%-12s %8.3f %11.4f %9s %13s %13s %10.6f %13s %6.2f%%\n",
            row.method.c_str(), row.sparsity, row.secondsMedian, ratio.c_str(),
            withThousands(row.selected).c_str(), withThousands(row.target).c_str(), row.agreement,
            withThousands(row.extraBytes).c_str(),
            100.0 * double(row.extraBytes) / double(std::max<int64_t>(1, report.scoreBytes)));
        text += line;
    }
    return text;
}

}  // namespace gp
