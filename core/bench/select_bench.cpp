#include "core/bench/select_bench.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <random>
#include <utility>

#include "core/bench/allocation_meter.h"
#include "core/bench/mapped_weights.h"
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
#include "core/runtime/memory.h"

namespace gp {
namespace {

using Layers = std::vector<std::pair<std::string, at::Tensor>>;

constexpr const char* kTimed =
    "selectScores(): the selection producing the threshold and per-layer cuts, on scores in "
    "memory, without masks or histograms; median of the repeats";
constexpr const char* kExtraMeasure =
    "peak bytes held by LibTorch's CPU allocator during one selection beyond what it held at "
    "its start (the allocator wrapped for the benchmark), largest over the repeats";
constexpr const char* kStreamedReference =
    "sort over sampled blocks, the ties shared by a model-wide count";

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
        const auto model = createCausalLM(config, std::move(checkpoint.weights), options.model,
                                          checkpoint.tensorAliases);
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

// The options with the "0 / empty = automatic" defaults filled in.
SelectBenchOptions withDefaults(SelectBenchOptions options) {
    const bool streamed = isStreamedSyntheticModel(options.synthetic) || options.stream;
    if (options.repeat == 0) options.repeat = streamed ? 1 : 5;
    if (options.methods.empty())
        options.methods = streamed ? std::vector<std::string>{"exact"}
                                   : std::vector<std::string>{"exact", "statistical", "sort"};
    return options;
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
// `reference` holds (layer, mask) for the layers compared; agreement is over those.
using ReferenceMasks = std::vector<std::pair<int64_t, at::Tensor>>;

SelectBenchRow measure(const ScoreSource& source, const SelectionOptions& selection, int repeat,
                       const ReferenceMasks& reference, CpuAllocationMeter& meter,
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
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        throwIfCancelled(cancel);
        row.selected += layerMask(last, source, layer).sum().item<int64_t>();
    }
    int64_t equal = 0, compared = 0;
    for (const auto& [layer, expected] : reference) {
        equal += at::eq(layerMask(last, source, layer), expected).sum().item<int64_t>();
        compared += expected.numel();
    }
    row.agreement = double(equal) / double(std::max<int64_t>(1, compared));
    return row;
}

// One counting pass: a per-thread 65,536-bin histogram of the top 16 bits of every fp32 (or the
// whole pattern of every bf16/fp16) score, merged at the end — the least work any radix pass does.
int64_t countingPass(const ScoreSource& source) {
    const int threads = at::get_num_threads();
    std::vector<uint32_t> bins(size_t(threads) * 65536, 0u);
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        at::Tensor values = source.magnitudeOf(layer);
        const bool absolute = values.defined();
        if (!absolute) values = source.scores(layer);
        values = values.contiguous();
        const bool wide = values.element_size() == 4;
        const uint32_t signMask = absolute ? (wide ? 0x7fffffffu : 0x7fffu) : 0xffffffffu;
        const void* data = values.data_ptr();
        at::parallel_for(0, values.numel(), 32768, [&](int64_t begin, int64_t end) {
            uint32_t* mine = bins.data() + size_t(at::get_thread_num()) * 65536;
            if (wide) {
                const auto* keys = static_cast<const uint32_t*>(data);
                for (int64_t i = begin; i < end; ++i) ++mine[(keys[i] & signMask) >> 16];
            } else {
                const auto* keys = static_cast<const uint16_t*>(data);
                for (int64_t i = begin; i < end; ++i) ++mine[keys[i] & signMask];
            }
        });
    }
    int64_t counted = 0;
    for (int thread = 1; thread < threads; ++thread)
        for (size_t bin = 0; bin < 65536; ++bin) bins[bin] += bins[size_t(thread) * 65536 + bin];
    for (size_t bin = 0; bin < 65536; ++bin) counted += bins[bin];
    return counted;
}

double floorSeconds(const ScoreSource& source, int passes, int repeat) {
    std::vector<double> seconds;
    for (int run = 0; run < repeat; ++run) {
        const auto started = std::chrono::steady_clock::now();
        for (int pass = 0; pass < std::max(passes, 1); ++pass)
            if (countingPass(source) != source.totalNumel())
                throw Error(ErrorKind::Internal, "", "bench select", "the floor lost scores");
        seconds.push_back(
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    }
    return median(seconds);
}

ReferenceMasks allLayers(std::vector<at::Tensor> masks) {
    ReferenceMasks reference;
    for (size_t layer = 0; layer < masks.size(); ++layer)
        reference.emplace_back(int64_t(layer), std::move(masks[layer]));
    return reference;
}

// The block a layer belongs to: the number after "layers." or ".h." in its name; -1 if none.
int64_t blockOf(const std::string& name) {
    for (const char* marker : {"layers.", ".h."}) {
        const size_t at = name.find(marker);
        if (at == std::string::npos) continue;
        const size_t digits = at + std::strlen(marker);
        size_t end = digits;
        while (end < name.size() && std::isdigit(static_cast<unsigned char>(name[end]))) ++end;
        if (end > digits) return std::stoll(name.substr(digits, end - digits));
    }
    return -1;
}

// `count` distinct blocks out of those present, chosen with the seed, ascending.
std::vector<int64_t> sampleBlocks(const ScoreSource& source, int count, uint64_t seed) {
    std::vector<int64_t> blocks;
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        const int64_t block = blockOf(source.layerName(layer));
        if (blocks.empty() || blocks.back() != block) blocks.push_back(block);
    }
    std::mt19937_64 random(seed);
    std::shuffle(blocks.begin(), blocks.end(), random);
    blocks.resize(std::min<size_t>(blocks.size(), size_t(std::max(count, 1))));
    std::sort(blocks.begin(), blocks.end());
    return blocks;
}

// The global group's masks on the sampled blocks, by sorting: one pass over the whole model
// counts the scores below and at the threshold (plain ATen comparisons, not the radix code),
// which proves the threshold is the k-th smallest and says how many of the ties each layer
// takes (layer order, then index); each sampled layer is then stably sorted and its first
// (below + its ties) entries selected.
ReferenceMasks streamedSortReference(const ScoreSource& source, const Selection& exact,
                                     const std::vector<int64_t>& blocks, SelectBenchReport& report,
                                     const CancelToken* cancel) {
    const auto started = std::chrono::steady_clock::now();
    const double threshold = exact.threshold;
    std::vector<int64_t> below(size_t(source.layerCount())), equal(below.size());
    int64_t belowTotal = 0, equalTotal = 0;
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        throwIfCancelled(cancel);
        // In the scores' own dtype when the threshold is exactly one of its values (all-bf16
        // Mistral: half the memory traffic), in fp32 otherwise (an fp32 threshold in a bf16 layer).
        at::Tensor scores = source.scores(layer);
        if (at::scalar_tensor(threshold, scores.scalar_type()).item<double>() != threshold)
            scores = scores.to(at::kFloat);
        below[layer] = scores.lt(threshold).sum().item<int64_t>();
        equal[layer] = scores.eq(threshold).sum().item<int64_t>();
        belowTotal += below[layer];
        equalTotal += equal[layer];
    }
    report.countVerified =
        exact.target == 0 || (belowTotal < exact.target && exact.target <= belowTotal + equalTotal);
    ReferenceMasks reference;
    report.referenceWeights = 0;  // the same blocks at every sparsity
    int64_t tiesLeft = exact.target - belowTotal;
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        const int64_t ties = std::clamp<int64_t>(tiesLeft, 0, equal[layer]);
        tiesLeft -= ties;
        const int64_t block = blockOf(source.layerName(layer));
        if (!std::binary_search(blocks.begin(), blocks.end(), block)) continue;
        throwIfCancelled(cancel);
        const at::Tensor scores = source.scores(layer).to(at::kFloat).flatten();
        const at::Tensor order =
            std::get<1>(scores.sort(/*stable=*/c10::optional<bool>(true), /*dim=*/0));
        at::Tensor mask = at::zeros({scores.numel()}, at::kBool);
        mask.index_fill_(0, order.slice(0, 0, below[layer] + ties), true);
        const auto shape = source.shape(layer);
        reference.emplace_back(layer, mask.view({shape[0], shape[1]}));
        report.referenceWeights += scores.numel();
    }
    report.referenceSeconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return reference;
}

