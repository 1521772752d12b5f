// GPT-Neo (Hugging Face GPTNeoForCausalLM, e.g. TinyStories-33M): learned token and position
// embeddings, pre-LayerNorm blocks alternating global and local (windowed) causal attention with
// NO 1/sqrt(d) scaling and scores in fp32, an MLP with gelu_new, ln_f, and a head tied to wte.
#include "core/model/architectures.h"
#include "core/model/attention.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

struct GptNeoBlockNames {
    std::string norm1, norm1Bias, query, key, value, output, outputBias;
    std::string norm2, norm2Bias, fc, fcBias, projection, projectionBias;
};

class GptNeo final : public CausalLM {
public:
    GptNeo(ModelConfig config, WeightMap weights)
        : CausalLM(std::move(config), std::move(weights)) {
        const TensorNames& table = names();
        m_tokenEmbedding = table.weight(TensorRole::TokenEmbedding);
        m_positionEmbedding = table.weight(TensorRole::PositionEmbedding);
        m_finalNorm = table.weight(TensorRole::FinalNorm);
        m_finalNormBias = table.bias(TensorRole::FinalNorm);
        m_head = this->config().tieWordEmbeddings ? m_tokenEmbedding
                                                  : table.weight(TensorRole::OutputHead);
        for (int64_t index = 0; index < this->config().numLayers; ++index) {
            GptNeoBlockNames n;
            n.norm1 = table.weight(TensorRole::AttentionNorm, index);
            n.norm1Bias = table.bias(TensorRole::AttentionNorm, index);
            n.query = table.weight(TensorRole::Query, index);
            n.key = table.weight(TensorRole::Key, index);
            n.value = table.weight(TensorRole::Value, index);
            n.output = table.weight(TensorRole::AttentionOutput, index);
            n.outputBias = table.bias(TensorRole::AttentionOutput, index);
            n.norm2 = table.weight(TensorRole::MlpNorm, index);
            n.norm2Bias = table.bias(TensorRole::MlpNorm, index);
            n.fc = table.weight(TensorRole::MlpUp, index);
            n.fcBias = table.bias(TensorRole::MlpUp, index);
            n.projection = table.weight(TensorRole::MlpDown, index);
            n.projectionBias = table.bias(TensorRole::MlpDown, index);
            m_blocks.push_back(std::move(n));
        }
    }

    at::Tensor embed(const at::Tensor& ids) const override {
        const int64_t tokens = ids.size(1);
        if (tokens > config().maxPositions)
            throw badArgument("seqlen", std::to_string(tokens) + " tokens exceed the model's " +
                                            std::to_string(config().maxPositions) + " positions");
        const at::Tensor positions = at::arange(tokens, ids.options().dtype(at::kLong));
        return at::embedding(weight(m_tokenEmbedding), ids) +
               at::embedding(weight(m_positionEmbedding), positions);  // [B, T, D] + [T, D]
    }

    at::Tensor block(int64_t index, const at::Tensor& hidden) const override {
        const GptNeoBlockNames& n = m_blocks.at(size_t(index));
        const at::Tensor attended =
            hidden + attention(index, layerNorm(hidden, n.norm1, n.norm1Bias));
        return attended + mlp(n, layerNorm(attended, n.norm2, n.norm2Bias));
    }

    at::Tensor head(const at::Tensor& hidden) const override {
        return linear(layerNorm(hidden, m_finalNorm, m_finalNormBias), m_head);  // [B, T, V]
    }

    std::vector<TensorSpec> tensorSpecs() const override {
        const ModelConfig& c = config();
        const int64_t d = c.hiddenSize, inner = c.intermediateSize;
        std::vector<TensorSpec> specs = {
            {m_tokenEmbedding, {c.vocabSize, d}, -1, false, false, c.tieWordEmbeddings},
            {m_positionEmbedding, {c.maxPositions, d}}};
        for (int64_t index = 0; index < c.numLayers; ++index) {
            const GptNeoBlockNames& n = m_blocks.at(size_t(index));
            const auto add = [&](const std::string& name, std::vector<int64_t> shape,
                                 bool prunable) {
                specs.push_back({name, std::move(shape), index, prunable});
            };
            add(n.norm1, {d}, false);
            add(n.norm1Bias, {d}, false);
            add(n.query, {d, d}, true);
            add(n.key, {d, d}, true);
            add(n.value, {d, d}, true);
            add(n.output, {d, d}, true);
            add(n.outputBias, {d}, false);
            add(n.norm2, {d}, false);
            add(n.norm2Bias, {d}, false);
            add(n.fc, {inner, d}, true);
            add(n.fcBias, {inner}, false);
            add(n.projection, {d, inner}, true);
            add(n.projectionBias, {d}, false);
        }
        specs.push_back({m_finalNorm, {d}});
        specs.push_back({m_finalNormBias, {d}});
        if (!c.tieWordEmbeddings)
            specs.push_back({m_head, {c.vocabSize, d}, -1, false, false, true});
        return specs;
    }

private:
    at::Tensor layerNorm(const at::Tensor& x, const std::string& weightName,
                         const std::string& biasName) const {
        return at::layer_norm(x, {x.size(-1)}, weight(weightName), weight(biasName),
                              config().normEps);
    }

    at::Tensor attention(int64_t index, const at::Tensor& x) const {
        const ModelConfig& c = config();
        const GptNeoBlockNames& n = m_blocks.at(size_t(index));
        const at::Tensor q = splitHeads(linear(x, n.query), c.numHeads);  // [B, H, T, hd]
        const at::Tensor k = splitHeads(linear(x, n.key), c.numHeads);
        const at::Tensor v = splitHeads(linear(x, n.value), c.numHeads);
        AttentionSpec spec;
        spec.scale = 1.0;  // GPT-Neo does not scale by 1/sqrt(hd)
        spec.upcastScores = true;
        spec.window = c.attentionLayers.at(size_t(index)) == "local" ? c.localWindow : 0;
        return linear(causalSelfAttention(q, k, v, spec), n.output, n.outputBias);  // [B, T, D]
    }

    at::Tensor mlp(const GptNeoBlockNames& n, const at::Tensor& x) const {
        const at::Tensor inner = activate(config().activation, linear(x, n.fc, n.fcBias));
        return linear(inner, n.projection, n.projectionBias);
    }

    std::string m_tokenEmbedding, m_positionEmbedding, m_finalNorm, m_finalNormBias, m_head;
    std::vector<GptNeoBlockNames> m_blocks;
};

}  // namespace

std::unique_ptr<CausalLM> createGptNeo(ModelConfig config, WeightMap weights) {
    return std::make_unique<GptNeo>(std::move(config), std::move(weights));
}

}  // namespace gp
