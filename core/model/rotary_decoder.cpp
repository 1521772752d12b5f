#include "core/model/rotary_decoder.h"

#include <cmath>

#include "core/model/attention.h"
#include "core/model/rotary.h"

namespace gp {
namespace {

// The checkpoint names of one block's tensors; "" where the family has none.
struct DecoderBlockNames {
    std::string attentionNorm, query, key, value, queryKeyValue, output;
    std::string queryBias, keyBias, valueBias, outputBias;
    std::string queryNorm, keyNorm, postAttentionNorm;
    std::string mlpNorm, gate, up, gateUp, down, postMlpNorm;
    std::string gateBias, upBias, downBias;
};

class RotaryDecoder final : public CausalLM {
public:
    RotaryDecoder(ModelConfig config, WeightMap weights, const DecoderStyle& style)
        : CausalLM(std::move(config), std::move(weights)), m_style(style) {
        const ModelConfig& c = this->config();
        m_embedding = names().weight(TensorRole::TokenEmbedding);
        m_finalNorm = names().weight(TensorRole::FinalNorm);
        m_head = c.tieWordEmbeddings ? m_embedding : names().weight(TensorRole::OutputHead);
        for (int64_t index = 0; index < c.numLayers; ++index) m_blocks.push_back(blockNames(index));
    }

    at::Tensor embed(const at::Tensor& ids) const override {
        const at::Tensor embedded = at::embedding(weight(m_embedding), ids);  // [B, T, D]
        if (!m_style.scaledEmbedding) return embedded;
        // Gemma: the normaliser is a tensor of the hidden states' dtype (rounded to it).
        return embedded *
               at::scalar_tensor(std::sqrt(double(config().hiddenSize)), embedded.options());
    }

    at::Tensor block(int64_t index, const at::Tensor& hidden) const override {
        const DecoderBlockNames& n = m_blocks.at(size_t(index));
        at::Tensor attended = attention(index, n, rmsNorm(hidden, n.attentionNorm));
        if (m_style.sandwichNorms) attended = rmsNorm(attended, n.postAttentionNorm);
        const at::Tensor residual = hidden + attended;
        at::Tensor transformed = mlp(n, rmsNorm(residual, n.mlpNorm));
        if (m_style.sandwichNorms) transformed = rmsNorm(transformed, n.postMlpNorm);
        return residual + transformed;
    }

    at::Tensor head(const at::Tensor& hidden) const override {
        const at::Tensor logits = linear(rmsNorm(hidden, m_finalNorm), m_head);  // [B, T, V]
        const double cap = config().finalLogitSoftcap;
        return cap > 0.0 ? (logits / cap).tanh() * cap : logits;
    }

    std::vector<TensorSpec> tensorSpecs() const override;

private:
    DecoderBlockNames blockNames(int64_t index) const;

    at::Tensor rmsNorm(const at::Tensor& x, const std::string& weightName) const {
        const at::Tensor wide = x.to(at::promote_types(x.scalar_type(), at::kFloat));
        const at::Tensor normalised =
            wide * at::rsqrt(wide.pow(2).mean(-1, /*keepdim=*/true) + config().normEps);
        const at::Tensor& w = weight(weightName);
        if (m_style.norm == RmsNormKind::OffsetWeight)
            return (normalised * (1.0 + w.to(normalised.scalar_type()))).to(x.scalar_type());
        return w * normalised.to(x.scalar_type());
    }

    at::Tensor attention(int64_t index, const DecoderBlockNames& n, const at::Tensor& x) const;

    // down(act(gate(x)) * up(x)); Phi-3 computes gate and up in one projection.
    at::Tensor mlp(const DecoderBlockNames& n, const at::Tensor& x) const {
        at::Tensor gate, up;
        if (m_style.fusedGateUp) {
            const at::Tensor both = linear(x, n.gateUp);  // [B, T, 2I]
            const int64_t inner = config().intermediateSize;
            gate = both.narrow(-1, 0, inner);
            up = both.narrow(-1, inner, inner);
        } else {
            gate = linear(x, n.gate, n.gateBias);
            up = linear(x, n.up, n.upBias);
        }
        return linear(activate(config().activation, gate) * up, n.down, n.downBias);
    }

