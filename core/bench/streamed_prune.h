// Magnitude pruning of a model that is never resident: `gradprobe prune --synthetic mistral-7b`.
// The weights stay in their safetensors file; the exact selection reads them one layer at a time
// through the memory map and the pruned checkpoint is streamed to disk layer by layer. Plain C++
// (no LibTorch): the CLI fills the options and prints the report.
#pragma once

#include <cstdint>
#include <string>

#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

struct StreamedPruneOptions {
    std::string synthetic;  // a streamed synthetic model ("mistral-7b")
    uint64_t seed = 0;
    std::string workDir;  // where its file is written and reused from ("" = temporary folder)
    double sparsity = 0.5;
    std::string group = "global";  // global | layer | row
    std::string outDir;            // receives model.safetensors and report.json
    bool force = false;            // replace a model already in outDir
};

struct StreamedPruneReport {
    std::string sourceFile;
    bool sourceReused = false;
    double generateSeconds = 0.0;
    std::string modelPath;
    std::string reportPath;
    int64_t layers = 0;
    int64_t weights = 0;
    int64_t target = 0;
    int64_t pruned = 0;
    double sparsity = 0.0;  // pruned / weights
    double threshold = 0.0;
    double selectSeconds = 0.0;
    double writeSeconds = 0.0;
    int64_t peakRssBytes = 0;
    int threads = 0;  // compute threads
};

// Errors as gp::Error: bad options (BadArgument), an occupied outDir without force, a full disk
// (naming the file; nothing is left under the final names), cancellation.
StreamedPruneReport runStreamedPrune(const StreamedPruneOptions& options,
                                     RunObserver* observer = nullptr,
                                     const CancelToken* cancel = nullptr);

std::string streamedPruneJson(const StreamedPruneReport& report);

}  // namespace gp
