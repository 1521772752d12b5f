#include "core/io/hf_export.h"

#include <nlohmann/json.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "core/io/atomic_file.h"
#include "core/io/compressed_tensors.h"
#include "core/io/safetensors.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

namespace fs = std::filesystem;

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";

// One unit a shard holds: a tensor, or the four tensors of one compressed weight.
struct ShardItem {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    int64_t bytes = 0;
};

int64_t tensorBytes(const at::Tensor& tensor) {
    return int64_t(tensor.numel()) * int64_t(tensor.element_size());
}

std::string shardName(int64_t index, int64_t count) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05lld-of-%05lld.safetensors", (long long)index,
                  (long long)count);
    return name;
}

const at::Tensor& liveTensor(const WeightMap& weights, const StoredTensor& stored,
                             const std::string& target) {
    const auto found = weights.find(stored.name);
    if (found == weights.end())
        throw badInput(target, stored.name, "is in the input checkpoint but not in the model");
    if (found->second.sizes().vec() != stored.shape)
        throw badInput(target, stored.name, "its shape changed since the model was loaded");
    return found->second;
}

// The tensor as the file stores it: its input dtype (no copy when the model computes in it); a
// pruned weight's -0.0 become +0.0 (a copy only then), so pruned weights are exactly zero
// whatever the pruning multiplied them by.
at::Tensor storedForm(const at::Tensor& live, const StoredTensor& stored, bool pruned) {
    at::Tensor tensor = live.detach().to(stored.dtype);
    if (pruned && at::isFloatingType(tensor.scalar_type())) {
        const at::Tensor negativeZero = tensor.eq(0).logical_and_(at::signbit(tensor));
        if (negativeZero.any().item<bool>()) tensor = tensor.masked_fill(negativeZero, 0);
    }
    return tensor.contiguous();
}

ShardItem makeItem(const StoredTensor& stored, const at::Tensor& live,
                   const HfWeightOptions& options, HfWeightSummary& summary) {
    const bool pruned = options.prunable.count(stored.name) > 0;
    const at::Tensor tensor = storedForm(live, stored, pruned);
    const int64_t denseBytes = tensorBytes(tensor);
    summary.denseTensorBytes += denseBytes;
    if (at::isFloatingType(tensor.scalar_type())) {
        summary.parameters += tensor.numel();
        summary.zeros += tensor.eq(0).sum().item<int64_t>();
    }
    ShardItem item;
    if (options.compressed.count(stored.name)) {
        const SparseBitmaskTensors parts = compressSparseBitmask(tensor);
        const std::string prefix = sparseBitmaskPrefix(stored.name);
        // compressed-tensors' BitmaskTensor.dict order: shape, compressed, bitmask, row_offsets.
        item.tensors = {{prefix + ".shape", parts.shape},
                        {prefix + ".compressed", parts.compressed},
                        {prefix + ".bitmask", parts.bitmask},
                        {prefix + ".row_offsets", parts.rowOffsets}};
        for (const auto& [name, part] : item.tensors) item.bytes += tensorBytes(part);
        summary.layerDenseBytes += denseBytes;
        summary.layerStoredBytes += item.bytes;
    } else {
        item.tensors = {{stored.name, tensor}};
        item.bytes = denseBytes;
    }
    summary.tensorBytes += item.bytes;
    return item;
}

int64_t fileSize(const std::string& path) {
    std::error_code error;
    const auto size = fs::file_size(path, error);
    return error ? 0 : int64_t(size);
}

void writeShard(const ExportFolder& folder, const std::string& name,
                const std::vector<ShardItem>& items, const HfWeightOptions& options,
                HfWeightSummary& summary) {
    std::vector<std::pair<std::string, at::Tensor>> tensors;
    for (const ShardItem& item : items)
        tensors.insert(tensors.end(), item.tensors.begin(), item.tensors.end());
    std::map<std::string, std::string> metadata = {{"format", "pt"}};
    for (const auto& [alias, target] : options.aliases)
        for (const auto& [tensorName, tensor] : tensors)
            if (tensorName == target) metadata[alias] = target;
    const std::string path = folder.stagedPath(name);
    writeSafetensors(path, tensors, metadata);
    summary.files.push_back(name);
    summary.fileBytes += fileSize(path);
}

std::string readWholeFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw badInput(path, "", "cannot be read");
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in.good() && !in.eof()) throw badInput(path, "", "cannot be read");
    return bytes.str();
}

}  // namespace

