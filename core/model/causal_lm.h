// One interface over every architecture: named weights, forward to logits, and per-block access
// (embed -> block 0..n-1 -> head), which the block-wise scheme and the activation statistics use.
// INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/io/weight_map.h"
#include "core/model/model_config.h"

namespace gp {

// A weight the pruner may zero: a 2-D linear weight seen as [out_features, in_features].
// For GPT-2's Conv1D (stored [in, out]) `matrix` is a transposed VIEW of the stored tensor, so
// writing through it changes the model.
struct PrunableWeight {
    std::string name;   // checkpoint tensor name, e.g. "model.layers.0.self_attn.q_proj.weight"
    int64_t block = 0;  // transformer block index; -1 for the output head
    at::Tensor matrix;  // [out, in] view of the live weight
};

// Receives the input of every linear layer as the forward pass runs (for WANDA's activation
// norms). `weightName` is the checkpoint name of that layer's weight; `input` is [..., in].
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

    // The linear weights inside the blocks, in block order then the architecture's layer order
    // (attention before MLP). includeHead adds the output projection (lm_head) as block -1.
    virtual std::vector<PrunableWeight> prunableWeights(bool includeHead = false) = 0;

    // Tensors that belong to block `index` (for moving one block to a device).
    virtual std::vector<std::string> blockWeightNames(int64_t index) const = 0;

    void setLinearInputTap(LinearInputTap tap) { m_tap = std::move(tap); }

    at::Device device() const;
    at::ScalarType dtype() const;

protected:
    const at::Tensor& weight(const std::string& name) const;  // Error if missing
    const at::Tensor* optionalWeight(const std::string& name) const;
    // y = x W^T + b, reporting x to the tap. W is [out, in] (nn.Linear layout).
    at::Tensor linear(const at::Tensor& x, const std::string& weightName,
                      const std::string& biasName = "") const;
    void reportLinearInput(const std::string& weightName, const at::Tensor& x) const;

private:
    ModelConfig m_config;
    WeightMap m_weights;
    LinearInputTap m_tap;
};

// Builds the model for config.architecture, checking every expected tensor exists with the shape
// the config implies; a mismatch is an Error naming `source` (the checkpoint path) and the tensor.
std::unique_ptr<CausalLM> createCausalLM(const ModelConfig& config, WeightMap weights,
                                         const std::string& source);

}  // namespace gp
