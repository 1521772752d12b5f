#include "core/prune/exact_select.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <functional>
#include <memory>
#include <utility>

#include "core/dist/collectives.h"
#include "core/prune/device_select.h"
#include "core/prune/score_keys.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

constexpr int64_t kGrain = 32768;  // elements a parallel task gets at least

// Which bits the passes count. Wide: the fp32 pattern, top 16 bits then low 16 bits.
// WideOnePass: the same, but every score is bf16 (low 16 bits zero), so pass 1 decides.
// Half: every score is fp16; the bins are the fp16 bit patterns themselves (one pass).
enum class KeySpace { Wide, WideOnePass, Half };

KeySpace keySpaceOf(const std::vector<at::ScalarType>& dtypes) {
    const auto all = [&](at::ScalarType type) {
        return !dtypes.empty() &&
               std::all_of(dtypes.begin(), dtypes.end(), [&](auto t) { return t == type; });
    };
    if (all(at::kHalf)) return KeySpace::Half;
    if (all(at::kBFloat16)) return KeySpace::WideOnePass;
    return KeySpace::Wide;
}

// Per-thread 32-bit bins, merged into 64-bit totals at the end of a pass, or earlier once 2^31
// scores were counted since the last merge (so no 32-bit count can overflow). Not copyable.
class RadixCounter {
public:
    RadixCounter()
        : m_threads(at::get_num_threads()),
          m_threadBins(at::zeros({m_threads, kRadixBins}, at::kInt)),
          m_used(static_cast<size_t>(m_threads), 0) {}

    int64_t bytes() const { return static_cast<int64_t>(m_threadBins.nbytes()); }

    // Merges into totals first when counting `count` more could overflow a 32-bit bin.
    void makeRoomFor(int64_t count, int64_t* totals) {
        constexpr int64_t kMergeEvery = int64_t(1) << 31;
        if (m_pending + count > kMergeEvery) drainInto(totals);
        m_pending += count;
    }
    bool takeInvalid() { return m_invalid.exchange(false); }

    // Pass 1: ++bins[key >> 16], noting keys that are not valid scores.
    template <typename Load>
    void countHigh(Load load, int64_t count) {
        at::parallel_for(0, count, kGrain, [&](int64_t begin, int64_t end) {
            uint32_t* bins = binsOfThisThread();
            uint32_t invalid = 0;
            for (int64_t i = begin; i < end; ++i) {
                const uint32_t key = load(i);
                invalid |= static_cast<uint32_t>(key >= kInvalidKey);
                ++bins[key >> 16];
            }
            if (invalid) m_invalid = true;
        });
    }

    // Pass 1 over fp16 scores only: ++bins[fp16 pattern] (ordered like the value when >= 0).
    void countHalf(const KeySpan& span) {
        const auto* data = static_cast<const uint16_t*>(span.loader.data);
        const uint32_t mask = span.loader.absolute ? 0x7fffu : 0xffffu;
        at::parallel_for(0, span.count, kGrain, [&](int64_t begin, int64_t end) {
            uint32_t* bins = binsOfThisThread();
            uint32_t invalid = 0;
            for (int64_t i = begin; i < end; ++i) {
                uint32_t key = data[i] & mask;
                key = key == 0x8000u ? 0u : key;
                invalid |= static_cast<uint32_t>(key >= 0x7c00u);  // inf, NaN, negative
                ++bins[key];
            }
            if (invalid) m_invalid = true;
        });
    }

    // Pass 2: ++bins[key & 0xffff] for the keys whose top 16 bits are `high`. Few keys are, so
    // blocks of 16 are tested first and skipped whole.
    template <typename Load>
    void countLow(Load load, int64_t count, uint32_t high) {
        at::parallel_for(0, count, kGrain, [&](int64_t begin, int64_t end) {
            uint32_t* bins = binsOfThisThread();
            constexpr int64_t kLanes = 16;
            int64_t i = begin;
            for (; i + kLanes <= end; i += kLanes) {
                uint32_t hit = 0;
                for (int64_t j = 0; j < kLanes; ++j)
                    hit |= static_cast<uint32_t>((load(i + j) >> 16) == high);
                if (!hit) continue;
                for (int64_t j = 0; j < kLanes; ++j) {
                    const uint32_t key = load(i + j);
                    if ((key >> 16) == high) ++bins[key & 0xffffu];
                }
            }
            for (; i < end; ++i) {
                const uint32_t key = load(i);
                if ((key >> 16) == high) ++bins[key & 0xffffu];
            }
        });
    }

