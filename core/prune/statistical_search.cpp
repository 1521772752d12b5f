#include "core/prune/statistical_search.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>

#include "core/prune/score_keys.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

// Acklam's coefficients (central region a/b, tails c/d).
constexpr double kA[] = {-3.969683028665376e+01, 2.209460984245205e+02,  -2.759285104469687e+02,
                         1.383577518672690e+02,  -3.066479806614716e+01, 2.506628277459239e+00};
constexpr double kB[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                         6.680131188771972e+01, -1.328068155288572e+01};
constexpr double kC[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                         -2.549732539343734e+00, 4.374664141464968e+00,  2.938163982698783e+00};
constexpr double kD[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                         3.754408661907416e+00};
constexpr double kTail = 0.02425;

double lowerTail(double p) {
    const double q = std::sqrt(-2.0 * std::log(p));
    return (((((kC[0] * q + kC[1]) * q + kC[2]) * q + kC[3]) * q + kC[4]) * q + kC[5]) /
           ((((kD[0] * q + kD[1]) * q + kD[2]) * q + kD[3]) * q + 1.0);
}

// One layer's scores as fp32, for the moments (a 16-bit sum would round to 8 or 11 bits).
at::Tensor floatScores(const ScoreSource& source, int64_t layer) {
    const at::Tensor scores = source.scores(layer);
    return scores.scalar_type() == at::kFloat ? scores : scores.to(at::kFloat);
}

// The threshold as a scalar of the scores' dtype: the largest value of that dtype <= t, so that
// comparing in the dtype itself (as upstream does) selects exactly the scores <= t.
at::Scalar thresholdIn(at::ScalarType type, float t) {
    if (type == at::kBFloat16) {  // truncating the fp32 pattern rounds a non-negative t down
        return keyValue(floatKey(t) & 0xffff0000u);
    }
    if (type == at::kHalf) {
        uint16_t half = c10::detail::fp16_ieee_from_fp32_value(t);
        if (half > 0 && half < 0x7c00 && c10::detail::fp16_ieee_to_fp32_value(half) > t) --half;
        if (half >= 0x7c00) half = 0x7bff;  // above the largest fp16: every finite one is below
        return c10::detail::fp16_ieee_to_fp32_value(half);
    }
    return t;
}

struct Moments {
    int64_t count = 0;
    double sum = 0.0;
    double sumSquares = 0.0;
    double min = std::numeric_limits<double>::infinity();
    double max = -std::numeric_limits<double>::infinity();
};

// The layers a search runs over (the global group: all; the layer group: one).
using LayerList = std::vector<int64_t>;

class StatisticalSearch {
public:
    StatisticalSearch(const ScoreSource& source, const SelectionOptions& options,
                      ObserverRef observer, const CancelToken* cancel)
        : m_source(source), m_options(options), m_observer(observer), m_cancel(cancel) {}

    Selection run();

private:
    struct Outcome {
        float threshold = 0.0f;
        int64_t selected = 0;
        int steps = 0;
    };
    Outcome search(const LayerList& layers, int64_t target, const std::string& group);
    Moments moments(const LayerList& layers);
    int64_t countAtMost(const LayerList& layers, float threshold);
    void noteTemporary(int64_t layer, const at::Tensor& temporary, bool widened);

    const ScoreSource& m_source;
    const SelectionOptions& m_options;
    ObserverRef m_observer;
    const CancelToken* m_cancel;
    int64_t m_extraBytes = 0;
};

void StatisticalSearch::noteTemporary(int64_t layer, const at::Tensor& temporary, bool widened) {
    // A widened fp32 copy of the layer and the per-layer temporary live together.
    const int64_t copy = widened ? m_source.numel(layer) * 4 : 0;
    m_extraBytes = std::max<int64_t>(m_extraBytes, copy + int64_t(temporary.nbytes()));
}

Moments StatisticalSearch::moments(const LayerList& layers) {
    Moments m;
    for (const int64_t layer : layers) {
        const at::Tensor x = floatScores(m_source, layer);
        const auto [lo, hi] = at::aminmax(x);
        const double low = lo.item<double>(), high = hi.item<double>();
        if (!(low >= 0.0) || !std::isfinite(high))  // NaN fails both comparisons
            throwInvalidScore(m_source.layerName(layer), x, false);
        const at::Tensor squares = x.square();
        noteTemporary(layer, squares, m_source.dtype(layer) != at::kFloat);
        m.count += x.numel();
        m.sum += x.sum().item<double>();
        m.sumSquares += squares.sum().item<double>();
        m.min = std::min(m.min, low);
        m.max = std::max(m.max, high);
        throwIfCancelled(m_cancel);
    }
    return m;
}

