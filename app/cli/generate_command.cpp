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
    std::string model;
    std::string tokenizer;
    std::string device = "cpu";
    std::string dtype = "fp32";
    GenerateOptions generate;
    bool json = false;
};

}  // namespace

void addGenerateCommand(CLI::App& root, Action& action) {
    auto options = std::make_shared<GenerateCommandOptions>();
    CLI::App* command = root.add_subcommand(
        "generate", "Generate text from BOS and an optional prompt (greedy at temperature 0)");
    command->add_option("--model", options->model,
                        "Hugging Face folder, .safetensors file or llama2.c .bin")
        ->required();
    command->add_option("--tokenizer", options->tokenizer, "tokenizer.json or llama2.c tokenizer.bin");
    command->add_option("--prompt", options->generate.prompt, "text to continue (default: none)");
    command->add_option("--steps", options->generate.steps, "new tokens at most (default 256)")
        ->check(CLI::NonNegativeNumber);
    command->add_option("--temperature", options->generate.temperature,
                        "0 = greedy; > 0 samples from softmax(logits / T)")
        ->check(CLI::NonNegativeNumber);
    command->add_option("--seed", options->generate.seed, "sampling seed (temperature > 0)");
    command->add_option("--device", options->device, "cpu | cuda | cuda:N");
    command->add_option("--dtype", options->dtype, "fp32 | bf16 | fp16");
    command->add_flag("--json", options->json,
                      "print {text, continuation, ids, stopped, seconds} as JSON on stdout");
    command->callback([options, &action] {
        action = [options] {
            ProgressPrinter progress;
            LoadOptions load;
            load.device = options->device;
            load.dtype = options->dtype;
            load.tokenizerPath = options->tokenizer;
            const auto session = ModelSession::open(options->model, load, &progress);
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
