// gradprobe bench select (--model PATH | --weights FILE.safetensors | --synthetic NAME)
// [--sparsity 0.1,0.3,0.5] [--repeat 5] [--group global] [--nm 2:4] [--method exact,...]
// [--device cpu] [--seed 0] [--work-dir DIR] [--reference-blocks 1] [--json]: every selection
// method on the same scores, side by side.
// gradprobe bench forward --model PATH [--seqlen 256] [--windows 16] [--batch-size 4] [--repeat 3]
// [--stage eval,calibration,probe] [--device cpu] [--dtype fp32] [--json]: the model's passes.
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <tuple>

#include "app/cli/command.h"
#include "app/cli/interrupt.h"
#include "app/cli/progress_printer.h"
#include "core/bench/forward_bench.h"
#include "core/bench/select_bench.h"
#include "core/runtime/error.h"

namespace gp::cli {
namespace {

struct BenchSelectOptions {
    SelectBenchOptions bench;
    std::string nm = "2:4";
    bool json = false;
};

// "N:M" -> (N, M); BadArgument otherwise.
std::pair<int64_t, int64_t> parseNM(const std::string& text) {
    const auto colon = text.find(':');
    try {
        if (colon != std::string::npos)
            return {std::stoll(text.substr(0, colon)), std::stoll(text.substr(colon + 1))};
    } catch (const std::exception&) {
    }
    throw badArgument("--nm", "expected N:M such as 2:4, got '" + text + "'");
}

void addSelectCommand(CLI::App& bench, Action& action) {
    auto options = std::make_shared<BenchSelectOptions>();
    CLI::App* command = bench.add_subcommand(
        "select",
        "Time the threshold selection methods (exact, statistical, sort) on the same "
        "magnitude scores and compare their masks with the sort reference");
    auto* source = command->add_option_group("source", "what to take the scores |W| from");
    source->add_option("--model", options->bench.model,
                       "checkpoint (Hugging Face folder, .safetensors with config.json, llama2.c "
                       ".bin): its prunable linear weights");
    source->add_option("--weights", options->bench.weights,
                       ".safetensors file: every 2-D floating-point tensor");
    source->add_option("--synthetic", options->bench.synthetic,
                       "gpt-neo-33m (28.3M fp32 weights), mistral-7b-layer (one bf16 block, "
                       "218M weights) or mistral-7b (32 bf16 blocks, 6.98G weights, streamed from "
                       "a 14 GB file in --work-dir); values 0.02 * Student-t(3)");
    source->require_option(1);
    command->add_option("--sparsity", options->bench.sparsities, "fractions to select, in [0, 1)")
        ->delimiter(',');
    command->add_option("--repeat", options->bench.repeat,
                        "timed runs per method and sparsity (default 5; 1 for mistral-7b)");
    command->add_option("--group", options->bench.group, "global | layer | row | nm");
    command->add_option("--nm", options->nm, "N:M for --group nm (keep N of every M)");
    command
        ->add_option("--method", options->bench.methods,
                     "exact,statistical,sort (default all; exact alone for mistral-7b)")
        ->delimiter(',');
    command->add_option("--work-dir", options->bench.workDir,
                        "mistral-7b: folder for its generated file, reused by later runs "
                        "(default: the temporary folder)");
    command->add_option("--reference-blocks", options->bench.referenceBlocks,
                        "mistral-7b, --stream: blocks the sort reference checks");
    command->add_flag("--stream", options->bench.stream,
                      "--weights: read the file as mistral-7b is read, one layer at a time "
                      "through the memory map (the global group; agreement on sampled blocks)");
    command->add_option("--device", options->bench.device, "cpu | cuda | cuda:N");
    command->add_option("--seed", options->bench.seed, "seed of the synthetic values");
    command->add_flag("--json", options->json, "print the results as JSON on stdout");
    command->callback([options, &action] {
        action = [options] {
            std::tie(options->bench.nmKeep, options->bench.nmGroup) = parseNM(options->nm);
            ProgressPrinter progress;
            const SelectBenchReport report =
                runSelectBench(options->bench, &progress, &interruptToken());
            std::cout << (options->json ? selectBenchJson(report) : selectBenchTable(report));
            return 0;
        };
    });
}

void addForwardCommand(CLI::App& bench, Action& action) {
    auto options = std::make_shared<ForwardBenchOptions>();
    auto json = std::make_shared<bool>(false);
    CLI::App* command = bench.add_subcommand(
        "forward",
        "Time the model's passes on seeded random windows: evaluation, calibration (WANDA's "
        "activation norms) and the probe's forward + backward; tokens/s and peak memory");
    command->add_option("--model", options->model, "checkpoint (folder, .safetensors, .bin)")
        ->required();
    command->add_option("--device", options->device, "cpu | cuda | cuda:N");
    command->add_option("--dtype", options->dtype, "fp32 | bf16 | fp16");
    command->add_option("--seqlen", options->seqlen, "ids per window");
    command->add_option("--windows", options->windows, "windows per stage");
    command->add_option("--batch-size", options->batchSize, "windows per forward pass");
    command->add_option("--repeat", options->repeat, "timed runs per stage (after one warm-up)");
    command->add_option("--stage", options->stages, "eval,calibration,probe (default all)")
        ->delimiter(',');
    command->add_option("--seed", options->seed, "seed of the random windows");
    command->add_flag("--json", *json, "print the results as JSON on stdout");
    command->callback([options, json, &action] {
        action = [options, json] {
            const ForwardBenchReport report = runForwardBench(*options);
            std::cout << (*json ? forwardBenchJson(report) : forwardBenchTable(report));
            return 0;
        };
    });
}

}  // namespace

void addBenchCommand(CLI::App& root, Action& action) {
    CLI::App* bench = root.add_subcommand("bench", "Benchmarks of the engine's parts");
    bench->require_subcommand(1);
    addSelectCommand(*bench, action);
    addForwardCommand(*bench, action);
}

}  // namespace gp::cli
