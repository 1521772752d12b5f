// llama2.c legacy (v0) checkpoints: a 7 x int32 header (dim, hidden_dim, n_layers, n_heads,
// n_kv_heads, vocab_size — negative when the classifier is not shared with the embedding —,
// seq_len), then float32 tensors in llama2.c's order. Read into Hugging Face LLaMA names and
// layout (q and k rows permuted from llama2.c's interleaved rotary pairs to HF's rotate-half
// halves, as transformers' convert_llama_weights_to_hf does), and written back from them.
// INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <utility>

#include "core/io/weight_map.h"

namespace gp {

struct Llama2cConfig {
    int64_t dim = 0;        // hidden_size
    int64_t hiddenDim = 0;  // intermediate_size
    int64_t nLayers = 0;
    int64_t nHeads = 0;
    int64_t nKvHeads = 0;
    int64_t vocabSize = 0;         // always positive here; the sign in the file is sharedClassifier
    int64_t seqLen = 0;            // max_position_embeddings
    bool sharedClassifier = true;  // tie_word_embeddings: no lm_head.weight

    int64_t headSize() const { return nHeads > 0 ? dim / nHeads : 0; }
};

// What a .bin holds: the header, the weights under HF names, and the two rotary tables
// (freq_cis_real / freq_cis_imag, [seqLen, headSize / 2] each). Models compute their own rotary
// angles; the tables are kept only so that exporting an unchanged model is byte-identical.
struct Llama2cFile {
    Llama2cConfig config;
    WeightMap weights;
    at::Tensor freqCisReal;
    at::Tensor freqCisImag;
};

// Reads and validates a legacy .bin (header values positive, n_heads divides dim, n_kv_heads
// divides n_heads, even head size, file size == the size the header implies). Tensors that need
// no permutation share the file's private memory map. Errors (BadInput) name the file.
Llama2cFile readLlama2c(const std::string& path);

// Checks a config as the reader does; fileForErrors names the source in messages.
void validateLlama2cConfig(const Llama2cConfig& config, const std::string& fileForErrors);

// The Hugging Face config.json text of a llama2.c model (model_type "llama", rms_norm_eps 1e-5,
// rope_theta 10000, bos 1, eos 2, float32).
std::string llama2cConfigJson(const Llama2cConfig& config);

// Writes a legacy .bin atomically from HF-named weights (any float dtype, any device; converted
// to float32). Undefined rotary tables are computed as llama2.c's model.py does. An Error naming
// the path and the tensor for a missing tensor or a wrong shape; with sharedClassifier, an
// lm_head.weight different from the embedding is an error (the format cannot hold it).
void writeLlama2c(const std::string& path, const Llama2cConfig& config, const WeightMap& weights,
                  const at::Tensor& freqCisReal = {}, const at::Tensor& freqCisImag = {});

// llama2.c's precompute_freqs_cis for its header: cos and sin of position x inverse frequency,
// [seqLen, headSize / 2] float32 each.
std::pair<at::Tensor, at::Tensor> llama2cRotaryTables(const Llama2cConfig& config);

// Row permutations of a q or k projection weight [heads * headSize, in]: llama2.c / Meta
// interleaved pairs (row 2i, 2i+1 of a head rotate together) -> HF rotate-half (rows i and
// i + headSize/2), and back.
at::Tensor interleavedToRotateHalf(const at::Tensor& weight, int64_t heads);
at::Tensor rotateHalfToInterleaved(const at::Tensor& weight, int64_t heads);

}  // namespace gp
