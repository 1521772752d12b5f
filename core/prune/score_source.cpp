#include "core/prune/score_source.h"

#include "core/runtime/error.h"

namespace gp {
namespace {

void checkMatrix(const std::string& name, const at::Tensor& tensor) {
    if (!tensor.defined() || tensor.dim() != 2)
        throw badArgument(name, "scores must be a 2-D [out, in] tensor");
    if (!at::isFloatingType(tensor.scalar_type()))
        throw badArgument(name, "scores must be floating point (fp32, bf16 or fp16)");
}

}  // namespace

at::Tensor ScoreSource::magnitudeOf(int64_t) const {
    return {};
}

int64_t ScoreSource::numel(int64_t layer) const {
    const auto s = shape(layer);
    return s[0] * s[1];
}

int64_t ScoreSource::totalNumel() const {
    int64_t total = 0;
    for (int64_t i = 0; i < layerCount(); ++i) total += numel(i);
    return total;
}

TensorScoreSource::TensorScoreSource(std::vector<std::pair<std::string, at::Tensor>> layers)
    : m_layers(std::move(layers)) {
    for (const auto& [name, tensor] : m_layers) checkMatrix(name, tensor);
}

std::string TensorScoreSource::layerName(int64_t layer) const {
    return m_layers.at(layer).first;
}

std::array<int64_t, 2> TensorScoreSource::shape(int64_t layer) const {
    const at::Tensor& t = m_layers.at(layer).second;
    return {t.size(0), t.size(1)};
}

at::ScalarType TensorScoreSource::dtype(int64_t layer) const {
    return m_layers.at(layer).second.scalar_type();
}

at::Tensor TensorScoreSource::scores(int64_t layer) const {
    return m_layers.at(layer).second;
}

MagnitudeScoreSource::MagnitudeScoreSource(std::vector<PrunableWeight> weights)
    : m_weights(std::move(weights)) {
    for (const PrunableWeight& weight : m_weights) checkMatrix(weight.name, weight.matrix);
}

std::string MagnitudeScoreSource::layerName(int64_t layer) const {
    return m_weights.at(layer).name;
}

std::array<int64_t, 2> MagnitudeScoreSource::shape(int64_t layer) const {
    const at::Tensor& t = m_weights.at(layer).matrix;
    return {t.size(0), t.size(1)};
}

at::ScalarType MagnitudeScoreSource::dtype(int64_t layer) const {
    return m_weights.at(layer).matrix.scalar_type();
}

at::Tensor MagnitudeScoreSource::scores(int64_t layer) const {
    at::NoGradGuard noGrad;
    return m_weights.at(layer).matrix.detach().abs();
}

at::Tensor MagnitudeScoreSource::magnitudeOf(int64_t layer) const {
    return m_weights.at(layer).matrix.detach();
}

at::Device ScoreSource::device() const {
    if (layerCount() == 0) return at::kCPU;
    const at::Tensor magnitude = magnitudeOf(0);
    return magnitude.defined() ? magnitude.device() : scores(0).device();
}

at::Device TensorScoreSource::device() const {
    return m_layers.empty() ? at::Device(at::kCPU) : m_layers.front().second.device();
}

at::Device MagnitudeScoreSource::device() const {
    return m_weights.empty() ? at::Device(at::kCPU) : m_weights.front().matrix.device();
}

}  // namespace gp
