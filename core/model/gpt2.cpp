// GPT-2 (Hugging Face GPT2LMHeadModel): learned token and position embeddings, pre-LayerNorm
// blocks whose linear layers are Conv1D modules (weight stored [in, out], y = x W + b; c_attn
// packs q, k and v), attention scaled by 1/sqrt(hd), gelu_new, ln_f, and a head tied to wte.
#include <cmath>

#include "core/model/architectures.h"
#include "core/model/attention.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

struct Gpt2BlockNames {
    std::string norm1, norm1Bias, qkv, qkvBias, output, outputBias;
    std::string norm2, norm2Bias, fc, fcBias, projection, projectionBias;
};

class Gpt2 final : public CausalLM {
public:
    Gpt2(ModelConfig config, WeightMap weights) : CausalLM(std::move(config), std::move(weights)) {
        const TensorNames& table = names();
        m_tokenEmbedding = table.weight(TensorRole::TokenEmbedding);
        m_positionEmbedding = table.weight(TensorRole::PositionEmbedding);
        m_finalNorm = table.weight(TensorRole::FinalNorm);
        m_finalNormBias = table.bias(TensorRole::FinalNorm);
        m_head = this->config().tieWordEmbeddings ? m_tokenEmbedding
                                                  : table.weight(TensorRole::OutputHead);
        for (int64_t index = 0; index < this->config().numLayers; ++index) {
            Gpt2BlockNames n;
            n.norm1 = table.weight(TensorRole::AttentionNorm, index);
            n.norm1Bias = table.bias(TensorRole::AttentionNorm, index);
            n.qkv = table.weight(TensorRole::QueryKeyValue, index);
            n.qkvBias = table.bias(TensorRole::QueryKeyValue, index);
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
        const Gpt2BlockNames& n = m_blocks.at(size_t(index));
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
            const Gpt2BlockNames& n = m_blocks.at(size_t(index));
            // Conv1D weights are stored [in, out]; prunable ones are offered transposed.
            const auto add = [&](const std::string& name, std::vector<int64_t> shape,
                                 bool conv1DWeight) {
                specs.push_back({name, std::move(shape), index, conv1DWeight, conv1DWeight});
            };
            add(n.norm1, {d}, false);
            add(n.norm1Bias, {d}, false);
            add(n.qkv, {d, 3 * d}, true);
            add(n.qkvBias, {3 * d}, false);
            add(n.output, {d, d}, true);
            add(n.outputBias, {d}, false);
            add(n.norm2, {d}, false);
            add(n.norm2Bias, {d}, false);
            add(n.fc, {d, inner}, true);
            add(n.fcBias, {inner}, false);
            add(n.projection, {inner, d}, true);
            add(n.projectionBias, {d}, false);
        }
        specs.push_back({m_finalNorm, {d}});
        specs.push_back({m_finalNormBias, {d}});
        if (!c.tieWordEmbeddings)
            specs.push_back({m_head, {c.vocabSize, d}, -1, false, false, true});
        return specs;
    }

private:
    // y = x W + b with W stored [in, out]; the tap sees x, [..., in], as for nn.Linear.
    at::Tensor conv1D(const at::Tensor& x, const std::string& weightName,
                      const std::string& biasName) const {
        reportLinearInput(weightName, x);
        return at::matmul(x, weight(weightName)) + weight(biasName);
    }

    at::Tensor layerNorm(const at::Tensor& x, const std::string& weightName,
                         const std::string& biasName) const {
        return at::layer_norm(x, {x.size(-1)}, weight(weightName), weight(biasName),
                              config().normEps);
    }

    at::Tensor attention(int64_t index, const at::Tensor& x) const {
        const ModelConfig& c = config();
        const Gpt2BlockNames& n = m_blocks.at(size_t(index));
        const std::vector<at::Tensor> qkv = conv1D(x, n.qkv, n.qkvBias).split(c.hiddenSize, -1);
        const at::Tensor q = splitHeads(qkv[0], c.numHeads);  // [B, H, T, hd]
        const at::Tensor k = splitHeads(qkv[1], c.numHeads);
        const at::Tensor v = splitHeads(qkv[2], c.numHeads);
        AttentionSpec spec;
        if (c.scaleAttnWeights) spec.scale /= std::sqrt(double(c.headDim));
        if (c.scaleAttnByInverseLayerIdx) spec.scale /= double(index + 1);
        return conv1D(causalSelfAttention(q, k, v, spec), n.output, n.outputBias);  // [B, T, D]
    }

    at::Tensor mlp(const Gpt2BlockNames& n, const at::Tensor& x) const {
        const at::Tensor inner = activate(config().activation, conv1D(x, n.fc, n.fcBias));
        return conv1D(inner, n.projection, n.projectionBias);
    }

    std::string m_tokenEmbedding, m_positionEmbedding, m_finalNorm, m_finalNormBias, m_head;
    std::vector<Gpt2BlockNames> m_blocks;
};

}  // namespace

std::unique_ptr<CausalLM> createGpt2(ModelConfig config, WeightMap weights) {
    return std::make_unique<Gpt2>(std::move(config), std::move(weights));
}

}  // namespace gp
