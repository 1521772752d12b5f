#include "core/model/causal_lm.h"

#include <algorithm>
#include <set>
#include <sstream>

#include "core/model/architectures.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

std::string shapeText(at::IntArrayRef shape) {
    std::ostringstream text;
    text << "[";
    for (size_t i = 0; i < shape.size(); ++i) text << (i ? ", " : "") << shape[i];
    text << "]";
    return text.str();
}

// Every tensor the architecture reads exists, has the shape the config implies and the one
// floating dtype of the token embedding (the first spec).
void validateTensors(const std::vector<TensorSpec>& specs, const WeightMap& weights,
                     const std::string& source) {
    at::ScalarType dtype = at::ScalarType::Undefined;
    for (const TensorSpec& spec : specs) {
        const auto found = weights.find(spec.name);
        if (found == weights.end())
            throw badInput(source, spec.name,
                           "missing tensor (expected shape " + shapeText(spec.shape) + ")");
        const at::Tensor& tensor = found->second;
        if (tensor.sizes() != at::IntArrayRef(spec.shape))
            throw badInput(source, spec.name,
                           "shape " + shapeText(tensor.sizes()) + ", but the config implies " +
                               shapeText(spec.shape));
        if (!at::isFloatingType(tensor.scalar_type()))
            throw badInput(source, spec.name,
                           std::string("dtype ") + c10::toString(tensor.scalar_type()) +
                               " is not a floating-point type");
        if (dtype == at::ScalarType::Undefined) dtype = tensor.scalar_type();
        if (tensor.scalar_type() != dtype)
            throw badInput(source, spec.name,
                           std::string("dtype ") + c10::toString(tensor.scalar_type()) +
                               " differs from the model's " + c10::toString(dtype));
    }
}

// Buffers older transformers saved with the weights; no architecture reads them.
bool isSavedBuffer(const std::string& name) {
    static const char* const kSuffixes[] = {".attn.bias", ".attn.masked_bias", ".attention.bias",
                                            ".attention.masked_bias", ".rotary_emb.inv_freq"};
    for (const char* suffix : kSuffixes) {
        const std::string end(suffix);
        if (name.size() >= end.size() && name.compare(name.size() - end.size(), end.size(), end) == 0)
            return true;
    }
    return false;
}

void refuseUnusedTensors(const std::vector<TensorSpec>& specs, const WeightMap& weights,
                         const ModelConfig& config, const std::string& source) {
    std::set<std::string> used;
    for (const TensorSpec& spec : specs) used.insert(spec.name);
    std::vector<std::string> unused;
    for (const auto& [name, tensor] : weights)
        if (!used.count(name) && !isSavedBuffer(name)) unused.push_back(name);
    if (unused.empty()) return;
    constexpr size_t kListed = 12;
    std::string list;
    for (size_t i = 0; i < std::min(kListed, unused.size()); ++i)
        list += (i ? ", " : "") + unused[i];
    if (unused.size() > kListed) list += " and " + std::to_string(unused.size() - kListed) + " more";
    throw badInput(source, "",
                   std::to_string(unused.size()) + " tensor" + (unused.size() == 1 ? "" : "s") +
                       " that a \"" + config.modelType +
                       "\" model as configured does not use: " + list +
                       " (does config.json name the right model_type and options?)");
}

// Binds names stored once (see createCausalLM); returns stored name -> name the model reads.
std::map<std::string, std::string> bindStoredNames(const ModelConfig& config, WeightMap& weights,
                                                   const std::map<std::string, std::string>& aliases) {
    std::map<std::string, std::string> storedAs;
    for (const auto& [alias, stored] : aliases) {
        const auto found = weights.find(stored);
        if (found != weights.end() && !weights.count(alias)) weights[alias] = found->second;
    }
    if (!config.tieWordEmbeddings || config.architecture == Architecture::Mlp) return storedAs;
    const TensorNames names(config.architecture, weights);
    const std::string embedding = names.weight(TensorRole::TokenEmbedding);
    const std::string head = names.weight(TensorRole::OutputHead);
    const auto stored = weights.find(head);
    if (stored == weights.end()) return storedAs;
    if (!weights.count(embedding)) weights[embedding] = stored->second;
    weights.erase(head);
    storedAs[head] = embedding;
    return storedAs;
}

}  // namespace