std::string withThousands(int64_t value) {
    std::string digits = std::to_string(value), text;
    for (size_t i = 0; i < digits.size(); ++i) {
        if (i && (digits.size() - i) % 3 == 0 && digits[i - 1] != '-') text += ',';
        text += digits[i];
    }
    return text;
}

// What both kinds of run report about their scores and the machine.
SelectBenchReport describeRun(const ScoreSource& source, const SelectBenchOptions& options) {
    SelectBenchReport report;
    report.scoreDtype = dtypeSummary(source);
    report.device = options.device;
    report.group = options.group;
    report.layers = source.layerCount();
    report.weights = source.totalNumel();
    for (int64_t layer = 0; layer < source.layerCount(); ++layer)
        report.scoreBytes += source.numel(layer) * int64_t(at::elementSize(source.dtype(layer)));
    report.threads = at::get_num_threads();
    report.repeat = options.repeat;
    report.machine = machineName();
    return report;
}

// A model that stays in its file: every pass maps one layer at a time.
SelectBenchReport runStreamedSelectBench(const SelectBenchOptions& options, RunObserver* observer,
                                         const CancelToken* cancel) {
    const ObserverRef events(observer);
    c10::InferenceMode inference;
    if (options.device != "cpu")
        throw badArgument("--device", "a streamed model is selected on the CPU only");
    if (options.group != "global")
        throw badArgument("--group", "a streamed model is benchmarked with the global group only");
    SyntheticFile synthetic;
    if (!options.synthetic.empty()) {
        const std::string folder = options.workDir.empty()
                                       ? std::filesystem::temp_directory_path().string()
                                       : options.workDir;
        events->onLog({LogEvent::Level::Info,
                       "writing or reusing the " + options.synthetic + " file in " + folder});
        synthetic = writeSyntheticModelFile(
            options.synthetic, options.seed, folder, [&](int64_t done, int64_t total) {
                throwIfCancelled(cancel);
                events->onProgress(ProgressEvent{Stage::Load, done, total, "layers written"});
            });
    } else if (!options.weights.empty() && options.model.empty()) {
        synthetic.path = options.weights;
        synthetic.reused = true;
    } else {
        throw badArgument("--stream", "streams --weights FILE.safetensors only");
    }
    const MappedMagnitudeSource source(SafetensorsFile::open(synthetic.path));

    SelectBenchReport report = describeRun(source, options);
    report.streamed = true;
    report.source = options.synthetic.empty() ? options.weights : "synthetic " + options.synthetic;
    report.file = synthetic.path;
    report.fileReused = synthetic.reused;
    report.generateSeconds = synthetic.seconds;
    report.referenceBlocks = sampleBlocks(source, options.referenceBlocks, options.seed);

    std::vector<SelectionMethod> methods;
    for (const std::string& name : options.methods) {
        const SelectionMethod method = parseSelectionMethod(name, "--method");
        if (method == SelectionMethod::Sort) {
            events->onLog({LogEvent::Level::Warning,
                           "sort skipped on a streamed model (it concatenates the model); the "
                           "sort reference on sampled blocks stands in for it"});
            continue;
        }
        methods.push_back(method);
    }
    const int64_t runs = int64_t(options.sparsities.size() * methods.size()) * options.repeat;
    int64_t done = 0;
    const auto ranOnce = [&] {
        events->onProgress(ProgressEvent{Stage::Select, ++done, runs, "runs"});
    };
    CpuAllocationMeter meter;
    for (const double sparsity : options.sparsities) {
        SelectionOptions selection;
        selection.sparsity = sparsity;
        selection.method = SelectionMethod::Exact;
        const Selection exact = selectScores(source, selection, nullptr, cancel);
        const ReferenceMasks reference =
            streamedSortReference(source, exact, report.referenceBlocks, report, cancel);
        for (const SelectionMethod method : methods) {
            selection.method = method;
            report.rows.push_back(
                measure(source, selection, options.repeat, reference, meter, ranOnce, cancel));
            SelectBenchRow& row = report.rows.back();
            if (method == SelectionMethod::Exact && source.device().is_cpu())
                row.floorSeconds = floorSeconds(source, row.passes, options.repeat);
        }
    }
    report.peakRssBytes = peakRssBytes();
    return report;
}

}  // namespace