    // Adds every used thread's bins to totals and clears them.
    void drainInto(int64_t* totals) {
        auto* all = reinterpret_cast<uint32_t*>(m_threadBins.data_ptr<int32_t>());
        for (int thread = 0; thread < m_threads; ++thread) {
            if (!m_used[thread]) continue;
            uint32_t* bins = all + thread * kRadixBins;
            for (int64_t i = 0; i < kRadixBins; ++i) totals[i] += bins[i];
            std::fill(bins, bins + kRadixBins, 0u);
            m_used[thread] = 0;
        }
        m_pending = 0;
    }

private:
    uint32_t* binsOfThisThread() {
        const int thread = at::get_thread_num();
        m_used[thread] = 1;
        return reinterpret_cast<uint32_t*>(m_threadBins.data_ptr<int32_t>()) + thread * kRadixBins;
    }

    int m_threads;
    at::Tensor m_threadBins;  // [threads, kRadixBins] uint32 counts (stored as int32)
    std::vector<uint8_t> m_used;
    std::atomic<bool> m_invalid{false};
    int64_t m_pending = 0;  // scores counted since the last merge
};

template <typename Load>
int64_t countEqual(Load load, int64_t count, uint32_t key) {
    return at::parallel_reduce(
        0, count, kGrain, int64_t(0),
        [&](int64_t begin, int64_t end, int64_t sum) {
            for (int64_t i = begin; i < end; ++i) sum += load(i) == key;
            return sum;
        },
        std::plus<int64_t>());
}

struct RadixResult {
    uint32_t key = 0;   // the k-th smallest key
    int64_t less = 0;   // keys below it
    int64_t equal = 0;  // keys equal to it
    int passes = 0;
};

// The layers one radix selection runs over: calls visit(layer, keys) for each, in layer order.
using LayerVisitor =
    std::function<void(const std::function<void(int64_t, const LayerKeys&)>& visit)>;

class ExactSelector {
public:
    ExactSelector(const ScoreSource& source, const SelectionOptions& options, ObserverRef observer,
                  const CancelToken* cancel)
        : m_source(source), m_options(options), m_observer(observer), m_cancel(cancel) {}

    Selection run() {
        Selection selection;
        selection.layers.resize(static_cast<size_t>(m_source.layerCount()));
        selection.total = m_source.totalNumel();
        switch (m_options.group) {
            case SelectionGroup::Global:
                selectGlobal(selection);
                break;
            case SelectionGroup::Layer:
                selectLayers(selection);
                break;
            case SelectionGroup::Row:
                selectRows(selection);
                break;
            case SelectionGroup::NM:
                checkNM(selection);
                break;
        }
        selection.extraBytes = m_rowBufferBytes;
        if (m_counter)
            selection.extraBytes +=
                m_counter->bytes() + int64_t(m_highTotals.nbytes()) + int64_t(m_lowTotals.nbytes());
        return selection;
    }

private:
    void selectGlobal(Selection& selection);
    void selectLayers(Selection& selection);
    void selectRows(Selection& selection);
    void checkNM(Selection& selection);
    RadixResult radixSelect(const LayerVisitor& forEachLayer, int64_t k, int64_t groupTotal,
                            KeySpace space, const std::string& group, DistGroup* acrossRanks);
    void shareTies(Selection& selection, uint32_t key, int64_t ties);
    // The layers this rank counts: all of them alone, its contiguous share across ranks.
    Share ownedLayers() const {
        return m_options.dist ? shareOf(m_source.layerCount(), m_options.dist->rank(),
                                        m_options.dist->worldSize())
                              : Share{0, m_source.layerCount()};
    }

