#include "core/bench/streamed_prune.h"

#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/bench/mapped_weights.h"
#include "core/bench/synthetic_weights.h"
#include "core/io/atomic_file.h"
#include "core/io/export_folder.h"
#include "core/io/safetensors.h"
#include "core/prune/selection.h"
#include "core/runtime/error.h"
#include "core/runtime/memory.h"

namespace gp {
namespace {

void checkOptions(const StreamedPruneOptions& options) {
    if (!isStreamedSyntheticModel(options.synthetic))
        throw badArgument("--synthetic", "'" + options.synthetic +
                                             "' is not a streamed synthetic model (expected "
                                             "mistral-7b)");
    if (options.outDir.empty()) throw badArgument("--out", "give the folder to write to");
    SelectionOptions selection;
    selection.sparsity = options.sparsity;
    selection.group = parseSelectionGroup(options.group, "--group");
    if (selection.group == SelectionGroup::NM)
        throw badArgument("--group", "nm is not offered for streamed models");
    checkSelectionOptions(selection);
}

}  // namespace

StreamedPruneReport runStreamedPrune(const StreamedPruneOptions& options, RunObserver* observer,
                                     const CancelToken* cancel) {
    checkOptions(options);
    const ObserverRef events(observer);
    c10::InferenceMode inference;
    std::error_code error;
    std::filesystem::create_directories(options.outDir, error);
    if (error) throw badInput(options.outDir, "", "cannot create the folder: " + error.message());
    if (!options.force && folderHoldsModel(options.outDir))
        throw badArgument("--out", "'" + options.outDir +
                                       "' already holds a model; choose another folder or --force");

    const std::string folder =
        options.workDir.empty() ? std::filesystem::temp_directory_path().string() : options.workDir;
    const SyntheticFile synthetic = writeSyntheticModelFile(
        options.synthetic, options.seed, folder, [&](int64_t done, int64_t total) {
            throwIfCancelled(cancel);
            events->onProgress(ProgressEvent{Stage::Load, done, total, "layers written"});
        });
    const MappedMagnitudeSource source(SafetensorsFile::open(synthetic.path));

    SelectionOptions selection;
    selection.sparsity = options.sparsity;
    selection.group = parseSelectionGroup(options.group, "--group");
    const std::string modelPath =
        (std::filesystem::path(options.outDir) / "model.safetensors").string();
    const StreamedPruneResult pruned =
        pruneMappedFile(source, selection, modelPath, observer, cancel);

    StreamedPruneReport report;
    report.sourceFile = synthetic.path;
    report.sourceReused = synthetic.reused;
    report.generateSeconds = synthetic.seconds;
    report.modelPath = modelPath;
    report.layers = pruned.layers;
    report.weights = pruned.weights;
    report.target = pruned.target;
    report.pruned = pruned.pruned;
    report.sparsity = double(pruned.pruned) / double(std::max<int64_t>(1, pruned.weights));
    report.threshold = pruned.threshold;
    report.selectSeconds = pruned.selectSeconds;
    report.writeSeconds = pruned.writeSeconds;
    report.peakRssBytes = peakRssBytes();
    report.threads = at::get_num_threads();
    report.reportPath = (std::filesystem::path(options.outDir) / "report.json").string();
    const std::string text = streamedPruneJson(report);
    AtomicFile file(report.reportPath);
    file.write(text.data(), text.size());
    file.commit();
    return report;
}

std::string streamedPruneJson(const StreamedPruneReport& r) {
    const nlohmann::ordered_json json = {{"source_file", r.sourceFile},
                                         {"source_reused", r.sourceReused},
                                         {"generate_seconds", r.generateSeconds},
                                         {"out", r.modelPath},
                                         {"report", r.reportPath},
                                         {"layers", r.layers},
                                         {"weights", r.weights},
                                         {"target", r.target},
                                         {"pruned", r.pruned},
                                         {"sparsity", r.sparsity},
                                         {"threshold", r.threshold},
                                         {"select_seconds", r.selectSeconds},
                                         {"write_seconds", r.writeSeconds},
                                         {"peak_rss_bytes", r.peakRssBytes},
                                         {"threads", r.threads}};
    return json.dump(2) + "\n";
}

}  // namespace gp
