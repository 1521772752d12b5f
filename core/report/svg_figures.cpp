#include "core/report/svg_figures.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <utility>
#include <vector>

namespace gp {
namespace {

// The Studio's palette (ui/plots/plot_palette.h), so a colour means the same thing everywhere.
constexpr const char* kKept = "rgb(45,105,175)";
constexpr const char* kPruned = "rgb(200,50,45)";
constexpr const char* kRestored = "rgb(240,150,30)";
constexpr const char* kTarget = "rgb(160,160,160)";
constexpr const char* kFit = "rgb(40,40,40)";
constexpr const char* kVram = "rgb(60,150,75)";
const char* seriesColour(size_t index) {
    static const char* kColours[] = {"rgb(45,105,175)", "rgb(200,50,45)",  "rgb(60,150,75)",
                                     "rgb(240,150,30)", "rgb(130,80,170)", "rgb(90,90,90)"};
    return kColours[index % 6];
}

std::string escapeXml(const std::string& text) {
    std::string out;
    for (const char c : text) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string number(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f", value);
    return text;
}

std::string tickLabel(double value) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", value);
    return text;
}

struct Axis {
    double low = 0.0, high = 1.0;
    bool log = false;
    std::string label;
};

// Tick values: decades on a log axis, 1-2-5 steps (about six) on a linear one.
std::vector<double> ticksOf(const Axis& axis) {
    std::vector<double> ticks;
    if (axis.log) {
        for (double decade = std::pow(10.0, std::floor(std::log10(axis.low)));
             decade <= axis.high * 1.0001; decade *= 10.0)
            if (decade >= axis.low * 0.9999) ticks.push_back(decade);
        return ticks;
    }
    const double span = axis.high - axis.low;
    if (!(span > 0)) return {axis.low};
    const double rough = span / 6.0, magnitude = std::pow(10.0, std::floor(std::log10(rough)));
    double step = magnitude;
    for (const double factor : {1.0, 2.0, 5.0, 10.0})
        if (rough <= factor * magnitude) {
            step = factor * magnitude;
            break;
        }
    for (double tick = std::ceil(axis.low / step) * step; tick <= axis.high + step * 1e-9;
         tick += step)
        ticks.push_back(std::abs(tick) < step * 1e-9 ? 0.0 : tick);
    return ticks;
}

// One figure: a title, a plot area with a bottom, a left and optionally a right axis, and the
// marks drawn into it in data coordinates.
class SvgFigure {
public:
    SvgFigure(int width, int height, const std::string& title)
        : m_width(width), m_height(height), m_title(title) {}

    void setAxes(Axis x, Axis y) {
        m_x = std::move(x);
        m_y = std::move(y);
    }
    void setRightAxis(Axis y) {
        m_right = std::move(y);
        m_hasRight = true;
    }
    void setSubtitle(const std::string& text) { m_subtitle = text; }
    void setCategories(std::vector<std::string> names) { m_categories = std::move(names); }

    double px(double x) const { return left() + fraction(m_x, x) * (right() - left()); }
    double py(double y) const { return bottom() - fraction(m_y, y) * (bottom() - top()); }
    double pyRight(double y) const { return bottom() - fraction(m_right, y) * (bottom() - top()); }
    double left() const { return 80.0; }
    double right() const { return m_width - (m_hasRight ? 80.0 : 30.0); }
    double top() const { return 60.0; }
    double bottom() const { return m_height - (m_categories.empty() ? 55.0 : 120.0); }

    void add(const std::string& element) { m_body += element + "\n"; }

