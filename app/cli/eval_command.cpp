// gradprobe eval --model PATH --text FILE [--seqlen N] [--max-windows N] [--device D] [--dtype T]
// [--doc-separator STR] [--per-document] [--json]: perplexity on a text.
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
    ModelOptions model;
    EvalOptions eval;
    bool json = false;
};

}  // namespace

void addEvalCommand(CLI::App& root, Action& action) {
    auto options = std::make_shared<EvalCommandOptions>();
    CLI::App* command = root.add_subcommand("eval", "Perplexity of a model on a text file");
    addModelOptions(command, options->model);
    command->add_option("--text", options->eval.textPath,
                        "evaluation text (default: the text the model ships, if any)");
    command->add_option("--seqlen", options->eval.seqlen,
                        "ids per window; a window of L ids predicts L-1 tokens (default min(512, context))");
    command->add_option("--max-windows", options->eval.maxWindows, "evaluate at most N windows (0 = all)");
    command->add_option("--batch-size", options->eval.batchSize, "windows per forward pass");
    command->add_option("--doc-separator", options->eval.docSeparator,
                        "split the text here and start each document with BOS (e.g. '<|endoftext|>')");
    command->add_flag("--per-document", options->eval.perDocument,
                      "score each document alone as lm-evaluation-harness does (BOS + document, "
                      "rolling windows inside it); adds word_perplexity, byte_perplexity, "
                      "bits_per_byte");
    command->add_flag("--json", options->json, "print {tokens, windows, nll, ppl, seconds, threads} as JSON on stdout");
    command->callback([options, &action] {
        action = [options] {
            ProgressPrinter progress;
            const auto session =
                ModelSession::open(options->model.model, options->model.load, &progress);
            const EvalResult result = session->evaluate(options->eval, &progress, &interruptToken());
            if (options->json) {
                nlohmann::json out = {{"tokens", result.tokens}, {"windows", result.windows},
                                      {"nll", result.nll},       {"ppl", result.ppl},
                                      {"seconds", result.seconds},
                                      {"threads", result.threads}};
                if (options->eval.perDocument)
                    out.update({{"documents", result.documents},
                                {"words", result.words},
                                {"bytes", result.bytes},
                                {"word_perplexity", result.wordPerplexity},
                                {"byte_perplexity", result.bytePerplexity},
                                {"bits_per_byte", result.bitsPerByte}});
                std::cout << out.dump(2) << "\n";
            } else {
                std::printf("tokens %lld in %lld windows: nll %.6f, perplexity %.4f (%.2f s, %d "
                            "threads)\n",
                            (long long)result.tokens, (long long)result.windows, result.nll,
                            result.ppl, result.seconds, result.threads);
                if (options->eval.perDocument)
                    std::printf("%lld documents, %lld words, %lld bytes: word perplexity %.4f, "
                                "byte perplexity %.6f, bits per byte %.6f\n",
                                (long long)result.documents, (long long)result.words,
                                (long long)result.bytes, result.wordPerplexity,
                                result.bytePerplexity, result.bitsPerByte);
            }
            return 0;
        };
    });
}

}  // namespace gp::cli