    const ScoreSource& m_source;
    const SelectionOptions& m_options;
    ObserverRef m_observer;
    const CancelToken* m_cancel;
    // The bins, made by the first radix selection (the row and nm groups need none).
    std::unique_ptr<RadixCounter> m_counter;
    at::Tensor m_highTotals;  // [kRadixBins] int64: pass 1 counts
    at::Tensor m_lowTotals;   // [kRadixBins] int64: pass 2 counts
    int64_t m_rowBufferBytes = 0;
};

RadixResult ExactSelector::radixSelect(const LayerVisitor& forEachLayer, int64_t k,
                                       int64_t groupTotal, KeySpace space,
                                       const std::string& group, DistGroup* acrossRanks) {
    if (!m_counter) {
        m_counter = std::make_unique<RadixCounter>();
        m_highTotals = at::empty({kRadixBins}, at::kLong);
        m_lowTotals = at::empty({kRadixBins}, at::kLong);
    }
    RadixCounter& counter = *m_counter;
    int64_t* high = m_highTotals.data_ptr<int64_t>();
    std::fill(high, high + kRadixBins, 0);
    forEachLayer([&](int64_t layer, const LayerKeys& keys) {
        forEachKeySpan(keys.tensor, keys.absolute, [&](const KeySpan& span) {
            counter.makeRoomFor(span.count, high);
            if (space == KeySpace::Half) {
                counter.countHalf(span);
            } else {
                withLoader(span.loader, [&](auto load) { counter.countHigh(load, span.count); });
            }
        });
        if (counter.takeInvalid())
            throwInvalidScore(m_source.layerName(layer), keys.tensor, keys.absolute);
        throwIfCancelled(m_cancel);
    });
    counter.drainInto(high);
    // Each rank counted its own layers: the sum of the bins is one process's count, exactly.
    if (acrossRanks) allReduceSum(*acrossRanks, m_highTotals, "select");
    const auto [bin, below] = findRadixBin(high, k);
    RadixResult result;
    result.passes = 1;
    if (space != KeySpace::Wide) {
        result.key = space == KeySpace::Half
                         ? c10::detail::fp16_ieee_to_fp32_bits(static_cast<uint16_t>(bin))
                         : static_cast<uint32_t>(bin) << 16;
        result.less = below;
        result.equal = high[bin];
        reportExactStep(m_observer, group, 0, result.key, below + high[bin], k, groupTotal);
        return result;
    }
    reportExactStep(m_observer, group, 0, (static_cast<uint32_t>(bin) << 16) | 0xffffu,
                    below + high[bin], k, groupTotal);

    int64_t* low = m_lowTotals.data_ptr<int64_t>();
    std::fill(low, low + kRadixBins, 0);
    forEachLayer([&](int64_t, const LayerKeys& keys) {
        forEachKeySpan(keys.tensor, keys.absolute, [&](const KeySpan& span) {
            counter.makeRoomFor(span.count, low);
            withLoader(span.loader, [&](auto load) {
                counter.countLow(load, span.count, static_cast<uint32_t>(bin));
            });
        });
        throwIfCancelled(m_cancel);
    });
    counter.drainInto(low);
    if (acrossRanks) allReduceSum(*acrossRanks, m_lowTotals, "select");
    const auto [lowBin, belowLow] = findRadixBin(low, k - below);
    result.key = (static_cast<uint32_t>(bin) << 16) | static_cast<uint32_t>(lowBin);
    result.less = below + belowLow;
    result.equal = low[lowBin];
    result.passes = 2;
    reportExactStep(m_observer, group, 1, result.key, result.less + result.equal, k, groupTotal);
    return result;
}

