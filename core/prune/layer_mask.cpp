#include "core/prune/layer_mask.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "core/prune/device_select.h"
#include "core/prune/score_keys.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

constexpr int64_t kGrainElements = 32768;

int64_t rowGrain(int64_t cols) {
    return std::max<int64_t>(1, kGrainElements / std::max<int64_t>(1, cols));
}

// One row: keys below `key`, and the first `budget` keys equal to it.
template <typename Load>
void writeRow(Load load, const KeyRows& block, int64_t r, uint32_t key, int64_t budget, bool* out) {
    for (int64_t c = 0; c < block.cols; ++c) {
        const uint32_t k = load(block.offset(r, c));
        bool take = k < key;
        if (k == key && budget > 0) {
            take = true;
            --budget;
        }
        out[c] = take;
    }
}

// In each group of M keys: selected when fewer than M - N keys of the group come before it in
// (key, index) order.
template <typename Load>
void writeNMRow(Load load, const KeyRows& block, int64_t r, int64_t n, int64_t m, bool* out) {
    uint32_t keys[64];
    for (int64_t first = 0; first < block.cols; first += m) {
        for (int64_t i = 0; i < m; ++i) keys[i] = load(block.offset(r, first + i));
        for (int64_t i = 0; i < m; ++i) {
            int64_t before = 0;
            for (int64_t j = 0; j < m; ++j)
                before += keys[j] < keys[i] || (keys[j] == keys[i] && j < i);
            out[first + i] = before < m - n;
        }
    }
}

// How many ties each row takes when one cut spans the whole layer: rows in order, each taking
// all it holds until `ties` is spent.
std::vector<int64_t> rowBudgets(const at::Tensor& scores, bool absolute, const ScoreCut& cut) {
    const int64_t rows = scores.size(0), cols = scores.size(1);
    if (cut.ties == 0 || cut.ties == ScoreCut::kAllTies)
        return std::vector<int64_t>(static_cast<size_t>(rows), cut.ties == 0 ? 0 : cols);
    std::vector<int64_t> equal(static_cast<size_t>(rows), 0);
    forEachKeyRows(scores, absolute, [&](const KeyRows& block) {
        withLoader(block.loader, [&](auto load) {
            at::parallel_for(0, block.rows, rowGrain(cols), [&](int64_t first, int64_t last) {
                for (int64_t r = first; r < last; ++r) {
                    int64_t count = 0;
                    for (int64_t c = 0; c < cols; ++c) count += load(block.offset(r, c)) == cut.key;
                    equal[block.firstRow + r] = count;
                }
            });
        });
    });
    int64_t remaining = cut.ties;
    for (int64_t& budget : equal) {
        budget = std::min(budget, remaining);
        remaining -= budget;
    }
    return equal;
}

}  // namespace

at::Tensor maskFromScores(const Selection& selection, int64_t layer, const at::Tensor& scores,
                          bool absolute) {
    if (!scores.device().is_cpu()) return maskOnDevice(selection, layer, scores, absolute);
    if (layer < 0 || layer >= static_cast<int64_t>(selection.layers.size()))
        throw badArgument("layer", "no layer " + std::to_string(layer) + " in this selection");
    if (scores.dim() != 2) throw badArgument("scores", "a layer's scores are a 2-D tensor");
    const LayerSelection& part = selection.layers[layer];
    const int64_t rows = scores.size(0), cols = scores.size(1);
    if (selection.group == SelectionGroup::Row && static_cast<int64_t>(part.rows.size()) != rows)
        throw badArgument("scores", "the scores have " + std::to_string(rows) +
                                        " rows, the selection " + std::to_string(part.rows.size()));
    if (selection.group == SelectionGroup::NM && cols % selection.nmGroup != 0)
        throw badArgument("scores", "N:M needs the input dimension divisible by M");

    at::Tensor mask = at::empty({rows, cols}, at::TensorOptions().dtype(at::kBool));
    bool* out = mask.data_ptr<bool>();
    const std::vector<int64_t> budgets =
        selection.group == SelectionGroup::Global || selection.group == SelectionGroup::Layer
            ? rowBudgets(scores, absolute, part.cut)
            : std::vector<int64_t>{};
    forEachKeyRows(scores, absolute, [&](const KeyRows& block) {
        withLoader(block.loader, [&](auto load) {
            at::parallel_for(0, block.rows, rowGrain(cols), [&](int64_t first, int64_t last) {
                for (int64_t r = first; r < last; ++r) {
                    const int64_t row = block.firstRow + r;
                    bool* rowOut = out + row * cols;
                    switch (selection.group) {
                        case SelectionGroup::Row:
                            writeRow(load, block, r, part.rows[row].key, part.rows[row].ties,
                                     rowOut);
                            break;
                        case SelectionGroup::NM:
                            writeNMRow(load, block, r, selection.nmKeep, selection.nmGroup, rowOut);
                            break;
                        default:
                            writeRow(load, block, r, part.cut.key, budgets[row], rowOut);
                            break;
                    }
                }
            });
        });
    });
    return mask;
}

}  // namespace gp
