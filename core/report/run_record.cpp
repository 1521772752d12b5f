#include "core/report/run_record.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <ctime>
#include <fstream>
#include <limits>
#include <sstream>

#include "core/runtime/error.h"

namespace gp {
namespace {

using Json = nlohmann::ordered_json;

// ---- writing ----

Json number(double value) {
    if (std::isfinite(value)) return value;
    if (std::isnan(value)) return "NaN";
    return value > 0 ? "Infinity" : "-Infinity";
}

Json numbers(const std::vector<double>& values) {
    Json list = Json::array();
    for (double value : values) list.push_back(number(value));
    return list;
}

Json toJson(const ProbeOptions& p) {
    Json byLayer = Json::object();
    for (const auto& [layer, tau] : p.thresholdByLayer) byLayer[layer] = number(tau);
    return {{"enabled", p.enabled},
            {"threshold", number(p.threshold)},
            {"threshold_list", numbers(p.thresholdList)},
            {"threshold_by_layer", byLayer},
            {"adaptive", p.adaptive},
            {"reduction", number(p.reduction)},
            {"batches", p.batches},
            {"fp16_gradients", p.fp16Gradients},
            {"sweep", numbers(p.sweep)},
            {"tune_on_fail", p.tuneOnFail},
            {"tune_both_steps", p.tuneBothSteps}};
}

Json toJson(const PruneOptions& o) {
    return {{"method", o.method},
            {"wanda_norm", o.wandaNorm},
            {"sparsity", number(o.sparsity)},
            {"group", o.group},
            {"nm_n", o.nmN},
            {"nm_m", o.nmM},
            {"select", o.select},
            {"schedule", o.schedule},
            {"layer_order", o.layerOrder},
            {"candidates", o.candidates},
            {"initial_sparsity", number(o.initialSparsity)},
            {"sparsity_step", number(o.sparsityStep)},
            {"max_ppl_increase", number(o.maxPplIncrease)},
            {"iterative_inner", o.iterativeInner},
            {"probe", toJson(o.probe)},
            {"calib_path", o.calibPath},
            {"calib_skip_bytes", o.calibSkipBytes},
            {"eval_path", o.evalPath},
            {"nsamples", o.nsamples},
            {"seqlen", o.seqlen},
            {"batch_size", o.batchSize},
            {"eval_max_windows", o.evalMaxWindows},
            {"seed", o.seed},
            {"evaluate", o.evaluate},
            {"blockwise", o.blockwise},
            {"block_inputs", o.blockInputs},
            {"percdamp", number(o.percdamp)},
            {"blocksize", o.blocksize}};
}

Json toJson(const LayerPart& p) {
    return {{"name", p.name}, {"first_row", p.firstRow}, {"rows", p.rows}};
}

Json toJson(const LayerResultEvent& l) {
    Json layer = {{"layer", l.layer},         {"numel", l.numel},
                  {"candidates", l.candidates}, {"pruned", l.pruned},
                  {"restored", l.restored},     {"target_sparsity", number(l.targetSparsity)},
                  {"sparsity", number(l.sparsity)}};
    if (!l.parts.empty()) {  // a fused layer (Phi-3's qkv_proj): which rows hold what
        Json parts = Json::array();
        for (const LayerPart& part : l.parts) parts.push_back(toJson(part));
        layer["parts"] = parts;
    }
    if (l.reconstructionError >= 0) layer["reconstruction_error"] = number(l.reconstructionError);
    return layer;
}

Json toJson(const SearchStepEvent& s) {
    return {{"method", s.method},         {"group", s.group},   {"step", s.step},
            {"threshold", number(s.threshold)}, {"count_below", s.countBelow},
            {"target", s.target},         {"error", number(s.error)}};
}

Json toJson(const IterativeRound& r) {
    return {{"target_sparsity", number(r.targetSparsity)}, {"sparsity", number(r.sparsity)},
            {"ppl", number(r.ppl)}, {"threshold", number(r.threshold)}, {"accepted", r.accepted}};
}

Json toJson(const SweepPoint& p) {
    return {{"threshold", number(p.threshold)}, {"sparsity", number(p.sparsity)},
            {"pruned", p.pruned}, {"ppl", number(p.ppl)}};
}

Json toJson(const HistogramEvent& h) {
    return {{"layer", h.layer},           {"bin_edges", numbers(h.binEdges)},
            {"counts", h.counts},         {"counts_below", h.countsBelow},
            {"zeros", h.zeros},           {"zeros_below", h.zerosBelow},
            {"total", h.total},           {"threshold", number(h.threshold)},
            {"cut_group", h.cutGroup},    {"cut_counts", h.cutCounts},
            {"zero_cuts", h.zeroCuts}};
}

Json toJson(const NormalFitEvent& n) {
    return {{"layer", n.layer}, {"mean", number(n.mean)}, {"stddev", number(n.stddev)},
            {"count", n.count}};
}

Json toJson(const MemorySampleEvent& m) {
    return {{"seconds", number(m.seconds)}, {"rss_bytes", m.rssBytes},
            {"vram_allocated_bytes", m.vramAllocatedBytes}, {"vram_reserved_bytes", m.vramReservedBytes}};
}

Json toJson(const RunHistoryPoint& p);
Json toJson(const RankFacts& r);

template <typename T>
Json list(const std::vector<T>& items) {
    Json out = Json::array();
    for (const T& item : items) out.push_back(toJson(item));
    return out;
}

Json toJson(const PruneResult& r) {
    Json seconds = Json::object();
    for (const auto& [stage, value] : r.seconds) seconds[stage] = number(value);
    return {{"run_id", r.runId},
            {"cancelled", r.cancelled},
            {"options", toJson(r.options)},
            {"sparsity", number(r.sparsity)},
            {"prunable_parameters", r.prunableParameters},
            {"pruned_parameters", r.prunedParameters},
            {"ppl_before", number(r.pplBefore)},
            {"ppl_after", number(r.pplAfter)},
            {"threshold", number(r.threshold)},
            {"layers", list(r.layers)},
            {"search_steps", list(r.searchSteps)},
            {"rounds", list(r.rounds)},
            {"sweep", list(r.sweep)},
            {"seconds", seconds},
            {"peak_rss_bytes", r.peakRssBytes},
            {"peak_vram_bytes", r.peakVramBytes},
            {"threads", r.threads},
            {"histograms", list(r.histograms)},
            {"normal_fit", toJson(r.normalFit)},
            {"memory", list(r.memory)}};
}

Json toJson(const ModelFacts& m) {
    return {{"path", m.path},
            {"format", m.format},
            {"architecture", m.architecture},
            {"dtype", m.dtype},
            {"device", m.device},
            {"tokenizer_path", m.tokenizerPath},
            {"vocab_size", m.vocabSize},
            {"hidden_size", m.hiddenSize},
            {"num_layers", m.numLayers},
            {"num_heads", m.numHeads},
            {"num_kv_heads", m.numKvHeads},
            {"intermediate_size", m.intermediateSize},
            {"context_length", m.contextLength},
            {"total_parameters", m.totalParameters},
            {"prunable_parameters", m.prunableParameters}};
}

Json toJson(const ExportFacts& e) {
    return {{"path", e.path},
            {"format", e.format},
            {"files", e.files},
            {"shards", e.shards},
            {"weight_file_bytes", e.weightFileBytes},
            {"dense_weight_bytes", e.denseWeightBytes},
            {"layer_dense_bytes", e.layerDenseBytes},
            {"layer_compressed_bytes", e.layerCompressedBytes},
            {"mask_file_bytes", e.maskFileBytes},
            {"total_bytes", e.totalBytes}};
}

Json toJson(const RankFacts& r) {
    return {{"rank", r.rank},
            {"calibration_batch_begin", r.calibrationBatchBegin},
            {"calibration_batch_end", r.calibrationBatchEnd},
            {"seconds", number(r.seconds)},
            {"peak_rss_bytes", r.peakRssBytes}};
}

Json toJson(const DistributedFacts& d) {
    return {{"world_size", d.worldSize}, {"backend", d.backend}, {"ranks", list(d.ranks)}};
}

Json toJson(const RunHistoryPoint& p) {
    return {{"run_id", p.runId},          {"method", p.method},
            {"group", p.group},          {"probe", p.probe},
            {"sparsity", number(p.sparsity)}, {"ppl_before", number(p.pplBefore)},
            {"ppl_after", number(p.pplAfter)}};
}

// ---- reading ----

// A JSON value with the key path that led to it, so every error names where it is.
class Node {
public:
    Node(const Json* value, std::string path, const std::string* source)
        : m_value(value), m_path(std::move(path)), m_source(source) {}

