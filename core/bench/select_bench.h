// `gradprobe bench select`: every selection method on the same scores, side by side. Plain C++
// (no LibTorch): the CLI fills the options and prints the report.
//
// What is timed: selectScores() alone, i.e. the selection producing the threshold and the cuts
// (histograms off, no masks), on scores already in memory; the median of `repeat` runs.
// What "extra_bytes" is: the peak bytes LibTorch's CPU allocator held during one selection beyond
// what it held when the selection started, measured by wrapping that allocator
// (CpuAllocationMeter); the largest over the repeats. The engine allocates its bins and buffers as
// tensors, so they are counted; bookkeeping in std containers (a few bytes per layer, per row for
// the row group) is not. Scores are |W| in the weights' dtype, computed before any timing.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

struct SelectBenchOptions {
    // Exactly one source: a checkpoint (its prunable linear weights), any .safetensors file (every
    // 2-D floating-point tensor), or a synthetic model (synthetic_weights.h).
    std::string model;
    std::string weights;
    std::string synthetic;
    uint64_t seed = 0;  // synthetic values
    std::vector<double> sparsities = {0.1, 0.3, 0.5};
    int repeat = 0;  // timed runs per method and sparsity; 0 = 5 in memory, 1 streamed
    std::string group = "global";  // "global" | "layer" | "row" | "nm"
    int64_t nmKeep = 2;            // nm: N of N:M
    int64_t nmGroup = 4;           // nm: M
    // Empty = every method that applies: exact, statistical and sort in memory; exact alone on
    // a streamed model (statistical there makes up to 20 passes over 14 GB; ask for it by name).
    std::vector<std::string> methods;
    std::string device = "cpu";
    // Streamed synthetic models ("mistral-7b"): the folder their file is written to (and reused
    // from; "" = the system's temporary folder), and how many whole blocks the sort reference
    // checks (seeded choice).
    std::string workDir;
    int referenceBlocks = 1;
    // --weights read the streamed way too (through the map, one layer at a time).
    bool stream = false;
};

struct SelectBenchRow {
    std::string method;
    double sparsity = 0.0;
    double secondsMedian = 0.0;
    std::vector<double> seconds;  // every repeat
    int64_t selected = 0;         // entries the method's masks select
    int64_t target = 0;
    double agreement = 0.0;          // fraction of mask entries equal to the sort reference's
    int64_t extraBytes = 0;          // measured (see above)
    int64_t reportedExtraBytes = 0;  // the method's own count of its buffers (ThresholdEvent)
    int passes = 0;
    int steps = 0;
    double threshold = 0.0;
    // exact only: the floor, i.e. `passes` plain counting passes (a 65,536-bin histogram of every
    // score's top 16 bits) over the same scores, median of the repeats; 0 where not measured.
    double floorSeconds = 0.0;
};

struct SelectBenchReport {
    std::string source;      // "synthetic gpt-neo-33m", a path
    std::string scoreDtype;  // "fp32", "bf16", "mixed"
    std::string device;
    std::string group;
    int64_t layers = 0;
    int64_t weights = 0;
    int64_t scoreBytes = 0;
    int64_t skippedTensors = 0;  // --weights: tensors that are not 2-D floating point
    int threads = 0;
    int repeat = 0;
    std::string machine;  // CPU model
    std::vector<SelectBenchRow> rows;

    // Streamed models only: the model stays in its file and every pass reads it through the
    // memory map. Agreement is then measured on sampled blocks against a sort reference that
    // takes the global threshold from an independent count over the whole model.
    bool streamed = false;
    std::string file;
    bool fileReused = false;
    double generateSeconds = 0.0;
    std::vector<int64_t> referenceBlocks;
    int64_t referenceWeights = 0;
    double referenceSeconds = 0.0;
    bool countVerified = false;  // exact: below threshold < k <= at or below it, model-wide
    int64_t peakRssBytes = 0;    // of the whole benchmark process, generation included
};

// Runs the benchmark (a streamed synthetic model through runStreamedSelectBench); reports progress
// (ProgressEvent, stage Select, unit "runs") and LogEvent lines to the observer. Errors as
// gp::Error (bad options, unreadable input).
SelectBenchReport runSelectBench(const SelectBenchOptions& options, RunObserver* observer = nullptr,
                                 const CancelToken* cancel = nullptr);

// {"results": [{"method", "sparsity", "seconds_median", "selected", "target", "agreement",
// "extra_bytes"}, ...]} and, beside "results", what was measured and on what.
std::string selectBenchJson(const SelectBenchReport& report);
// A table for people, with what is timed and how memory is measured.
std::string selectBenchTable(const SelectBenchReport& report);

}  // namespace gp
