#include "core/io/checkpoint.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>

#include "core/io/compressed_tensors.h"
#include "core/io/gguf_model.h"
#include "core/io/safetensors.h"
#include "core/io/text_file.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

namespace fs = std::filesystem;

constexpr const char* kConfigFile = "config.json";
constexpr const char* kSingleWeightsFile = "model.safetensors";
constexpr const char* kShardIndexFile = "model.safetensors.index.json";
constexpr const char* kTokenizerFile = "tokenizer.json";
constexpr const char* kWeightsNeeded =
    "model.safetensors (or shards listed in model.safetensors.index.json)";

bool isFile(const fs::path& path) {
    std::error_code error;
    return fs::is_regular_file(path, error);
}

std::string fileIfPresent(const fs::path& path) {
    return isFile(path) ? path.string() : "";
}

std::string lowercaseExtension(const fs::path& path) {
    std::string extension = path.extension().string();
    std::transform(extension.begin(), extension.end(), extension.begin(),
                   [](unsigned char c) { return char(std::tolower(c)); });
    return extension;
}

// "found: a, b, c" for error messages, so the user sees what the folder holds.
std::string describeContents(const fs::path& folder) {
    std::vector<std::string> names;
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(folder, error))
        names.push_back(entry.path().filename().string() + (entry.is_directory() ? "/" : ""));
    if (names.empty()) return "the folder is empty";
    std::sort(names.begin(), names.end());
    constexpr size_t kShown = 12;
    std::string text = "found: ";
    for (size_t i = 0; i < std::min(kShown, names.size()); ++i) text += (i ? ", " : "") + names[i];
    if (names.size() > kShown) text += " and " + std::to_string(names.size() - kShown) + " more";
    return text;
}

bool holdsPyTorchWeightsOnly(const fs::path& folder) {
    return isFile(folder / "pytorch_model.bin") || isFile(folder / "pytorch_model.bin.index.json");
}

bool holdsOtherBinFile(const fs::path& folder) {
    std::error_code error;
    for (const auto& entry : fs::directory_iterator(folder, error))
        if (lowercaseExtension(entry.path()) == ".bin" &&
            entry.path().filename() != "pytorch_model.bin")
            return true;
    return false;
}

std::string findLlama2cTokenizer(const fs::path& folder, int64_t vocabSize);

// config.json's vocab_size, 0 when absent (the model module checks it properly later).
int64_t declaredVocabSize(const std::string& configText) {
    const nlohmann::json config = nlohmann::json::parse(configText, nullptr, false);
    if (!config.is_object() || !config.contains("vocab_size")) return 0;
    return config["vocab_size"].is_number_integer() ? config["vocab_size"].get<int64_t>() : 0;
}

// Files beside the config that every format shares. Without tokenizer.json, a llama2.c tokenizer
// (an exported llama2.c model carries its tok<vocab>.bin) is used.
void findCompanionFiles(const fs::path& folder, Checkpoint* checkpoint) {
    checkpoint->tokenizerPath = fileIfPresent(folder / kTokenizerFile);
    if (checkpoint->tokenizerPath.empty())
        checkpoint->tokenizerPath =
            findLlama2cTokenizer(folder, declaredVocabSize(checkpoint->configText));
    checkpoint->calibrationTextPath = fileIfPresent(folder / "calibration.txt");
    checkpoint->evaluationTextPath = fileIfPresent(folder / "evaluation.txt");
}

void readConfig(const fs::path& configPath, Checkpoint* checkpoint) {
    checkpoint->configPath = configPath.string();
    checkpoint->configText = readTextFile(checkpoint->configPath);  // parsed by the model module
}

// Every metadata value that names a tensor is a candidate alias ("format": "pt" is not one);
// keepDeclaredAliases drops those whose target is missing or whose name is stored itself.
void collectAliases(const SafetensorsFile& file, Checkpoint* checkpoint) {
    for (const auto& [key, value] : file.metadata())
        if (key != "format" && key != value) checkpoint->tensorAliases[key] = value;
}

void keepDeclaredAliases(Checkpoint* checkpoint) {
    for (auto alias = checkpoint->tensorAliases.begin();
         alias != checkpoint->tensorAliases.end();) {
        const bool valid = checkpoint->weights.count(alias->first) == 0 &&
                           checkpoint->weights.count(alias->second) != 0;
        alias = valid ? std::next(alias) : checkpoint->tensorAliases.erase(alias);
    }
}

void addAllTensors(const SafetensorsFile& file, Checkpoint* checkpoint) {
    for (const SafetensorsEntry& entry : file.entries())
        checkpoint->weights[entry.name] = file.tensor(entry.name);
    collectAliases(file, checkpoint);
    checkpoint->weightFiles.push_back(file.path());
}

