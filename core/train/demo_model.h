// Makes the built-in demo model from nothing: story text from the seeded grammar, a byte-level
// BPE tokenizer trained on it, and a small LLaMA-architecture model trained with AdamW; writes a
// Hugging Face folder (config.json, model.safetensors, tokenizer.json) plus the calibration and
// held-out evaluation text the model ships. Plain C++ (the CLI's `train-demo` calls it).
#pragma once

#include <cstdint>
#include <string>

#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

struct DemoModelOptions {
    std::string outDir;
    uint64_t seed = 2024;                 // text, tokenizer ties, weights and batches
    int64_t trainCharacters = 3'000'000;  // generated training text
    int64_t heldOutCharacters = 40'000;  // calibration text and evaluation text, each
    int64_t vocabSize = 512;
    int64_t hiddenSize = 64;
    int64_t numLayers = 5;
    int64_t numHeads = 8;
    int64_t numKvHeads = 4;  // grouped-query attention, as in LLaMA-2-70B / Mistral
    int64_t intermediateSize = 172;
    int64_t contextLength = 256;
    int64_t steps = 1500;
    int64_t batchSize = 32;
    int64_t seqlen = 128;
    double learningRate = 4e-3;
};

struct DemoModelReport {
    int64_t parameters = 0;
    int64_t trainTokens = 0;
    int64_t evalTokens = 0;      // predicted tokens of the held-out evaluation
    double finalTrainLoss = 0.0;
    double heldOutPpl = 0.0;     // the model on evaluation.txt (windows of seqlen ids)
    double unigramPpl = 0.0;     // token frequencies of the training text on the same tokens
    double seconds = 0.0;
};

DemoModelReport makeDemoModel(const DemoModelOptions& options, RunObserver* observer = nullptr,
                              const CancelToken* cancel = nullptr);

}  // namespace gp