    // A line through points already in pixels; `fill` closes it down to the bottom axis.
    void path(const std::vector<std::pair<double, double>>& points, const std::string& stroke,
              double width, const std::string& dash = "", const std::string& fill = "none",
              double fillOpacity = 0.0) {
        if (points.empty()) return;
        std::string d;
        for (size_t i = 0; i < points.size(); ++i)
            d += (i ? " L" : "M") + number(points[i].first) + "," + number(points[i].second);
        if (fill != "none")
            d += " L" + number(points.back().first) + "," + number(bottom()) + " L" +
                 number(points.front().first) + "," + number(bottom()) + " Z";
        add("<path d=\"" + d + "\" stroke=\"" + stroke + "\" stroke-width=\"" + number(width) +
            "\" fill=\"" + fill + "\" fill-opacity=\"" + tickLabel(fillOpacity) + "\"" +
            (dash.empty() ? "" : " stroke-dasharray=\"" + dash + "\"") + "/>");
    }
    void marker(double x, double y, const std::string& colour) {
        add("<circle cx=\"" + number(x) + "\" cy=\"" + number(y) +
            "\" r=\"3.5\" fill=\"white\" "
            "stroke=\"" +
            colour + "\" stroke-width=\"1.5\"/>");
    }
    void rect(double x0, double y0, double x1, double y1, const std::string& fill, double opacity) {
        add("<rect x=\"" + number(std::min(x0, x1)) + "\" y=\"" + number(std::min(y0, y1)) +
            "\" width=\"" + number(std::abs(x1 - x0)) + "\" height=\"" + number(std::abs(y1 - y0)) +
            "\" fill=\"" + fill + "\" fill-opacity=\"" + tickLabel(opacity) + "\"/>");
    }
    void legend(const std::vector<std::pair<std::string, std::string>>& entries) {
        double x = left() + 10.0;
        for (const auto& [label, colour] : entries) {
            rect(x, top() + 8, x + 14, top() + 18, colour, 0.8);
            add(text(x + 18, top() + 17, label, "start", 11));
            x += 30.0 + 6.5 * double(label.size());
        }
    }
    void message(const std::string& text) {
        add(this->text((left() + right()) / 2, (top() + bottom()) / 2, text, "middle", 14, "#777"));
    }

    std::string finish() const {
        std::string svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" +
                          std::to_string(m_width) + "\" height=\"" + std::to_string(m_height) +
                          "\" viewBox=\"0 0 " + std::to_string(m_width) + " " +
                          std::to_string(m_height) + "\" font-family=\"sans-serif\">\n";
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
        svg += text(m_width / 2.0, 24, m_title, "middle", 16, "#222") + "\n";
        if (!m_subtitle.empty()) svg += text(m_width / 2.0, 44, m_subtitle, "middle", 11) + "\n";
        svg += axes();
        svg += "<g clip-path=\"none\">\n" + m_body + "</g>\n</svg>\n";
        return svg;
    }

    static std::string text(double x, double y, const std::string& content,
                            const std::string& anchor, int size, const std::string& colour = "#444",
                            double rotate = 0.0) {
        std::string element = "<text x=\"" + number(x) + "\" y=\"" + number(y) +
                              "\" text-anchor=\"" + anchor + "\" font-size=\"" +
                              std::to_string(size) + "\" fill=\"" + colour + "\"";
        if (rotate != 0.0)
            element +=
                " transform=\"rotate(" + number(rotate) + " " + number(x) + " " + number(y) + ")\"";
        return element + ">" + escapeXml(content) + "</text>";
    }

private:
    static double fraction(const Axis& axis, double value) {
        if (axis.log) {
            const double low = std::log10(axis.low), high = std::log10(axis.high);
            return high > low ? (std::log10(std::max(value, axis.low)) - low) / (high - low) : 0.5;
        }
        return axis.high > axis.low ? (value - axis.low) / (axis.high - axis.low) : 0.5;
    }