    DecoderStyle m_style;
    std::string m_embedding, m_finalNorm, m_head;
    std::vector<DecoderBlockNames> m_blocks;
};

DecoderBlockNames RotaryDecoder::blockNames(int64_t index) const {
    const TensorNames& table = names();
    const auto weightOf = [&](TensorRole role, bool present) {
        return present ? table.weight(role, index) : std::string();
    };
    const auto biasOf = [&](TensorRole role, bool present) {
        return present ? table.bias(role, index) : std::string();
    };
    const DecoderStyle& s = m_style;
    const bool separate = !s.fusedQueryKeyValue, separateMlp = !s.fusedGateUp;
    DecoderBlockNames n;
    n.attentionNorm = table.weight(TensorRole::AttentionNorm, index);
    n.query = weightOf(TensorRole::Query, separate);
    n.key = weightOf(TensorRole::Key, separate);
    n.value = weightOf(TensorRole::Value, separate);
    n.queryKeyValue = weightOf(TensorRole::QueryKeyValue, s.fusedQueryKeyValue);
    n.output = table.weight(TensorRole::AttentionOutput, index);
    n.queryBias = biasOf(TensorRole::Query, separate && s.queryKeyValueBias);
    n.keyBias = biasOf(TensorRole::Key, separate && s.queryKeyValueBias);
    n.valueBias = biasOf(TensorRole::Value, separate && s.queryKeyValueBias);
    n.outputBias = biasOf(TensorRole::AttentionOutput, s.outputBias);
    n.queryNorm = weightOf(TensorRole::QueryNorm, s.queryKeyNorm);
    n.keyNorm = weightOf(TensorRole::KeyNorm, s.queryKeyNorm);
    n.postAttentionNorm = weightOf(TensorRole::PostAttentionNorm, s.sandwichNorms);
    n.mlpNorm = table.weight(TensorRole::MlpNorm, index);
    n.gate = weightOf(TensorRole::MlpGate, separateMlp);
    n.up = weightOf(TensorRole::MlpUp, separateMlp);
    n.gateUp = weightOf(TensorRole::MlpGateUp, s.fusedGateUp);
    n.down = table.weight(TensorRole::MlpDown, index);
    n.postMlpNorm = weightOf(TensorRole::PostMlpNorm, s.sandwichNorms);
    n.gateBias = biasOf(TensorRole::MlpGate, separateMlp && s.mlpBias);
    n.upBias = biasOf(TensorRole::MlpUp, separateMlp && s.mlpBias);
    n.downBias = biasOf(TensorRole::MlpDown, s.mlpBias);
    return n;
}

at::Tensor RotaryDecoder::attention(int64_t index, const DecoderBlockNames& n,
                                    const at::Tensor& x) const {
    const ModelConfig& c = config();
    const int64_t q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
    at::Tensor queries, keys, values;  // [B, T, H * hd], [B, T, KV * hd] x 2
    if (m_style.fusedQueryKeyValue) {
        const at::Tensor qkv = linear(x, n.queryKeyValue);
        queries = qkv.narrow(-1, 0, q);
        keys = qkv.narrow(-1, q, kv);
        values = qkv.narrow(-1, q + kv, kv);
    } else {
        queries = linear(x, n.query, n.queryBias);
        keys = linear(x, n.key, n.keyBias);
        values = linear(x, n.value, n.valueBias);
    }
    at::Tensor qh = splitHeads(queries, c.numHeads);  // [B, H, T, hd]
    at::Tensor kh = splitHeads(keys, c.numKvHeads);   // [B, KV, T, hd]
    if (m_style.queryKeyNorm) {                       // per head, over hd
        qh = rmsNorm(qh, n.queryNorm);
        kh = rmsNorm(kh, n.keyNorm);
    }
    const RotaryTables rotary = rotaryTables(c, x.size(1), x.device());
    AttentionSpec spec;
    spec.scale =
        1.0 / std::sqrt(c.queryPreAttnScalar > 0.0 ? c.queryPreAttnScalar : double(c.headDim));
    spec.window = attentionWindow(c, index);
    spec.logitSoftcap = c.attnLogitSoftcap;
    const at::Tensor mixed = causalSelfAttention(applyRotary(qh, rotary), applyRotary(kh, rotary),
                                                 splitHeads(values, c.numKvHeads), spec);
    return linear(mixed, n.output, n.outputBias);  // [B, T, D]
}

std::vector<TensorSpec> RotaryDecoder::tensorSpecs() const {
    const ModelConfig& c = config();
    const int64_t d = c.hiddenSize, q = c.numHeads * c.headDim, kv = c.numKvHeads * c.headDim;
    const int64_t inner = c.intermediateSize;
    std::vector<TensorSpec> specs = {
        {m_embedding, {c.vocabSize, d}, -1, false, false, c.tieWordEmbeddings}};
    for (int64_t index = 0; index < c.numLayers; ++index) {
        const DecoderBlockNames& n = m_blocks.at(size_t(index));
        const auto add = [&](const std::string& name, std::vector<int64_t> shape, bool prunable,
                             std::vector<LayerPart> parts = {}) {
            if (!name.empty())
                specs.push_back(
                    {name, std::move(shape), index, prunable, false, false, std::move(parts)});
        };
        add(n.attentionNorm, {d}, false);
        add(n.query, {q, d}, true);
        add(n.key, {kv, d}, true);
        add(n.value, {kv, d}, true);
        add(n.queryKeyValue, {q + 2 * kv, d}, true, {{"q", 0, q}, {"k", q, kv}, {"v", q + kv, kv}});
        add(n.queryBias, {q}, false);
        add(n.keyBias, {kv}, false);
        add(n.valueBias, {kv}, false);
        add(n.queryNorm, {c.headDim}, false);
        add(n.keyNorm, {c.headDim}, false);
        add(n.output, {d, q}, true);
        add(n.outputBias, {d}, false);
        add(n.postAttentionNorm, {d}, false);
        add(n.mlpNorm, {d}, false);
        add(n.gate, {inner, d}, true);
        add(n.up, {inner, d}, true);
        add(n.gateUp, {2 * inner, d}, true, {{"gate", 0, inner}, {"up", inner, inner}});
        add(n.down, {d, inner}, true);
        add(n.gateBias, {inner}, false);
        add(n.upBias, {inner}, false);
        add(n.downBias, {d}, false);
        add(n.postMlpNorm, {d}, false);
    }
    specs.push_back({m_finalNorm, {d}});
    if (!c.tieWordEmbeddings) specs.push_back({m_head, {c.vocabSize, d}, -1, false, false, true});
    return specs;
}

}  // namespace

std::unique_ptr<CausalLM> createRotaryDecoder(ModelConfig config, WeightMap weights,
                                              const DecoderStyle& style) {
    return std::make_unique<RotaryDecoder>(std::move(config), std::move(weights), style);
}

}  // namespace gp
