// Writing a Hugging Face checkpoint folder's weights and companion files into an ExportFolder.
//
// Weights keep the input's tensor names, shapes and dtypes (a model computed in fp32 from a bf16
// file is written in bf16; GPT-2's Conv1D weights keep their [in, out] layout). They go to
// model.safetensors, or, when they exceed maxShardBytes, to model-00001-of-0000N.safetensors ...
// with model.safetensors.index.json ({"metadata": {"total_size": bytes of all tensors},
// "weight_map": {tensor: shard}}), cut as transformers' save_pretrained cuts them: tensors in
// order, a new shard whenever the next tensor would overflow the current one. Every file carries
// the safetensors metadata {"format": "pt"} that transformers checks. The compressed layout
// (compressed_tensors.h) replaces each listed weight by its four sparse-bitmask tensors; the
// four stay in one shard.
// INTERNAL to core: includes ATen.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "core/io/checkpoint.h"
#include "core/io/export_folder.h"
#include "core/io/weight_map.h"
#include "core/runtime/cancel.h"

namespace gp {

constexpr int64_t kDefaultMaxShardBytes = 4'000'000'000;  // "4GB" as transformers counts it

struct HfWeightOptions {
    std::set<std::string> prunable;    // pruned weights: their -0.0 are written as +0.0
    std::set<std::string> compressed;  // weights written in the sparse-bitmask layout
    int64_t maxShardBytes = kDefaultMaxShardBytes;
    // Safetensors metadata aliases to write back (alias -> stored name), each into the file
    // that holds its stored tensor, as the input declared them.
    std::map<std::string, std::string> aliases;
};

struct HfWeightSummary {
    std::vector<std::string> files;  // weight files written (and the index), in order
    int64_t shards = 0;
    int64_t fileBytes = 0;         // the weight files on disk, headers included
    int64_t tensorBytes = 0;       // all tensors as written (the index's total_size)
    int64_t denseTensorBytes = 0;  // the same model written dense
    int64_t layerDenseBytes = 0;   // the compressed weights, dense
    int64_t layerStoredBytes = 0;  // the compressed weights as written (their four tensors)
    int64_t parameters = 0;        // elements of every floating tensor written
    int64_t zeros = 0;             // of those, the zeros
};

// Writes `layout` (names, dtypes, shapes to write) taking each tensor's values from `weights`
// (any device and dtype). An Error (BadInput) names a tensor that is missing or whose shape
// changed. Polls `cancel` between tensors.
HfWeightSummary writeHfWeights(const ExportFolder& folder, const std::vector<StoredTensor>& layout,
                               const WeightMap& weights, const HfWeightOptions& options,
                               const CancelToken* cancel = nullptr);

// Copies the files a Hugging Face folder keeps beside its weights (tokenizer.json and its
// companions, tokenizer.model, vocab.json, merges.txt, generation_config.json, and the demo
// model's calibration.txt / evaluation.txt) from the input's folder, plus `tokenizerPath` (the
// tokenizer in use, e.g. a llama2.c tok512.bin) under its own name. Returns the names copied.
std::vector<std::string> copyCompanionFiles(const Checkpoint& source,
                                            const std::string& tokenizerPath,
                                            const ExportFolder& folder);

// config.json text with "torch_dtype" (and "dtype", which transformers 4.56+ writes instead, when
// present) naming `dtype` ("float32", "float16", "bfloat16"); other keys kept, in order. An Error
// (BadInput) naming `source` for text that is not a JSON object.
std::string withTorchDtype(const std::string& configText, at::ScalarType dtype,
                           const std::string& source);

// Copies one file into the folder under `name` (written atomically).
void copyIntoFolder(const std::string& from, const ExportFolder& folder, const std::string& name);

// Writes text as a file of the folder (atomically).
void writeTextIntoFolder(const std::string& text, const ExportFolder& folder,
                         const std::string& name);

}  // namespace gp