HfWeightSummary writeHfWeights(const ExportFolder& folder, const std::vector<StoredTensor>& layout,
                               const WeightMap& weights, const HfWeightOptions& options,
                               const CancelToken* cancel) {
    if (layout.empty()) throw badInput(folder.target(), "", "the model has no tensors to write");
    HfWeightSummary summary;
    // Shards are filled in order and written as soon as the next item would overflow them, so
    // at most one shard of converted tensors is held at a time. Their final names need the shard
    // count, so they are written under provisional names and renamed at the end.
    std::vector<ShardItem> current;
    int64_t currentBytes = 0;
    std::vector<std::pair<std::string, std::vector<std::string>>> shards;  // provisional -> names
    const auto flush = [&] {
        if (current.empty()) return;
        const std::string provisional =
            std::string(kSingleFile) + ".part-" + std::to_string(shards.size() + 1);
        std::vector<std::string> names;
        for (const ShardItem& item : current)
            for (const auto& [name, tensor] : item.tensors) names.push_back(name);
        writeShard(folder, provisional, current, options, summary);
        shards.emplace_back(provisional, std::move(names));
        current.clear();
        currentBytes = 0;
    };
    for (const StoredTensor& stored : layout) {
        throwIfCancelled(cancel);
        ShardItem item = makeItem(stored, liveTensor(weights, stored, folder.target()), options,
                                  summary);
        if (!current.empty() && currentBytes + item.bytes > options.maxShardBytes) flush();
        currentBytes += item.bytes;
        current.push_back(std::move(item));
    }
    flush();

    summary.files.clear();
    summary.shards = int64_t(shards.size());
    if (shards.size() == 1) {
        fs::rename(folder.stagedPath(shards[0].first), folder.stagedPath(kSingleFile));
        summary.files.push_back(kSingleFile);
        return summary;
    }
    nlohmann::ordered_json index;
    index["metadata"] = {{"total_size", summary.tensorBytes}};
    nlohmann::ordered_json weightMap = nlohmann::ordered_json::object();
    for (size_t i = 0; i < shards.size(); ++i) {
        const std::string name = shardName(int64_t(i + 1), int64_t(shards.size()));
        fs::rename(folder.stagedPath(shards[i].first), folder.stagedPath(name));
        for (const std::string& tensor : shards[i].second) weightMap[tensor] = name;
        summary.files.push_back(name);
    }
    index["weight_map"] = weightMap;
    writeTextIntoFolder(index.dump(2) + "\n", folder, kIndexFile);
    summary.files.push_back(kIndexFile);
    summary.fileBytes += fileSize(folder.stagedPath(kIndexFile));
    return summary;
}

std::string withTorchDtype(const std::string& configText, at::ScalarType dtype,
                           const std::string& source) {
    const nlohmann::ordered_json parsed = nlohmann::ordered_json::parse(configText, nullptr, false);
    if (!parsed.is_object()) throw badInput(source, "", "is not a JSON object");
    nlohmann::ordered_json config = parsed;
    const char* name = dtype == at::kHalf       ? "float16"
                       : dtype == at::kBFloat16 ? "bfloat16"
                                                : "float32";
    config["torch_dtype"] = name;
    if (config.contains("dtype")) config["dtype"] = name;
    return config.dump(2) + "\n";
}

void copyIntoFolder(const std::string& from, const ExportFolder& folder, const std::string& name) {
    writeTextIntoFolder(readWholeFile(from), folder, name);
}

void writeTextIntoFolder(const std::string& text, const ExportFolder& folder,
                         const std::string& name) {
    AtomicFile file(folder.stagedPath(name));
    file.write(text.data(), text.size());
    file.commit();
}

std::vector<std::string> copyCompanionFiles(const Checkpoint& source,
                                            const std::string& tokenizerPath,
                                            const ExportFolder& folder) {
    static const char* const kCompanions[] = {
        "tokenizer.json",          "tokenizer_config.json", "special_tokens_map.json",
        "tokenizer.model",         "vocab.json",            "merges.txt",
        "added_tokens.json",       "generation_config.json", "calibration.txt",
        "evaluation.txt"};
    std::vector<std::string> copied;
    const auto copy = [&](const fs::path& from, const std::string& name) {
        for (const std::string& done : copied)
            if (done == name) return;
        copyIntoFolder(from.string(), folder, name);
        copied.push_back(name);
    };
    // The tokenizer in use first: a --tokenizer override wins over the folder's own.
    if (!tokenizerPath.empty()) {
        const fs::path tokenizer(tokenizerPath);
        const bool json = tokenizer.extension() == ".json";
        copy(tokenizer, json ? std::string("tokenizer.json") : tokenizer.filename().string());
    }
    if (source.format != CheckpointFormat::Llama2c && !source.configPath.empty()) {
        const fs::path inputFolder = fs::path(source.configPath).parent_path();
        std::error_code error;
        for (const char* name : kCompanions)
            if (fs::is_regular_file(inputFolder / name, error)) copy(inputFolder / name, name);
    }
    return copied;
}

}  // namespace gp