int64_t StatisticalSearch::countAtMost(const LayerList& layers, float threshold) {
    int64_t count = 0;
    for (const int64_t layer : layers) {
        const at::Tensor scores = m_source.scores(layer);
        const at::ScalarType type = scores.scalar_type();
        const bool native = type == at::kFloat || type == at::kBFloat16 || type == at::kHalf;
        const at::Tensor x = native ? scores : scores.to(at::kFloat);
        const at::Tensor below = at::le(x, thresholdIn(x.scalar_type(), threshold));
        noteTemporary(layer, below, !native);
        count += below.sum().item<int64_t>();
        throwIfCancelled(m_cancel);
    }
    return count;
}

StatisticalSearch::Outcome StatisticalSearch::search(const LayerList& layers, int64_t target,
                                                     const std::string& group) {
    const Moments m = moments(layers);
    const double total = static_cast<double>(m.count);
    const double mean = m.sum / total;
    const double stddev = std::sqrt(std::max(0.0, m.sumSquares / total - mean * mean));
    m_observer->onNormalFit(NormalFitEvent{group, mean, stddev, m.count});

    const double sparsity = m_options.sparsity;
    double low = m.min, high = m.max;
    double threshold = std::clamp(mean + inverseNormalCdf(sparsity) * stddev, low, high);
    Outcome best;
    double bestError = std::numeric_limits<double>::infinity();
    for (int step = 0; step < m_options.maxSteps; ++step) {
        const float t = static_cast<float>(threshold);
        const int64_t count = countAtMost(layers, t);
        const double actual = double(count) / total;
        const double error = std::abs(actual - sparsity);
        m_observer->onSearchStep(SearchStepEvent{"statistical", group, step, t, count, target,
                                                 double(count - target) / total});
        best.steps = step + 1;
        if (error < bestError) {
            bestError = error;
            best.threshold = t;
            best.selected = count;
        }
        if (error < m_options.tolerance) break;
        (actual < sparsity ? low : high) = threshold;
        threshold = (low + high) / 2.0;
        if (std::abs(high - low) < 1e-10) break;
    }
    return best;
}

Selection StatisticalSearch::run() {
    Selection selection;
    selection.layers.resize(static_cast<size_t>(m_source.layerCount()));
    selection.total = m_source.totalNumel();
    const auto apply = [&](const LayerList& layers, const Outcome& outcome) {
        for (const int64_t layer : layers)
            selection.layers[layer].cut = ScoreCut{floatKey(outcome.threshold), ScoreCut::kAllTies};
        selection.selected += outcome.selected;
        selection.steps += outcome.steps;
        selection.passes += 1 + outcome.steps;
    };
    if (m_options.group == SelectionGroup::Global) {
        selection.target = targetCount(m_options.sparsity, selection.total);
        if (selection.target == 0 || selection.total == 0) return selection;  // as upstream
        LayerList all(static_cast<size_t>(m_source.layerCount()));
        for (int64_t layer = 0; layer < m_source.layerCount(); ++layer) all[layer] = layer;
        const Outcome outcome = search(all, selection.target, "");
        selection.threshold = outcome.threshold;
        apply(all, outcome);
    } else {
        for (int64_t layer = 0; layer < m_source.layerCount(); ++layer) {
            const int64_t target = targetCount(m_options.sparsity, m_source.numel(layer));
            selection.target += target;
            if (target == 0) continue;
            apply({layer}, search({layer}, target, m_source.layerName(layer)));
        }
    }
    selection.extraBytes = m_extraBytes;
    return selection;
}

}  // namespace

double inverseNormalCdf(double p) {
    if (!(p > 0.0 && p < 1.0)) throw badArgument("sparsity", "the normal quantile needs 0 < p < 1");
    double x;
    if (p < kTail) {
        x = lowerTail(p);
    } else if (p > 1.0 - kTail) {
        x = -lowerTail(1.0 - p);
    } else {
        const double q = p - 0.5, r = q * q;
        x = (((((kA[0] * r + kA[1]) * r + kA[2]) * r + kA[3]) * r + kA[4]) * r + kA[5]) * q /
            (((((kB[0] * r + kB[1]) * r + kB[2]) * r + kB[3]) * r + kB[4]) * r + 1.0);
    }
    // One Halley step on Phi(x) - p brings Acklam's 1e-9 to about machine precision.
    const double e = 0.5 * std::erfc(-x / std::sqrt(2.0)) - p;
    const double u = e * std::sqrt(2.0 * M_PI) * std::exp(x * x / 2.0);
    return x - u / (1.0 + x * u / 2.0);
}

Selection statisticalSelect(const ScoreSource& source, const SelectionOptions& options,
                            ObserverRef observer, const CancelToken* cancel) {
    if (options.group == SelectionGroup::Row || options.group == SelectionGroup::NM)
        throw badArgument("group", std::string("the statistical search supports the global and "
                                               "layer groups, not ") +
                                       selectionGroupName(options.group));
    return StatisticalSearch(source, options, observer, cancel).run();
}

}  // namespace gp
