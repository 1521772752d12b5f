// A model on disk: a Hugging Face folder (config.json, model.safetensors or shards with
// model.safetensors.index.json, tokenizer.json), a single .safetensors file with a config.json
// beside it, or a llama2.c .bin (converted on load to Hugging Face LLaMA names and layout).
// INTERNAL to core: includes ATen.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/io/llama2c_checkpoint.h"
#include "core/io/weight_map.h"

namespace gp {

enum class CheckpointFormat { HuggingFaceFolder, SafetensorsFile, Llama2c, Gguf };

// A vocabulary stored inside the model file (GGUF's tokenizer.ggml.* keys): the engine turns it
// into a tokenizer (sentencepiece_json.h for model "llama").
struct EmbeddedVocab {
    std::string model;                 // tokenizer.ggml.model: "llama" (SentencePiece), "gpt2", ...
    std::string pre = "default";       // tokenizer.ggml.pre: the pre-tokenizer ("gpt-2", "qwen2")
    std::vector<std::string> tokens;   // by id
    std::vector<float> scores;         // by id (may be empty)
    std::vector<int32_t> types;        // by id: 1 normal, 2 unknown, 3 control, 4 user, 6 byte
    std::vector<std::string> merges;   // "left right" (model "gpt2")
    int64_t bosId = -1, eosId = -1, unkId = -1, padId = -1;
    bool addBos = true, addEos = false;
};

// A tensor as the checkpoint stores it (after a sparse-bitmask weight is decompressed): exports
// write the same names, shapes and dtypes.
struct StoredTensor {
    std::string name;
    at::ScalarType dtype = at::kFloat;
    std::vector<int64_t> shape;
};

struct Checkpoint {
    CheckpointFormat format = CheckpointFormat::HuggingFaceFolder;
    std::string path;        // what the user opened (folder or file)
    std::string configPath;  // config.json read ("" for llama2.c)
    std::string configText;  // config JSON text (synthesised for llama2.c)
    WeightMap weights;       // checkpoint names -> tensors, memory-mapped where possible
    std::vector<std::string> weightFiles;  // the files the weights came from
    // Names the safetensors metadata declares as another stored tensor (transformers writes
    // {"model.embed_tokens.weight": "lm_head.weight"} for a tied embedding it stores once):
    // alias -> stored name. Only aliases that are not themselves stored and whose target is.
    std::map<std::string, std::string> tensorAliases;
    std::vector<StoredTensor> storedTensors;  // every tensor of `weights` as loaded, by name; kept
                                              // when `weights` is moved into a model
    std::string tokenizerPath;             // tokenizer.json / tokenizer.bin found, "" if none
    // Text the model ships for calibration and evaluation (the demo model does):
    // calibration.txt and evaluation.txt beside config.json; "" if absent.
    std::string calibrationTextPath;
    std::string evaluationTextPath;
    // llama2.c only: the header as read and the two rotary tables the file stores (unused by
    // the model); with `weights`, what writeLlama2c needs to write the file back byte for byte.
    std::optional<Llama2cConfig> llama2cConfig;
    at::Tensor llama2cFreqCisReal;
    at::Tensor llama2cFreqCisImag;
    // GGUF only: the vocabulary its metadata holds (tokenizer.ggml.*), when it has one.
    std::optional<EmbeddedVocab> embeddedVocab;
};

// Reads the checkpoint; an Error naming the file and the problem for anything missing or invalid
// (a folder's error lists what the folder holds and what is needed). Opening is O(headers):
// safetensors weights are memory-mapped and read when used; a llama2.c file's q and k
// projections are permuted into copies, the rest is mapped. config.json may also be given
// instead of its folder. A folder whose config.json declares compressed-tensors' sparse-bitmask
// layout is decompressed here (compressed_tensors.h), so `weights` always holds dense tensors. A
// folder without tokenizer.json but with a llama2.c tokenizer (tok<vocab>.bin, tokenizer.bin:
// what exporting a llama2.c model writes) uses that. A .gguf file is read by gguf_model.h.
Checkpoint loadCheckpoint(const std::string& path);

}  // namespace gp
