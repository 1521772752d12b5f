// The options shared by the commands (command.h): those of a model, --threads.
#include "app/cli/command.h"

namespace gp::cli {

void addModelOptions(CLI::App* command, ModelOptions& options, bool modelRequired,
                     bool blockwise) {
    CLI::Option* model = command->add_option(
        "--model", options.model, "Hugging Face folder, .safetensors file or llama2.c .bin");
    if (modelRequired) model->required();
    command->add_option("--tokenizer", options.load.tokenizerPath,
                        "tokenizer.json or llama2.c tokenizer.bin");
    command->add_option("--device", options.load.device, "cpu | cuda | cuda:N");
    command->add_option("--dtype", options.load.dtype,
                        "compute dtype: fp32 | bf16 | fp16 (default fp32)");
    if (!blockwise) return;
    command->add_flag("--blockwise", options.load.blockwise,
                      "models larger than memory: keep the weights memory-mapped as stored and "
                      "run one transformer block at a time on --device in --dtype");
}

void addThreadsOption(CLI::App& root, int& threads) {
    for (CLI::App* command : root.get_subcommands({})) {
        command->add_option("--threads", threads,
                            "compute threads (default: OMP_NUM_THREADS when set, else the "
                            "machine's cores)")
            ->check(CLI::PositiveNumber);
        addThreadsOption(*command, threads);
    }
}

}  // namespace gp::cli
