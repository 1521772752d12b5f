// gradprobe_masks.safetensors: which weights a pruned export kept, one bit per weight.
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

constexpr const char* kMaskFileName = "gradprobe_masks.safetensors";

// Writes the masks (bool or 0/1 tensors, any device) atomically.
void writeMaskFile(const std::string& path,
                   const std::vector<std::pair<std::string, at::Tensor>>& keptMasks);

// Reads them back as bool tensors of the stored shapes; Errors (BadInput) name the file and layer.
std::map<std::string, at::Tensor> readMaskFile(const std::string& path);

}  // namespace gp