SelectBenchReport runSelectBench(const SelectBenchOptions& givenOptions, RunObserver* observer,
                                 const CancelToken* cancel) {
    const SelectBenchOptions options = withDefaults(givenOptions);
    checkOptions(options);
    if (isStreamedSyntheticModel(options.synthetic) || options.stream)
        return runStreamedSelectBench(options, observer, cancel);
    const ObserverRef events(observer);
    c10::InferenceMode inference;
    const at::Device device = parseDevice(options.device);
    LoadedWeights loaded = loadWeights(options);
    const TensorScoreSource source(magnitudeScores(std::move(loaded.weights), device));

    SelectBenchReport report = describeRun(source, options);
    report.source = loaded.source;
    report.skippedTensors = loaded.skipped;

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
        const ReferenceMasks reference = allLayers(sortReferenceMasks(source, selection));
        for (const SelectionMethod method : methods) {
            selection.method = method;
            report.rows.push_back(
                measure(source, selection, options.repeat, reference, meter, ranOnce, cancel));
            SelectBenchRow& row = report.rows.back();
            if (method == SelectionMethod::Exact && source.device().is_cpu())
                row.floorSeconds = floorSeconds(source, row.passes, options.repeat);
        }
    }
    report.peakRssBytes = peakRssBytes();
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
        if (row.floorSeconds > 0) {
            results.back()["floor_seconds"] = row.floorSeconds;
            results.back()["vs_floor"] = row.secondsMedian / row.floorSeconds;
        }
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
    out["peak_rss_bytes"] = report.peakRssBytes;
    if (report.streamed) {
        out["file"] = report.file;
        out["file_reused"] = report.fileReused;
        out["generate_seconds"] = report.generateSeconds;
        out["reference"] = {{"method", kStreamedReference},
                            {"blocks", report.referenceBlocks},
                            {"weights", report.referenceWeights},
                            {"seconds", report.referenceSeconds},
                            {"count_verified", report.countVerified}};
    }
    return out.dump(2) + "\n";
}