void ExactSelector::selectGlobal(Selection& selection) {
    const int64_t k = targetCount(m_options.sparsity, selection.total);
    selection.target = k;
    if (k == 0) return;  // every cut selects nothing

    std::vector<at::ScalarType> dtypes;
    for (int64_t layer = 0; layer < m_source.layerCount(); ++layer)
        dtypes.push_back(m_source.dtype(layer));
    const Share owned = ownedLayers();
    const LayerVisitor allLayers = [&](const auto& visit) {
        for (int64_t layer = owned.begin; layer < owned.end; ++layer)
            visit(layer, readLayerKeys(m_source, layer));
    };
    const RadixResult result =
        radixSelect(allLayers, k, selection.total, keySpaceOf(dtypes), "", m_options.dist);
    selection.threshold = keyValue(result.key);
    selection.passes = result.passes;
    selection.selected = k;
    const int64_t ties = k - result.less;
    if (ties == result.equal) {
        for (LayerSelection& layer : selection.layers)
            layer.cut = ScoreCut{result.key, ScoreCut::kAllTies};
        return;
    }
    shareTies(selection, result.key, ties);
    selection.passes += 1;
}

// Gives the ties at the threshold to the layers in order, each taking all it holds until the
// budget is spent; the layers after that take none (and are not read). Across ranks, each counts
// the ties of its own layers and the counts of all are summed before they are given out.
void ExactSelector::shareTies(Selection& selection, uint32_t key, int64_t ties) {
    if (m_options.dist) {
        const Share owned = ownedLayers();
        at::Tensor equal = at::zeros({m_source.layerCount()}, at::kLong);
        for (int64_t layer = owned.begin; layer < owned.end; ++layer) {
            const LayerKeys keys = readLayerKeys(m_source, layer);
            int64_t count = 0;
            forEachKeySpan(keys.tensor, keys.absolute, [&](const KeySpan& span) {
                withLoader(span.loader, [&](auto load) { count += countEqual(load, span.count, key); });
            });
            equal[layer] = count;
            throwIfCancelled(m_cancel);
        }
        allReduceSum(*m_options.dist, equal, "select ties");
        for (int64_t layer = 0; layer < m_source.layerCount(); ++layer) {
            const int64_t taken = std::min(equal[layer].item<int64_t>(), ties);
            selection.layers[layer].cut = ScoreCut{key, taken};
            ties -= taken;
        }
        return;
    }
    for (int64_t layer = 0; layer < m_source.layerCount(); ++layer) {
        ScoreCut& cut = selection.layers[layer].cut;
        cut = ScoreCut{key, 0};
        if (ties == 0) continue;
        const LayerKeys keys = readLayerKeys(m_source, layer);
        int64_t equal = 0;
        forEachKeySpan(keys.tensor, keys.absolute, [&](const KeySpan& span) {
            withLoader(span.loader, [&](auto load) { equal += countEqual(load, span.count, key); });
        });
        cut.ties = std::min(equal, ties);
        ties -= cut.ties;
        throwIfCancelled(m_cancel);
    }
}

void ExactSelector::selectLayers(Selection& selection) {
    for (int64_t layer = 0; layer < m_source.layerCount(); ++layer) {
        const int64_t n = m_source.numel(layer);
        const int64_t k = targetCount(m_options.sparsity, n);
        selection.target += k;
        selection.selected += k;
        if (k == 0) continue;
        const LayerKeys keys = readLayerKeys(m_source, layer);  // held for both passes
        const LayerVisitor thisLayer = [&](const auto& visit) { visit(layer, keys); };
        const RadixResult result = radixSelect(thisLayer, k, n, keySpaceOf({m_source.dtype(layer)}),
                                               m_source.layerName(layer), nullptr);
        selection.layers[layer].cut = ScoreCut{result.key, k - result.less};
        selection.passes = std::max(selection.passes, result.passes);
    }
}

