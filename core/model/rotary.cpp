#include "core/model/rotary.h"

#include <algorithm>
#include <cmath>

#include "core/runtime/error.h"

namespace gp {
namespace {

constexpr double kPi = 3.14159265358979323846;

at::TensorOptions fp32On(const at::Device& device) {
    return at::TensorOptions().dtype(at::kFloat).device(device);
}

// base^(2i / dim) for i < dim / 2, in fp32 (arange(0, dim, 2).float() / dim).
at::Tensor positionFrequencies(double base, int64_t dim, const at::Device& device) {
    return at::pow(base, at::arange(0, dim, 2, fp32On(device)) / double(dim));
}

at::Tensor defaultFrequencies(double base, int64_t dim, const at::Device& device) {
    return positionFrequencies(base, dim, device).reciprocal();
}

// Dynamic NTK: the base grows once the sequence is longer than max_position_embeddings.
// transformers keeps the frequencies of the longest sequence seen so far (and resets below the
// original length); here each forward pass uses its own length, which is what a fresh model
// computes for one pass over `tokens` positions.
at::Tensor dynamicFrequencies(const ModelConfig& c, int64_t dim, int64_t tokens,
                              const at::Device& device) {
    const double maxPositions = double(c.maxPositions);
    const double length = std::max(double(tokens), maxPositions);
    const double factor = c.rope.factor;
    const double base = c.ropeTheta * std::pow(factor * length / maxPositions - (factor - 1.0),
                                               double(dim) / double(dim - 2));
    return defaultFrequencies(base, dim, device);
}

double yarnMscale(double scale, double mscale) {
    return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

// YaRN (transformers 5: factor as given; 4.4x-4.5x replaced it by max_position_embeddings /
// original_max_position_embeddings when the latter was in rope_scaling, the same number for
// consistent configs).
at::Tensor yarnFrequencies(const ModelConfig& c, int64_t dim, const at::Device& device,
                           double* attentionFactor) {
    const RopeScaling& r = c.rope;
    const double base = c.ropeTheta;
    if (r.attentionFactor > 0.0)
        *attentionFactor = r.attentionFactor;
    else if (r.mscale != 0.0 && r.mscaleAllDim != 0.0)
        *attentionFactor = yarnMscale(r.factor, r.mscale) / yarnMscale(r.factor, r.mscaleAllDim);
    else
        *attentionFactor = yarnMscale(r.factor, 1.0);
    // The dimension whose wavelength fits `rotations` times into the original context.
    const auto correctionDim = [&](double rotations) {
        return double(dim) * std::log(double(r.originalMaxPositions) / (rotations * 2.0 * kPi)) /
               (2.0 * std::log(base));
    };
    double low = correctionDim(r.betaFast), high = correctionDim(r.betaSlow);
    if (r.truncate) {
        low = std::floor(low);
        high = std::ceil(high);
    }
    low = std::max(low, 0.0);
    high = std::min(high, double(dim - 1));
    if (low == high) high += 0.001;  // no zero-width ramp
    const at::Tensor ramp =
        ((at::arange(dim / 2, fp32On(device)) - low) / (high - low)).clamp(0.0, 1.0);
    const at::Tensor extrapolationWeight = 1.0 - ramp;
    const at::Tensor positions = positionFrequencies(base, dim, device);
    const at::Tensor extrapolation = positions.reciprocal();
    const at::Tensor interpolation = (r.factor * positions).reciprocal();
    return interpolation * (1.0 - extrapolationWeight) + extrapolation * extrapolationWeight;
}

// Llama 3.1: long wavelengths divided by factor, short ones kept, a smooth blend between.
at::Tensor llama3Frequencies(const ModelConfig& c, int64_t dim, const at::Device& device) {
    const RopeScaling& r = c.rope;
    const at::Tensor frequencies = defaultFrequencies(c.ropeTheta, dim, device);
    const double original = double(r.originalMaxPositions);
    const double lowFrequencyWavelength = original / r.lowFreqFactor;
    const double highFrequencyWavelength = original / r.highFreqFactor;
    const at::Tensor wavelength = (2.0 * kPi) / frequencies;
    const at::Tensor scaled =
        at::where(wavelength > lowFrequencyWavelength, frequencies / r.factor, frequencies);
    const at::Tensor smooth =
        (original / wavelength - r.lowFreqFactor) / (r.highFreqFactor - r.lowFreqFactor);
    const at::Tensor blended = (1.0 - smooth) * scaled / r.factor + smooth * scaled;
    const at::Tensor medium =
        (wavelength >= highFrequencyWavelength) & (wavelength <= lowFrequencyWavelength);
    return at::where(medium, blended, scaled);
}

// LongRoPE (Phi-3 128k): per-frequency factors, long ones past the original context.
at::Tensor longropeFrequencies(const ModelConfig& c, int64_t dim, int64_t tokens,
                               const at::Device& device, double* attentionFactor) {
    const RopeScaling& r = c.rope;
    const double original = double(r.originalMaxPositions);
    const double factor = r.factor > 0.0 ? r.factor : double(c.maxPositions) / original;
    if (r.attentionFactor > 0.0)
        *attentionFactor = r.attentionFactor;
    else
        *attentionFactor =
            factor <= 1.0 ? 1.0 : std::sqrt(1.0 + std::log(factor) / std::log(original));
    const std::vector<double>& chosen =
        tokens > r.originalMaxPositions ? r.longFactor : r.shortFactor;
    const at::Tensor extension =
        at::tensor(chosen, at::TensorOptions().dtype(at::kDouble)).to(fp32On(device));
    return (extension * positionFrequencies(c.ropeTheta, dim, device)).reciprocal();
}

}  // namespace

int64_t rotaryDimension(const ModelConfig& config) {
    return int64_t(double(config.headDim) * config.partialRotaryFactor);
}

at::Tensor inverseFrequencies(const ModelConfig& config, int64_t tokens, const at::Device& device,
                              double* attentionFactor) {
    const int64_t dim = rotaryDimension(config);
    const std::string& type = config.rope.type;
    *attentionFactor = 1.0;
    if (type == "default") return defaultFrequencies(config.ropeTheta, dim, device);
    if (type == "linear")
        return defaultFrequencies(config.ropeTheta, dim, device) / config.rope.factor;
    if (type == "dynamic") return dynamicFrequencies(config, dim, tokens, device);
    if (type == "yarn") return yarnFrequencies(config, dim, device, attentionFactor);
    if (type == "llama3") return llama3Frequencies(config, dim, device);
    if (type == "longrope")
        return longropeFrequencies(config, dim, tokens, device, attentionFactor);
    throw Error(ErrorKind::Internal, "", type, "rotary scaling not implemented");
}

RotaryTables rotaryTables(const ModelConfig& config, int64_t tokens, const at::Device& device) {
    double attentionFactor = 1.0;
    const at::Tensor frequencies = inverseFrequencies(config, tokens, device, &attentionFactor);
    const at::Tensor angles = at::outer(at::arange(tokens, fp32On(device)), frequencies);
    const at::Tensor repeated = at::cat({angles, angles}, -1);  // [T, rotaryDim]
    if (attentionFactor == 1.0) return {repeated.cos(), repeated.sin()};
    return {repeated.cos() * attentionFactor, repeated.sin() * attentionFactor};
}

namespace {

// [x1, x2] -> [-x2, x1] over the last dimension's halves.
at::Tensor rotateHalf(const at::Tensor& x) {
    const int64_t half = x.size(-1) / 2;
    return at::cat({-x.slice(-1, half), x.slice(-1, 0, half)}, -1);
}

}  // namespace

at::Tensor applyRotary(const at::Tensor& x, const RotaryTables& tables) {
    const at::Tensor cos = tables.cos.to(x.scalar_type());
    const at::Tensor sin = tables.sin.to(x.scalar_type());
    const int64_t rotary = cos.size(-1);
    if (rotary == x.size(-1)) return x * cos + rotateHalf(x) * sin;
    const at::Tensor rotated = x.slice(-1, 0, rotary);
    return at::cat({rotated * cos + rotateHalf(rotated) * sin, x.slice(-1, rotary)}, -1);
}

}  // namespace gp
