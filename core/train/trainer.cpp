#include "core/train/trainer.h"

#include <torch/optim/adamw.h>

#include <chrono>
#include <cmath>
#include <random>

#include "core/runtime/error.h"

namespace gp {
namespace {

bool isNormOrBias(const std::string& name, const at::Tensor& tensor) {
    return tensor.dim() < 2 || name.find("norm") != std::string::npos ||
           name.find("ln_") != std::string::npos;
}

double learningRateAt(const TrainOptions& options, int64_t step) {
    if (step < options.warmupSteps)
        return options.learningRate * double(step + 1) / double(options.warmupSteps);
    const double progress = double(step - options.warmupSteps) /
                            double(std::max<int64_t>(1, options.steps - options.warmupSteps));
    const double cosine = 0.5 * (1.0 + std::cos(M_PI * std::min(1.0, progress)));
    return options.minLearningRate + (options.learningRate - options.minLearningRate) * cosine;
}

// A batch of random windows [B, seqlen + 1]; mt19937_64 so the same seed gives the same batches
// everywhere.
at::Tensor sampleBatch(const std::vector<int32_t>& ids, const TrainOptions& options,
                       std::mt19937_64& random) {
    const int64_t span = options.seqlen + 1;
    const uint64_t starts = ids.size() - span + 1;
    at::Tensor batch = at::empty({options.batchSize, span}, at::kLong);
    auto rows = batch.accessor<int64_t, 2>();
    for (int64_t b = 0; b < options.batchSize; ++b) {
        const uint64_t start = random() % starts;
        for (int64_t t = 0; t < span; ++t) rows[b][t] = ids[start + t];
    }
    return batch;
}

}  // namespace

WeightMap initialWeights(const ModelConfig& config, uint64_t seed) {
    at::Generator generator = at::detail::createCPUGenerator(seed);
    WeightMap weights;
    for (const TensorSpec& spec : expectedTensors(config)) {
        at::Tensor tensor;
        if (spec.shape.size() == 1) {
            const std::string& name = spec.name;
            const bool isBias = name.size() >= 5 && name.compare(name.size() - 5, 5, ".bias") == 0;
            tensor = isBias ? at::zeros(spec.shape) : at::ones(spec.shape);
        } else {
            tensor = at::normal(0.0, 0.02, spec.shape, generator);
        }
        weights.emplace(spec.name, tensor);
    }
    return weights;
}

TrainReport trainCausalLM(CausalLM& model, const std::vector<int32_t>& ids,
                          const TrainOptions& options, ObserverRef observer,
                          const CancelToken* cancel) {
    if (static_cast<int64_t>(ids.size()) < options.seqlen + 1)
        throw badArgument("train", "the training text has " + std::to_string(ids.size()) +
                                       " tokens, fewer than one window of " +
                                       std::to_string(options.seqlen + 1));
    const auto started = std::chrono::steady_clock::now();
    std::vector<at::Tensor> decayed, undecayed;
    for (auto& [name, tensor] : model.weights()) {
        tensor.requires_grad_(true);
        (isNormOrBias(name, tensor) ? undecayed : decayed).push_back(tensor);
    }
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(
                                     torch::optim::AdamWOptions(options.learningRate)
                                         .weight_decay(options.weightDecay)
                                         .betas({0.9, 0.95})));
    groups.emplace_back(undecayed, std::make_unique<torch::optim::AdamWOptions>(
                                       torch::optim::AdamWOptions(options.learningRate)
                                           .weight_decay(0.0)
                                           .betas({0.9, 0.95})));
    torch::optim::AdamW optimizer(std::move(groups));

    std::mt19937_64 random(options.seed);
    TrainReport report;
    observer->onStage({Stage::Train, false, 0.0, ""});
    for (int64_t step = 0; step < options.steps; ++step) {
        throwIfCancelled(cancel);
        for (auto& group : optimizer.param_groups())
            static_cast<torch::optim::AdamWOptions&>(group.options()).lr(learningRateAt(options, step));
        const at::Tensor batch = sampleBatch(ids, options, random).to(model.device());
        const at::Tensor inputs = batch.narrow(1, 0, options.seqlen);
        const at::Tensor targets = batch.narrow(1, 1, options.seqlen);
        optimizer.zero_grad();
        const at::Tensor logits = model.forward(inputs).to(at::kFloat);
        const at::Tensor loss = at::cross_entropy_loss(logits.reshape({-1, logits.size(-1)}),
                                                       targets.reshape({-1}));
        loss.backward();
        std::vector<at::Tensor> gradients;
        for (auto& [name, tensor] : model.weights()) {
            if (tensor.grad().defined()) gradients.push_back(tensor.grad());
        }
        const double norm = at::stack(at::_foreach_norm(gradients)).norm().item<double>();
        if (norm > options.gradClip)
            for (auto& gradient : gradients) gradient.mul_(options.gradClip / (norm + 1e-6));
        optimizer.step();
        report.lossPerStep.push_back(loss.item<double>());
        observer->onProgress({Stage::Train, step + 1, options.steps, "steps"});
        observer->onMetric({"train_loss", report.lossPerStep.back()});
    }
    for (auto& [name, tensor] : model.weights()) {
        tensor.requires_grad_(false);
        tensor.mutable_grad() = at::Tensor();
    }
    const size_t tail = std::max<size_t>(1, report.lossPerStep.size() / 20);
    double sum = 0.0;
    for (size_t i = report.lossPerStep.size() - tail; i < report.lossPerStep.size(); ++i)
        sum += report.lossPerStep[i];
    report.finalLoss = sum / double(tail);
    report.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    observer->onStage({Stage::Train, true, report.seconds, ""});
    return report;
}

}  // namespace gp