    std::string axes() const {
        std::string out = "<rect x=\"" + number(left()) + "\" y=\"" + number(top()) +
                          "\" width=\"" + number(right() - left()) + "\" height=\"" +
                          number(bottom() - top()) + "\" fill=\"none\" stroke=\"#999\"/>\n";
        if (m_categories.empty()) {
            for (const double tick : ticksOf(m_x)) {
                const double x = px(tick);
                out += "<line x1=\"" + number(x) + "\" y1=\"" + number(bottom()) + "\" x2=\"" +
                       number(x) + "\" y2=\"" + number(bottom() + 5) + "\" stroke=\"#999\"/>\n";
                out += text(x, bottom() + 18, tickLabel(tick), "middle", 11) + "\n";
            }
        } else {
            // Past ~40 categories every label cannot be read: label every k-th.
            const size_t every = std::max<size_t>(1, (m_categories.size() + 39) / 40);
            for (size_t i = 0; i < m_categories.size(); i += every)
                out += text(px(double(i)), bottom() + 12, m_categories[i], "end", 9, "#444", -60) +
                       "\n";
        }
        for (const double tick : ticksOf(m_y)) {
            const double y = py(tick);
            out += "<line x1=\"" + number(left() - 5) + "\" y1=\"" + number(y) + "\" x2=\"" +
                   number(right()) + "\" y2=\"" + number(y) + "\" stroke=\"#eee\"/>\n";
            out += text(left() - 8, y + 4, tickLabel(tick), "end", 11) + "\n";
        }
        if (m_hasRight)
            for (const double tick : ticksOf(m_right))
                out += text(right() + 8, pyRight(tick) + 4, tickLabel(tick), "start", 11) + "\n";
        out += text((left() + right()) / 2, m_height - 12.0, m_x.label, "middle", 12) + "\n";
        out += text(22, (top() + bottom()) / 2, m_y.label, "middle", 12, "#444", -90) + "\n";
        if (m_hasRight)
            out += text(m_width - 20.0, (top() + bottom()) / 2, m_right.label, "middle", 12, "#444",
                        90) +
                   "\n";
        return out;
    }

