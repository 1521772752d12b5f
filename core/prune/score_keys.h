// Scores as order-preserving 32-bit keys, read straight from the layer's memory.
//
// For non-negative IEEE-754 floats the unsigned bit pattern orders exactly as the value, so every
// selection compares keys, never floats: an fp32 score's key is its bit pattern, a bf16 or fp16
// score's key is the bit pattern of the same value widened (exactly) to fp32, so layers of mixed
// dtypes compare in one key space. -0 reads as 0. A key at or above kInvalidKey is an infinity,
// a NaN or a negative score: the passes that meet one report it through invalidScoreError().
//
// INTERNAL to core/prune: includes ATen.
#pragma once

#include <ATen/ATen.h>
#include <c10/util/Half.h>

#include <cstdint>
#include <functional>
#include <string>

namespace gp {

constexpr uint32_t kInvalidKey = 0x7f800000u;  // +inf; NaN and negatives (sign bit) are above
constexpr uint32_t kNegativeZeroKey = 0x80000000u;

enum class KeyFormat : uint8_t { F32, BF16, F16 };

// How to read one element's key. `absolute` clears the sign first (scores = |t|, read from t).
struct KeyLoader {
    const void* data = nullptr;
    KeyFormat format = KeyFormat::F32;
    bool absolute = false;

    // The key of element `offset` (in elements from data).
    inline uint32_t operator()(int64_t offset) const {
        uint32_t raw;
        switch (format) {
            case KeyFormat::F32:
                raw = static_cast<const uint32_t*>(data)[offset];
                break;
            case KeyFormat::BF16:
                raw = uint32_t(static_cast<const uint16_t*>(data)[offset]) << 16;
                break;
            default:
                raw =
                    c10::detail::fp16_ieee_to_fp32_bits(static_cast<const uint16_t*>(data)[offset]);
                break;
        }
        if (absolute) raw &= 0x7fffffffu;
        return raw == kNegativeZeroKey ? 0u : raw;
    }
};

// Calls body(load) with a loader specialised for the format, so the hot loops inline it.
template <typename Body>
inline void withLoader(const KeyLoader& loader, Body&& body) {
    switch (loader.format) {
        case KeyFormat::F32: {
            const auto* p = static_cast<const uint32_t*>(loader.data);
            const uint32_t mask = loader.absolute ? 0x7fffffffu : 0xffffffffu;
            body([p, mask](int64_t i) {
                const uint32_t raw = p[i] & mask;
                return raw == kNegativeZeroKey ? 0u : raw;
            });
            break;
        }
        case KeyFormat::BF16: {
            const auto* p = static_cast<const uint16_t*>(loader.data);
            const uint32_t mask = loader.absolute ? 0x7fffffffu : 0xffffffffu;
            body([p, mask](int64_t i) {
                const uint32_t raw = (uint32_t(p[i]) << 16) & mask;
                return raw == kNegativeZeroKey ? 0u : raw;
            });
            break;
        }
        case KeyFormat::F16:
            body([loader](int64_t i) { return loader(i); });
            break;
    }
}

// A run of elements in memory order (for passes where order does not matter).
struct KeySpan {
    KeyLoader loader;
    int64_t count = 0;
};

// A block of whole rows in logical [out, in] order (masks, per-row and N:M selection).
struct KeyRows {
    KeyLoader loader;
    int64_t firstRow = 0;
    int64_t rows = 0;
    int64_t cols = 0;
    int64_t rowStride = 0;  // in elements
    int64_t colStride = 0;
    int64_t offset(int64_t row, int64_t col) const { return row * rowStride + col * colStride; }
};

// The most elements a converted or copied block holds (1 MiB of fp32): bounds the temporaries
// of inputs that cannot be read in place (non-dense views, other devices, other dtypes).
constexpr int64_t kBlockElements = int64_t(1) << 18;

// Visits every element of a 2-D score tensor in memory order: in place (one span) when it is a
// dense CPU fp32/bf16/fp16 tensor in any dimension order, else as row blocks copied to the CPU
// (other dtypes converted to fp32) of at most kBlockElements.
void forEachKeySpan(const at::Tensor& scores, bool absolute,
                    const std::function<void(const KeySpan&)>& visit);

// Visits a 2-D score tensor as blocks of whole rows in row order: in place (any strides) for a CPU
// fp32/bf16/fp16 tensor, else rows copied to the CPU in blocks of at most kBlockElements (but at
// least one row).
void forEachKeyRows(const at::Tensor& scores, bool absolute,
                    const std::function<void(const KeyRows&)>& visit);

// The tensor selection reads for a layer, and whether its scores are its absolute values.
struct LayerKeys {
    at::Tensor tensor;
    bool absolute = false;
};
class ScoreSource;
LayerKeys readLayerKeys(const ScoreSource& source, int64_t layer);

// The error for a layer holding a NaN, infinite or negative score: finds the first one (in row
// order) and names the layer, the position and the value.
[[noreturn]] void throwInvalidScore(const std::string& layer, const at::Tensor& scores,
                                    bool absolute);

// The float value of a key, and the key of a non-negative float.
float keyValue(uint32_t key);
uint32_t floatKey(float value);

// The number of scores a group of n selects at a sparsity: floor(sparsity * n), as upstream's
// int(sparsity * total) and the sort reference.
int64_t targetCount(double sparsity, int64_t n);

// N:M: every layer's input dimension must be a multiple of M; a BadArgument naming the first
// layer that is not. And the scores a layer of `numel` selects: all but N of every M.
void checkNMShapes(const ScoreSource& source, int64_t group);
int64_t nmTargetCount(int64_t numel, int64_t keep, int64_t group);

}  // namespace gp
