#include "core/eval/generate.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>

#include "core/runtime/error.h"

namespace gp {

Generation generateTokens(const CausalLM& model, const std::vector<int32_t>& context,
                          const GenerationOptions& options, const CancelToken* cancel) {
    if (context.empty()) throw badArgument("--prompt", "generation needs at least one id to start from");
    if (options.steps < 0) throw badArgument("--steps", "must be >= 0");
    if (options.temperature < 0.0) throw badArgument("--temperature", "must be >= 0");
    const int64_t vocab = model.config().vocabSize;
    for (int32_t id : context)
        if (id < 0 || id >= vocab)
            throw badArgument("--prompt", "token id " + std::to_string(id) +
                                              " is outside the model's vocabulary of " +
                                              std::to_string(vocab));
    const int64_t window = model.config().maxPositions > 0 ? model.config().maxPositions : INT64_MAX;

    c10::InferenceMode inference;
    at::Generator generator = at::detail::createCPUGenerator(options.seed);
    std::vector<int64_t> ids(context.begin(), context.end());
    Generation result;
    for (int64_t step = 0; step < options.steps; ++step) {
        throwIfCancelled(cancel);
        const int64_t start = std::max<int64_t>(0, int64_t(ids.size()) - window);
        const at::Tensor input =
            at::tensor(std::vector<int64_t>(ids.begin() + start, ids.end()),
                       at::TensorOptions(at::kLong))
                .unsqueeze(0)
                .to(model.device());
        // Only the last position's logits matter: [1, T, V] -> [V], in fp32 on the host.
        const at::Tensor logits = model.forward(input).select(1, -1).squeeze(0).to(at::kCPU, at::kFloat);
        int64_t next;
        if (options.temperature == 0.0) {
            next = logits.argmax().item<int64_t>();
        } else {
            const at::Tensor probabilities = at::softmax(logits / options.temperature, -1);
            next = at::multinomial(probabilities, 1, false, generator).item<int64_t>();
        }
        if (std::find(options.stopIds.begin(), options.stopIds.end(), int32_t(next)) !=
            options.stopIds.end()) {
            result.stopped = true;
            break;
        }
        ids.push_back(next);
        result.ids.push_back(int32_t(next));
    }
    return result;
}

}  // namespace gp
