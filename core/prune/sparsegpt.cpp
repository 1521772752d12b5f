#include "core/prune/sparsegpt.h"

#include <c10/core/GradMode.h>

#include <algorithm>
#include <cmath>

#include "core/runtime/error.h"

namespace gp {
namespace {

using at::indexing::None;
using at::indexing::Slice;

// Upper Cholesky factor of (H + damp·I)⁻¹, after the dead inputs got H_ii = 1.
at::Tensor inverseCholesky(at::Tensor hessian, double percdamp, const std::string& layer) {
    const at::Tensor diagonal = hessian.diagonal();
    diagonal.add_(percdamp * diagonal.mean());
    try {
        const at::Tensor lower = at::linalg_cholesky(hessian);
        return at::linalg_cholesky(at::cholesky_inverse(lower), /*upper=*/true);
    } catch (const c10::Error& error) {
        const std::string what = error.what_without_backtrace();
        throw Error(ErrorKind::BadInput, "", layer,
                    "SparseGPT: the dampened Hessian is not positive definite (" +
                        what.substr(0, what.find('\n')) + "); raise --percdamp");
    }
}

// The columns [i1, i2) of one block, swept left to right: each column's pruned entries zeroed,
// the error spread over the block's later columns; returns the block's error terms Err1.
struct BlockSweep {
    at::Tensor pruned;  // Q1
    at::Tensor errors;  // Err1
    at::Tensor mask;    // mask1
    at::Tensor losses;  // Losses1 summed over the block's columns, per row
};

BlockSweep sweepBlock(at::Tensor block, const at::Tensor& inverse, const SparseGptOptions& o) {
    const int64_t count = block.size(1);
    const at::Tensor inverseDiagonal = inverse.diagonal();
    BlockSweep sweep;
    sweep.pruned = at::zeros_like(block);
    sweep.errors = at::zeros_like(block);
    at::Tensor losses = at::zeros_like(block);
    if (o.pruneN == 0) {
        // The block's share: the lowest w²/d² at the layer's sparsity (the reference's
        // sort-and-index: at least floor(count·out·s) + 1 entries, every tie of the cut).
        const at::Tensor saliency = block.square() / inverseDiagonal.reshape({1, -1}).square();
        const at::Tensor sorted = std::get<0>(saliency.flatten().sort());
        const at::Tensor cut = sorted[int64_t(double(saliency.numel()) * o.sparsity)];
        sweep.mask = saliency <= cut;
    } else {
        sweep.mask = at::zeros_like(block, block.options().dtype(at::kBool));
    }
    for (int64_t i = 0; i < count; ++i) {
        if (o.pruneN != 0 && i % o.pruneM == 0) {
            // Each group of M is decided when the sweep reaches it, on the updated weights.
            const at::Tensor group = block.index({Slice(), Slice(i, i + o.pruneM)});
            const at::Tensor saliency =
                group.square() /
                inverseDiagonal.index({Slice(i, i + o.pruneM)}).reshape({1, -1}).square();
            const at::Tensor lowest =
                std::get<1>(saliency.topk(o.pruneN, 1, /*largest=*/false)) + i;
            sweep.mask.scatter_(1, lowest, true);
        }
        const at::Tensor w = block.select(1, i).clone();
        const at::Tensor d = inverse.index({i, i});
        const at::Tensor q = w.masked_fill(sweep.mask.select(1, i), 0);
        sweep.pruned.select(1, i).copy_(q);
        losses.select(1, i).copy_((w - q).square() / d.square());
        const at::Tensor error = (w - q) / d;
        block.index({Slice(), Slice(i, None)})
            .sub_(error.unsqueeze(1).matmul(inverse.index({i, Slice(i, None)}).unsqueeze(0)));
        sweep.errors.select(1, i).copy_(error);
    }
    sweep.losses = losses.sum(1) / 2;
    return sweep;
}

}  // namespace

SparseGptResult sparseGptPrune(const at::Tensor& weight, const at::Tensor& hessian,
                               const SparseGptOptions& options, const std::string& layer) {
    at::NoGradGuard noGrad;
    at::Tensor w = weight.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true).contiguous();
    at::Tensor h = hessian.to(at::kFloat, /*non_blocking=*/false, /*copy=*/true);
    const int64_t columns = w.size(1);
    const at::Tensor dead = h.diagonal() == 0;
    h.diagonal().masked_fill_(dead, 1);
    w.masked_fill_(dead.unsqueeze(0), 0);
    const at::Tensor inverse = inverseCholesky(h, options.percdamp, layer);
    h = at::Tensor();

    SparseGptResult result;
    result.mask = at::zeros_like(w, w.options().dtype(at::kBool));
    at::Tensor losses = at::zeros({w.size(0)}, w.options());
    for (int64_t i1 = 0; i1 < columns; i1 += options.blocksize) {
        const int64_t i2 = std::min(i1 + options.blocksize, columns);
        const BlockSweep sweep =
            sweepBlock(w.index({Slice(), Slice(i1, i2)}).clone(),
                       inverse.index({Slice(i1, i2), Slice(i1, i2)}), options);
        w.index({Slice(), Slice(i1, i2)}).copy_(sweep.pruned);
        result.mask.index({Slice(), Slice(i1, i2)}).copy_(sweep.mask);
        losses.add_(sweep.losses);
        // The lazy update: the block's errors reach the columns after it in one product.
        w.index({Slice(), Slice(i2, None)})
            .sub_(sweep.errors.matmul(inverse.index({Slice(i1, i2), Slice(i2, None)})));
    }
    result.weight = std::move(w);
    result.error = losses.sum().item<double>();
    return result;
}

HessianAccumulator::HessianAccumulator(const std::vector<PrunableWeight>& layers,
                                       at::Device device) {
    const auto options = at::TensorOptions().dtype(at::kFloat).device(device);
    for (const PrunableWeight& layer : layers)
        m_running[layer.name].hessian = at::zeros({layer.matrix.size(1), layer.matrix.size(1)}, options);
}

LinearInputTap HessianAccumulator::tap() {
    return [this](const std::string& name, const at::Tensor& input) {
        auto found = m_running.find(name);
        if (found == m_running.end()) return;
        Running& running = found->second;
        // The reference counts windows (a 2-D input is one window), not tokens.
        const int64_t windows = input.dim() >= 3 ? input.size(0) : 1;
        running.hessian.mul_(double(running.windows) / double(running.windows + windows));
        running.windows += windows;
        const at::Tensor rows = input.reshape({-1, input.size(-1)}).to(at::kFloat) *
                                std::sqrt(2.0 / double(running.windows));
        running.hessian.add_(rows.t().matmul(rows));
    };
}

std::map<std::string, at::Tensor> HessianAccumulator::finish() {
    std::map<std::string, at::Tensor> hessians;
    for (auto& [name, running] : m_running) hessians[name] = std::move(running.hessian);
    m_running.clear();
    return hessians;
}

}  // namespace gp