std::string selectBenchTable(const SelectBenchReport& report) {
    std::string text;
    char line[512];
    std::snprintf(line, sizeof line,
                  "%s: %lld layers, %s weights (%s scores, %.1f MB), group %s, %s, %d threads, "
                  "%s\n",
                  report.source.c_str(), (long long)report.layers,
                  withThousands(report.weights).c_str(), report.scoreDtype.c_str(),
                  report.scoreBytes / 1e6, report.group.c_str(), report.device.c_str(),
                  report.threads, report.machine.c_str());
    text += line;
    text += std::string("timed: ") + kTimed + " (" + std::to_string(report.repeat) + ")\n";
    text += std::string("extra: ") + kExtraMeasure + "\n";
    if (report.streamed) {
        std::snprintf(
            line, sizeof line, "file: %s (%s)\n", report.file.c_str(),
            report.fileReused
                ? "reused"
                : ("written in " + std::to_string(int(report.generateSeconds)) + " s").c_str());
        text += line;
        std::string blocks;
        for (const int64_t block : report.referenceBlocks)
            blocks += (blocks.empty() ? "" : ",") + std::to_string(block);
        std::snprintf(line, sizeof line,
                      "agreement: %s, blocks %s (%s weights, %.1f s); model-wide count %s\n",
                      kStreamedReference, blocks.c_str(),
                      withThousands(report.referenceWeights).c_str(), report.referenceSeconds,
                      report.countVerified ? "confirms the exact threshold" : "DISAGREES");
        text += line;
    }
    std::snprintf(line, sizeof line, "peak RSS: %.2f GB\n\n", report.peakRssBytes / 1e9);
    text += line;
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
    for (const SelectBenchRow& row : report.rows) {
        if (row.floorSeconds <= 0) continue;
        std::snprintf(line, sizeof line,
                      "floor at %.3f: %d counting pass(es) over the same scores %.4f s; exact %.2fx "
                      "its floor\n",
                      row.sparsity, std::max(row.passes, 1), row.floorSeconds,
                      row.secondsMedian / row.floorSeconds);
        text += line;
    }
    return text;
}

}  // namespace gp
