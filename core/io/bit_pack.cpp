#include "core/io/bit_pack.h"

namespace gp {
namespace {

// 1, 2, 4, ..., 128: the value of bit i within a byte (little bit order).
at::Tensor bitValues() {
    return at::pow(2, at::arange(8, at::TensorOptions(at::kLong))).to(at::kByte);
}

}  // namespace

at::Tensor packBits(const at::Tensor& mask) {
    const at::Tensor bits = mask.detach().to(at::kCPU).ne(0).to(at::kByte);
    const int64_t columns = bits.dim() == 0 ? 1 : bits.size(-1);
    const int64_t bytes = (columns + 7) / 8;
    std::vector<int64_t> leading = bits.dim() <= 1 ? std::vector<int64_t>{}
                                                   : bits.sizes().slice(0, bits.dim() - 1).vec();
    at::Tensor rows = bits.reshape({-1, columns});
    if (bytes * 8 != columns) rows = at::constant_pad_nd(rows, {0, bytes * 8 - columns}, 0);
    // [rows, bytes, 8] * [1, 2, ..., 128] summed per byte: the bits never overlap, so the sum
    // is the byte (at most 255).
    const at::Tensor packed =
        (rows.reshape({rows.size(0), bytes, 8}) * bitValues()).sum(-1, false, at::kByte);
    leading.push_back(bytes);
    return packed.reshape(leading).contiguous();
}

at::Tensor unpackBits(const at::Tensor& packed, int64_t columns) {
    const at::Tensor bytes = packed.detach().to(at::kCPU).to(at::kByte);
    const int64_t width = bytes.dim() == 0 ? 1 : bytes.size(-1);
    std::vector<int64_t> leading = bytes.dim() <= 1 ? std::vector<int64_t>{}
                                                    : bytes.sizes().slice(0, bytes.dim() - 1).vec();
    const at::Tensor bits =
        at::bitwise_and(bytes.reshape({-1, width, 1}), bitValues()).ne(0).reshape({-1, width * 8});
    leading.push_back(columns);
    return bits.slice(1, 0, columns).reshape(leading).contiguous();
}

}  // namespace gp
