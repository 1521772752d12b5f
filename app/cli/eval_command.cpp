// gradprobe eval --model PATH --text FILE [--seqlen N] [--max-windows N] [--device D] [--dtype T]
// [--doc-separator STR] [--json]: perplexity on a text.
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

struct EvalCommandOptions {
    std::string model;
    std::string tokenizer;
    std::string device = "cpu";
    std::string dtype = "fp32";
    EvalOptions eval;
    bool json = false;
};

}  // namespace

void addEvalCommand(CLI::App& root, Action& action) {
    auto options = std::make_shared<EvalCommandOptions>();
    CLI::App* command = root.add_subcommand("eval", "Perplexity of a model on a text file");
    command->add_option("--model", options->model, "Hugging Face folder, .safetensors file or llama2.c .bin")
        ->required();
    command->add_option("--text", options->eval.textPath,
                        "evaluation text (default: the text the model ships, if any)");
    command->add_option("--seqlen", options->eval.seqlen,
                        "ids per window; a window of L ids predicts L-1 tokens (default min(512, context))");
    command->add_option("--max-windows", options->eval.maxWindows, "evaluate at most N windows (0 = all)");
    command->add_option("--batch-size", options->eval.batchSize, "windows per forward pass");
    command->add_option("--doc-separator", options->eval.docSeparator,
                        "split the text here and start each document with BOS (e.g. '<|endoftext|>')");
    command->add_option("--tokenizer", options->tokenizer, "tokenizer.json or llama2.c tokenizer.bin");
    command->add_option("--device", options->device, "cpu | cuda | cuda:N");
    command->add_option("--dtype", options->dtype, "fp32 | bf16 | fp16");
    command->add_flag("--json", options->json, "print {tokens, nll, ppl, seconds} as JSON on stdout");
    command->callback([options, &action] {
        action = [options] {
            ProgressPrinter progress;
            LoadOptions load;
            load.device = options->device;
            load.dtype = options->dtype;
            load.tokenizerPath = options->tokenizer;
            const auto session = ModelSession::open(options->model, load, &progress);
            const EvalResult result = session->evaluate(options->eval, &progress, &interruptToken());
            if (options->json) {
                const nlohmann::json out = {{"tokens", result.tokens}, {"windows", result.windows},
                                            {"nll", result.nll},       {"ppl", result.ppl},
                                            {"seconds", result.seconds}};
                std::cout << out.dump(2) << "\n";
            } else {
                std::printf("tokens %lld in %lld windows: nll %.6f, perplexity %.4f (%.2f s)\n",
                            (long long)result.tokens, (long long)result.windows, result.nll,
                            result.ppl, result.seconds);
            }
            return 0;
        };
    });
}

}  // namespace gp::cli
