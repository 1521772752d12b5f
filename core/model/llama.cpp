// LLaMA and Mistral (Hugging Face LlamaForCausalLM / MistralForCausalLM): pre-norm blocks with
// RMSNorm, rotary embeddings (rotate-half convention), grouped-query attention (Mistral: with a
// sliding window) and a SwiGLU MLP; the head is tied to the embedding or lm_head.
#include <cmath>

#include "core/model/architectures.h"
#include "core/model/attention.h"

namespace gp {
namespace {

struct LlamaBlockNames {
    std::string attentionNorm, query, key, value, output;
    std::string queryBias, keyBias, valueBias, outputBias;  // "" unless attention_bias
    std::string mlpNorm, gate, up, down;
    std::string gateBias, upBias, downBias;  // "" unless mlp_bias
};

// cos and sin of position * frequency, [T, headDim], each frequency repeated for both halves
// (Hugging Face's cat(freqs, freqs)); computed in fp32 as LlamaRotaryEmbedding does.
struct RotaryTables {
    at::Tensor cos, sin;
};

RotaryTables rotaryTables(int64_t tokens, const ModelConfig& config, const at::Device& device) {
    const auto fp32 = at::TensorOptions().dtype(at::kFloat).device(device);
    const int64_t dim = config.headDim;
    const at::Tensor exponents = at::arange(0, dim, 2, fp32) / double(dim);
    const at::Tensor inverseFrequency =
        at::pow(config.ropeTheta, exponents).reciprocal() / config.ropeLinearFactor;  // [hd/2]
    const at::Tensor angles = at::outer(at::arange(tokens, fp32), inverseFrequency);  // [T, hd/2]
    const at::Tensor repeated = at::cat({angles, angles}, -1);                        // [T, hd]
    return {repeated.cos(), repeated.sin()};
}

// [x1, x2] -> [-x2, x1] over the last dimension's halves.
at::Tensor rotateHalf(const at::Tensor& x) {
    const int64_t half = x.size(-1) / 2;
    return at::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

// x: [B, heads, T, hd]
at::Tensor applyRotary(const at::Tensor& x, const RotaryTables& rotary) {
    const at::Tensor cos = rotary.cos.to(x.scalar_type());
    const at::Tensor sin = rotary.sin.to(x.scalar_type());
    return x * cos + rotateHalf(x) * sin;
}

class Llama final : public CausalLM {
public:
    Llama(ModelConfig config, WeightMap weights) : CausalLM(std::move(config), std::move(weights)) {
        const ModelConfig& c = this->config();
        m_embedding = names().weight(TensorRole::TokenEmbedding);
        m_finalNorm = names().weight(TensorRole::FinalNorm);
        m_head = c.tieWordEmbeddings ? m_embedding : names().weight(TensorRole::OutputHead);
        for (int64_t index = 0; index < c.numLayers; ++index) m_blocks.push_back(blockNames(index));
    }

    at::Tensor embed(const at::Tensor& ids) const override {
        return at::embedding(weight(m_embedding), ids);  // [B, T, D]
    }

    at::Tensor block(int64_t index, const at::Tensor& hidden) const override {
        const LlamaBlockNames& n = m_blocks.at(size_t(index));
        const at::Tensor attended = hidden + attention(n, rmsNorm(hidden, n.attentionNorm));
        return attended + mlp(n, rmsNorm(attended, n.mlpNorm));
    }

    at::Tensor head(const at::Tensor& hidden) const override {
        return linear(rmsNorm(hidden, m_finalNorm), m_head);  // [B, T, V]
    }

    std::vector<TensorSpec> tensorSpecs() const override {
        const ModelConfig& c = config();
        const int64_t d = c.hiddenSize, q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
        std::vector<TensorSpec> specs = {
            {m_embedding, {c.vocabSize, d}, -1, false, false, c.tieWordEmbeddings}};
        for (int64_t index = 0; index < c.numLayers; ++index) {
            const LlamaBlockNames& n = m_blocks.at(size_t(index));
            const auto add = [&](const std::string& name, std::vector<int64_t> shape,
                                 bool prunable) {
                if (!name.empty()) specs.push_back({name, std::move(shape), index, prunable});
            };
            add(n.attentionNorm, {d}, false);
            add(n.query, {q, d}, true);
            add(n.key, {kv, d}, true);
            add(n.value, {kv, d}, true);
            add(n.output, {d, q}, true);
            add(n.queryBias, {q}, false);
            add(n.keyBias, {kv}, false);
            add(n.valueBias, {kv}, false);
            add(n.outputBias, {d}, false);
            add(n.mlpNorm, {d}, false);
            add(n.gate, {c.intermediateSize, d}, true);
            add(n.up, {c.intermediateSize, d}, true);
            add(n.down, {d, c.intermediateSize}, true);
            add(n.gateBias, {c.intermediateSize}, false);
            add(n.upBias, {c.intermediateSize}, false);
            add(n.downBias, {d}, false);
        }
        specs.push_back({m_finalNorm, {d}});
        if (!c.tieWordEmbeddings)
            specs.push_back({m_head, {c.vocabSize, d}, -1, false, false, true});
        return specs;
    }

private:
    LlamaBlockNames blockNames(int64_t index) const {
        const TensorNames& table = names();
        const bool attentionBias = config().attentionBias, mlpBias = config().mlpBias;
        const auto bias = [&](TensorRole role, bool present) {
            return present ? table.bias(role, index) : std::string();
        };
        LlamaBlockNames n;
        n.attentionNorm = table.weight(TensorRole::AttentionNorm, index);
        n.query = table.weight(TensorRole::Query, index);
        n.key = table.weight(TensorRole::Key, index);
        n.value = table.weight(TensorRole::Value, index);
        n.output = table.weight(TensorRole::AttentionOutput, index);
        n.queryBias = bias(TensorRole::Query, attentionBias);
        n.keyBias = bias(TensorRole::Key, attentionBias);
        n.valueBias = bias(TensorRole::Value, attentionBias);
        n.outputBias = bias(TensorRole::AttentionOutput, attentionBias);
        n.mlpNorm = table.weight(TensorRole::MlpNorm, index);
        n.gate = table.weight(TensorRole::MlpGate, index);
        n.up = table.weight(TensorRole::MlpUp, index);
        n.down = table.weight(TensorRole::MlpDown, index);
        n.gateBias = bias(TensorRole::MlpGate, mlpBias);
        n.upBias = bias(TensorRole::MlpUp, mlpBias);
        n.downBias = bias(TensorRole::MlpDown, mlpBias);
        return n;
    }

    // x / sqrt(mean(x^2) + eps) in fp32, back to x's dtype, times the weight (LlamaRMSNorm).
    at::Tensor rmsNorm(const at::Tensor& x, const std::string& weightName) const {
        const at::Tensor wide = x.to(at::promote_types(x.scalar_type(), at::kFloat));
        const at::Tensor variance = wide.pow(2).mean(-1, /*keepdim=*/true);
        return weight(weightName) *
               (wide * at::rsqrt(variance + config().normEps)).to(x.scalar_type());
    }

    at::Tensor attention(const LlamaBlockNames& n, const at::Tensor& x) const {
        const ModelConfig& c = config();
        const RotaryTables rotary = rotaryTables(x.size(1), c, x.device());
        const at::Tensor q = applyRotary(splitHeads(linear(x, n.query, n.queryBias), c.numHeads),
                                         rotary);  // [B, H, T, hd]
        const at::Tensor k = applyRotary(splitHeads(linear(x, n.key, n.keyBias), c.numKvHeads),
                                         rotary);  // [B, KV, T, hd]
        const at::Tensor v = splitHeads(linear(x, n.value, n.valueBias), c.numKvHeads);
        AttentionSpec spec;
        spec.scale = 1.0 / std::sqrt(double(c.headDim));
        spec.window = c.slidingWindow;                                // 0 for LLaMA
        const at::Tensor mixed = causalSelfAttention(q, k, v, spec);  // [B, T, H * hd]
        return linear(mixed, n.output, n.outputBias);                 // [B, T, D]
    }

    // down(act(gate(x)) * up(x))
    at::Tensor mlp(const LlamaBlockNames& n, const at::Tensor& x) const {
        const at::Tensor gated = activate(config().activation, linear(x, n.gate, n.gateBias));
        return linear(gated * linear(x, n.up, n.upBias), n.down, n.downBias);
    }

    std::string m_embedding, m_finalNorm, m_head;
    std::vector<LlamaBlockNames> m_blocks;
};

}  // namespace

std::unique_ptr<CausalLM> createLlama(ModelConfig config, WeightMap weights) {
    return std::make_unique<Llama>(std::move(config), std::move(weights));
}

}  // namespace gp
