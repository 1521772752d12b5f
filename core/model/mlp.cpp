// Our own tiny causal model for tests of the probe: a bigram model. Each position sees only its
// own token: embed, then per block a residual ReLU MLP h + fc2(relu(fc1(h))), then lm_head.
// Simple enough that a test can work out its gradients by hand.
#include "core/model/architectures.h"

namespace gp {
namespace {

struct MlpBlockNames {
    std::string fc1, fc1Bias, fc2, fc2Bias;
};

class Mlp final : public CausalLM {
public:
    Mlp(ModelConfig config, WeightMap weights) : CausalLM(std::move(config), std::move(weights)) {
        const TensorNames& table = names();
        m_embedding = table.weight(TensorRole::TokenEmbedding);
        m_head = table.weight(TensorRole::OutputHead);
        for (int64_t index = 0; index < this->config().numLayers; ++index) {
            m_blocks.push_back(
                {table.weight(TensorRole::MlpUp, index), table.bias(TensorRole::MlpUp, index),
                 table.weight(TensorRole::MlpDown, index), table.bias(TensorRole::MlpDown, index)});
        }
    }

    at::Tensor embed(const at::Tensor& ids) const override {
        return at::embedding(weight(m_embedding), ids);  // [B, T, D]
    }

    at::Tensor block(int64_t index, const at::Tensor& hidden) const override {
        const MlpBlockNames& n = m_blocks.at(size_t(index));
        const at::Tensor inner = at::relu(linear(hidden, n.fc1, n.fc1Bias));  // [B, T, I]
        return hidden + linear(inner, n.fc2, n.fc2Bias);
    }

    at::Tensor head(const at::Tensor& hidden) const override {
        return linear(hidden, m_head);  // [B, T, V]
    }

    std::vector<TensorSpec> tensorSpecs() const override {
        const ModelConfig& c = config();
        const int64_t d = c.hiddenSize, inner = c.intermediateSize;
        std::vector<TensorSpec> specs = {{m_embedding, {c.vocabSize, d}}};
        for (int64_t index = 0; index < c.numLayers; ++index) {
            const MlpBlockNames& n = m_blocks.at(size_t(index));
            specs.push_back({n.fc1, {inner, d}, index, true});
            specs.push_back({n.fc1Bias, {inner}, index});
            specs.push_back({n.fc2, {d, inner}, index, true});
            specs.push_back({n.fc2Bias, {d}, index});
        }
        specs.push_back({m_head, {c.vocabSize, d}, -1, false, false, true});
        return specs;
    }

private:
    std::string m_embedding, m_head;
    std::vector<MlpBlockNames> m_blocks;
};

}  // namespace

std::unique_ptr<CausalLM> createMlp(ModelConfig config, WeightMap weights) {
    return std::make_unique<Mlp>(std::move(config), std::move(weights));
}

}  // namespace gp
