// Calibration windows: N windows of L token ids taken at seeded random offsets of a token stream
// (as Wanda and SparseGPT sample C4), used for WANDA's activation norms and the probe's
// gradients. INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace gp {

struct CalibrationOptions {
    int64_t nsamples = 128;  // windows
    int64_t seqlen = 512;    // ids per window (a window of L ids predicts L-1 tokens)
    uint64_t seed = 0;
};

// [nsamples, seqlen] int64 on the CPU. Offsets come from std::mt19937_64 with our own range
// reduction, so a seed gives the same windows everywhere. Error naming `source` when the stream
// is shorter than one window.
at::Tensor sampleCalibrationWindows(const std::vector<int32_t>& ids,
                                    const CalibrationOptions& options, const std::string& source);

// The two readings of a batch of calibration windows [B, L] — the one place that says which ids
// the model is fed:
// - input statistics (WANDA's activation norms and any other statistic of the layers' inputs:
//   SparseGPT's Hessians, OWL's outlier ratios) are gathered over EVERY id of every window, as
//   Wanda, SparseGPT and the GradProbe library feed whole calibration samples;
// - the next-token loss (the probe's) reads ids [:, :-1] and predicts ids [:, 1:].
at::Tensor statisticsInputs(const at::Tensor& windows);  // [B, L], the windows themselves
at::Tensor lossInputs(const at::Tensor& windows);        // [B, L-1]

// Mean next-token cross-entropy of a batch of windows [B, L] from the logits of
// lossInputs(windows). Log-softmax in fp32. Differentiable (the probe's loss).
at::Tensor windowLoss(const at::Tensor& logits, const at::Tensor& windows);

}  // namespace gp
