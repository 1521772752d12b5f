// compressed-tensors' "sparse-bitmask" layout (vllm-project/compressed-tensors, formerly
// neuralmagic/compressed-tensors: compressors/sparse_bitmask, BitmaskTensor and
// BaseSparseCompressor), written and read exactly as that library does:
//
//   a compressed weight "<module>.weight" [rows, columns] is replaced by four tensors
//     "<module>.shape"        I64 [2]                  the dense shape (torch.tensor(shape))
//     "<module>.compressed"   dtype of the weight [nnz] the non-zero values, row-major
//     "<module>.bitmask"      U8 [rows, ceil(columns/8)] weight != 0, numpy.packbits(axis=-1,
//                                                        bitorder="little"): see bit_pack.h
//     "<module>.row_offsets"  I64 [rows]               index in `compressed` where each row starts
//   and config.json gains
//     "quantization_config": {"quant_method": "compressed-tensors",
//        "sparsity_config": {"format": "sparse-bitmask", "global_sparsity": <zeros / parameters>,
//                            "sparsity_structure": "unstructured", "targets": [<module class>],
//                            "ignore": [<module names of that class left dense>]}}
//   (older files name the block "compression_config"; both are read). Only weights whose name ends
//   in ".weight" are ever compressed; everything else stays as it was.
// INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/io/weight_map.h"

namespace gp {

constexpr const char* kSparseBitmaskFormat = "sparse-bitmask";

struct SparseBitmaskTensors {
    at::Tensor shape;       // int64 [ndim]
    at::Tensor compressed;  // [nnz], the weight's dtype
    at::Tensor bitmask;     // uint8 [rows, ceil(columns / 8)]
    at::Tensor rowOffsets;  // int64 [rows]
};

// "<module>" for "<module>.weight" (the prefix compressed-tensors names the four tensors by).
std::string sparseBitmaskPrefix(const std::string& weightName);

// Compresses a 2-D weight (any device; the result is on the CPU). Zeros of either sign are zeros.
SparseBitmaskTensors compressSparseBitmask(const at::Tensor& weight);

// The dense weight back; `source` and `prefix` name the file and tensor in errors (BadInput) for
// a shape, bitmask or value count that do not agree.
at::Tensor decompressSparseBitmask(const SparseBitmaskTensors& tensors, const std::string& source,
                                   const std::string& prefix);

// What the sparsity_config block of config.json says.
struct SparsityConfig {
    std::string format = kSparseBitmaskFormat;
    double globalSparsity = 0.0;
    std::string sparsityStructure = "unstructured";
    std::vector<std::string> targets;  // module class names (e.g. "Linear") or module names
    std::vector<std::string> ignore;   // module names left dense
};

// config.json text with the compressed-tensors block set to `sparsity` (other keys kept, in order).
std::string withSparsityConfig(const std::string& configText, const SparsityConfig& sparsity,
                               const std::string& source);
// config.json text without a compressed-tensors block (for a dense copy of a compressed model);
// the text unchanged when it has none.
std::string withoutCompressionConfig(const std::string& configText, const std::string& source);
// The sparsity format config.json declares ("" when none, or "dense").
std::string declaredSparsityFormat(const std::string& configText, const std::string& source);

// When config.json declares format "sparse-bitmask": replaces every "<module>.compressed" group in
// `weights` by the dense "<module>.weight" (dtype of the stored values). A quantized
// compressed-tensors checkpoint or another sparse format is an Error (BadInput) naming `source`.
// Does nothing for other checkpoints.
void decompressSparseBitmask(WeightMap& weights, const std::string& configText,
                             const std::string& source);

}  // namespace gp