    bool present() const { return m_value && !m_value->is_null(); }
    const std::string& path() const { return m_path; }

    Node operator[](const char* key) const {
        const std::string path = m_path.empty() ? key : m_path + "." + key;
        if (!present()) return Node(nullptr, path, m_source);
        if (!m_value->is_object()) fail("an object");
        const auto found = m_value->find(key);
        return Node(found == m_value->end() ? nullptr : &*found, path, m_source);
    }

    // Elements of an array (none when absent).
    std::vector<Node> elements() const {
        std::vector<Node> nodes;
        if (!present()) return nodes;
        if (!m_value->is_array()) fail("an array");
        for (size_t i = 0; i < m_value->size(); ++i)
            nodes.emplace_back(&(*m_value)[i], m_path + "[" + std::to_string(i) + "]", m_source);
        return nodes;
    }

    // Members of an object, in order (none when absent).
    std::vector<std::pair<std::string, Node>> members() const {
        std::vector<std::pair<std::string, Node>> nodes;
        if (!present()) return nodes;
        if (!m_value->is_object()) fail("an object");
        for (auto it = m_value->begin(); it != m_value->end(); ++it)
            nodes.emplace_back(it.key(), Node(&it.value(), m_path + "." + it.key(), m_source));
        return nodes;
    }

