// What a prune run produced: per-layer accounting, metrics, the threshold search, times, memory,
// and the data the plots and the report show. Plain C++.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/prune/prune_options.h"
#include "core/runtime/events.h"

namespace gp {

struct IterativeRound {
    double targetSparsity = 0.0;
    double sparsity = 0.0;
    double ppl = 0.0;
    double threshold = 0.0;  // tau used
    bool accepted = false;
};

struct SweepPoint {
    double threshold = 0.0;  // tau
    double sparsity = 0.0;
    int64_t pruned = 0;
    double ppl = 0.0;
};

struct PruneResult {
    int runId = 0;                  // this session's run number, for revert and comparison
    bool cancelled = false;         // weights restored to what they were before the run
    PruneOptions options;
    double sparsity = 0.0;          // achieved over all prunable weights
    int64_t prunableParameters = 0;
    int64_t prunedParameters = 0;
    double pplBefore = 0.0;         // 0 when not evaluated
    double pplAfter = 0.0;
    double threshold = 0.0;         // global score threshold (global group)
    std::vector<LayerResultEvent> layers;   // per prunable layer, in model order
    std::vector<SearchStepEvent> searchSteps;
    std::vector<IterativeRound> rounds;
    std::vector<SweepPoint> sweep;
    std::map<std::string, double> seconds;  // per stage, and "total"
    int64_t peakRssBytes = 0;
    int64_t peakVramBytes = -1;
    int threads = 0;                // compute threads the run used (0: not recorded)
    // What the plots and the report show, kept with the result:
    std::vector<HistogramEvent> histograms;  // per layer, then the global one (layer "")
    NormalFitEvent normalFit;                // of all scores (the statistical search's model)
    std::vector<MemorySampleEvent> memory;   // sampled during the run (>= 2 per second)
};

}  // namespace gp
