// gradprobe generate --model PATH [--tokenizer FILE] [--prompt TEXT] [--steps N]
// [--temperature T] [--seed S] [--device D] [--dtype T] [--json]: a sample of text, the first
// sanity check of a (pruned) model. The text goes to stdout, the speed to stderr.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

#include "app/cli/command.h"
#include "app/cli/interrupt.h"
#include "app/cli/progress_printer.h"
#include "core/api/engine.h"

namespace gp::cli {
namespace {

struct GenerateCommandOptions {
    ModelOptions model;
    GenerateOptions generate;
    bool json = false;
};

}  // namespace

void addGenerateCommand(CLI::App& root, Action& action) {
    auto options = std::make_shared<GenerateCommandOptions>();
    CLI::App* command = root.add_subcommand(
        "generate", "Generate text from BOS and an optional prompt (greedy at temperature 0)");
    addModelOptions(command, options->model, /*modelRequired=*/true, /*blockwise=*/false);
    command->add_option("--prompt", options->generate.prompt, "text to continue (default: none)");
    command->add_option("--steps", options->generate.steps, "new tokens at most (default 256)")
        ->check(CLI::NonNegativeNumber);
    command->add_option("--temperature", options->generate.temperature,
                        "0 = greedy; > 0 samples from softmax(logits / T)")
        ->check(CLI::NonNegativeNumber);
    command->add_option("--seed", options->generate.seed, "sampling seed (temperature > 0)");
    command->add_flag("--json", options->json,
                      "print {text, continuation, ids, stopped, seconds} as JSON on stdout");
    command->callback([options, &action] {
        action = [options] {
            ProgressPrinter progress;
            const auto session =
                ModelSession::open(options->model.model, options->model.load, &progress);
            const GenerateResult result = session->generate(options->generate, &interruptToken());
            if (options->json) {
                const nlohmann::json out = {{"text", result.text},
                                            {"continuation", result.continuation},
                                            {"prompt_ids", result.promptIds},
                                            {"ids", result.ids},
                                            {"stopped", result.stopped},
                                            {"seconds", result.seconds},
                                            {"tokens_per_second", result.tokensPerSecond}};
                std::cout << out.dump(2) << "\n";
            } else {
                std::cout << result.text << "\n";
                std::fprintf(stderr, "%zu tokens in %.2f s (%.1f tokens/s)%s\n", result.ids.size(),
                             result.seconds, result.tokensPerSecond,
                             result.stopped ? ", stopped at the end-of-text token" : "");
            }
            return 0;
        };
    });
}

}  // namespace gp::cli
