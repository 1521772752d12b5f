#include "core/prune/wanda_scores.h"

#include "core/runtime/error.h"

namespace gp {

WandaScoreSource::WandaScoreSource(std::vector<PrunableWeight> weights,
                                   std::map<std::string, at::Tensor> norms)
    : m_weights(std::move(weights)) {
    for (const PrunableWeight& weight : m_weights) {
        auto found = norms.find(weight.name);
        if (found == norms.end() || found->second.numel() != weight.matrix.size(1))
            throw Error(ErrorKind::Internal, "", weight.name,
                        "no activation norms of the right width for this layer");
        m_norms.push_back(found->second.to(at::kFloat).reshape({1, -1}));
    }
}

std::array<int64_t, 2> WandaScoreSource::shape(int64_t layer) const {
    return {m_weights[layer].matrix.size(0), m_weights[layer].matrix.size(1)};
}

at::Tensor WandaScoreSource::scores(int64_t layer) const {
    const at::Tensor& matrix = m_weights[layer].matrix;
    return matrix.detach().to(at::kFloat).abs().mul_(m_norms[layer].to(matrix.device()));
}

}  // namespace gp
