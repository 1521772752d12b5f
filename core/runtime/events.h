// Everything a run reports while it works. Plain values, cheap to copy, safe to send across
// threads (the GUI forwards them as queued signals). One word for one idea: the names here are
// the JSON keys of the CLI's --progress-json lines and the labels in the GUI.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace gp {

// Stages of a run, in the order a prune run goes through them.
enum class Stage { Load, Calibrate, Score, Select, Probe, Apply, Evaluate, Export, Train };
const char* stageName(Stage stage);

struct StageEvent {
    Stage stage = Stage::Load;
    bool finished = false;  // false: the stage starts; true: it ended after `seconds`
    double seconds = 0.0;
    std::string detail;  // e.g. "ppl before", "layer 3/24"
};

// Progress inside a stage: `done` of `total` units (windows, layers, batches).
struct ProgressEvent {
    Stage stage = Stage::Load;
    int64_t done = 0;
    int64_t total = 0;
    std::string unit;  // "windows", "layers", "batches", "blocks"
};

// Importance histogram of one layer (or of the whole model when `layer` is empty), on
// log-spaced bins. Exact zeros cannot sit on a log axis and are counted apart.
struct HistogramEvent {
    std::string layer;                // "" = all prunable layers together
    std::vector<double> binEdges;     // size bins + 1, increasing, > 0
    std::vector<int64_t> counts;      // per bin: all scores in [edge_i, edge_i+1)
    std::vector<int64_t> countsBelow; // per bin: scores selected for pruning
    int64_t zeros = 0;                // scores == 0 (always selected first)
    int64_t zerosBelow = 0;           // of those zeros, the ones selected for pruning
    int64_t total = 0;                // all scores of this layer
    // The one cut that decides here: the global group's threshold (in every view) or a layer's
    // own cut (layer group); 0 where no single threshold exists (then see `cutGroup`).
    double threshold = 0.0;
    // Where many cuts decide — the whole model under layer, row or N:M groups, a layer under row
    // or N:M — "layer" | "row" | "nm": per bin, how many of those groups have their cut (the
    // largest score the group selects) in it; groups that select nothing have none. Else "".
    std::string cutGroup;
    std::vector<int64_t> cutCounts;  // per bin (empty when cutGroup is "")
    int64_t zeroCuts = 0;            // groups whose cut is an exact zero (off the log axis)
};

// Normal fit (mean and standard deviation of the scores) used by the statistical search.
struct NormalFitEvent {
    std::string layer;  // "" = global
    double mean = 0.0;
    double stddev = 0.0;
    int64_t count = 0;
};

// One step of a threshold search.
struct SearchStepEvent {
    std::string method;  // "statistical" | "exact" | "sort"
    std::string group;   // "" for the global group, else the layer (or layer/row) it concerns
    int step = 0;        // 0-based
    double threshold = 0.0;
    int64_t countBelow = 0;  // scores <= threshold
    int64_t target = 0;      // k
    double error = 0.0;      // (countBelow - target) / total
};

// The threshold a selection settled on.
struct ThresholdEvent {
    std::string method;
    std::string group;  // "global", "layer", "row", "nm"
    double threshold = 0.0;
    int64_t selected = 0;
    int64_t target = 0;
    int64_t total = 0;
    double seconds = 0.0;
    int64_t extraBytes = 0;  // peak memory the selection needed beyond the scores
};

// A part of a fused prunable tensor (Phi-3's qkv_proj holds q, k and v; gate_up_proj holds gate
// and up): its rows [firstRow, firstRow + rows) of the [out, in] matrix.
struct LayerPart {
    std::string name;  // "q", "k", "v", "gate", "up"
    int64_t firstRow = 0;
    int64_t rows = 0;
};

// Per-layer outcome of selection and probe (pruned = candidates - restored).
struct LayerResultEvent {
    std::string layer;
    int64_t numel = 0;
    int64_t candidates = 0;
    int64_t pruned = 0;
    int64_t restored = 0;
    double targetSparsity = 0.0;
    double sparsity = 0.0;  // achieved: zeros of this layer after the run / numel
    std::vector<LayerPart> parts;  // a fused layer's parts; empty for a plain one
    // SparseGPT: the layer's reconstruction error as the reference reports it (Σ (w-q)²/d²/2
    // over its sweep); -1 for methods that do not reconstruct.
    double reconstructionError = -1.0;
};

struct MemorySampleEvent {
    double seconds = 0.0;        // since the sampler started
    int64_t rssBytes = 0;
    int64_t vramAllocatedBytes = -1;  // -1: no CUDA in use
    int64_t vramReservedBytes = -1;
};

// A named number the run produced: "ppl_before", "ppl_after", "sparsity", ...
struct MetricEvent {
    std::string name;
    double value = 0.0;
};

struct LogEvent {
    enum class Level { Info, Warning };
    Level level = Level::Info;
    std::string text;
};

}  // namespace gp