CausalLM::CausalLM(ModelConfig config, WeightMap weights)
    : m_config(std::move(config)),
      m_weights(std::move(weights)),
      m_names(m_config.architecture, m_weights) {}

at::Tensor CausalLM::forward(const at::Tensor& ids) const {
    at::Tensor hidden = embed(ids);
    for (int64_t index = 0; index < numBlocks(); ++index) hidden = block(index, hidden);
    return head(hidden);
}

std::vector<PrunableWeight> CausalLM::prunableWeights(bool includeHead) {
    std::vector<PrunableWeight> prunable;
    const std::vector<TensorSpec> specs = tensorSpecs();
    for (const TensorSpec& spec : specs) {
        if (!spec.prunable) continue;
        const at::Tensor& stored = weight(spec.name);
        prunable.push_back(
            {spec.name, spec.block, spec.storedTransposed ? stored.t() : stored, spec.parts});
    }
    if (includeHead) {
        // A tied head is the token embedding itself: pruning it prunes the embedding too.
        for (const TensorSpec& spec : specs)
            if (spec.head) prunable.push_back({spec.name, -1, weight(spec.name)});
    }
    return prunable;
}

std::vector<std::string> CausalLM::blockWeightNames(int64_t index) const {
    std::vector<std::string> names;
    for (const TensorSpec& spec : tensorSpecs())
        if (spec.block == index && index >= 0) names.push_back(spec.name);
    return names;
}

at::Device CausalLM::device() const {
    return weight(m_names.weight(TensorRole::TokenEmbedding)).device();
}

at::ScalarType CausalLM::dtype() const {
    return weight(m_names.weight(TensorRole::TokenEmbedding)).scalar_type();
}

const at::Tensor& CausalLM::weight(const std::string& name) const {
    if (const at::Tensor* found = optionalWeight(name)) return *found;
    throw Error(ErrorKind::Internal, "", name, "the model has no tensor of this name");
}

const at::Tensor* CausalLM::optionalWeight(const std::string& name) const {
    const auto found = m_weights.find(name);
    return found == m_weights.end() ? nullptr : &found->second;
}

at::Tensor CausalLM::linear(const at::Tensor& x, const std::string& weightName,
                            const std::string& biasName) const {
    reportLinearInput(weightName, x);
    if (biasName.empty()) return at::linear(x, weight(weightName));
    return at::linear(x, weight(weightName), weight(biasName));
}

void CausalLM::reportLinearInput(const std::string& weightName, const at::Tensor& x) const {
    if (m_tap) m_tap(weightName, x);
}

namespace {

std::unique_ptr<CausalLM> instantiate(const ModelConfig& config, WeightMap weights) {
    switch (config.architecture) {
        case Architecture::Llama:
        case Architecture::Mistral: return createLlama(config, std::move(weights));
        case Architecture::GptNeo: return createGptNeo(config, std::move(weights));
        case Architecture::Gpt2: return createGpt2(config, std::move(weights));
        case Architecture::Mlp: return createMlp(config, std::move(weights));
        case Architecture::Qwen2: return createQwen2(config, std::move(weights));
        case Architecture::Qwen3: return createQwen3(config, std::move(weights));
        case Architecture::Phi3: return createPhi3(config, std::move(weights));
        case Architecture::Gemma2: return createGemma2(config, std::move(weights));
    }
    return nullptr;
}

}  // namespace

std::unique_ptr<CausalLM> createCausalLM(const ModelConfig& config, WeightMap weights,
                                         const std::string& source,
                                         const std::map<std::string, std::string>& aliases) {
    std::map<std::string, std::string> storedAs = bindStoredNames(config, weights, aliases);
    std::unique_ptr<CausalLM> model = instantiate(config, std::move(weights));
    if (!model) throw badInput(source, "model_type", "no runtime for \"" + config.modelType + "\"");
    const std::vector<TensorSpec> specs = model->tensorSpecs();
    validateTensors(specs, model->weights(), source);
    refuseUnusedTensors(specs, model->weights(), config, source);
    model->m_storedAs = std::move(storedAs);
    return model;
}

std::vector<TensorSpec> expectedTensors(const ModelConfig& config) {
    const std::unique_ptr<CausalLM> model = instantiate(config, {});
    return model ? model->tensorSpecs() : std::vector<TensorSpec>{};
}

}  // namespace gp