    void read(double& out) const {
        if (!present()) return;
        if (m_value->is_number()) {
            out = m_value->get<double>();
        } else if (m_value->is_string()) {
            const std::string text = m_value->get<std::string>();
            if (text == "Infinity") out = std::numeric_limits<double>::infinity();
            else if (text == "-Infinity") out = -std::numeric_limits<double>::infinity();
            else if (text == "NaN") out = std::numeric_limits<double>::quiet_NaN();
            else fail("a number");
        } else {
            fail("a number");
        }
    }
    template <typename Int>
    void readInteger(Int& out) const {
        if (!present()) return;
        if (!m_value->is_number_integer()) fail("an integer");
        out = m_value->get<Int>();
    }
    void read(int64_t& out) const { readInteger(out); }
    void read(uint64_t& out) const {
        if (present() && m_value->is_number_integer() && !m_value->is_number_unsigned() &&
            m_value->get<int64_t>() < 0)
            fail("an integer >= 0");
        readInteger(out);
    }
    void read(int& out) const { readInteger(out); }
    void read(bool& out) const {
        if (!present()) return;
        if (!m_value->is_boolean()) fail("true or false");
        out = m_value->get<bool>();
    }
    void read(std::string& out) const {
        if (!present()) return;
        if (!m_value->is_string()) fail("a string");
        out = m_value->get<std::string>();
    }
    template <typename T>
    void read(std::vector<T>& out) const {
        if (!present()) return;
        out.clear();
        for (const Node& element : elements()) {
            T value{};
            element.read(value);
            out.push_back(value);
        }
    }