void ExactSelector::selectRows(Selection& selection) {
    selection.passes = 1;
    for (int64_t layer = 0; layer < m_source.layerCount(); ++layer) {
        const auto [rows, cols] = m_source.shape(layer);
        const int64_t k = targetCount(m_options.sparsity, cols);
        std::vector<ScoreCut>& cuts = selection.layers[layer].rows;
        cuts.assign(static_cast<size_t>(rows), ScoreCut{});
        selection.target += rows * k;
        selection.selected += rows * k;
        if (k == 0 || rows == 0) continue;

        const LayerKeys keys = readLayerKeys(m_source, layer);
        const at::Tensor buffers = at::empty({at::get_num_threads(), cols}, at::kInt);
        m_rowBufferBytes = std::max<int64_t>(m_rowBufferBytes, buffers.nbytes());
        auto* bufferBase = reinterpret_cast<uint32_t*>(buffers.data_ptr<int32_t>());
        std::atomic<bool> invalid{false};
        forEachKeyRows(keys.tensor, keys.absolute, [&](const KeyRows& block) {
            withLoader(block.loader, [&](auto load) {
                const int64_t grain = std::max<int64_t>(1, kGrain / cols);
                at::parallel_for(0, block.rows, grain, [&](int64_t first, int64_t last) {
                    uint32_t* row = bufferBase + at::get_thread_num() * cols;
                    for (int64_t r = first; r < last; ++r) {
                        uint32_t bad = 0;
                        for (int64_t c = 0; c < cols; ++c) {
                            row[c] = load(block.offset(r, c));
                            bad |= static_cast<uint32_t>(row[c] >= kInvalidKey);
                        }
                        if (bad) {
                            invalid = true;
                            return;
                        }
                        std::nth_element(row, row + k - 1, row + cols);
                        const uint32_t key = row[k - 1];
                        const int64_t less =
                            std::count_if(row, row + k - 1, [key](uint32_t v) { return v < key; });
                        cuts[block.firstRow + r] = ScoreCut{key, k - less};
                    }
                });
            });
        });
        if (invalid) throwInvalidScore(m_source.layerName(layer), keys.tensor, keys.absolute);
        throwIfCancelled(m_cancel);
    }
}

void ExactSelector::checkNM(Selection& selection) {
    checkNMShapes(m_source, m_options.nmGroup);
    selection.passes = 1;
    for (int64_t layer = 0; layer < m_source.layerCount(); ++layer) {
        const int64_t k = nmTargetCount(m_source.numel(layer), m_options.nmKeep, m_options.nmGroup);
        selection.target += k;
        selection.selected += k;
        const LayerKeys keys = readLayerKeys(m_source, layer);
        bool invalid = false;
        forEachKeySpan(keys.tensor, keys.absolute, [&](const KeySpan& span) {
            withLoader(span.loader, [&](auto load) {
                invalid |= at::parallel_reduce(
                    0, span.count, kGrain, false,
                    [&](int64_t begin, int64_t end, bool any) {
                        uint32_t bad = 0;
                        for (int64_t i = begin; i < end; ++i)
                            bad |= static_cast<uint32_t>(load(i) >= kInvalidKey);
                        return any || bad != 0;
                    },
                    [](bool a, bool b) { return a || b; });
            });
        });
        if (invalid) throwInvalidScore(m_source.layerName(layer), keys.tensor, keys.absolute);
        throwIfCancelled(m_cancel);
    }
}

}  // namespace

std::pair<int64_t, int64_t> findRadixBin(const int64_t* totals, int64_t k) {
    int64_t below = 0;
    for (int64_t bin = 0; bin < kRadixBins; ++bin) {
        if (below + totals[bin] >= k) return {bin, below};
        below += totals[bin];
    }
    throw Error(ErrorKind::Internal, "", "exact selection", "fewer scores than the target");
}

void reportExactStep(ObserverRef observer, const std::string& group, int step, uint32_t key,
                     int64_t countBelow, int64_t target, int64_t groupTotal) {
    SearchStepEvent event;
    event.method = "exact";
    event.group = group;
    event.step = step;
    event.threshold = keyValue(key);
    event.countBelow = countBelow;
    event.target = target;
    event.error = double(countBelow - target) / double(std::max<int64_t>(1, groupTotal));
    observer->onSearchStep(event);
}

Selection exactSelect(const ScoreSource& source, const SelectionOptions& options,
                      ObserverRef observer, const CancelToken* cancel) {
    // Scores on a GPU are counted there: no element crosses to the host.
    if (options.deviceKernels || !source.device().is_cpu())
        return exactSelectOnDevice(source, options, observer, cancel);
    return ExactSelector(source, options, observer, cancel).run();
}

}  // namespace gp
