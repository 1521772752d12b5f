#include "core/model/architecture_table.h"

#include "core/runtime/error.h"

namespace gp {
namespace {

using Table = std::map<TensorRole, std::string>;

const Table& llamaTable() {  // also Mistral and Qwen2
    static const Table table = {
        {TensorRole::TokenEmbedding, "model.embed_tokens"},
        {TensorRole::FinalNorm, "model.norm"},
        {TensorRole::OutputHead, "lm_head"},
        {TensorRole::AttentionNorm, "model.layers.{}.input_layernorm"},
        {TensorRole::Query, "model.layers.{}.self_attn.q_proj"},
        {TensorRole::Key, "model.layers.{}.self_attn.k_proj"},
        {TensorRole::Value, "model.layers.{}.self_attn.v_proj"},
        {TensorRole::AttentionOutput, "model.layers.{}.self_attn.o_proj"},
        {TensorRole::MlpNorm, "model.layers.{}.post_attention_layernorm"},
        {TensorRole::MlpGate, "model.layers.{}.mlp.gate_proj"},
        {TensorRole::MlpUp, "model.layers.{}.mlp.up_proj"},
        {TensorRole::MlpDown, "model.layers.{}.mlp.down_proj"},
    };
    return table;
}

// Qwen2 has llama's names; Qwen3 adds the per-head norms of q and k.
const Table& qwen3Table() {
    static const Table table = [] {
        Table names = llamaTable();
        names[TensorRole::QueryNorm] = "model.layers.{}.self_attn.q_norm";
        names[TensorRole::KeyNorm] = "model.layers.{}.self_attn.k_norm";
        return names;
    }();
    return table;
}

const Table& phi3Table() {
    static const Table table = {
        {TensorRole::TokenEmbedding, "model.embed_tokens"},
        {TensorRole::FinalNorm, "model.norm"},
        {TensorRole::OutputHead, "lm_head"},
        {TensorRole::AttentionNorm, "model.layers.{}.input_layernorm"},
        {TensorRole::QueryKeyValue, "model.layers.{}.self_attn.qkv_proj"},
        {TensorRole::AttentionOutput, "model.layers.{}.self_attn.o_proj"},
        {TensorRole::MlpNorm, "model.layers.{}.post_attention_layernorm"},
        {TensorRole::MlpGateUp, "model.layers.{}.mlp.gate_up_proj"},
        {TensorRole::MlpDown, "model.layers.{}.mlp.down_proj"},
    };
    return table;
}

// Gemma 2 names its four norms by position: input (before attention), post_attention (after
// it), pre_feedforward and post_feedforward.
const Table& gemma2Table() {
    static const Table table = [] {
        Table names = llamaTable();
        names[TensorRole::PostAttentionNorm] = "model.layers.{}.post_attention_layernorm";
        names[TensorRole::MlpNorm] = "model.layers.{}.pre_feedforward_layernorm";
        names[TensorRole::PostMlpNorm] = "model.layers.{}.post_feedforward_layernorm";
        return names;
    }();
    return table;
}

const Table& gptNeoTable() {
    static const Table table = {
        {TensorRole::TokenEmbedding, "transformer.wte"},
        {TensorRole::PositionEmbedding, "transformer.wpe"},
        {TensorRole::FinalNorm, "transformer.ln_f"},
        {TensorRole::OutputHead, "lm_head"},
        {TensorRole::AttentionNorm, "transformer.h.{}.ln_1"},
        {TensorRole::Query, "transformer.h.{}.attn.attention.q_proj"},
        {TensorRole::Key, "transformer.h.{}.attn.attention.k_proj"},
        {TensorRole::Value, "transformer.h.{}.attn.attention.v_proj"},
        {TensorRole::AttentionOutput, "transformer.h.{}.attn.attention.out_proj"},
        {TensorRole::MlpNorm, "transformer.h.{}.ln_2"},
        {TensorRole::MlpUp, "transformer.h.{}.mlp.c_fc"},
        {TensorRole::MlpDown, "transformer.h.{}.mlp.c_proj"},
    };
    return table;
}

const Table& gpt2Table() {
    static const Table table = {
        {TensorRole::TokenEmbedding, "transformer.wte"},
        {TensorRole::PositionEmbedding, "transformer.wpe"},
        {TensorRole::FinalNorm, "transformer.ln_f"},
        {TensorRole::OutputHead, "lm_head"},
        {TensorRole::AttentionNorm, "transformer.h.{}.ln_1"},
        {TensorRole::QueryKeyValue, "transformer.h.{}.attn.c_attn"},
        {TensorRole::AttentionOutput, "transformer.h.{}.attn.c_proj"},
        {TensorRole::MlpNorm, "transformer.h.{}.ln_2"},
        {TensorRole::MlpUp, "transformer.h.{}.mlp.c_fc"},
        {TensorRole::MlpDown, "transformer.h.{}.mlp.c_proj"},
    };
    return table;
}

const Table& mlpTable() {
    static const Table table = {
        {TensorRole::TokenEmbedding, "embed"},
        {TensorRole::OutputHead, "lm_head"},
        {TensorRole::MlpUp, "blocks.{}.fc1"},
        {TensorRole::MlpDown, "blocks.{}.fc2"},
    };
    return table;
}

const Table& tableFor(Architecture architecture) {
    switch (architecture) {
        case Architecture::Llama:
        case Architecture::Mistral:
            return llamaTable();
        case Architecture::GptNeo:
            return gptNeoTable();
        case Architecture::Gpt2:
            return gpt2Table();
        case Architecture::Mlp:
            return mlpTable();
        case Architecture::Qwen2:
            return llamaTable();
        case Architecture::Qwen3:
            return qwen3Table();
        case Architecture::Phi3:
            return phi3Table();
        case Architecture::Gemma2:
            return gemma2Table();
    }
    throw Error(ErrorKind::Internal, "", architectureName(architecture), "no tensor-name table");
}

// GPT-2 checkpoints exist with and without the base model's prefix (see the header).
const char* optionalPrefix(Architecture architecture) {
    return architecture == Architecture::Gpt2 ? "transformer." : "";
}

}  // namespace

TensorNames::TensorNames(Architecture architecture, const WeightMap& weights)
    : m_table(&tableFor(architecture)) {
    const std::string prefix = optionalPrefix(architecture);
    if (prefix.empty()) return;
    const std::string embedding = m_table->at(TensorRole::TokenEmbedding) + ".weight";
    const std::string stripped = embedding.substr(prefix.size());
    if (weights.count(embedding) == 0 && weights.count(stripped) != 0) m_droppedPrefix = prefix;
}

std::string TensorNames::module(TensorRole role, int64_t block) const {
    const auto found = m_table->find(role);
    if (found == m_table->end())
        throw Error(ErrorKind::Internal, "", "tensor role " + std::to_string(int(role)),
                    "this architecture has no tensor with that role");
    std::string name = found->second;
    const size_t slot = name.find("{}");
    if ((slot != std::string::npos) != (block >= 0))
        throw Error(ErrorKind::Internal, "", name,
                    "block index given for a global tensor or "
                    "missing for a block tensor");
    if (slot != std::string::npos) name.replace(slot, 2, std::to_string(block));
    if (!m_droppedPrefix.empty() && name.compare(0, m_droppedPrefix.size(), m_droppedPrefix) == 0)
        name.erase(0, m_droppedPrefix.size());
    return name;
}

std::string TensorNames::weight(TensorRole role, int64_t block) const {
    return module(role, block) + ".weight";
}

std::string TensorNames::bias(TensorRole role, int64_t block) const {
    return module(role, block) + ".bias";
}

}  // namespace gp
