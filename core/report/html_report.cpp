#include "core/report/html_report.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace gp {
namespace {

constexpr size_t kMaxSearchRows = 300;  // row-wise searches have thousands; the JSON has all

std::string escape(const std::string& text) {
    std::string out;
    out.reserve(text.size());
    for (char c : text) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            case '"': out += "&quot;"; break;
            case '\'': out += "&#39;"; break;
            default: out += c;
        }
    }
    return out;
}

std::string format(const char* pattern, double value) {
    if (std::isnan(value)) return "NaN";
    if (std::isinf(value)) return value > 0 ? "&infin;" : "-&infin;";
    char text[64];
    std::snprintf(text, sizeof text, pattern, value);
    return text;
}

std::string fixed(double value, int digits = 4) {
    const std::string pattern = "%." + std::to_string(digits) + "f";
    return format(pattern.c_str(), value);
}

std::string general(double value) { return format("%.6g", value); }

std::string percent(double fraction) { return format("%.2f %%", fraction * 100.0); }

std::string count(int64_t value) {
    std::string digits = std::to_string(value < 0 ? -value : value);
    for (int i = int(digits.size()) - 3; i > 0; i -= 3) digits.insert(size_t(i), "\u202f");
    return (value < 0 ? "-" : "") + digits;
}

std::string bytes(int64_t value) {
    if (value < 0) return "n/a";
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double size = double(value);
    int unit = 0;
    while (size >= 1024.0 && unit < 4) {
        size /= 1024.0;
        ++unit;
    }
    char text[64];
    std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.2f %s", size, units[unit]);
    return text + std::string(" (") + count(value) + " B)";
}

std::string yesNo(bool value) { return value ? "yes" : "no"; }

std::string perplexity(double value) { return value > 0.0 || std::isnan(value) ? fixed(value) : "not measured"; }

// A two-column table of (label, already-escaped value) rows.
class FactTable {
public:
    FactTable& row(const std::string& label, const std::string& valueHtml) {
        m_html += "<tr><th>" + escape(label) + "</th><td>" + valueHtml + "</td></tr>\n";
        return *this;
    }
    std::string html() const { return "<table class=\"facts\">\n" + m_html + "</table>\n"; }

private:
    std::string m_html;
};

// A table with a header row; cells are already escaped HTML.
class GridTable {
public:
    explicit GridTable(const std::vector<std::string>& headers) {
        m_html = "<table class=\"grid\">\n<thead><tr>";
        for (const std::string& header : headers) m_html += "<th>" + escape(header) + "</th>";
        m_html += "</tr></thead>\n<tbody>\n";
    }
    void row(const std::vector<std::string>& cells) {
        m_html += "<tr>";
        for (const std::string& cell : cells) m_html += "<td>" + cell + "</td>";
        m_html += "</tr>\n";
    }
    std::string html() const { return m_html + "</tbody>\n</table>\n"; }

private:
    std::string m_html;
};

std::string section(const std::string& id, const std::string& title, const std::string& body) {
    return "<section id=\"" + id + "\">\n<h2>" + escape(title) + "</h2>\n" + body + "</section>\n";
}

std::string note(const std::string& text) { return "<p class=\"note\">" + escape(text) + "</p>\n"; }

std::string summarySection(const RunRecord& record) {
    const PruneResult& r = record.result;
    const PruneOptions& o = r.options;
    FactTable facts;
    facts.row("Model", escape(record.model.path))
        .row("Architecture", escape(record.model.architecture) + ", " +
                                 count(record.model.totalParameters) + " parameters")
        .row("Method", escape(o.method) + (o.probe.enabled ? " + gradient probe" : "") +
                           ", group " + escape(o.group) + ", schedule " + escape(o.schedule))
        .row("Sparsity", percent(r.sparsity) + " achieved (target " + percent(o.sparsity) + "), " +
                             count(r.prunedParameters) + " of " + count(r.prunableParameters) +
                             " prunable weights zeroed")
        .row("Perplexity", perplexity(r.pplBefore) + " &rarr; " + perplexity(r.pplAfter));
    const auto total = r.seconds.find("total");
    if (total != r.seconds.end())
        facts.row("Time", fixed(total->second, 2) + " s" +
                              (r.threads > 0 ? " on " + std::to_string(r.threads) + " threads" : ""));
    if (r.cancelled) facts.row("Outcome", "cancelled: the weights were restored");
    if (record.exported)
        facts.row("Exported", escape(record.exportFacts.path) + " (" +
                                  escape(record.exportFacts.format) + ")");
    facts.row("Written", escape(record.createdAt));
    return section("summary", "Summary", facts.html());
}

