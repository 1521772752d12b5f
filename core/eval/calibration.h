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

// Mean next-token cross-entropy of a batch of windows [B, L]: the model reads ids [:, :-1] and
// predicts ids [:, 1:]. Log-softmax in fp32. Differentiable (the probe's loss).
at::Tensor windowLoss(const at::Tensor& logits, const at::Tensor& windows);

}  // namespace gp
