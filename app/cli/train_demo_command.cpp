// gradprobe train-demo --out DIR: regenerates the built-in demo model (text, tokenizer, weights)
// from its seed. The committed resources/demo-model was made with the defaults.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

#include "app/cli/command.h"
#include "app/cli/interrupt.h"
#include "app/cli/progress_printer.h"
#include "core/train/demo_model.h"

namespace gp::cli {

void addTrainDemoCommand(CLI::App& root, Action& action) {
    auto options = std::make_shared<DemoModelOptions>();
    auto json = std::make_shared<bool>(false);
    CLI::App* command = root.add_subcommand(
        "train-demo", "Regenerate the built-in demo model: story text, tokenizer and weights");
    command->add_option("--out", options->outDir, "output folder")->required();
    command->add_option("--seed", options->seed, "seed of the text, the weights and the batches");
    command->add_option("--steps", options->steps, "training steps");
    command->add_option("--batch-size", options->batchSize, "windows per step");
    command->add_option("--seqlen", options->seqlen, "tokens per training window");
    command->add_option("--vocab", options->vocabSize, "tokenizer vocabulary size");
    command->add_option("--hidden", options->hiddenSize, "model width");
    command->add_option("--layers", options->numLayers, "transformer blocks");
    command->add_option("--train-chars", options->trainCharacters, "characters of training text");
    command->add_flag("--json", *json, "print the figures as JSON on stdout");
    command->callback([options, json, &action] {
        action = [options, json] {
            ProgressPrinter progress;
            const DemoModelReport report = makeDemoModel(*options, &progress, &interruptToken());
            const nlohmann::json out = {{"parameters", report.parameters},
                                        {"train_tokens", report.trainTokens},
                                        {"final_train_loss", report.finalTrainLoss},
                                        {"eval_tokens", report.evalTokens},
                                        {"held_out_ppl", report.heldOutPpl},
                                        {"unigram_ppl", report.unigramPpl},
                                        {"seconds", report.seconds}};
            if (*json)
                std::cout << out.dump(2) << "\n";
            else
                std::printf("demo model in %s: %lld parameters, held-out perplexity %.3f "
                            "(unigram baseline %.3f), %.0f s\n",
                            options->outDir.c_str(), (long long)report.parameters,
                            report.heldOutPpl, report.unigramPpl, report.seconds);
            return 0;
        };
    });
}

}  // namespace gp::cli
