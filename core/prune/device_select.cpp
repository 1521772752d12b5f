#include "core/prune/device_select.h"

#include <algorithm>
#include <limits>

#include "core/prune/exact_select.h"
#include "core/prune/score_keys.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

// A layer's keys as int32 on its device: the fp32 bit pattern of each score (bf16 and fp16 widen
// exactly), -0 as 0. Valid keys are >= 0 and below kInvalidKey (negatives have the sign bit set).
at::Tensor deviceKeys(const LayerKeys& keys) {
    at::Tensor values = keys.tensor.to(at::kFloat);
    if (keys.absolute) values = values.abs();
    const at::Tensor bits = values.contiguous().view(at::kInt);
    return bits.masked_fill(bits == std::numeric_limits<int32_t>::min(), 0);
}

bool anyInvalid(const at::Tensor& bits) {
    return bits.lt(0).logical_or_(bits.ge(int64_t(kInvalidKey))).any().item<bool>();
}

// Keys must be valid: the error names the layer and the first bad position.
at::Tensor checkedKeys(const ScoreSource& source, int64_t layer, const LayerKeys& keys) {
    at::Tensor bits = deviceKeys(keys);
    if (anyInvalid(bits)) throwInvalidScore(source.layerName(layer), keys.tensor, keys.absolute);
    return bits;
}

// findRadixBin over bin counts on the device (one copy of 65,536 counts to the host).
std::pair<int64_t, int64_t> findBin(const at::Tensor& totals, int64_t k) {
    const at::Tensor host = totals.to(at::kCPU).contiguous();
    return findRadixBin(host.data_ptr<int64_t>(), k);
}

struct Found {
    uint32_t key = 0;
    int64_t less = 0;
    int64_t equal = 0;
};

class DeviceSelector {
public:
    DeviceSelector(const ScoreSource& source, const SelectionOptions& options,
                   ObserverRef observer, const CancelToken* cancel)
        : m_source(source), m_options(options), m_observer(observer), m_cancel(cancel) {}

    Selection run() {
        Selection selection;
        selection.layers.resize(size_t(m_source.layerCount()));
        selection.total = m_source.totalNumel();
        switch (m_options.group) {
            case SelectionGroup::Global: selectGlobal(selection); break;
            case SelectionGroup::Layer: selectLayers(selection); break;
            case SelectionGroup::Row: selectRows(selection); break;
            case SelectionGroup::NM: checkNM(selection); break;
        }
        selection.extraBytes = m_largestKeys * 4 + (m_usedBins ? 2 * kRadixBins * 8 : 0);
        return selection;
    }

private:
    at::Tensor keysOf(int64_t layer) {
        m_largestKeys = std::max(m_largestKeys, m_source.numel(layer));
        return checkedKeys(m_source, layer, readLayerKeys(m_source, layer));
    }

    // The k-th smallest key over `layers` (k >= 1): two passes of bincount on the device.
    Found radix(const std::vector<int64_t>& layers, int64_t k, int64_t total,
                const std::string& group, const at::Tensor* onlyLayerKeys) {
        m_usedBins = true;
        auto forEach = [&](const std::function<void(const at::Tensor&)>& visit) {
            if (onlyLayerKeys) return visit(*onlyLayerKeys);
            for (int64_t layer : layers) {
                visit(keysOf(layer).flatten());
                throwIfCancelled(m_cancel);
            }
        };
        at::Tensor high;
        forEach([&](const at::Tensor& keys) {
            const at::Tensor counts = at::bincount(keys.flatten().__rshift__(16), {}, kRadixBins);
            high = high.defined() ? high.add_(counts) : counts;
        });
        const auto [bin, below] = findBin(high, k);
        reportExactStep(m_observer, group, 0, (uint32_t(bin) << 16) | 0xffffu,
                   below + high[bin].item<int64_t>(), k, total);
        at::Tensor low;
        forEach([&](const at::Tensor& keys) {
            const at::Tensor flat = keys.flatten();
            const at::Tensor inBin = flat.masked_select(flat.__rshift__(16) == bin);
            const at::Tensor counts = at::bincount(inBin.__and__(0xffff), {}, kRadixBins);
            low = low.defined() ? low.add_(counts) : counts;
        });
        const auto [lowBin, belowLow] = findBin(low, k - below);
        Found found;
        found.key = (uint32_t(bin) << 16) | uint32_t(lowBin);
        found.less = below + belowLow;
        found.equal = low[lowBin].item<int64_t>();
        reportExactStep(m_observer, group, 1, found.key, found.less + found.equal, k, total);
        return found;
    }

