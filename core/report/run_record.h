// The run record: everything about one prune run that a person needs to judge or repeat it —
// settings, model facts, the per-layer table, the threshold search, metrics before and after,
// times, memory peaks, software versions, and what was exported. Written as report.json (which
// IS the record: `gradprobe report RUN.json --html OUT` rebuilds the HTML from it).
//
// JSON keys are the C++ field names in snake_case ("ppl_after" for pplAfter), as the CLI's other
// JSON output and Hugging Face's config.json spell them; numbers
// that are not finite (a destroyed model's perplexity) are written as the strings "Infinity",
// "-Infinity" and "NaN". A reader ignores keys it does not know and takes defaults for missing
// ones, so older and newer records stay readable; a key of the wrong type is an Error. Plain C++.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "core/prune/prune_result.h"

namespace gp {

constexpr const char* kRunRecordSchema = "gradprobe-run/1";

// What was pruned (the facade's ModelInfo, without the per-layer list the result already has).
struct ModelFacts {
    std::string path;
    std::string format;        // "huggingface" | "safetensors" | "llama2c"
    std::string architecture;  // "llama" | "mistral" | "gpt_neo" | "gpt2" | "mlp"
    std::string dtype;         // compute dtype
    std::string device;
    std::string tokenizerPath;
    int64_t vocabSize = 0;
    int64_t hiddenSize = 0;
    int64_t numLayers = 0;
    int64_t numHeads = 0;
    int64_t numKvHeads = 0;
    int64_t intermediateSize = 0;
    int64_t contextLength = 0;
    int64_t totalParameters = 0;
    int64_t prunableParameters = 0;
};

// What an export wrote (sizes in bytes on disk unless said otherwise).
struct ExportFacts {
    std::string path;
    std::string format;  // "dense" | "compressed" | "llama2c"
    std::vector<std::string> files;
    int64_t shards = 0;
    int64_t weightFileBytes = 0;       // weight files on disk
    int64_t denseWeightBytes = 0;      // tensor bytes of the same weights stored dense
    int64_t layerDenseBytes = 0;       // compressed layers, dense tensor bytes
    int64_t layerCompressedBytes = 0;  // compressed layers as written
    int64_t maskFileBytes = 0;
    int64_t totalBytes = 0;            // every file written
};

// One run of the session, for the perplexity-vs-sparsity plot (ui::renderReportFigures takes
// them as PruneResults with these fields set).
struct RunHistoryPoint {
    int runId = 0;
    std::string method;
    std::string group;
    bool probe = false;
    double sparsity = 0.0;
    double pplBefore = 0.0;
    double pplAfter = 0.0;
};

// A distributed run: the job and each rank's part of it (absent from report.json when alone).
struct RankFacts {
    int rank = 0;
    int64_t calibrationBatchBegin = 0;  // its share [begin, end) of the calibration batches
    int64_t calibrationBatchEnd = 0;
    double seconds = 0.0;      // the rank's prune run, start to end
    int64_t peakRssBytes = 0;
};
struct DistributedFacts {
    int worldSize = 1;
    std::string backend;  // "gloo" | "nccl"
    std::vector<RankFacts> ranks;
};

struct RunRecord {
    std::string schema = kRunRecordSchema;
    std::string createdAt;  // UTC, ISO 8601 ("2025-01-31T12:00:00Z")
    ModelFacts model;
    PruneResult result;     // result.options are the settings
    std::vector<RunHistoryPoint> history;
    bool exported = false;
    ExportFacts exportFacts;
    DistributedFacts distributed;
    std::map<std::string, std::string> versions;  // "gradprobe", "libtorch", "compiler", "qt", ...
};

// The record as indented JSON text.
std::string runRecordJson(const RunRecord& record);
// Parses a record; Errors (BadInput) name `source` and the key path ("result.layers[3].numel").
RunRecord parseRunRecord(const std::string& jsonText, const std::string& source);
// Reads a report.json file (BadInput when missing or malformed).
RunRecord readRunRecord(const std::string& path);

// The current time as createdAt wants it.
std::string currentUtcTimestamp();

}  // namespace gp