    [[noreturn]] void fail(const std::string& expected) const {
        throw badInput(*m_source, m_path, "must be " + expected);
    }

private:
    const Json* m_value;
    std::string m_path;
    const std::string* m_source;
};

void read(const Node& n, ProbeOptions& p) {
    n["enabled"].read(p.enabled);
    n["threshold"].read(p.threshold);
    n["threshold_list"].read(p.thresholdList);
    for (const auto& [layer, value] : n["threshold_by_layer"].members())
        value.read(p.thresholdByLayer[layer]);
    n["adaptive"].read(p.adaptive);
    n["reduction"].read(p.reduction);
    n["batches"].read(p.batches);
    n["fp16_gradients"].read(p.fp16Gradients);
    n["sweep"].read(p.sweep);
    n["tune_on_fail"].read(p.tuneOnFail);
    n["tune_both_steps"].read(p.tuneBothSteps);
}

void read(const Node& n, PruneOptions& o) {
    n["method"].read(o.method);
    n["wanda_norm"].read(o.wandaNorm);
    n["sparsity"].read(o.sparsity);
    n["group"].read(o.group);
    n["nm_n"].read(o.nmN);
    n["nm_m"].read(o.nmM);
    n["select"].read(o.select);
    n["schedule"].read(o.schedule);
    n["layer_order"].read(o.layerOrder);
    n["candidates"].read(o.candidates);
    n["initial_sparsity"].read(o.initialSparsity);
    n["sparsity_step"].read(o.sparsityStep);
    n["max_ppl_increase"].read(o.maxPplIncrease);
    n["iterative_inner"].read(o.iterativeInner);
    read(n["probe"], o.probe);
    n["calib_path"].read(o.calibPath);
    n["calib_skip_bytes"].read(o.calibSkipBytes);
    n["eval_path"].read(o.evalPath);
    n["nsamples"].read(o.nsamples);
    n["seqlen"].read(o.seqlen);
    n["batch_size"].read(o.batchSize);
    n["eval_max_windows"].read(o.evalMaxWindows);
    n["seed"].read(o.seed);
    n["evaluate"].read(o.evaluate);
    n["blockwise"].read(o.blockwise);
    n["block_inputs"].read(o.blockInputs);
    n["percdamp"].read(o.percdamp);
    n["blocksize"].read(o.blocksize);
}

void read(const Node& n, LayerPart& p) {
    n["name"].read(p.name);
    n["first_row"].read(p.firstRow);
    n["rows"].read(p.rows);
}

template <typename T>
void readList(const Node& n, std::vector<T>& out);

void read(const Node& n, LayerResultEvent& l) {
    n["layer"].read(l.layer);
    readList(n["parts"], l.parts);
    n["numel"].read(l.numel);
    n["candidates"].read(l.candidates);
    n["pruned"].read(l.pruned);
    n["restored"].read(l.restored);
    n["target_sparsity"].read(l.targetSparsity);
    n["sparsity"].read(l.sparsity);
    n["reconstruction_error"].read(l.reconstructionError);
}

void read(const Node& n, SearchStepEvent& s) {
    n["method"].read(s.method);
    n["group"].read(s.group);
    n["step"].read(s.step);
    n["threshold"].read(s.threshold);
    n["count_below"].read(s.countBelow);
    n["target"].read(s.target);
    n["error"].read(s.error);
}

void read(const Node& n, IterativeRound& r) {
    n["target_sparsity"].read(r.targetSparsity);
    n["sparsity"].read(r.sparsity);
    n["ppl"].read(r.ppl);
    n["threshold"].read(r.threshold);
    n["accepted"].read(r.accepted);
}

void read(const Node& n, SweepPoint& p) {
    n["threshold"].read(p.threshold);
    n["sparsity"].read(p.sparsity);
    n["pruned"].read(p.pruned);
    n["ppl"].read(p.ppl);
}

void read(const Node& n, HistogramEvent& h) {
    n["layer"].read(h.layer);
    n["bin_edges"].read(h.binEdges);
    n["counts"].read(h.counts);
    n["counts_below"].read(h.countsBelow);
    n["zeros"].read(h.zeros);
    n["zeros_below"].read(h.zerosBelow);
    n["total"].read(h.total);
    n["threshold"].read(h.threshold);
    n["cut_group"].read(h.cutGroup);
    n["cut_counts"].read(h.cutCounts);
    n["zero_cuts"].read(h.zeroCuts);
}

void read(const Node& n, NormalFitEvent& f) {
    n["layer"].read(f.layer);
    n["mean"].read(f.mean);
    n["stddev"].read(f.stddev);
    n["count"].read(f.count);
}

void read(const Node& n, MemorySampleEvent& m) {
    n["seconds"].read(m.seconds);
    n["rss_bytes"].read(m.rssBytes);
    n["vram_allocated_bytes"].read(m.vramAllocatedBytes);
    n["vram_reserved_bytes"].read(m.vramReservedBytes);
}

void read(const Node& n, RankFacts& r) {
    n["rank"].read(r.rank);
    n["calibration_batch_begin"].read(r.calibrationBatchBegin);
    n["calibration_batch_end"].read(r.calibrationBatchEnd);
    n["seconds"].read(r.seconds);
    n["peak_rss_bytes"].read(r.peakRssBytes);
}

void read(const Node& n, RunHistoryPoint& p) {
    n["run_id"].read(p.runId);
    n["method"].read(p.method);
    n["group"].read(p.group);
    n["probe"].read(p.probe);
    n["sparsity"].read(p.sparsity);
    n["ppl_before"].read(p.pplBefore);
    n["ppl_after"].read(p.pplAfter);
}

template <typename T>
void readList(const Node& n, std::vector<T>& out) {
    if (!n.present()) return;
    out.clear();
    for (const Node& element : n.elements()) {
        T item;
        read(element, item);
        out.push_back(std::move(item));
    }
}

void read(const Node& n, PruneResult& r) {
    n["run_id"].read(r.runId);
    n["cancelled"].read(r.cancelled);
    read(n["options"], r.options);
    n["sparsity"].read(r.sparsity);
    n["prunable_parameters"].read(r.prunableParameters);
    n["pruned_parameters"].read(r.prunedParameters);
    n["ppl_before"].read(r.pplBefore);
    n["ppl_after"].read(r.pplAfter);
    n["threshold"].read(r.threshold);
    readList(n["layers"], r.layers);
    readList(n["search_steps"], r.searchSteps);
    readList(n["rounds"], r.rounds);
    readList(n["sweep"], r.sweep);
    for (const auto& [stage, value] : n["seconds"].members()) value.read(r.seconds[stage]);
    n["peak_rss_bytes"].read(r.peakRssBytes);
    n["peak_vram_bytes"].read(r.peakVramBytes);
    n["threads"].read(r.threads);
    readList(n["histograms"], r.histograms);
    read(n["normal_fit"], r.normalFit);
    readList(n["memory"], r.memory);
}

void read(const Node& n, ModelFacts& m) {
    n["path"].read(m.path);
    n["format"].read(m.format);
    n["architecture"].read(m.architecture);
    n["dtype"].read(m.dtype);
    n["device"].read(m.device);
    n["tokenizer_path"].read(m.tokenizerPath);
    n["vocab_size"].read(m.vocabSize);
    n["hidden_size"].read(m.hiddenSize);
    n["num_layers"].read(m.numLayers);
    n["num_heads"].read(m.numHeads);
    n["num_kv_heads"].read(m.numKvHeads);
    n["intermediate_size"].read(m.intermediateSize);
    n["context_length"].read(m.contextLength);
    n["total_parameters"].read(m.totalParameters);
    n["prunable_parameters"].read(m.prunableParameters);
}

void read(const Node& n, ExportFacts& e) {
    n["path"].read(e.path);
    n["format"].read(e.format);
    n["files"].read(e.files);
    n["shards"].read(e.shards);
    n["weight_file_bytes"].read(e.weightFileBytes);
    n["dense_weight_bytes"].read(e.denseWeightBytes);
    n["layer_dense_bytes"].read(e.layerDenseBytes);
    n["layer_compressed_bytes"].read(e.layerCompressedBytes);
    n["mask_file_bytes"].read(e.maskFileBytes);
    n["total_bytes"].read(e.totalBytes);
}

}  // namespace

std::string runRecordJson(const RunRecord& record) {
    Json versions = Json::object();
    for (const auto& [name, version] : record.versions) versions[name] = version;
    Json out = {{"schema", record.schema},
                {"created_at", record.createdAt},
                {"model", toJson(record.model)},
                {"result", toJson(record.result)},
                {"history", list(record.history)},
                {"exported", record.exported}};
    if (record.exported) out["export"] = toJson(record.exportFacts);
    if (record.distributed.worldSize > 1) out["distributed"] = toJson(record.distributed);
    out["versions"] = versions;
    return out.dump(2) + "\n";
}

RunRecord parseRunRecord(const std::string& jsonText, const std::string& source) {
    Json json;
    try {
        json = Json::parse(jsonText);
    } catch (const nlohmann::json::exception& error) {
        throw badInput(source, "", std::string("is not valid JSON: ") + error.what());
    }
    if (!json.is_object()) throw badInput(source, "", "a run record must be a JSON object");
    const Node root(&json, "", &source);
    RunRecord record;
    root["schema"].read(record.schema);
    if (record.schema.rfind("gradprobe-run/", 0) != 0)
        throw badInput(source, "schema",
                       "\"" + record.schema + "\" is not a GradProbe run record (\"" +
                           kRunRecordSchema + "\")");
    if (!root["result"].present())
        throw badInput(source, "result", "missing: a run record holds the run's result");
    root["created_at"].read(record.createdAt);
    read(root["model"], record.model);
    read(root["result"], record.result);
    readList(root["history"], record.history);
    root["exported"].read(record.exported);
    read(root["export"], record.exportFacts);
    if (root["distributed"].present()) {
        root["distributed"]["world_size"].read(record.distributed.worldSize);
        root["distributed"]["backend"].read(record.distributed.backend);
        readList(root["distributed"]["ranks"], record.distributed.ranks);
    }
    for (const auto& [name, value] : root["versions"].members()) value.read(record.versions[name]);
    return record;
}

RunRecord readRunRecord(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw badInput(path, "", "cannot be opened");
    std::ostringstream text;
    text << in.rdbuf();
    return parseRunRecord(text.str(), path);
}

std::string currentUtcTimestamp() {
    const std::time_t now = std::time(nullptr);
    std::tm utc{};
    gmtime_r(&now, &utc);
    char text[32];
    std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &utc);
    return text;
}

}  // namespace gp