// model.safetensors.index.json: {"metadata": {...}, "weight_map": {tensor name: shard file}}.
std::map<std::string, std::string> readShardIndex(const fs::path& indexPath) {
    const std::string path = indexPath.string();
    nlohmann::json index;
    try {
        index = nlohmann::json::parse(readTextFile(path));
    } catch (const nlohmann::json::exception& error) {
        throw badInput(path, "", std::string("is not valid JSON: ") + error.what());
    }
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        throw badInput(path, "weight_map", "missing: the index must map tensor names to files");
    std::map<std::string, std::string> weightMap;
    for (const auto& [name, file] : index["weight_map"].items()) {
        if (!file.is_string()) throw badInput(path, name, "the shard file name is not a string");
        const fs::path shard = file.get<std::string>();
        // Shards live in the folder: a name reaching outside it is a malformed (or hostile) index.
        const bool inside = !shard.empty() && shard.is_relative() &&
                            std::none_of(shard.begin(), shard.end(),
                                         [](const fs::path& part) { return part == ".."; });
        if (!inside)
            throw badInput(path, name,
                           "shard \"" + shard.string() + "\" is not a file in the folder");
        weightMap[name] = shard.string();
    }
    if (weightMap.empty()) throw badInput(path, "weight_map", "lists no tensors");
    return weightMap;
}

void addShardedTensors(const fs::path& folder, Checkpoint* checkpoint) {
    const fs::path indexPath = folder / kShardIndexFile;
    const std::map<std::string, std::string> weightMap = readShardIndex(indexPath);

    std::set<std::string> shardNames;
    for (const auto& [name, shard] : weightMap) shardNames.insert(shard);
    std::vector<std::string> missing;
    for (const std::string& shard : shardNames)
        if (!isFile(folder / shard)) missing.push_back(shard);
    if (!missing.empty()) {
        std::string list;
        for (const std::string& shard : missing) list += (list.empty() ? "" : ", ") + shard;
        throw badInput(indexPath.string(), "",
                       "lists shard files that are not in the folder: " + list);
    }

    std::map<std::string, std::shared_ptr<SafetensorsFile>> shards;
    for (const std::string& shard : shardNames) {
        shards[shard] = SafetensorsFile::open((folder / shard).string());
        collectAliases(*shards[shard], checkpoint);
        checkpoint->weightFiles.push_back(shards[shard]->path());
    }
    for (const auto& [name, shard] : weightMap) {
        const SafetensorsFile& file = *shards.at(shard);
        if (!file.find(name))
            throw badInput(file.path(), name,
                           "listed in " + std::string(kShardIndexFile) +
                               " for this shard, but the shard does not hold it");
        checkpoint->weights[name] = file.tensor(name);
    }
}

Checkpoint loadFolder(const fs::path& folder) {
    const std::string folderText = folder.string();
    const bool hasConfig = isFile(folder / kConfigFile);
    const bool hasSingle = isFile(folder / kSingleWeightsFile);
    const bool hasShards = isFile(folder / kShardIndexFile);
    if (!hasConfig || (!hasSingle && !hasShards)) {
        std::string problem;
        if (!hasConfig && !hasSingle && !hasShards)
            problem = "has neither config.json nor weights";
        else if (!hasConfig)
            problem = "has no config.json";
        else
            problem = "has no weights";
        problem += "; a Hugging Face checkpoint folder needs config.json and " +
                   std::string(kWeightsNeeded) + " (" + describeContents(folder) + ")";
        if (!hasConfig && !hasSingle && !hasShards && holdsOtherBinFile(folder))
            problem += ". To open a llama2.c checkpoint, open its .bin file itself";
        if (!hasSingle && !hasShards && holdsPyTorchWeightsOnly(folder))
            problem +=
                ". pytorch_model.bin is a PyTorch pickle, which GradProbe does not read "
                "(unpickling can run code): save the model with safetensors, e.g. "
                "transformers' save_pretrained(..., safe_serialization=True)";
        throw badInput(folderText, "", problem);
    }

    Checkpoint checkpoint;
    checkpoint.format = CheckpointFormat::HuggingFaceFolder;
    checkpoint.path = folderText;
    readConfig(folder / kConfigFile, &checkpoint);
    if (hasSingle)
        addAllTensors(*SafetensorsFile::open((folder / kSingleWeightsFile).string()), &checkpoint);
    else
        addShardedTensors(folder, &checkpoint);
    keepDeclaredAliases(&checkpoint);
    findCompanionFiles(folder, &checkpoint);
    return checkpoint;
}