std::string settingsSection(const RunRecord& record) {
    const PruneOptions& o = record.result.options;
    const ProbeOptions& p = o.probe;
    FactTable facts;
    facts.row("method", escape(o.method))
        .row("sparsity", general(o.sparsity))
        .row("group", escape(o.group) +
                          (o.group == "nm" ? " (" + std::to_string(o.nmN) + ":" +
                                                 std::to_string(o.nmM) + ")"
                                           : ""))
        .row("select", escape(o.select))
        .row("schedule", escape(o.schedule));
    if (o.method == "wanda") facts.row("wanda norm", escape(o.wandaNorm));
    if (o.schedule == "layerwise")
        facts.row("layer order", escape(o.layerOrder)).row("candidates", escape(o.candidates));
    if (o.schedule == "iterative")
        facts.row("initial sparsity", general(o.initialSparsity))
            .row("sparsity step", general(o.sparsityStep))
            .row("max ppl increase", general(o.maxPplIncrease))
            .row("iterative rounds", escape(o.iterativeInner));
    facts.row("probe", yesNo(p.enabled));
    if (p.enabled) {
        facts.row("probe threshold (tau)", general(p.threshold))
            .row("probe adaptive", yesNo(p.adaptive))
            .row("probe reduction", general(p.reduction))
            .row("probe batches", std::to_string(p.batches))
            .row("probe fp16 gradients", yesNo(p.fp16Gradients));
        if (!p.thresholdList.empty())
            facts.row("probe threshold list", std::to_string(p.thresholdList.size()) + " values");
        if (!p.thresholdByLayer.empty())
            facts.row("probe threshold by layer", std::to_string(p.thresholdByLayer.size()) + " layers");
    }
    facts.row("calibration text", escape(o.calibPath.empty() ? "(the model's own)" : o.calibPath))
        .row("evaluation text", escape(o.evalPath.empty() ? "(the model's own)" : o.evalPath))
        .row("nsamples", std::to_string(o.nsamples))
        .row("seqlen", o.seqlen > 0 ? std::to_string(o.seqlen) : "min(512, context)")
        .row("batch size", std::to_string(o.batchSize))
        .row("eval max windows", o.evalMaxWindows > 0 ? std::to_string(o.evalMaxWindows) : "all")
        .row("seed", std::to_string(o.seed))
        .row("blockwise", o.blockwise ? "yes, block inputs " + escape(o.blockInputs) : "no");
    const ModelFacts& m = record.model;
    FactTable model;
    model.row("path", escape(m.path))
        .row("format", escape(m.format))
        .row("architecture", escape(m.architecture))
        .row("dtype / device", escape(m.dtype) + " / " + escape(m.device))
        .row("layers / hidden / heads (kv)",
             std::to_string(m.numLayers) + " / " + std::to_string(m.hiddenSize) + " / " +
                 std::to_string(m.numHeads) + " (" + std::to_string(m.numKvHeads) + ")")
        .row("intermediate / vocabulary / context",
             std::to_string(m.intermediateSize) + " / " + std::to_string(m.vocabSize) + " / " +
                 std::to_string(m.contextLength))
        .row("parameters (prunable)", count(m.totalParameters) + " (" +
                                          count(m.prunableParameters) + ")")
        .row("tokenizer", escape(m.tokenizerPath.empty() ? "(none)" : m.tokenizerPath));
    return section("settings", "Settings",
                   "<h3>Run</h3>\n" + facts.html() + "<h3>Model</h3>\n" + model.html());
}

std::string layersSection(const PruneResult& r) {
    if (r.layers.empty()) return section("layers", "Per-layer results", note("No layers were pruned."));
    // SparseGPT's reconstruction error, where the run measured one.
    const bool errors = std::any_of(r.layers.begin(), r.layers.end(), [](const LayerResultEvent& l) {
        return l.reconstructionError >= 0;
    });
    std::vector<std::string> headers = {"layer",    "weights", "candidates", "pruned",
                                        "restored", "target",  "sparsity"};
    if (errors) headers.push_back("reconstruction error");
    GridTable table(headers);
    for (const LayerResultEvent& l : r.layers) {
        std::vector<std::string> cells = {escape(l.layer),    count(l.numel),
                                          count(l.candidates), count(l.pruned),
                                          count(l.restored),  percent(l.targetSparsity),
                                          percent(l.sparsity)};
        if (errors) cells.push_back(l.reconstructionError >= 0 ? general(l.reconstructionError) : "");
        table.row(cells);
    }
    return section("layers", "Per-layer results", table.html());
}