    int m_width, m_height;
    std::string m_title, m_subtitle;
    Axis m_x, m_y, m_right;
    bool m_hasRight = false;
    std::vector<std::string> m_categories;
    std::string m_body;
};

double normalCdf(double x, double mean, double stddev) {
    return 0.5 * std::erfc(-(x - mean) / (stddev * std::sqrt(2.0)));
}

std::string cutNoun(const std::string& group) {
    if (group == "layer") return "layer cuts";
    if (group == "row") return "row cuts";
    return "N:M group cuts";
}

std::string histogramFigure(const PruneResult& result, int width, int height) {
    SvgFigure figure(width, height, "Importance — whole model");
    const HistogramEvent* histogram = nullptr;
    for (const HistogramEvent& candidate : result.histograms)
        if (candidate.layer.empty()) histogram = &candidate;
    if (!histogram || histogram->counts.empty() || histogram->binEdges.size() < 2) {
        figure.setAxes({1e-4, 1.0, true, "score (log)"}, {0.0, 1.0, false, "weights per bin"});
        figure.message("no histogram in this run");
        return figure.finish();
    }
    const std::vector<double>& edges = histogram->binEdges;
    const size_t bins = std::min(histogram->counts.size(), edges.size() - 1);
    int64_t highest = 1;
    for (size_t i = 0; i < bins; ++i) highest = std::max(highest, histogram->counts[i]);
    figure.setAxes({edges.front(), edges[bins], true, "score (log)"},
                   {0.0, double(highest) * 1.1, false, "weights per bin"});
    const bool cuts = !histogram->cutGroup.empty() && !histogram->cutCounts.empty();
    int64_t highestCut = 1;
    for (const int64_t count : histogram->cutCounts) highestCut = std::max(highestCut, count);
    if (cuts)
        figure.setRightAxis(
            {0.0, double(highestCut) * 1.25, false, "groups whose cut is in the bin"});

    // The pruned region first, under everything: only where one threshold decides.
    const double threshold = histogram->threshold;
    if (!cuts && threshold > 0.0)
        figure.rect(figure.px(std::min(edges.front(), threshold)), figure.top(),
                    figure.px(threshold), figure.bottom(), kPruned, 0.11);

    // Step outlines: each bin's top from its left to its right edge.
    const auto steps = [&](const std::vector<int64_t>& values, bool rightAxis) {
        std::vector<std::pair<double, double>> points;
        for (size_t i = 0; i < bins && i < values.size(); ++i) {
            const double y =
                rightAxis ? figure.pyRight(double(values[i])) : figure.py(double(values[i]));
            points.emplace_back(figure.px(edges[i]), y);
            points.emplace_back(figure.px(edges[i + 1]), y);
        }
        return points;
    };
    figure.path(steps(histogram->counts, false), kKept, 1.2, "", kKept, 0.27);
    figure.path(steps(histogram->countsBelow, false), kPruned, 1.2, "", kPruned, 0.5);
    std::vector<std::pair<std::string, std::string>> legend = {{"all scores", kKept},
                                                               {"selected for pruning", kPruned}};
    const NormalFitEvent& fit = result.normalFit;
    if (fit.stddev > 0.0 && (fit.layer.empty())) {
        const double count = double(fit.count > 0 ? fit.count : histogram->total);
        std::vector<std::pair<double, double>> curve;
        for (size_t i = 0; i < bins; ++i) {
            const double mass = normalCdf(edges[i + 1], fit.mean, fit.stddev) -
                                normalCdf(edges[i], fit.mean, fit.stddev);
            curve.emplace_back(figure.px(std::sqrt(edges[i] * edges[i + 1])),
                               figure.py(std::min(count * mass, double(highest) * 1.1)));
        }
        figure.path(curve, kFit, 1.6, "6,4");
        legend.emplace_back("normal fit", kFit);
    }
    char subtitle[256];
    if (cuts) {
        int64_t groups = histogram->zeroCuts;
        for (const int64_t count : histogram->cutCounts) groups += count;
        figure.path(steps(histogram->cutCounts, true), kPruned, 1.6, "2,3");
        legend.emplace_back(cutNoun(histogram->cutGroup) + " (right axis)", kPruned);
        std::snprintf(subtitle, sizeof subtitle,
                      "%lld weights, %lld %s, no single threshold; zeros: %lld",
                      (long long)histogram->total, (long long)groups,
                      cutNoun(histogram->cutGroup).c_str(), (long long)histogram->zeros);
    } else {
        if (threshold > 0.0)
            figure.add("<line x1=\"" + number(figure.px(threshold)) + "\" y1=\"" +
                       number(figure.top()) + "\" x2=\"" + number(figure.px(threshold)) +
                       "\" y2=\"" + number(figure.bottom()) + "\" stroke=\"" + kPruned +
                       "\" stroke-width=\"1.8\"/>");
        std::snprintf(subtitle, sizeof subtitle, "%lld weights, threshold %g; zeros: %lld",
                      (long long)histogram->total, threshold, (long long)histogram->zeros);
    }
    figure.setSubtitle(subtitle);
    figure.legend(legend);
    return figure.finish();
}

std::string searchFigure(const PruneResult& result, int width, int height) {
    SvgFigure figure(width, height, "Threshold search");
    if (result.searchSteps.empty()) {
        figure.setAxes({0.0, 1.0, false, "step"}, {0.0, 1.0, false, "threshold"});
        figure.message("no search steps in this run");
        return figure.finish();
    }
    // Every step in the order the search took it: the threshold (left) and the count error.
    double low = result.searchSteps.front().threshold, high = low, worst = 1e-9;
    for (const SearchStepEvent& step : result.searchSteps) {
        low = std::min(low, step.threshold);
        high = std::max(high, step.threshold);
        worst = std::max(worst, std::abs(100.0 * step.error));
    }
    if (!(high > low)) high = low + 1.0;
    const double steps = double(result.searchSteps.size());
    figure.setAxes({0.0, std::max(1.0, steps - 1.0), false, "step (in the order taken)"},
                   {low - 0.05 * (high - low), high + 0.05 * (high - low), false, "threshold"});
    figure.setRightAxis({-worst * 1.1, worst * 1.1, false, "count error (%)"});
    std::vector<std::pair<double, double>> thresholds, errors;
    for (size_t i = 0; i < result.searchSteps.size(); ++i) {
        const SearchStepEvent& step = result.searchSteps[i];
        thresholds.emplace_back(figure.px(double(i)), figure.py(step.threshold));
        errors.emplace_back(figure.px(double(i)), figure.pyRight(100.0 * step.error));
    }
    figure.path(thresholds, kKept, 1.6);
    figure.path(errors, kPruned, 1.2, "4,3");
    if (thresholds.size() <= 60)
        for (const auto& [x, y] : thresholds) figure.marker(x, y, kKept);
    figure.setSubtitle(std::to_string(result.searchSteps.size()) + " steps, method " +
                       result.searchSteps.front().method);
    figure.legend({{"threshold", kKept}, {"count error (right axis)", kPruned}});
    return figure.finish();
}

std::string shortLayerName(const std::string& name) {
    std::string text = name;
    for (const char* prefix : {"model.layers.", "model.decoder.layers.", "transformer.h."})
        if (text.rfind(prefix, 0) == 0) text = text.substr(std::string(prefix).size());
    const std::string suffix = ".weight";
    if (text.size() > suffix.size() &&
        text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0)
        text.resize(text.size() - suffix.size());
    return text;
}

std::string layersFigure(const PruneResult& result, int width, int height) {
    SvgFigure figure(width, height, "Sparsity per layer");
    std::vector<std::string> names;
    for (const LayerResultEvent& layer : result.layers)
        names.push_back(shortLayerName(layer.layer));
    figure.setCategories(names);
    figure.setAxes({-0.7, std::max<double>(1.0, double(names.size())) - 0.3, false, ""},
                   {0.0, 100.0, false, "sparsity (%)"});
    if (result.layers.empty()) {
        figure.message("no layers in this run");
        return figure.finish();
    }
    const double half = 0.38 * (figure.px(1.0) - figure.px(0.0)) / 2.0;
    for (size_t i = 0; i < result.layers.size(); ++i) {
        const LayerResultEvent& layer = result.layers[i];
        const double x = figure.px(double(i));
        const double achieved = 100.0 * layer.sparsity;
        const double restored =
            100.0 * double(layer.restored) / double(std::max<int64_t>(1, layer.numel));
        figure.rect(x - half - 0.5, figure.py(0.0), x - 0.5,
                    figure.py(100.0 * layer.targetSparsity), kTarget, 1.0);
        figure.rect(x + 0.5, figure.py(0.0), x + half + 0.5, figure.py(achieved), kKept, 1.0);
        if (restored > 0)
            figure.rect(x + 0.5, figure.py(achieved), x + half + 0.5,
                        figure.py(achieved + restored), kRestored, 1.0);
    }
    char subtitle[128];
    std::snprintf(subtitle, sizeof subtitle, "%zu layers, %.2f%% of the prunable weights pruned",
                  result.layers.size(), 100.0 * result.sparsity);
    figure.setSubtitle(subtitle);
    figure.legend({{"target", kTarget}, {"achieved", kKept}, {"restored by probe", kRestored}});
    return figure.finish();
}

std::string memoryFigure(const PruneResult& result, int width, int height) {
    SvgFigure figure(width, height, "Memory during the run");
    if (result.memory.empty()) {
        figure.setAxes({0.0, 1.0, false, "seconds"}, {0.0, 1.0, false, "MB"});
        figure.message("no memory samples in this run");
        return figure.finish();
    }
    double highest = 1.0;
    bool vram = false;
    for (const MemorySampleEvent& sample : result.memory) {
        highest = std::max(highest, double(sample.rssBytes) / 1e6);
        if (sample.vramAllocatedBytes >= 0) {
            vram = true;
            highest = std::max(highest, double(sample.vramReservedBytes) / 1e6);
        }
    }
    figure.setAxes({0.0, std::max(1e-3, result.memory.back().seconds), false, "seconds"},
                   {0.0, highest * 1.1, false, "MB"});
    std::vector<std::pair<double, double>> rss, allocated, reserved;
    for (const MemorySampleEvent& sample : result.memory) {
        rss.emplace_back(figure.px(sample.seconds), figure.py(double(sample.rssBytes) / 1e6));
        if (sample.vramAllocatedBytes >= 0) {
            allocated.emplace_back(figure.px(sample.seconds),
                                   figure.py(double(sample.vramAllocatedBytes) / 1e6));
            reserved.emplace_back(figure.px(sample.seconds),
                                  figure.py(double(sample.vramReservedBytes) / 1e6));
        }
    }
    figure.path(rss, kKept, 1.6, "", kKept, 0.15);
    std::vector<std::pair<std::string, std::string>> legend = {{"RAM (resident)", kKept}};
    if (vram) {
        figure.path(allocated, kVram, 1.6);
        figure.path(reserved, kVram, 1.2, "4,3");
        legend.emplace_back("VRAM allocated", kVram);
        legend.emplace_back("VRAM reserved (dashed)", kVram);
    }
    char subtitle[128];
    std::snprintf(subtitle, sizeof subtitle, "peak RSS %.1f MB", double(result.peakRssBytes) / 1e6);
    figure.setSubtitle(subtitle);
    figure.legend(legend);
    return figure.finish();
}

std::string pplFigure(const RunRecord& record, int width, int height) {
    SvgFigure figure(width, height, "Perplexity against sparsity");
    // Series as the Studio names them: the method, "+ probe" when the probe ran.
    std::vector<std::pair<std::string, std::vector<const RunHistoryPoint*>>> series;
    double low = 0.0, high = 0.0;
    for (const RunHistoryPoint& point : record.history) {
        if (!(point.pplAfter > 0.0)) continue;
        const std::string name = point.probe ? point.method + " + probe" : point.method;
        auto found = std::find_if(series.begin(), series.end(),
                                  [&](const auto& entry) { return entry.first == name; });
        if (found == series.end()) found = series.insert(series.end(), {name, {}});
        found->second.push_back(&point);
        for (const double ppl : {point.pplAfter, point.pplBefore}) {
            if (!(ppl > 0.0)) continue;
            low = low > 0.0 ? std::min(low, ppl) : ppl;
            high = std::max(high, ppl);
        }
    }
    if (series.empty()) {
        figure.setAxes({0.0, 100.0, false, "achieved sparsity (%)"},
                       {0.0, 1.0, false, "perplexity"});
        figure.message("no evaluated runs in this record");
        return figure.finish();
    }
    const bool logScale = high / low > 20.0;
    figure.setAxes({0.0, 100.0, false, "achieved sparsity (%)"},
                   {logScale ? low / 1.2 : std::max(0.0, low - 0.1 * (high - low + 1e-9)),
                    logScale ? high * 1.2 : high + 0.1 * (high - low + 1e-9), logScale,
                    logScale ? "perplexity (log)" : "perplexity"});
    std::vector<std::pair<std::string, std::string>> legend;
    for (size_t s = 0; s < series.size(); ++s) {
        std::vector<const RunHistoryPoint*> points = series[s].second;
        std::sort(points.begin(), points.end(),
                  [](const auto* a, const auto* b) { return a->sparsity < b->sparsity; });
        std::vector<std::pair<double, double>> line;
        if (points.back()->pplBefore > 0.0)
            line.emplace_back(figure.px(0.0), figure.py(points.back()->pplBefore));
        for (const RunHistoryPoint* point : points)
            line.emplace_back(figure.px(100.0 * point->sparsity), figure.py(point->pplAfter));
        figure.path(line, seriesColour(s), 1.6);
        for (const auto& [x, y] : line) figure.marker(x, y, seriesColour(s));
        legend.emplace_back(series[s].first, seriesColour(s));
    }
    figure.setSubtitle(std::to_string(record.history.size()) + " runs");
    figure.legend(legend);
    return figure.finish();
}

}  // namespace

std::map<std::string, std::string> renderSvgFigures(const RunRecord& record, int width,
                                                    int height) {
    return {{"histogram", histogramFigure(record.result, width, height)},
            {"search", searchFigure(record.result, width, height)},
            {"layers", layersFigure(record.result, width, height)},
            {"memory", memoryFigure(record.result, width, height)},
            {"ppl_vs_sparsity", pplFigure(record, width, height)}};
}

}  // namespace gp