    void selectGlobal(Selection& selection) {
        const int64_t k = targetCount(m_options.sparsity, selection.total);
        selection.target = k;
        if (k == 0) return;
        std::vector<int64_t> all(size_t(m_source.layerCount()));
        for (size_t i = 0; i < all.size(); ++i) all[i] = int64_t(i);
        const Found found = radix(all, k, selection.total, "", nullptr);
        selection.threshold = keyValue(found.key);
        selection.passes = 2;
        selection.selected = k;
        int64_t ties = k - found.less;
        if (ties == found.equal) {
            for (LayerSelection& layer : selection.layers)
                layer.cut = ScoreCut{found.key, ScoreCut::kAllTies};
            return;
        }
        // The ties go to the layers in order, each taking all it holds until they are spent.
        selection.passes += 1;
        for (int64_t layer = 0; layer < m_source.layerCount(); ++layer) {
            ScoreCut& cut = selection.layers[size_t(layer)].cut;
            cut = ScoreCut{found.key, 0};
            if (ties == 0) continue;
            const int64_t equal = keysOf(layer).eq(int64_t(found.key)).sum().item<int64_t>();
            cut.ties = std::min(equal, ties);
            ties -= cut.ties;
        }
    }

    void selectLayers(Selection& selection) {
        for (int64_t layer = 0; layer < m_source.layerCount(); ++layer) {
            const int64_t n = m_source.numel(layer);
            const int64_t k = targetCount(m_options.sparsity, n);
            selection.target += k;
            selection.selected += k;
            if (k == 0) continue;
            const at::Tensor keys = keysOf(layer).flatten();
            const Found found = radix({layer}, k, n, m_source.layerName(layer), &keys);
            selection.layers[size_t(layer)].cut = ScoreCut{found.key, k - found.less};
            selection.passes = 2;
            throwIfCancelled(m_cancel);
        }
    }

    // Per row: the k-th smallest key (kthvalue) and how many lie below it, one pair per row.
    void selectRows(Selection& selection) {
        selection.passes = 1;
        for (int64_t layer = 0; layer < m_source.layerCount(); ++layer) {
            const auto [rows, cols] = m_source.shape(layer);
            const int64_t k = targetCount(m_options.sparsity, cols);
            std::vector<ScoreCut>& cuts = selection.layers[size_t(layer)].rows;
            cuts.assign(size_t(rows), ScoreCut{});
            selection.target += rows * k;
            selection.selected += rows * k;
            if (k == 0 || rows == 0) continue;
            const at::Tensor keys = keysOf(layer).view({rows, cols});
            const at::Tensor kth = std::get<0>(keys.kthvalue(k, 1));
            const at::Tensor less = keys.lt(kth.unsqueeze(1)).sum(1);
            const at::Tensor hostKth = kth.to(at::kCPU, at::kLong);
            const at::Tensor hostLess = less.to(at::kCPU, at::kLong);
            for (int64_t r = 0; r < rows; ++r)
                cuts[size_t(r)] = ScoreCut{uint32_t(hostKth[r].item<int64_t>()),
                                           k - hostLess[r].item<int64_t>()};
            throwIfCancelled(m_cancel);
        }
    }

