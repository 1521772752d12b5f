#include "core/prune/selection.h"

#include <c10/core/InferenceMode.h>

#include <chrono>
#include <cmath>
#include <string>

#include "core/prune/exact_select.h"
#include "core/prune/layer_mask.h"
#include "core/prune/score_histogram.h"
#include "core/prune/score_keys.h"
#include "core/prune/sort_select.h"
#include "core/prune/statistical_search.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

constexpr int64_t kMaxNMGroup = 64;

std::string number(double value) {
    std::string text = std::to_string(value);
    while (text.size() > 1 && text.back() == '0') text.pop_back();
    if (!text.empty() && text.back() == '.') text.pop_back();
    return text;
}

}  // namespace

const char* selectionMethodName(SelectionMethod method) {
    switch (method) {
        case SelectionMethod::Exact:
            return "exact";
        case SelectionMethod::Statistical:
            return "statistical";
        case SelectionMethod::Sort:
            return "sort";
    }
    return "unknown";
}

const char* selectionGroupName(SelectionGroup group) {
    switch (group) {
        case SelectionGroup::Global:
            return "global";
        case SelectionGroup::Layer:
            return "layer";
        case SelectionGroup::Row:
            return "row";
        case SelectionGroup::NM:
            return "nm";
    }
    return "unknown";
}

SelectionMethod parseSelectionMethod(const std::string& text, const std::string& option) {
    for (auto method :
         {SelectionMethod::Exact, SelectionMethod::Statistical, SelectionMethod::Sort})
        if (text == selectionMethodName(method)) return method;
    throw badArgument(
        option, "unknown selection method '" + text + "' (expected exact, statistical or sort)");
}

SelectionGroup parseSelectionGroup(const std::string& text, const std::string& option) {
    for (auto group :
         {SelectionGroup::Global, SelectionGroup::Layer, SelectionGroup::Row, SelectionGroup::NM})
        if (text == selectionGroupName(group)) return group;
    throw badArgument(option, "unknown group '" + text + "' (expected global, layer, row or nm)");
}

void checkSelectionOptions(const SelectionOptions& options) {
    if (!(options.sparsity >= 0.0 && options.sparsity < 1.0))
        throw badArgument("sparsity",
                          "must be at least 0 and below 1, got " + number(options.sparsity));
    if (options.group == SelectionGroup::NM &&
        !(options.nmGroup >= 1 && options.nmGroup <= kMaxNMGroup && options.nmKeep >= 1 &&
          options.nmKeep <= options.nmGroup))
        throw badArgument("nm", "N:M needs 1 <= N <= M <= " + std::to_string(kMaxNMGroup) +
                                    ", got " + std::to_string(options.nmKeep) + ":" +
                                    std::to_string(options.nmGroup));
    if (options.method == SelectionMethod::Statistical &&
        (options.maxSteps < 1 || !(options.tolerance >= 0.0)))
        throw badArgument("statistical", "needs at least one step and a tolerance >= 0");
}

Selection selectScores(const ScoreSource& source, const SelectionOptions& options,
                       RunObserver* observer, const CancelToken* cancel) {
    checkSelectionOptions(options);
    const ObserverRef events(observer);
    c10::InferenceMode inference;
    const auto start = std::chrono::steady_clock::now();
    Selection selection;
    switch (options.method) {
        case SelectionMethod::Exact:
            selection = exactSelect(source, options, events, cancel);
            break;
        case SelectionMethod::Statistical:
            selection = statisticalSelect(source, options, events, cancel);
            break;
        case SelectionMethod::Sort:
            selection = sortSelect(source, options, events, cancel);
            break;
    }
    selection.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    selection.method = options.method;
    selection.group = options.group;
    selection.nmKeep = options.nmKeep;
    selection.nmGroup = options.nmGroup;
    selection.sparsity = options.group == SelectionGroup::NM
                             ? double(options.nmGroup - options.nmKeep) / double(options.nmGroup)
                             : options.sparsity;

    ThresholdEvent event;
    event.method = selectionMethodName(options.method);
    event.group = selectionGroupName(options.group);
    event.threshold = selection.threshold;
    event.selected = selection.selected;
    event.target = selection.target;
    event.total = selection.total;
    event.seconds = selection.seconds;
    event.extraBytes = selection.extraBytes;
    events->onThreshold(event);

    if (options.histograms) reportHistograms(source, selection, events, cancel);
    return selection;
}

at::Tensor layerMask(const Selection& selection, int64_t layer, const at::Tensor& scores,
                     bool absolute) {
    c10::InferenceMode inference;
    return maskFromScores(selection, layer, scores, absolute);
}

at::Tensor layerMask(const Selection& selection, const ScoreSource& source, int64_t layer) {
    const LayerKeys keys = readLayerKeys(source, layer);
    return layerMask(selection, layer, keys.tensor, keys.absolute);
}

}  // namespace gp