std::string searchSection(const PruneResult& r) {
    std::string body =
        r.options.group == "global"
            ? "<p>Global threshold: " + general(r.threshold) + "</p>\n"
            : "<p>No single threshold: group " + escape(r.options.group) +
                  ", every group has its own cut.</p>\n";
    if (r.searchSteps.empty()) {
        body += note("The selection recorded no search steps.");
    } else {
        GridTable table({"method", "group", "step", "threshold", "scores ≤ threshold", "target",
                         "error"});
        const size_t shown = std::min(r.searchSteps.size(), kMaxSearchRows);
        for (size_t i = 0; i < shown; ++i) {
            const SearchStepEvent& s = r.searchSteps[i];
            table.row({escape(s.method), escape(s.group.empty() ? "global" : s.group),
                       std::to_string(s.step), general(s.threshold), count(s.countBelow),
                       count(s.target), general(s.error)});
        }
        body += table.html();
        if (shown < r.searchSteps.size())
            body += note(std::to_string(r.searchSteps.size() - shown) +
                         " more steps are in report.json (result.search_steps).");
    }
    if (r.normalFit.count > 0)
        body += "<p>Normal fit of the scores: mean " + general(r.normalFit.mean) + ", standard "
                "deviation " + general(r.normalFit.stddev) + " over " + count(r.normalFit.count) +
                " scores.</p>\n";
    return section("search", "Threshold search", body);
}

std::string metricsSection(const PruneResult& r) {
    FactTable facts;
    facts.row("perplexity before", perplexity(r.pplBefore))
        .row("perplexity after", perplexity(r.pplAfter));
    if (r.pplBefore > 0.0 && r.pplAfter > 0.0)
        facts.row("change", format("%+.4f", r.pplAfter - r.pplBefore) + " (" +
                                format("%+.2f %%", (r.pplAfter / r.pplBefore - 1.0) * 100.0) + ")");
    facts.row("sparsity", percent(r.sparsity))
        .row("pruned / prunable", count(r.prunedParameters) + " / " + count(r.prunableParameters));
    std::string body = facts.html();
    if (!r.rounds.empty()) {
        GridTable rounds({"round", "target", "sparsity", "perplexity", "tau", "accepted"});
        for (size_t i = 0; i < r.rounds.size(); ++i) {
            const IterativeRound& round = r.rounds[i];
            rounds.row({std::to_string(i + 1), percent(round.targetSparsity),
                        percent(round.sparsity), perplexity(round.ppl), general(round.threshold),
                        yesNo(round.accepted)});
        }
        body += "<h3>Iterative rounds</h3>\n" + rounds.html();
    }
    if (!r.sweep.empty()) {
        GridTable sweep({"tau", "sparsity", "pruned", "perplexity"});
        for (const SweepPoint& point : r.sweep)
            sweep.row({general(point.threshold), percent(point.sparsity), count(point.pruned),
                       perplexity(point.ppl)});
        body += "<h3>Probe threshold sweep</h3>\n" + sweep.html();
    }
    return section("metrics", "Metrics before and after", body);
}

std::string timesSection(const PruneResult& r) {
    if (r.seconds.empty()) return section("times", "Times", note("No times were recorded."));
    GridTable table({"stage", "seconds"});
    for (const auto& [stage, seconds] : r.seconds)
        if (stage != "total") table.row({escape(stage), fixed(seconds, 3)});
    const auto total = r.seconds.find("total");
    if (total != r.seconds.end()) table.row({"<b>total</b>", "<b>" + fixed(total->second, 3) + "</b>"});
    return section("times", "Times", table.html());
}

std::string memorySection(const PruneResult& r) {
    int64_t sampledRss = 0, sampledVram = -1;
    for (const MemorySampleEvent& sample : r.memory) {
        sampledRss = std::max(sampledRss, sample.rssBytes);
        sampledVram = std::max(sampledVram, sample.vramAllocatedBytes);
    }
    FactTable facts;
    facts.row("peak RAM (resident)", bytes(r.peakRssBytes))
        .row("peak VRAM", r.peakVramBytes >= 0 ? bytes(r.peakVramBytes) : "no CUDA device in use")
        .row("samples", std::to_string(r.memory.size()) +
                            (r.memory.empty() ? ""
                                              : " over " + fixed(r.memory.back().seconds, 1) +
                                                    " s; largest sampled RAM " + bytes(sampledRss) +
                                                    (sampledVram >= 0 ? ", VRAM " + bytes(sampledVram)
                                                                      : "")));
    return section("memory", "Memory peaks", facts.html());
}

std::string exportSection(const RunRecord& record) {
    if (!record.exported)
        return section("export", "Export", note("The pruned model was not exported with this run."));
    const ExportFacts& e = record.exportFacts;
    FactTable facts;
    facts.row("folder", escape(e.path))
        .row("format", escape(e.format))
        .row("weight files", bytes(e.weightFileBytes) +
                                 (e.shards > 1 ? " in " + std::to_string(e.shards) + " shards" : ""))
        .row("the same weights dense", bytes(e.denseWeightBytes));
    if (e.layerDenseBytes > 0 && e.format == "compressed")
        facts.row("compressed layers", bytes(e.layerCompressedBytes) + " instead of " +
                                           bytes(e.layerDenseBytes) + " dense (" +
                                           percent(double(e.layerCompressedBytes) /
                                                   double(e.layerDenseBytes)) + ")");
    if (e.maskFileBytes > 0) facts.row("masks file", bytes(e.maskFileBytes));
    facts.row("all files", bytes(e.totalBytes));
    std::string files;
    for (const std::string& file : e.files) files += (files.empty() ? "" : ", ") + escape(file);
    facts.row("files", files);
    return section("export", "Export", facts.html());
}