    void checkNM(Selection& selection) {
        checkNMShapes(m_source, m_options.nmGroup);
        selection.passes = 1;
        for (int64_t layer = 0; layer < m_source.layerCount(); ++layer) {
            const int64_t k =
                nmTargetCount(m_source.numel(layer), m_options.nmKeep, m_options.nmGroup);
            selection.target += k;
            selection.selected += k;
            keysOf(layer);  // validates
            throwIfCancelled(m_cancel);
        }
    }

    const ScoreSource& m_source;
    const SelectionOptions& m_options;
    ObserverRef m_observer;
    const CancelToken* m_cancel;
    int64_t m_largestKeys = 0;
    bool m_usedBins = false;
};

// Selected where key < cut, or key == cut among the first `ties` equal keys in row-major order.
at::Tensor cutMask(const at::Tensor& keys, const at::Tensor& cutKeys, const at::Tensor& ties) {
    const at::Tensor equal = keys.eq(cutKeys);
    const at::Tensor rank = equal.to(at::kLong).cumsum(-1);  // 1-based among the equal keys
    return keys.lt(cutKeys).logical_or_(equal.logical_and_(rank.le(ties)));
}

}  // namespace

Selection exactSelectOnDevice(const ScoreSource& source, const SelectionOptions& options,
                              ObserverRef observer, const CancelToken* cancel) {
    return DeviceSelector(source, options, observer, cancel).run();
}

at::Tensor maskOnDevice(const Selection& selection, int64_t layer, const at::Tensor& scores,
                        bool absolute) {
    if (layer < 0 || layer >= int64_t(selection.layers.size()))
        throw badArgument("layer", "no layer " + std::to_string(layer) + " in this selection");
    if (scores.dim() != 2) throw badArgument("scores", "a layer's scores are a 2-D tensor");
    const int64_t rows = scores.size(0), cols = scores.size(1);
    const LayerSelection& part = selection.layers[size_t(layer)];
    const at::Tensor keys = deviceKeys({scores, absolute}).view({rows, cols});
    const auto onDevice = at::TensorOptions().dtype(at::kLong).device(scores.device());
    switch (selection.group) {
        case SelectionGroup::Row: {
            if (int64_t(part.rows.size()) != rows)
                throw badArgument("scores", "the scores have " + std::to_string(rows) +
                                                " rows, the selection " +
                                                std::to_string(part.rows.size()));
            std::vector<int64_t> cut(static_cast<size_t>(rows)), ties(static_cast<size_t>(rows));
            for (int64_t r = 0; r < rows; ++r) {
                cut[size_t(r)] = part.rows[size_t(r)].key;
                ties[size_t(r)] = part.rows[size_t(r)].ties;
            }
            return cutMask(keys, at::tensor(cut, onDevice).unsqueeze(1),
                           at::tensor(ties, onDevice).unsqueeze(1));
        }
        case SelectionGroup::NM: {
            const int64_t m = selection.nmGroup, n = selection.nmKeep;
            if (cols % m != 0)
                throw badArgument("scores", "N:M needs the input dimension divisible by M");
            // In each group: how many keys come before this one in (key, index) order.
            const at::Tensor groups = keys.view({rows, cols / m, m});
            const at::Tensor a = groups.unsqueeze(-1), b = groups.unsqueeze(-2);  // [.., i, j]
            const at::Tensor index = at::arange(m, onDevice);
            const at::Tensor earlier = index.unsqueeze(0).lt(index.unsqueeze(1));  // j < i
            const at::Tensor before =
                b.lt(a).logical_or_(b.eq(a).logical_and_(earlier)).sum(-1);
            return before.lt(m - n).view({rows, cols});
        }
        default: {
            // One cut over the layer in row-major order: the tie rank runs across rows.
            const at::Tensor flat = keys.flatten();
            const int64_t ties =
                part.cut.ties == ScoreCut::kAllTies ? flat.numel() : part.cut.ties;
            const at::Tensor cutKey = at::full({1}, int64_t(part.cut.key), onDevice).to(at::kInt);
            return cutMask(flat, cutKey, at::full({1}, ties, onDevice)).view({rows, cols});
        }
    }
}

}  // namespace gp
