#include "core/prune/sort_select.h"

#include <string>

#include "core/prune/score_keys.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

at::Tensor floatScores(const ScoreSource& source, int64_t layer) {
    const at::Tensor scores = source.scores(layer);
    return scores.scalar_type() == at::kFloat ? scores : scores.to(at::kFloat);
}

void checkValues(const ScoreSource& source, int64_t layer, const at::Tensor& x) {
    if (x.numel() == 0) return;
    const auto [lo, hi] = at::aminmax(x);
    const double low = lo.item<double>(), high = hi.item<double>();
    if (!(low >= 0.0) || !std::isfinite(high)) throwInvalidScore(source.layerName(layer), x, false);
}

// All layers' scores, flattened in layer order then row-major order, as one fp32 tensor.
at::Tensor concatenated(const ScoreSource& source, std::vector<int64_t>& offsets) {
    std::vector<at::Tensor> flats;
    int64_t offset = 0;
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        at::Tensor x = floatScores(source, layer);
        checkValues(source, layer, x);
        flats.push_back(x.reshape(-1));
        offsets.push_back(offset);
        offset += x.numel();
    }
    offsets.push_back(offset);
    return at::cat(flats);
}

// The k-th smallest (k >= 1) of a flat tensor and how many are strictly below it.
std::pair<float, int64_t> kthAndBelow(const at::Tensor& flat, int64_t k) {
    const float threshold = std::get<0>(at::kthvalue(flat, k)).item<float>();
    return {threshold, at::lt(flat, threshold).sum().item<int64_t>()};
}

void reportStep(ObserverRef observer, const std::string& group, float threshold, int64_t atMost,
                int64_t target, int64_t total) {
    observer->onSearchStep(SearchStepEvent{"sort", group, 0, threshold, atMost, target,
                                           double(atMost - target) / double(total)});
}

void selectGlobal(const ScoreSource& source, const SelectionOptions& options, ObserverRef observer,
                  Selection& selection) {
    std::vector<int64_t> offsets;
    const at::Tensor all = concatenated(source, offsets);
    selection.extraBytes = 2 * int64_t(all.nbytes()) + all.numel();  // cat, kthvalue's copy, bools
    const int64_t k = targetCount(options.sparsity, all.numel());
    selection.target = k;
    if (k == 0) return;
    const auto [threshold, below] = kthAndBelow(all, k);
    std::vector<int64_t> equal;  // per layer
    int64_t equalTotal = 0;
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        const at::Tensor part = all.narrow(0, offsets[layer], offsets[layer + 1] - offsets[layer]);
        equal.push_back(at::eq(part, threshold).sum().item<int64_t>());
        equalTotal += equal.back();
    }
    reportStep(observer, "", threshold, below + equalTotal, k, all.numel());
    selection.threshold = threshold;
    selection.selected = k;
    selection.passes = 1;
    int64_t ties = k - below;
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        const int64_t take = std::min(equal[layer], ties);
        selection.layers[layer].cut = ScoreCut{floatKey(threshold), take};
        ties -= take;
    }
}

void selectLayers(const ScoreSource& source, const SelectionOptions& options, ObserverRef observer,
                  Selection& selection) {
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        const at::Tensor matrix = floatScores(source, layer);
        checkValues(source, layer, matrix);
        const at::Tensor x = matrix.reshape(-1);
        selection.extraBytes = std::max<int64_t>(selection.extraBytes, 2 * x.numel() * 4);
        const int64_t k = targetCount(options.sparsity, x.numel());
        selection.target += k;
        selection.selected += k;
        if (k == 0) continue;
        const auto [threshold, below] = kthAndBelow(x, k);
        const int64_t equal = at::eq(x, threshold).sum().item<int64_t>();
        reportStep(observer, source.layerName(layer), threshold, below + equal, k, x.numel());
        selection.layers[layer].cut = ScoreCut{floatKey(threshold), k - below};
    }
}

void selectRows(const ScoreSource& source, const SelectionOptions& options, Selection& selection) {
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        const at::Tensor x = floatScores(source, layer);
        checkValues(source, layer, x);
        selection.extraBytes = std::max<int64_t>(selection.extraBytes, 2 * x.numel() * 4);
        const int64_t rows = x.size(0), k = targetCount(options.sparsity, x.size(1));
        std::vector<ScoreCut>& cuts = selection.layers[layer].rows;
        cuts.assign(static_cast<size_t>(rows), ScoreCut{});
        selection.target += rows * k;
        selection.selected += rows * k;
        if (k == 0 || rows == 0) continue;
        const at::Tensor thresholds = std::get<0>(at::kthvalue(x, k, 1)).contiguous().cpu();
        const at::Tensor below =
            at::lt(x, thresholds.to(x.device()).unsqueeze(1)).sum(1).contiguous().cpu();
        const auto t = thresholds.accessor<float, 1>();
        const auto b = below.accessor<int64_t, 1>();
        for (int64_t r = 0; r < rows; ++r) cuts[r] = ScoreCut{floatKey(t[r]), k - b[r]};
    }
}

