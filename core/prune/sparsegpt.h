// SparseGPT (Frantar & Alistarh 2023) as IST-DASLab/sparsegpt's sparsegpt.py does it: per layer
// the Hessian H = 2·XᵀX/n of its calibration inputs (a running average over the batches, n the
// windows seen, fp32), then the OBS sweep over column blocks with the mask chosen per block and
// the lazy error updates. INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>
#include <vector>

#include "core/prune/layer_statistics.h"

namespace gp {

struct SparseGptOptions {
    double sparsity = 0.5;    // unstructured: fraction pruned in every column block
    int64_t pruneN = 0;       // N:M: prune pruneN of every pruneM consecutive inputs (0: off)
    int64_t pruneM = 0;
    int64_t blocksize = 128;  // columns per block (mask and lazy update granularity)
    double percdamp = 0.01;   // dampening: percdamp × mean(diag H) added to the diagonal
};

struct SparseGptResult {
    at::Tensor weight;  // fp32 [out, in]: pruned and with the remaining weights updated
    at::Tensor mask;    // bool [out, in]: true where the sweep pruned
    double error = 0.0; // the reference's 'error': Σ (w - q)² / [H⁻¹]²_jj / 2 over the sweep
};

// The sweep on one layer. `weight` [out, in] in any floating dtype (not changed); `hessian`
// [in, in] fp32 (not changed). Inputs that never fired (diag H = 0) get H_ii = 1 and their
// column zeroed, as the reference does. An Error names `layer` when H + damp is not positive
// definite.
SparseGptResult sparseGptPrune(const at::Tensor& weight, const at::Tensor& hessian,
                               const SparseGptOptions& options, const std::string& layer);

// The Hessians of a set of layers from their inputs, accumulated as sparsegpt.py's add_batch:
// for every batch of b windows H ← H·n/(n+b), n ← n+b, H ← H + (√(2/n)·X)ᵀ(√(2/n)·X), with X all
// the batch's tokens [b·T, in] in fp32. finish(): fp32 [in, in] by layer name.
class HessianAccumulator final : public LayerStatistics {
public:
    HessianAccumulator(const std::vector<PrunableWeight>& layers, at::Device device);
    LinearInputTap tap() override;
    void endBatch() override {}
    std::map<std::string, at::Tensor> finish() override;

private:
    struct Running {
        at::Tensor hessian;
        int64_t windows = 0;
    };
    std::map<std::string, Running> m_running;
};

}  // namespace gp
