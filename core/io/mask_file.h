// gradprobe/masks.safetensors: which weights a pruned export kept, one bit per weight.
//
// It sits in a subfolder of the export so that no loader takes it for weights: vLLM without an
// index reads every *.safetensors at the folder's top level, llama.cpp's converter every
// model*.safetensors there, transformers only the names it knows. Exports before this layout
// wrote it beside the weights as gradprobe_masks.safetensors; both locations are read.
//
// One U8 tensor per pruned layer, named as the layer's weight in model.safetensors
// ("model.layers.0.self_attn.q_proj.weight"), shaped [rows, ceil(columns / 8)] for that weight's
// stored shape [rows, columns] (GPT-2's Conv1D weights keep their stored [in, out] layout).
// Bit order: numpy.packbits(mask, axis=-1, bitorder="little") — column c of a row is bit c % 8
// (value 1 << (c % 8)) of byte c / 8; rows are padded with zero bits. A set bit means KEPT
// (weight != 0), a clear bit PRUNED, as torch.nn.utils.prune's weight_mask. The header's
// __metadata__ holds "format": "gradprobe-masks", "bit_order": "little", "set_bit": "kept" and
// "shapes": a JSON object {weight name: [rows, columns]}.
// INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gp {

constexpr const char* kMaskFileName = "gradprobe/masks.safetensors";
constexpr const char* kLegacyMaskFileName = "gradprobe_masks.safetensors";

// The masks file of the model folder `folder` (the new location first, then the old one), or ""
// when it has none.
std::string findMaskFile(const std::string& folder);

// The number of layers a masks file holds; an Error (BadInput) naming the file when it is not a
// GradProbe masks file. Reads the header only.
int64_t maskFileLayers(const std::string& path);

// Writes the masks (bool or 0/1 tensors, any device) atomically; creates the path's folder.
void writeMaskFile(const std::string& path,
                   const std::vector<std::pair<std::string, at::Tensor>>& keptMasks);

// Reads them back as bool tensors of the stored shapes; Errors (BadInput) name the file and layer.
std::map<std::string, at::Tensor> readMaskFile(const std::string& path);

}  // namespace gp
