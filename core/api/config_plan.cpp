// planFromConfig: a model described from its config.json alone (`gradprobe info --config`): the
// engine's own model built over meta tensors (shapes and dtypes, no storage), so the parameter
// counts, the prunable layers and the memory estimates are the ones a real load would give.
#include <nlohmann/json.hpp>

#include "core/api/engine.h"
#include "core/api/memory_estimate.h"
#include "core/api/session_impl.h"
#include "core/io/text_file.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

WeightMap metaWeights(const ModelConfig& config, at::ScalarType dtype) {
    WeightMap weights;
    for (const TensorSpec& spec : expectedTensors(config))
        weights[spec.name] = at::empty(spec.shape, at::TensorOptions(dtype).device(at::kMeta));
    return weights;
}

// The dtype the checkpoint stores (torch_dtype, transformers 5's dtype); bf16 when unsaid.
std::string storedDtype(const std::string& configText) {
    const nlohmann::json config = nlohmann::json::parse(configText, nullptr, false);
    for (const char* key : {"torch_dtype", "dtype"})
        if (config.is_object() && config.contains(key) && config[key].is_string()) {
            const std::string name = config[key];
            if (name == "float32") return "fp32";
            if (name == "float16") return "fp16";
        }
    return "bf16";
}

// The ways of running the estimate covers, with the CLI options that select them.
struct RunWay {
    const char* run;
    bool blockwise;
    const char* method;
    bool probe;
    bool evaluate;
};
constexpr RunWay kWays[] = {
    {"eval", false, "magnitude", false, true},
    {"prune magnitude", false, "magnitude", false, true},
    {"prune wanda", false, "wanda", false, true},
    {"prune wanda --probe", false, "wanda", true, true},
    {"prune wanda --blockwise", true, "wanda", false, true},
    {"prune wanda --probe --blockwise", true, "wanda", true, true},
};

}  // namespace

ConfigPlan planFromConfig(const std::string& configPath, bool includeHead) {
    const std::string text = readTextFile(configPath);
    ModelSession::Impl session;
    session.config = parseModelConfig(text, configPath);
    session.checkpoint.path = configPath;
    session.checkpoint.configPath = configPath;
    session.options.includeHead = includeHead;
    ConfigPlan plan;
    plan.storedDtype = storedDtype(text);
    for (const std::string dtype : {std::string("fp32"), std::string("bf16")}) {
        session.compute = parseCompute("cpu", dtype);
        session.model = createCausalLM(session.config, metaWeights(session.config, session.compute.dtype),
                                       configPath);
        session.prunable = session.model->prunableWeights(includeHead);
        if (dtype == "fp32") plan.info = describeSession(session);
        int64_t weightBytes = 0;
        for (const auto& [name, tensor] : session.model->weights())
            weightBytes += tensor.numel() * int64_t(tensor.element_size());
        for (const RunWay& way : kWays) {
            PruneOptions options;
            options.method = way.method;
            options.probe.enabled = way.probe;
            options.blockwise = way.blockwise;
            options.evaluate = way.evaluate;
            const bool eval = std::string(way.run) == "eval";
            if (eval) options.batchSize = EvalOptions().batchSize;
            const int64_t seqlen = std::min<int64_t>(
                512, contextLength(session.config) > 0 ? contextLength(session.config) : 512);
            MemoryNeed need;
            need.run = way.run;
            need.dtype = dtype;
            need.weightBytes = way.blockwise ? 0 : weightBytes;  // block-wise: mapped from disk
            // An evaluation keeps no copies, masks or scores: only its batch's activations.
            for (const MemoryPart& part : estimatePruneMemory(session, options, seqlen).parts)
                if (!eval || part.what == "activations of one batch") need.runBytes += part.bytes;
            need.bytes = need.weightBytes + need.runBytes;
            plan.needs.push_back(need);
        }
    }
    return plan;
}

}  // namespace gp
