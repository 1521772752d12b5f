// Where selection gets its scores: per layer, on demand. A 7-billion-weight model is never
// resident, so a source computes (or maps) one layer's scores when asked and the selection asks
// again for every pass it makes. INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "core/model/causal_lm.h"

namespace gp {

// Importance scores of the prunable layers, each seen as an [out, in] matrix. Scores are
// non-negative finite floats (fp32, bf16 or fp16) on any device. Called from the thread that
// runs the selection; scores(i) may be called several times for the same layer.
class ScoreSource {
public:
    virtual ~ScoreSource() = default;

    virtual int64_t layerCount() const = 0;
    virtual std::string layerName(int64_t layer) const = 0;
    virtual std::array<int64_t, 2> shape(int64_t layer) const = 0;  // [out, in]
    virtual at::ScalarType dtype(int64_t layer) const = 0;          // of scores(layer)

    // The scores of one layer, [out, in], computed when asked (may be a strided view).
    virtual at::Tensor scores(int64_t layer) const = 0;

    // When the scores of a layer are |t| for a tensor t that is cheaper to get than the scores
    // themselves (magnitude over the live weights), t; an undefined tensor otherwise. The exact
    // selection reads t directly and so needs no temporary the size of a layer.
    virtual at::Tensor magnitudeOf(int64_t layer) const;

    // Where the scores are (the exact selection counts on that device). The default asks for
    // the first layer's scores; sources that know without computing them say so.
    virtual at::Device device() const;

    int64_t numel(int64_t layer) const;
    int64_t totalNumel() const;
};

// Scores already in memory (cached tensors), in the given layer order.
class TensorScoreSource final : public ScoreSource {
public:
    // Every tensor must be 2-D and floating point; an Error (BadArgument) names the one that is
    // not.
    explicit TensorScoreSource(std::vector<std::pair<std::string, at::Tensor>> layers);

    int64_t layerCount() const override { return static_cast<int64_t>(m_layers.size()); }
    std::string layerName(int64_t layer) const override;
    std::array<int64_t, 2> shape(int64_t layer) const override;
    at::ScalarType dtype(int64_t layer) const override;
    at::Tensor scores(int64_t layer) const override;
    at::Device device() const override;

private:
    std::vector<std::pair<std::string, at::Tensor>> m_layers;
};

// Magnitude |W| of a model's prunable weights (which may be transposed views), computed per
// layer when asked.
class MagnitudeScoreSource final : public ScoreSource {
public:
    explicit MagnitudeScoreSource(std::vector<PrunableWeight> weights);

    int64_t layerCount() const override { return static_cast<int64_t>(m_weights.size()); }
    std::string layerName(int64_t layer) const override;
    std::array<int64_t, 2> shape(int64_t layer) const override;
    at::ScalarType dtype(int64_t layer) const override;
    at::Tensor scores(int64_t layer) const override;
    at::Tensor magnitudeOf(int64_t layer) const override;
    at::Device device() const override;

private:
    std::vector<PrunableWeight> m_weights;
};

}  // namespace gp
