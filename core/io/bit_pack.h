// Boolean masks packed eight to a byte, in the one bit order GradProbe writes: numpy's
// packbits(..., axis=-1, bitorder="little"), as compressed-tensors' sparse-bitmask uses it. Along
// the last dimension, column c of a row lands in byte c / 8 of that row at bit c % 8 (value
// 1 << (c % 8), least significant bit first); each row is padded with zero bits to whole bytes.
// INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>

namespace gp {

// bool (or any dtype, non-zero = set) [..., C] -> uint8 [..., ceil(C / 8)], on the CPU.
at::Tensor packBits(const at::Tensor& mask);

// uint8 [..., B] -> bool [..., columns]; columns <= 8 * B (the padding bits are dropped).
at::Tensor unpackBits(const at::Tensor& packed, int64_t columns);

}  // namespace gp
