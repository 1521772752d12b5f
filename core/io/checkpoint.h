// A model on disk: a Hugging Face folder (config.json, model.safetensors or shards with
// model.safetensors.index.json, tokenizer.json), a single .safetensors file with a config.json
// beside it, or a llama2.c .bin (converted on load to Hugging Face LLaMA names and layout).
// INTERNAL to core: includes ATen.
#pragma once

#include <string>
#include <vector>

#include "core/io/weight_map.h"

namespace gp {

enum class CheckpointFormat { HuggingFaceFolder, SafetensorsFile, Llama2c };

struct Checkpoint {
    CheckpointFormat format = CheckpointFormat::HuggingFaceFolder;
    std::string path;            // what the user opened (folder or file)
    std::string configPath;      // config.json read ("" for llama2.c)
    std::string configText;      // config JSON text (synthesised for llama2.c)
    WeightMap weights;           // checkpoint names -> tensors, memory-mapped where possible
    std::vector<std::string> weightFiles;  // the files the weights came from
    std::string tokenizerPath;   // tokenizer.json / tokenizer.bin found, "" if none
    // Text the model ships for calibration and evaluation (the demo model does):
    // calibration.txt and evaluation.txt beside config.json; "" if absent.
    std::string calibrationTextPath;
    std::string evaluationTextPath;
};

// Reads the checkpoint; an Error naming the file and the problem for anything missing or invalid.
Checkpoint loadCheckpoint(const std::string& path);

}  // namespace gp