std::string versionsSection(const RunRecord& record) {
    if (record.versions.empty())
        return section("versions", "Software versions", note("No versions were recorded."));
    FactTable facts;
    for (const auto& [name, version] : record.versions) facts.row(name, escape(version));
    return section("versions", "Software versions", facts.html());
}

std::string caption(const std::string& name) {
    static const std::map<std::string, std::string> kCaptions = {
        {"histogram", "Importance histogram (all layers) with the normal fit and the threshold"},
        {"search", "Threshold search convergence"},
        {"layers", "Sparsity per layer: target and achieved, probe restores"},
        {"memory", "RAM and VRAM during the run"},
        {"ppl_vs_sparsity", "Perplexity against sparsity across runs"}};
    const auto found = kCaptions.find(name);
    return found != kCaptions.end() ? found->second : name;
}

std::string plotsSection(const ReportImages& images) {
    if (images.empty())
        return section("plots", "Plots",
                       note("The plots are absent: this report was written without them. The "
                            "numbers behind every plot are in report.json; `gradprobe report "
                            "report.json --html OUT` draws them."));
    std::string body;
    for (const auto& [name, image] : images) {
        // SVG drawn by core (the CLI) or PNG rendered by the Studio's plots.
        const bool svg = image.rfind("<svg", 0) == 0;
        body += "<figure><img alt=\"" + escape(name) + "\" src=\"data:image/" +
                (svg ? "svg+xml" : "png") + ";base64," + base64Encode(image) +
                "\"><figcaption>" + escape(caption(name)) + "</figcaption></figure>\n";
    }
    return section("plots", "Plots", body);
}

constexpr const char* kStyle = R"(body{font-family:system-ui,sans-serif;margin:2em auto;max-width:72em;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.5em 0}th,td{padding:.25em .7em;text-align:left;vertical-align:top}
table.facts th{color:#555;font-weight:normal;white-space:nowrap}
table.grid th{background:#f0f0f0;border-bottom:1px solid #bbb}table.grid td{border-bottom:1px solid #eee}
table.grid td:not(:first-child){text-align:right;font-variant-numeric:tabular-nums}
figure{margin:1em 0}img{max-width:100%}figcaption{color:#555;font-size:.9em}.note{color:#666}
)";

}  // namespace

const std::vector<std::string>& htmlReportSections() {
    static const std::vector<std::string> kSections = {"summary", "settings", "layers",
                                                       "search",  "metrics",  "times",
                                                       "memory",  "export",   "versions",
                                                       "plots"};
    return kSections;
}

std::string renderHtmlReport(const RunRecord& record, const ReportImages& images) {
    const PruneResult& r = record.result;
    std::string title = "GradProbe report: " + record.model.path;
    std::ostringstream page;
    page << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
         << "<title>" << escape(title) << "</title>\n<style>\n"
         << kStyle << "</style>\n</head>\n<body>\n<h1>" << escape(title) << "</h1>\n"
         << summarySection(record) << settingsSection(record) << layersSection(r)
         << searchSection(r) << metricsSection(r) << timesSection(r) << memorySection(r)
         << exportSection(record) << versionsSection(record) << plotsSection(images)
         << "</body>\n</html>\n";
    return page.str();
}

std::string base64Encode(const std::string& input) {
    static const char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((input.size() + 2) / 3 * 4);
    size_t i = 0;
    for (; i + 2 < input.size(); i += 3) {
        const uint32_t n = (uint32_t(uint8_t(input[i])) << 16) |
                           (uint32_t(uint8_t(input[i + 1])) << 8) | uint8_t(input[i + 2]);
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += kAlphabet[(n >> 6) & 63];
        out += kAlphabet[n & 63];
    }
    if (i + 1 == input.size()) {
        const uint32_t n = uint32_t(uint8_t(input[i])) << 16;
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += "==";
    } else if (i + 2 == input.size()) {
        const uint32_t n = (uint32_t(uint8_t(input[i])) << 16) | (uint32_t(uint8_t(input[i + 1])) << 8);
        out += kAlphabet[(n >> 18) & 63];
        out += kAlphabet[(n >> 12) & 63];
        out += kAlphabet[(n >> 6) & 63];
        out += '=';
    }
    return out;
}

}  // namespace gp
