#include "core/prune/score_keys.h"

#include <cmath>
#include <cstring>
#include <sstream>

#include "core/prune/score_source.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

bool readsInPlace(const at::Tensor& t) {
    const auto type = t.scalar_type();
    return t.device().is_cpu() &&
           (type == at::kFloat || type == at::kBFloat16 || type == at::kHalf);
}

KeyFormat formatOf(at::ScalarType type) {
    switch (type) {
        case at::kBFloat16:
            return KeyFormat::BF16;
        case at::kHalf:
            return KeyFormat::F16;
        default:
            return KeyFormat::F32;
    }
}

// Rows [first, first + count) copied to a contiguous CPU tensor of a readable dtype.
at::Tensor copiedRows(const at::Tensor& scores, int64_t first, int64_t count) {
    at::Tensor block = scores.narrow(0, first, count);
    const auto type = block.scalar_type();
    const bool keepType = type == at::kFloat || type == at::kBFloat16 || type == at::kHalf;
    return block.to(at::kCPU, keepType ? type : at::kFloat).contiguous();
}

int64_t rowsPerBlock(const at::Tensor& scores) {
    return std::max<int64_t>(1, kBlockElements / std::max<int64_t>(1, scores.size(1)));
}

std::string describeValue(double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
    std::ostringstream text;
    text << value;
    return text.str();
}

}  // namespace

void forEachKeySpan(const at::Tensor& scores, bool absolute,
                    const std::function<void(const KeySpan&)>& visit) {
    if (scores.numel() == 0) return;
    if (readsInPlace(scores) && scores.is_non_overlapping_and_dense()) {
        // Dense in some dimension order: the elements fill [data, data + numel). Spans stay
        // below 2^30 elements so per-thread 32-bit counts cannot overflow within one.
        constexpr int64_t kMaxSpan = int64_t(1) << 30;
        const auto* data = static_cast<const char*>(scores.data_ptr());
        for (int64_t first = 0; first < scores.numel(); first += kMaxSpan)
            visit(KeySpan{KeyLoader{data + first * scores.element_size(),
                                    formatOf(scores.scalar_type()), absolute},
                          std::min(kMaxSpan, scores.numel() - first)});
        return;
    }
    const int64_t step = rowsPerBlock(scores);
    for (int64_t row = 0; row < scores.size(0); row += step) {
        const at::Tensor block = copiedRows(scores, row, std::min(step, scores.size(0) - row));
        visit(KeySpan{KeyLoader{block.data_ptr(), formatOf(block.scalar_type()), absolute},
                      block.numel()});
    }
}

void forEachKeyRows(const at::Tensor& scores, bool absolute,
                    const std::function<void(const KeyRows&)>& visit) {
    if (scores.numel() == 0) return;
    if (readsInPlace(scores)) {
        visit(KeyRows{KeyLoader{scores.data_ptr(), formatOf(scores.scalar_type()), absolute}, 0,
                      scores.size(0), scores.size(1), scores.stride(0), scores.stride(1)});
        return;
    }
    const int64_t step = rowsPerBlock(scores);
    for (int64_t row = 0; row < scores.size(0); row += step) {
        const int64_t count = std::min(step, scores.size(0) - row);
        const at::Tensor block = copiedRows(scores, row, count);
        visit(KeyRows{KeyLoader{block.data_ptr(), formatOf(block.scalar_type()), absolute}, row,
                      count, block.size(1), block.stride(0), block.stride(1)});
    }
}

LayerKeys readLayerKeys(const ScoreSource& source, int64_t layer) {
    at::Tensor magnitude = source.magnitudeOf(layer);
    if (magnitude.defined()) return {std::move(magnitude), true};
    return {source.scores(layer), false};
}

void throwInvalidScore(const std::string& layer, const at::Tensor& scores, bool absolute) {
    const at::Tensor values = (absolute ? scores.abs() : scores).to(at::kCPU, at::kDouble);
    const at::Tensor bad = (~at::isfinite(values)) | (values < 0);
    const at::Tensor where = bad.nonzero();
    std::string problem = "scores must be finite and non-negative";
    if (where.size(0) > 0) {
        std::string position;
        at::Tensor value = values;
        for (int64_t d = 0; d < where.size(1); ++d) {
            const int64_t index = where[0][d].item<int64_t>();
            position += (d ? ", " : "") + std::to_string(index);
            value = value.select(0, index);
        }
        problem = "score at [" + position + "] is " + describeValue(value.item<double>()) + " (" +
                  problem + ")";
    }
    throw Error(ErrorKind::BadInput, "", layer, problem);
}

float keyValue(uint32_t key) {
    float value;
    std::memcpy(&value, &key, sizeof value);
    return value;
}

uint32_t floatKey(float value) {
    uint32_t key;
    std::memcpy(&key, &value, sizeof key);
    return key == kNegativeZeroKey ? 0u : key;
}

int64_t targetCount(double sparsity, int64_t n) {
    return static_cast<int64_t>(std::floor(sparsity * static_cast<double>(n)));
}

void checkNMShapes(const ScoreSource& source, int64_t group) {
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        const int64_t cols = source.shape(layer)[1];
        if (cols % group != 0)
            throw Error(ErrorKind::BadArgument, "", source.layerName(layer),
                        "N:M needs the input dimension (" + std::to_string(cols) +
                            ") to be divisible by M = " + std::to_string(group));
    }
}

int64_t nmTargetCount(int64_t numel, int64_t keep, int64_t group) {
    return numel / group * (group - keep);
}

}  // namespace gp
