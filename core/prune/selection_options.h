// What a selection is asked for and what it settles on, in plain C++ (no LibTorch): the facade,
// the benchmark and the GUI see these. The functions that run a selection are in selection.h.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace gp {

class DistGroup;

// How the k lowest scores are found (one word each across CLI, JSON and GUI).
enum class SelectionMethod {
    Exact,        // "exact": radix selection on the scores' bit patterns, exact k
    Statistical,  // "statistical": upstream's mean/std guess + bisection on counts, approximate
    Sort,         // "sort": concatenate + kthvalue, the reference
};

// Which scores compete with each other for the k lowest.
enum class SelectionGroup {
    Global,  // "global": all prunable layers together, one threshold
    Layer,   // "layer": each layer its own k = floor(sparsity * numel)
    Row,     // "row": each output row its own k = floor(sparsity * in) (the Wanda paper's group)
    NM,      // "nm": in every M consecutive input weights of a row, all but the N largest
             // (of equal scores the one with the lower index is selected first)
};

const char* selectionMethodName(SelectionMethod method);
const char* selectionGroupName(SelectionGroup group);
// Parse the names above; an Error (BadArgument) naming `option` and the accepted words otherwise.
SelectionMethod parseSelectionMethod(const std::string& text, const std::string& option);
SelectionGroup parseSelectionGroup(const std::string& text, const std::string& option);

struct SelectionOptions {
    SelectionMethod method = SelectionMethod::Exact;
    SelectionGroup group = SelectionGroup::Global;
    double sparsity = 0.5;     // fraction of every group selected, in [0, 1); unused by nm
    int64_t nmKeep = 2;        // nm: N, weights kept in each group (1 <= N <= M)
    int64_t nmGroup = 4;       // nm: M, consecutive input weights per group; in % M == 0
    int maxSteps = 20;         // statistical: bisection steps at most (upstream default)
    double tolerance = 0.001;  // statistical: stop when |count/total - sparsity| < tolerance
    // Report per-layer and global HistogramEvent (and per-layer NormalFitEvent) after selecting:
    // one more pass over the scores, outside the selection's timing.
    bool histograms = false;
    // exact: count with the device kernels (device_select.h) even for scores on the CPU. Scores
    // on a GPU always use them; this lets the CPU check them against the CPU kernels.
    bool deviceKernels = false;
    // exact, global group on the CPU, in a distributed run: each rank counts only the layers it
    // owns (a contiguous share); the 65,536 bins of each pass are summed across the ranks and the
    // per-layer tie counts gathered, so every rank settles on one process's threshold, k and tie
    // order. Null: one process.
    DistGroup* dist = nullptr;
};

// A cut through one group's ordered scores: every score below the threshold is selected, and of
// the scores equal to it the first `ties` in row-major order (so that exactly k are selected;
// ties are broken by layer order, then by index).
struct ScoreCut {
    static constexpr int64_t kAllTies = std::numeric_limits<int64_t>::max();
    uint32_t key = 0;  // the threshold's fp32 bit pattern (see score_keys.h); 0 + no ties = none
    int64_t ties = 0;
};

// One layer's part of a selection: `cut` for the global and layer groups, one cut per output
// row for the row group; nothing for nm (its masks follow from the scores alone).
struct LayerSelection {
    ScoreCut cut;
    std::vector<ScoreCut> rows;
};

// The outcome: no masks, only what materialises any layer's mask on demand (layerMask()).
struct Selection {
    SelectionMethod method = SelectionMethod::Exact;
    SelectionGroup group = SelectionGroup::Global;
    double sparsity = 0.0;
    int64_t nmKeep = 0;
    int64_t nmGroup = 0;
    std::vector<LayerSelection> layers;
    double threshold = 0.0;  // global group: the threshold score; else 0
    int64_t target = 0;      // k, summed over the groups
    int64_t selected = 0;    // what the cuts select (== target for exact and sort)
    int64_t total = 0;       // all scores
    int passes = 0;          // passes over the scores the method made
    int steps = 0;           // statistical: bisection steps taken
    double seconds = 0.0;    // wall time of the selection (masks and histograms excluded)
    int64_t extraBytes = 0;  // peak bytes the method allocated beyond the scores, by its own count
};

}  // namespace gp
