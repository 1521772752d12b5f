#include "core/model/attention.h"

#include <limits>

#include "core/runtime/error.h"

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

at::Tensor causalSelfAttention(const at::Tensor& q, const at::Tensor& k, const at::Tensor& v,
                               const AttentionSpec& spec) {
    const int64_t batch = q.size(0), heads = q.size(1), tokens = q.size(2), hd = q.size(3);
    const int64_t kvHeads = k.size(1);
    // Grouped-query attention: each kv head serves heads / kvHeads consecutive query heads.
    const at::Tensor keys = kvHeads == heads ? k : k.repeat_interleave(heads / kvHeads, 1);
    const at::Tensor values = kvHeads == heads ? v : v.repeat_interleave(heads / kvHeads, 1);

    const at::ScalarType softmaxType = at::promote_types(q.scalar_type(), at::kFloat);
    const at::ScalarType scoreType = spec.upcastScores ? softmaxType : q.scalar_type();
    // 0 where query i may see key j, -inf elsewhere; added to the scores in the same kernel.
    const at::Tensor mask =
        at::zeros({tokens, tokens}, q.options().dtype(scoreType))
            .masked_fill(allowedPositions(tokens, spec.window, q.device()).logical_not(),
                         -std::numeric_limits<double>::infinity());
    const at::Tensor queries = q.reshape({batch * heads, tokens, hd}).to(scoreType);
    const at::Tensor keysT =
        keys.reshape({batch * heads, tokens, hd}).to(scoreType).transpose(1, 2);
    at::Tensor scores;  // [BH, T, T]
    if (spec.logitSoftcap > 0.0) {
        // Gemma 2: (q . k * scale / cap).tanh() * cap, then the mask.
        scores = (at::bmm(queries, keysT) * spec.scale / spec.logitSoftcap).tanh() *
                     spec.logitSoftcap +
                 mask;
    } else {
        scores = at::baddbmm(mask.expand({batch * heads, tokens, tokens}), queries, keysT,
                             /*beta=*/1.0, /*alpha=*/spec.scale);
    }
    const at::Tensor probabilities = at::softmax(scores, -1, softmaxType).to(values.scalar_type());
    const at::Tensor mixed =
        at::bmm(probabilities, values.reshape({batch * heads, tokens, hd}));  // [BH, T, hd]
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
