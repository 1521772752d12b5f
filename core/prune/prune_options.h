// What a prune run is asked to do, as documented structs with defaults. Field names follow the
// CLI flags and the JSON keys (one word for one idea). Plain C++: the facade, the CLI and the GUI
// use these directly.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace gp {

// The GradProbe gradient probe on top of a score (GRADPROBE.md). A candidate is pruned where
// G1 <= G0 * (1 + tau) and restored otherwise; tau comes from, in order of precedence:
// thresholdByLayer[name], thresholdList[position in processing order], the adaptive rule
// (threshold * sqrt(layer numel / 38,597,376)), or threshold.
struct ProbeOptions {
    bool enabled = false;
    double threshold = 0.0;                          // tau
    std::vector<double> thresholdList;               // layer-wise: one per layer, processing order
    std::map<std::string, double> thresholdByLayer;  // layer name -> tau
    bool adaptive = false;                           // tau_layer = threshold * sqrt(numel / 38,597,376)
    double reduction = 0.1;                          // candidates are scaled by this while probing
    int64_t batches = 8;                             // B: calibration batches per gradient recording
    bool fp16Gradients = false;                      // keep G0/G1 in fp16 (memory), compare in fp32
    std::vector<double> sweep;                       // also report these taus (model restored after)
    bool tuneOnFail = true;                          // iterative: retune tau when a round fails
    bool tuneBothSteps = false;                      // experimental_tune_both_steps
};

struct PruneOptions {
    std::string method = "magnitude";   // "magnitude" | "wanda" | "sparsegpt"
    std::string wandaNorm = "paper";    // "paper": L2 over all calibration tokens;
                                        // "library": max over batches of the per-batch L2
    double sparsity = 0.5;              // target fraction of prunable weights, in [0, 1)
    std::string group = "global";       // "global" | "layer" | "row" | "nm"
    int64_t nmN = 2;                    // N:M: keep N of every M consecutive inputs
    int64_t nmM = 4;
    std::string select = "exact";       // "exact" | "statistical" | "sort"
    std::string schedule = "oneshot";   // "oneshot" | "layerwise" | "iterative"
    std::string layerOrder = "reverse"; // layer-wise: "reverse" | "forward" | "size"
    std::string candidates = "recompute";  // layer-wise: "recompute" | "cached"
    // iterative: sparsity starts at initialSparsity and grows by sparsityStep while the
    // perplexity stays within maxPplIncrease of the unpruned model (absolute points).
    double initialSparsity = 0.1;
    double sparsityStep = 0.1;
    double maxPplIncrease = 3.0;
    std::string iterativeInner = "oneshot";  // each round: "oneshot" | "layerwise"
    ProbeOptions probe;
    // SparseGPT (core/prune/sparsegpt.h): always the sequential scheme, block by block on the
    // outputs of the pruned blocks before; groups "layer" (unstructured) or "nm".
    // Per-layer targets (core/prune/layer_targets.h). layerSparsity "": every layer at
    // `sparsity` (or the group's own rule); "owl": OWL's outlier-weighted allocation around
    // `sparsity`. layerTargets: a layer's own target by name, over either (the rest keep theirs).
    std::string layerSparsity;
    std::map<std::string, double> layerTargets;
    double owlLambda = 0.08;  // OWL: targets within [sparsity - lambda, sparsity + lambda]
    double owlM = 5.0;        // OWL: an outlier is a WANDA score above M x its block's mean
    double percdamp = 0.01;  // dampening: this × mean(diag H)
    int64_t blocksize = 128; // columns per OBS block

    std::string calibPath;       // "" = the model's own calibration text
    int64_t calibSkipBytes = 0;  // calibration starts past this many bytes of calibPath (text
                                 // held out for evaluation at its start; a cut inside a UTF-8
                                 // character moves on to the next character)
    std::string evalPath;        // "" = the model's own evaluation text
    int64_t nsamples = 128;      // calibration windows
    int64_t seqlen = 0;          // tokens per window; 0 = min(512, context)
    int64_t batchSize = 8;       // windows per forward/backward pass
    int64_t evalMaxWindows = 0;  // 0 = all windows of the evaluation text
    uint64_t seed = 0;
    bool evaluate = true;        // measure perplexity before and after
    // Block-wise (core/prune/blockwise.h): one transformer block at a time on the compute device
    // with the calibration activations, the weights staying where they were loaded (memory-
    // mapped for a model opened block-wise).
    bool blockwise = false;
    // What a block's inputs are: "original": the outputs of the blocks before it as loaded, which
    // gives exactly the whole-model run; "pruned": the outputs of the already-pruned blocks before
    // it (the sequential scheme of the Wanda and SparseGPT code), which needs a per-block
    // selection (group layer, row or nm) and no probe.
    std::string blockInputs = "original";
};

// PruneOptions::layerTargets from "name=s,name=s" or a JSON file {"name": s, ...}; an Error
// names the option (BadArgument) or the file (BadInput) and the problem. (layer_targets.cpp)
std::map<std::string, double> parseLayerTargets(const std::string& text, const std::string& option);

}  // namespace gp
