#include "core/model/attention.h"

#include <algorithm>
#include <limits>
#include <vector>

#include <torch/version.h>

#include "core/runtime/error.h"

// at::scaled_dot_product_attention with an explicit scale: LibTorch 2.1 and later.
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 1)
#define GP_HAS_FUSED_ATTENTION 1
#else
#define GP_HAS_FUSED_ATTENTION 0
#endif

namespace gp {

at::Tensor splitHeads(const at::Tensor& x, int64_t heads) {
    const int64_t batch = x.size(0), tokens = x.size(1);
    return x.view({batch, tokens, heads, x.size(2) / heads}).transpose(1, 2);
}

at::Tensor allowedPositions(int64_t tokens, int64_t window, const at::Device& device) {
    const at::Tensor position =
        at::arange(tokens, at::TensorOptions().dtype(at::kLong).device(device));
    const at::Tensor offset = position.unsqueeze(1) - position.unsqueeze(0);  // [T, T]: i - j
    at::Tensor allowed = offset >= 0;
    if (window > 0) allowed = allowed & (offset < window);
    return allowed;
}

namespace {

// The [BH, rows, keys] score block of one query chunk stays near this size, so attention never
// holds B x heads x T x T scores (2 GiB per window at T = 4096 with 32 heads) and each block is
// reused from the heap instead of being mapped afresh.
constexpr int64_t kScoreBlockBytes = int64_t{32} << 20;

int64_t queryRowsPerChunk(int64_t batchHeads, int64_t tokens, int64_t scoreBytes,
                          int64_t blockBytes) {
    const int64_t bytesPerRow = std::max<int64_t>(1, batchHeads * tokens * scoreBytes);
    return std::clamp<int64_t>((blockBytes > 0 ? blockBytes : kScoreBlockBytes) / bytesPerRow, 1,
                               tokens);
}

}  // namespace

int64_t attentionScoreBlockBytes(int64_t batchHeads, int64_t tokens, int64_t blockBytes) {
    return batchHeads * queryRowsPerChunk(batchHeads, tokens, 4, blockBytes) * tokens * 4;
}

namespace {

// Additive mask for queries [first, last) against keys [firstKey, last): 0 where allowed, -inf
// elsewhere (the causal and window rules of allowedPositions).
at::Tensor chunkMask(int64_t first, int64_t last, int64_t firstKey, int64_t window,
                     const at::TensorOptions& options) {
    const at::TensorOptions longs = options.dtype(at::kLong);
    const at::Tensor offset = at::arange(first, last, longs).unsqueeze(1) -
                              at::arange(firstKey, last, longs).unsqueeze(0);
    at::Tensor allowed = offset >= 0;
    if (window > 0) allowed = allowed & (offset < window);
    return at::zeros(offset.sizes(), options)
        .masked_fill(allowed.logical_not(), -std::numeric_limits<double>::infinity());
}

}  // namespace

at::Tensor causalSelfAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const AttentionSpec& spec) {
    const int64_t batch = q.size(0), heads = q.size(1), tokens = q.size(2), hd = q.size(3);
    const int64_t kvHeads = k.size(1);
    const int64_t batchHeads = batch * heads;
    // Grouped-query attention: each kv head serves heads / kvHeads consecutive query heads.
    const at::Tensor keys = kvHeads == heads ? k : k.repeat_interleave(heads / kvHeads, 1);
    const at::Tensor values = kvHeads == heads ? v : v.repeat_interleave(heads / kvHeads, 1);

    const at::ScalarType softmaxType = at::promote_types(q.scalar_type(), at::kFloat);
    const at::ScalarType scoreType = spec.upcastScores ? softmaxType : q.scalar_type();
    const at::Tensor queries = q.reshape({batchHeads, tokens, hd}).to(scoreType);
    const at::Tensor keysT =
        keys.reshape({batchHeads, tokens, hd}).to(scoreType).transpose(1, 2);  // [BH, hd, T]
    const at::Tensor valueRows = values.reshape({batchHeads, tokens, hd});

#if GP_HAS_FUSED_ATTENTION
    // On the GPU, LibTorch's fused kernels (flash / memory-efficient) never hold T x T either.
    if (q.is_cuda() && spec.logitSoftcap == 0.0 && !spec.upcastScores) {
        const at::Tensor mixed = at::scaled_dot_product_attention(
            q, keys, values,
            spec.window > 0
                ? c10::optional<at::Tensor>(allowedPositions(tokens, spec.window, q.device()))
                : c10::nullopt,
            /*dropout_p=*/0.0, /*is_causal=*/spec.window == 0, /*scale=*/spec.scale);
        return mixed.transpose(1, 2).reshape({batch, tokens, heads * hd});
    }
#endif
    // Query chunks: each sees only the keys its rows may attend to (up to its last row, and
    // from the window's start), so the masked-out part of T x T is neither stored nor computed.
    const int64_t rows =
        queryRowsPerChunk(batchHeads, tokens, at::elementSize(softmaxType), spec.scoreBlockBytes);
    std::vector<at::Tensor> chunks;  // [BH, rows, hd] each
    for (int64_t first = 0; first < tokens; first += rows) {
        const int64_t last = std::min(tokens, first + rows);
        const int64_t firstKey =
            spec.window > 0 ? std::max<int64_t>(0, first - spec.window + 1) : 0;
        const at::Tensor mask =
            chunkMask(first, last, firstKey, spec.window, queries.options().dtype(scoreType));
        const at::Tensor queryChunk = queries.narrow(1, first, last - first);
        const at::Tensor keyChunk = keysT.narrow(2, firstKey, last - firstKey);
        at::Tensor scores;  // [BH, rows, keys]
        if (spec.logitSoftcap > 0.0) {
            // Gemma 2: (q . k * scale / cap).tanh() * cap, then the mask.
            scores = (at::bmm(queryChunk, keyChunk) * spec.scale / spec.logitSoftcap).tanh() *
                         spec.logitSoftcap +
                     mask;
        } else {
            scores = at::baddbmm(mask.expand({batchHeads, last - first, last - firstKey}),
                                 queryChunk, keyChunk, /*beta=*/1.0, /*alpha=*/spec.scale);
        }
        const at::Tensor probabilities =
            at::softmax(scores, -1, softmaxType).to(valueRows.scalar_type());
        chunks.push_back(at::bmm(probabilities, valueRows.narrow(1, firstKey, last - firstKey)));
    }
    const at::Tensor mixed = chunks.size() == 1 ? chunks.front() : at::cat(chunks, 1);
    return mixed.view({batch, heads, tokens, hd})
        .transpose(1, 2)
        .reshape({batch, tokens, heads * hd});
}

at::Tensor activate(const std::string& name, const at::Tensor& x) {
    if (name == "silu") return at::silu(x);
    if (name == "relu") return at::relu(x);
    if (name == "gelu") return at::gelu(x);
    if (name == "gelu_new" || name == "gelu_pytorch_tanh") return at::gelu(x, "tanh");
    throw Error(ErrorKind::Internal, "", name, "activation not implemented");
}

}  // namespace gp
