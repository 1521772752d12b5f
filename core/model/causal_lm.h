// One interface over every architecture: named weights, forward to logits, and per-block access
// (embed -> block 0..n-1 -> head), which the block-wise scheme and the activation statistics use.
// Every forward is plain ATen: it runs under autograd (the gradient probe calls backward through
// it) as well as under inference mode, in the weights' dtype (softmax in at least fp32).
// INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/weight_map.h"
#include "core/model/architecture_table.h"
#include "core/model/model_config.h"
#include "core/runtime/events.h"

namespace gp {

// A weight the pruner may zero: a 2-D linear weight seen as [out_features, in_features].
// For GPT-2's Conv1D (stored [in, out]) `matrix` is a transposed VIEW of the stored tensor, so
// writing through it changes the model. The view aliases the tensor held in weights() when it was
// taken; replacing that map entry (e.g. moving it to another device) detaches it.
struct PrunableWeight {
    std::string name;   // checkpoint tensor name, e.g. "model.layers.0.self_attn.q_proj.weight"
    int64_t block = 0;  // transformer block index; -1 for the output head
    at::Tensor matrix;  // [out, in] view of the live weight
    std::vector<LayerPart> parts;  // a fused weight's parts (Phi-3 qkv_proj: q, k, v); else empty
};

// A tensor an architecture reads, with the shape its config implies, as stored in the checkpoint.
struct TensorSpec {
    std::string name;
    std::vector<int64_t> shape;
    int64_t block = -1;             // -1: outside the blocks (embeddings, final norm, head)
    bool prunable = false;          // a linear weight inside a block
    bool storedTransposed = false;  // GPT-2 Conv1D: stored [in, out]
    bool head = false;              // the output projection (the token embedding when tied)
    std::vector<LayerPart> parts;   // a fused weight's row ranges, by what each part is
};

// Receives the input of every linear layer as the forward pass runs (for WANDA's activation
// norms), the output head included. `weightName` is the checkpoint name of that layer's weight;
// `input` is [..., in] (for GPT-2's Conv1D too). Called on the forward's thread.
using LinearInputTap = std::function<void(const std::string& weightName, const at::Tensor& input)>;

class CausalLM {
public:
    CausalLM(ModelConfig config, WeightMap weights);
    virtual ~CausalLM() = default;
    CausalLM(const CausalLM&) = delete;
    CausalLM& operator=(const CausalLM&) = delete;

    const ModelConfig& config() const { return m_config; }
    WeightMap& weights() { return m_weights; }
    const WeightMap& weights() const { return m_weights; }
    int64_t numBlocks() const { return m_config.numLayers; }

    // ids: [batch, tokens] int64 on the weights' device. Positions start at 0 in every row.
    virtual at::Tensor embed(const at::Tensor& ids) const = 0;                    // -> [B, T, D]
    virtual at::Tensor block(int64_t index, const at::Tensor& hidden) const = 0;  // -> [B, T, D]
    virtual at::Tensor head(const at::Tensor& hidden) const = 0;                  // -> [B, T, V]
    at::Tensor forward(const at::Tensor& ids) const;                              // -> [B, T, V]

    // Every tensor the architecture reads, in block order (globals first and last). Extra
    // tensors of the checkpoint (e.g. GPT-2's attn.bias mask buffers) stay in weights() unread.
    virtual std::vector<TensorSpec> tensorSpecs() const = 0;

    // The linear weights inside the blocks, in block order then the architecture's layer order
    // (attention before MLP). includeHead adds the output projection (lm_head) as block -1; when
    // the head is tied to the token embedding that is the embedding matrix, so pruning the head
    // prunes the embedding as well.
    virtual std::vector<PrunableWeight> prunableWeights(bool includeHead = false);

    // Tensors that belong to block `index` (for moving one block to a device).
    virtual std::vector<std::string> blockWeightNames(int64_t index) const;

    void setLinearInputTap(LinearInputTap tap) { m_tap = std::move(tap); }

    // Tensors the checkpoint stores under another name than the model reads them by (a tied
    // head stored as lm_head.weight is read as the token embedding): stored name -> name in
    // weights(). Exports write them back under their stored names.
    const std::map<std::string, std::string>& storedAs() const { return m_storedAs; }

    // Where ids go and the compute dtype: those of the token embedding.
    at::Device device() const;
    at::ScalarType dtype() const;

protected:
    const TensorNames& names() const { return m_names; }
    const at::Tensor& weight(const std::string& name) const;  // Error if missing
    const at::Tensor* optionalWeight(const std::string& name) const;
    // y = x W^T + b, reporting x to the tap. W is [out, in] (nn.Linear layout).
    at::Tensor linear(const at::Tensor& x, const std::string& weightName,
                      const std::string& biasName = "") const;
    void reportLinearInput(const std::string& weightName, const at::Tensor& x) const;

private:
    ModelConfig m_config;
    WeightMap m_weights;
    TensorNames m_names;
    LinearInputTap m_tap;
    std::map<std::string, std::string> m_storedAs;

    friend std::unique_ptr<CausalLM> createCausalLM(const ModelConfig&, WeightMap,
                                                    const std::string&,
                                                    const std::map<std::string, std::string>&);
};

// Builds the model for config.architecture, checking every expected tensor exists with the shape
// the config implies and a floating dtype shared by all of them; a mismatch is an Error naming
// `source` (the checkpoint path) and the tensor. Tensors stored once for two names are bound as
// transformers binds them: `aliases` (the safetensors metadata's, alias -> stored name) and,
// with tie_word_embeddings, the head and the embedding stored under either name (a stored
// lm_head is then the embedding, as tie_weights makes it). Tensors the architecture does not
// read are an Error listing them (the config names another model than the weights hold), except
// the buffers transformers used to save (attention masks, rotary inv_freq).
std::unique_ptr<CausalLM> createCausalLM(const ModelConfig& config, WeightMap weights,
                                         const std::string& source,
                                         const std::map<std::string, std::string>& aliases = {});

// The tensors a model of this config reads, with their shapes (Hugging Face names; GPT-2 in the
// GPT2LMHeadModel form): what a new model must be initialised with.
std::vector<TensorSpec> expectedTensors(const ModelConfig& config);

}  // namespace gp
