// LLaMA-family models in GGUF, as llama.cpp's convert_hf_to_gguf.py writes them and llama.cpp
// reads them: the table from Hugging Face tensor names to GGUF names, the config.json a GGUF's
// "<arch>.*" keys stand for, the tokenizer.ggml.* vocabulary, and the rotary permutation of q and
// k ("llama" arch: convert_hf_to_gguf permutes their rows from Hugging Face's rotate-half to
// Meta's interleaved pairs; "qwen2" is stored unpermuted).
//
//   token_embd.weight          model.embed_tokens.weight
//   output_norm.weight         model.norm.weight
//   output.weight              lm_head.weight            (absent: tied to token_embd)
//   blk.N.attn_norm.weight     model.layers.N.input_layernorm.weight
//   blk.N.attn_{q,k,v}.weight  model.layers.N.self_attn.{q,k,v}_proj.weight  (and .bias: qwen2)
//   blk.N.attn_output.weight   model.layers.N.self_attn.o_proj.weight
//   blk.N.ffn_norm.weight      model.layers.N.post_attention_layernorm.weight
//   blk.N.ffn_{gate,up,down}.weight  model.layers.N.mlp.{gate,up,down}_proj.weight
// INTERNAL to core: includes ATen.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/io/checkpoint.h"
#include "core/io/gguf_file.h"
#include "core/io/weight_map.h"

namespace gp {

// The GGUF name of a Hugging Face tensor name, or "" when the table has none.
std::string ggufTensorName(const std::string& hfName);
// The Hugging Face name of a GGUF tensor name, or "" when the table has none.
std::string hfTensorName(const std::string& ggufName);

// A GGUF file as a Checkpoint: config.json synthesised from the "<arch>.*" keys (arch "llama" ->
// model_type llama, "qwen2" -> qwen2), weights under their Hugging Face names (F32/F16/BF16 as
// stored, Q8_0 dequantised to float32, q and k rows permuted back for "llama"), the vocabulary in
// `embeddedVocab`. Errors (BadInput) name the file and the key or tensor: another architecture,
// rope scaling (<arch>.rope.scaling.type other than none, rope_freqs.weight),
// a tensor type other than F32/F16/BF16/Q8_0 (K-quants and the rest, by name), a tensor the
// table does not know, a missing or misshapen tensor.
Checkpoint loadGgufCheckpoint(const std::string& path);

// What a GGUF export writes besides the weights.
struct GgufModelHeader {
    std::string architecture = "llama";  // "llama" or "qwen2"
    std::string name;                    // general.name
    int64_t vocabSize = 0, contextLength = 0, hiddenSize = 0, numLayers = 0,
            intermediateSize = 0, numHeads = 0, numKvHeads = 0, headDim = 0;
    double normEps = 1e-5, ropeTheta = 10000.0;
    EmbeddedVocab vocab;
};

// Writes `weights` (Hugging Face names, any dtype and device) as a GGUF v3 file in `type`:
// "f32", "f16", "bf16" or "q8_0". As convert_hf_to_gguf: 1-D tensors (norms, biases) stay F32;
// with q8_0 every 2-D weight whose rows are whole blocks of 32 is Q8_0 (others F16); a tied
// head writes no output.weight. general.file_type says the type (0, 1, 32, 7). An Error
// (BadArgument) for a weight the table has no GGUF name for.
void writeGgufModel(const std::string& path, const GgufModelHeader& header,
                    const WeightMap& weights, const std::string& type);

}  // namespace gp
