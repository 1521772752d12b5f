// WANDA importance: |W_ij| * a_j, a_j the activation norm of input channel j of that layer
// (activation_norms.h). Computed per layer when the selection asks, in fp32.
// INTERNAL to core: includes ATen.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/prune/score_source.h"

namespace gp {

class WandaScoreSource final : public ScoreSource {
public:
    // norms: layer name -> [in] (from collectActivationNorms); Error if a layer has none.
    WandaScoreSource(std::vector<PrunableWeight> weights, std::map<std::string, at::Tensor> norms);

    int64_t layerCount() const override { return static_cast<int64_t>(m_weights.size()); }
    std::string layerName(int64_t layer) const override { return m_weights[layer].name; }
    std::array<int64_t, 2> shape(int64_t layer) const override;
    at::ScalarType dtype(int64_t) const override { return at::kFloat; }
    at::Tensor scores(int64_t layer) const override;
    at::Device device() const override {
        return m_weights.empty() ? at::Device(at::kCPU) : m_weights.front().matrix.device();
    }

private:
    std::vector<PrunableWeight> m_weights;
    std::vector<at::Tensor> m_norms;  // [1, in] per layer, fp32
};

}  // namespace gp
