// `gradprobe bench forward`: how fast the model's passes run and how much memory they take —
// evaluation (forward, no gradients), calibration (forward with WANDA's activation-norm tap) and
// the probe's forward + backward — so these figures are tracked like the selection's.
//
// What is timed: each stage over the same seeded random windows (token speed does not depend on
// the text), the median of `repeat` runs after one warm-up run; tokens/s counts window positions
// (windows x seqlen). Peak memory: the process's resident high-water mark during the timed runs,
// reset before them (/proc/self/clear_refs), so it includes the loaded weights. Plain C++ header.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gp {

struct ForwardBenchOptions {
    std::string model;
    std::string device = "cpu";
    std::string dtype = "fp32";
    int64_t seqlen = 256;   // ids per window
    int64_t windows = 16;   // windows per stage
    int64_t batchSize = 4;  // windows per forward pass
    int repeat = 3;
    uint64_t seed = 0;
    std::vector<std::string> stages = {"eval", "calibration", "probe"};
};

struct ForwardBenchRow {
    std::string stage;
    int64_t tokens = 0;  // per run
    double secondsMedian = 0.0;
    std::vector<double> seconds;
    double tokensPerSecond = 0.0;
    int64_t peakRssBytes = 0;  // -1 where the kernel does not let the peak be reset
};

struct ForwardBenchReport {
    std::string model;
    std::string architecture;
    std::string device;
    std::string dtype;
    int64_t parameters = 0;
    int64_t seqlen = 0;
    int64_t windows = 0;
    int64_t batchSize = 0;
    int threads = 0;
    int repeat = 0;
    int64_t loadedRssBytes = 0;  // resident after loading, before any pass
    std::vector<ForwardBenchRow> rows;
};

ForwardBenchReport runForwardBench(const ForwardBenchOptions& options);
std::string forwardBenchTable(const ForwardBenchReport& report);
std::string forwardBenchJson(const ForwardBenchReport& report);

}  // namespace gp