void checkNM(const ScoreSource& source, const SelectionOptions& options, Selection& selection) {
    checkNMShapes(source, options.nmGroup);
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        checkValues(source, layer, floatScores(source, layer));
        const int64_t k = nmTargetCount(source.numel(layer), options.nmKeep, options.nmGroup);
        selection.target += k;
        selection.selected += k;
    }
}

// Reference masks of one flat group: below the k-th, plus the first ties equal to it.
at::Tensor flatMask(const at::Tensor& flat, int64_t k) {
    at::Tensor mask = at::zeros_like(flat, flat.options().dtype(at::kBool));
    if (k == 0) return mask;
    const auto [threshold, below] = kthAndBelow(flat, k);
    mask = at::lt(flat, threshold);
    const at::Tensor equal = at::nonzero(at::eq(flat, threshold)).flatten();
    mask.index_fill_(0, equal.narrow(0, 0, k - below), true);
    return mask;
}

at::Tensor rowMask(const at::Tensor& x, int64_t k) {
    if (k == 0 || x.size(0) == 0) return at::zeros_like(x, x.options().dtype(at::kBool));
    const at::Tensor thresholds = std::get<0>(at::kthvalue(x, k, 1)).unsqueeze(1);
    const at::Tensor below = at::lt(x, thresholds);
    const at::Tensor equal = at::eq(x, thresholds);
    const at::Tensor ties = k - below.sum(1, true);  // per row
    return below | (equal & (equal.cumsum(1) <= ties));
}

at::Tensor nmMask(const at::Tensor& x, int64_t n, int64_t m) {
    const at::Tensor groups = x.reshape({x.size(0), x.size(1) / m, m});
    const at::Tensor order = std::get<1>(at::sort(groups, /*stable=*/true, /*dim=*/-1, false));
    at::Tensor mask = at::zeros_like(groups, groups.options().dtype(at::kBool));
    mask.scatter_(-1, order.narrow(-1, 0, m - n), true);
    return mask.reshape({x.size(0), x.size(1)});
}

}  // namespace

Selection sortSelect(const ScoreSource& source, const SelectionOptions& options,
                     ObserverRef observer, const CancelToken* cancel) {
    throwIfCancelled(cancel);
    Selection selection;
    selection.layers.resize(static_cast<size_t>(source.layerCount()));
    selection.total = source.totalNumel();
    switch (options.group) {
        case SelectionGroup::Global:
            selectGlobal(source, options, observer, selection);
            break;
        case SelectionGroup::Layer:
            selectLayers(source, options, observer, selection);
            break;
        case SelectionGroup::Row:
            selectRows(source, options, selection);
            break;
        case SelectionGroup::NM:
            checkNM(source, options, selection);
            break;
    }
    if (options.group != SelectionGroup::Global) selection.passes = 1;
    throwIfCancelled(cancel);
    return selection;
}

std::vector<at::Tensor> sortReferenceMasks(const ScoreSource& source,
                                           const SelectionOptions& options) {
    std::vector<at::Tensor> masks;
    if (options.group == SelectionGroup::Global) {
        std::vector<int64_t> offsets;
        const at::Tensor all = concatenated(source, offsets);
        const at::Tensor mask = flatMask(all, targetCount(options.sparsity, all.numel()));
        for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
            const auto shape = source.shape(layer);
            masks.push_back(mask.narrow(0, offsets[layer], offsets[layer + 1] - offsets[layer])
                                .reshape({shape[0], shape[1]})
                                .clone());
        }
        return masks;
    }
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        const at::Tensor x = floatScores(source, layer).contiguous();
        checkValues(source, layer, x);
        switch (options.group) {
            case SelectionGroup::Layer:
                masks.push_back(flatMask(x.reshape(-1), targetCount(options.sparsity, x.numel()))
                                    .reshape(x.sizes()));
                break;
            case SelectionGroup::Row:
                masks.push_back(rowMask(x, targetCount(options.sparsity, x.size(1))));
                break;
            default:
                if (x.size(1) % options.nmGroup != 0)
                    throw Error(ErrorKind::BadArgument, "", source.layerName(layer),
                                "N:M needs the input dimension to be divisible by M");
                masks.push_back(nmMask(x, options.nmKeep, options.nmGroup));
                break;
        }
    }
    return masks;
}

}  // namespace gp