Checkpoint loadSafetensorsFile(const fs::path& file) {
    const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
    if (!isFile(folder / kConfigFile))
        throw badInput(file.string(), "",
                       "a .safetensors file needs a config.json beside it (the architecture and "
                       "sizes of the model); " +
                           folder.string() + " has none");
    Checkpoint checkpoint;
    checkpoint.format = CheckpointFormat::SafetensorsFile;
    checkpoint.path = file.string();
    readConfig(folder / kConfigFile, &checkpoint);
    addAllTensors(*SafetensorsFile::open(file.string()), &checkpoint);
    keepDeclaredAliases(&checkpoint);
    findCompanionFiles(folder, &checkpoint);
    return checkpoint;
}

// torch.save writes a zip archive (PK\3\4) or, before PyTorch 1.6, a bare pickle (0x80 + protocol).
bool looksLikePyTorchFile(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    unsigned char start[4] = {};
    in.read(reinterpret_cast<char*>(start), sizeof start);
    if (in.gcount() < 2) return false;
    const bool zip =
        in.gcount() == 4 && start[0] == 'P' && start[1] == 'K' && start[2] == 3 && start[3] == 4;
    const bool pickle = start[0] == 0x80 && start[1] >= 2 && start[1] <= 5;
    return zip || pickle;
}

// tok<vocab>.bin names the vocabulary the model was trained with (stories260K ships tok512.bin);
// tokenizer.bin is llama2.c's default (the 32000-piece LLaMA 2 vocabulary).
std::string findLlama2cTokenizer(const fs::path& folder, int64_t vocabSize) {
    for (const std::string& name :
         {"tok" + std::to_string(vocabSize) + ".bin", std::string("tokenizer.bin")})
        if (isFile(folder / name)) return (folder / name).string();
    return "";
}

Checkpoint loadLlama2cFile(const fs::path& file) {
    if (looksLikePyTorchFile(file))
        throw badInput(file.string(), "",
                       "is a PyTorch pickle checkpoint, which GradProbe does not read (unpickling "
                       "can run code); a .bin must be a llama2.c checkpoint. Save the model with "
                       "safetensors instead");
    Llama2cFile model = readLlama2c(file.string());
    Checkpoint checkpoint;
    checkpoint.format = CheckpointFormat::Llama2c;
    checkpoint.path = file.string();
    checkpoint.configText = llama2cConfigJson(model.config);
    checkpoint.weights = std::move(model.weights);
    checkpoint.weightFiles = {file.string()};
    const fs::path folder = file.has_parent_path() ? file.parent_path() : fs::path(".");
    checkpoint.tokenizerPath = findLlama2cTokenizer(folder, model.config.vocabSize);
    checkpoint.llama2cConfig = model.config;
    checkpoint.llama2cFreqCisReal = model.freqCisReal;
    checkpoint.llama2cFreqCisImag = model.freqCisImag;
    return checkpoint;
}

Checkpoint readCheckpoint(const std::string& path);

}  // namespace

// Decompresses a sparse-bitmask folder and records the stored layout (see checkpoint.h).
Checkpoint loadCheckpoint(const std::string& path) {
    Checkpoint checkpoint = readCheckpoint(path);
    if (!checkpoint.configPath.empty())
        decompressSparseBitmask(checkpoint.weights, checkpoint.configText, checkpoint.configPath);
    for (const auto& [name, tensor] : checkpoint.weights)
        checkpoint.storedTensors.push_back({name, tensor.scalar_type(), tensor.sizes().vec()});
    return checkpoint;
}

namespace {

Checkpoint readCheckpoint(const std::string& path) {
    const fs::path location(path);
    std::error_code error;
    const fs::file_status status = fs::status(location, error);
    if (!fs::exists(status)) throw badInput(path, "", "not found");
    if (fs::is_directory(status)) return loadFolder(location);
    const std::string name = location.filename().string();
    if (name == kConfigFile || name == kShardIndexFile)
        return loadFolder(location.has_parent_path() ? location.parent_path() : fs::path("."));
    const std::string extension = lowercaseExtension(location);
    if (extension == ".safetensors") return loadSafetensorsFile(location);
    if (extension == ".bin") return loadLlama2cFile(location);
    if (extension == ".gguf") return loadGgufCheckpoint(path);
    throw badInput(path, "",
                   "is not a model file GradProbe reads: open a Hugging Face folder (config.json "
                   "and " +
                       std::string(kWeightsNeeded) +
                       "), a .safetensors file with config.json "
                       "beside it, a llama2.c .bin or a GGUF file (.gguf)");
}

}  // namespace
}  // namespace gp
