#include "core/prune/score_histogram.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cfloat>
#include <cmath>
#include <vector>

#include "core/prune/layer_mask.h"
#include "core/prune/score_keys.h"

namespace gp {
namespace {

constexpr int kKeyBins = 1024;  // key >> 21: quarter octaves
constexpr int kKeyShift = 21;

struct Tally {
    std::array<int64_t, kKeyBins> counts{};
    std::array<int64_t, kKeyBins> below{};
    int64_t zeros = 0;
    int64_t zerosBelow = 0;
    int64_t total = 0;
    int64_t selected = 0;
    double sum = 0.0;
    double sumSquares = 0.0;
    uint32_t maxSelectedKey = 0;
    // The cuts of the groups inside (rows, N:M groups, layers): where each one's largest
    // selected score falls.
    std::array<int64_t, kKeyBins> cuts{};
    int64_t zeroCuts = 0;

    void addCut(uint32_t key) {
        if (key == 0)
            ++zeroCuts;
        else
            ++cuts[std::min<uint32_t>(key >> kKeyShift, kKeyBins - 1)];
    }

    void add(const Tally& other) {
        for (int i = 0; i < kKeyBins; ++i) {
            counts[i] += other.counts[i];
            below[i] += other.below[i];
            cuts[i] += other.cuts[i];
        }
        zeroCuts += other.zeroCuts;
        zeros += other.zeros;
        zerosBelow += other.zerosBelow;
        total += other.total;
        selected += other.selected;
        sum += other.sum;
        sumSquares += other.sumSquares;
        maxSelectedKey = std::max(maxSelectedKey, other.maxSelectedKey);
    }
};

// `cutSpan`: the width of the groups whose cuts to tally (the row's width for rows, M for N:M),
// 0 for none.
Tally tallyLayer(const at::Tensor& scores, bool absolute, const at::Tensor& mask,
                 int64_t cutSpan) {
    const int64_t cols = scores.size(1);
    const bool* selected = mask.data_ptr<bool>();
    std::vector<Tally> perThread(static_cast<size_t>(at::get_num_threads()));
    forEachKeyRows(scores, absolute, [&](const KeyRows& block) {
        withLoader(block.loader, [&](auto load) {
            const int64_t grain = std::max<int64_t>(1, 32768 / std::max<int64_t>(1, cols));
            at::parallel_for(0, block.rows, grain, [&](int64_t first, int64_t last) {
                Tally& t = perThread[at::get_thread_num()];
                for (int64_t r = first; r < last; ++r) {
                    const bool* rowSelected = selected + (block.firstRow + r) * cols;
                    uint32_t groupCut = 0;
                    bool groupSelects = false;
                    for (int64_t c = 0; c < cols; ++c) {
                        const uint32_t key = load(block.offset(r, c));
                        const bool chosen = rowSelected[c];
                        const double value = keyValue(key);
                        t.sum += value;
                        t.sumSquares += value * value;
                        t.selected += chosen;
                        if (chosen) t.maxSelectedKey = std::max(t.maxSelectedKey, key);
                        if (key == 0) {
                            ++t.zeros;
                            t.zerosBelow += chosen;
                        } else {
                            const uint32_t bin = std::min<uint32_t>(key >> kKeyShift, kKeyBins - 1);
                            ++t.counts[bin];
                            t.below[bin] += chosen;
                        }
                        if (chosen) {
                            groupCut = std::max(groupCut, key);
                            groupSelects = true;
                        }
                        if (cutSpan > 0 && (c + 1) % cutSpan == 0) {
                            if (groupSelects) t.addCut(groupCut);
                            groupCut = 0;
                            groupSelects = false;
                        }
                    }
                }
                t.total += (last - first) * cols;
            });
        });
    });
    Tally layer;
    for (const Tally& t : perThread) layer.add(t);
    return layer;
}

// The common display grid: quarter-octave bins [first, first + width * bins), merged by width.
struct Grid {
    int first = 0;
    int width = 1;
    int bins = 0;
};

Grid gridFor(const Tally& all) {
    int lo = kKeyBins, hi = -1;
    for (int i = 0; i < kKeyBins; ++i) {
        if (all.counts[i] == 0) continue;
        lo = std::min(lo, i);
        hi = std::max(hi, i);
    }
    if (hi < 0) return {};  // only zeros
    const int span = hi - lo + 1;
    const int width = (span + kMaxDisplayBins - 1) / kMaxDisplayBins;
    return {lo, width, (span + width - 1) / width};
}

double edgeValue(int keyBin) {
    if (keyBin >= (int)(kInvalidKey >> kKeyShift)) return FLT_MAX;
    return keyValue(std::max<uint32_t>(1u, static_cast<uint32_t>(keyBin) << kKeyShift));
}

// What decides in a view: one threshold, or the cuts of many groups (`cutGroup`).
struct Decision {
    double threshold = 0.0;
    std::string cutGroup;
};

HistogramEvent histogramEvent(const std::string& layer, const Tally& tally, const Grid& grid,
                              const Decision& decision) {
    HistogramEvent event;
    event.layer = layer;
    event.zeros = tally.zeros;
    event.zerosBelow = tally.zerosBelow;
    event.total = tally.total;
    event.threshold = decision.threshold;
    event.cutGroup = decision.cutGroup;
    if (!decision.cutGroup.empty()) {
        event.cutCounts.assign(static_cast<size_t>(grid.bins), 0);
        event.zeroCuts = tally.zeroCuts;
    }
    for (int d = 0; d <= grid.bins && grid.bins > 0; ++d)
        event.binEdges.push_back(edgeValue(grid.first + d * grid.width));
    event.counts.assign(static_cast<size_t>(grid.bins), 0);
    event.countsBelow.assign(static_cast<size_t>(grid.bins), 0);
    for (int i = 0; i < kKeyBins; ++i) {
        if (tally.counts[i] == 0) continue;
        const int d = (i - grid.first) / grid.width;
        event.counts[d] += tally.counts[i];
        event.countsBelow[d] += tally.below[i];
        if (!event.cutCounts.empty()) event.cutCounts[d] += tally.cuts[i];
    }
    return event;
}

NormalFitEvent normalFit(const std::string& layer, const Tally& tally) {
    const double n = std::max<double>(1.0, double(tally.total));
    const double mean = tally.sum / n;
    return {layer, mean, std::sqrt(std::max(0.0, tally.sumSquares / n - mean * mean)), tally.total};
}

// A layer's view: its one cut (global and layer groups), else its rows' or N:M groups' cuts.
Decision layerDecision(const Selection& selection, int64_t layer) {
    switch (selection.group) {
        case SelectionGroup::Global:
        case SelectionGroup::Layer: return {keyValue(selection.layers[layer].cut.key), ""};
        case SelectionGroup::Row: return {0.0, "row"};
        case SelectionGroup::NM: return {0.0, "nm"};
    }
    return {};
}

// The whole model's view: the global threshold, else the cuts of every group.
Decision modelDecision(const Selection& selection) {
    switch (selection.group) {
        case SelectionGroup::Global: return {selection.threshold, ""};
        case SelectionGroup::Layer: return {0.0, "layer"};
        case SelectionGroup::Row: return {0.0, "row"};
        case SelectionGroup::NM: return {0.0, "nm"};
    }
    return {};
}

int64_t cutSpanOf(const Selection& selection, int64_t columns) {
    if (selection.group == SelectionGroup::Row) return columns;
    if (selection.group == SelectionGroup::NM) return selection.nmGroup;
    return 0;
}

}  // namespace

void reportHistograms(const ScoreSource& source, const Selection& selection, ObserverRef observer,
                      const CancelToken* cancel) {
    std::vector<Tally> layers;
    Tally all;
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        const LayerKeys keys = readLayerKeys(source, layer);
        const at::Tensor mask = maskFromScores(selection, layer, keys.tensor, keys.absolute).cpu();
        layers.push_back(tallyLayer(keys.tensor, keys.absolute, mask,
                                    cutSpanOf(selection, keys.tensor.size(1))));
        all.add(layers.back());
        if (selection.group == SelectionGroup::Layer && layers.back().selected > 0)
            all.addCut(layers.back().maxSelectedKey);
        throwIfCancelled(cancel);
    }
    const Grid grid = gridFor(all);
    const bool fits = selection.method != SelectionMethod::Statistical;
    for (int64_t layer = 0; layer < source.layerCount(); ++layer) {
        const std::string name = source.layerName(layer);
        if (fits) observer->onNormalFit(normalFit(name, layers[layer]));
        observer->onHistogram(
            histogramEvent(name, layers[layer], grid, layerDecision(selection, layer)));
    }
    if (fits) observer->onNormalFit(normalFit("", all));
    observer->onHistogram(histogramEvent("", all, grid, modelDecision(selection)));
}

}  // namespace gp
