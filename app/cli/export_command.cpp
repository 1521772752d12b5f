// gradprobe export --model PATH --out DIR [--format dense|compressed|llama2c|gguf] [--force]
// [--no-masks] [--max-shard-bytes N] [--tokenizer FILE] [--dtype T] [--json]: converts a model
// without pruning it (llama2.c <-> Hugging Face, dense -> compressed) and reports the sizes.
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

struct ExportCommandOptions {
    std::string model;
    std::string tokenizer;
    std::string dtype;  // "" = the stored dtypes
    ExportOptions out;
    bool noMasks = false;
    bool json = false;
};

nlohmann::json exportJson(const ExportResult& r) {
    return {{"path", r.path},
            {"model_path", r.modelPath},
            {"format", r.format},
            {"files", r.files},
            {"shards", r.shards},
            {"weight_file_bytes", r.weightFileBytes},
            {"dense_weight_bytes", r.denseWeightBytes},
            {"layer_dense_bytes", r.layerDenseBytes},
            {"layer_compressed_bytes", r.layerCompressedBytes},
            {"mask_file_bytes", r.maskFileBytes},
            {"total_bytes", r.totalBytes},
            {"sparsity", r.sparsity},
            {"seconds", r.seconds},
            {"warnings", r.warnings}};
}

}  // namespace

void printExportSummary(const ExportResult& r) {
    std::printf("wrote %s (%s): %zu files, %lld bytes in all; weights %lld bytes on disk",
                r.modelPath.c_str(), r.format.c_str(), r.files.size(), (long long)r.totalBytes,
                (long long)r.weightFileBytes);
    if (r.shards > 1) std::printf(" in %lld shards", (long long)r.shards);
    std::printf(" (dense: %lld); sparsity %.2f %%\n", (long long)r.denseWeightBytes,
                r.sparsity * 100.0);
    if (r.format == "compressed" && r.layerDenseBytes > 0)
        std::printf("compressed layers: %lld bytes instead of %lld (%.1f %%)\n",
                    (long long)r.layerCompressedBytes, (long long)r.layerDenseBytes,
                    100.0 * double(r.layerCompressedBytes) / double(r.layerDenseBytes));
}

void addExportCommand(CLI::App& root, Action& action) {
    auto options = std::make_shared<ExportCommandOptions>();
    CLI::App* command = root.add_subcommand(
        "export", "Write a model in another format (Hugging Face dense or compressed, llama2.c, GGUF)");
    command->add_option("--model", options->model,
                        "Hugging Face folder, .safetensors file or llama2.c .bin")
        ->required();
    command->add_option("--out", options->out.outDir, "folder to write (never the input's)")
        ->required();
    command->add_option("--format", options->out.format, "dense | compressed | llama2c | gguf")
        ->check(CLI::IsMember({"dense", "compressed", "llama2c", "gguf"}));
    command->add_option("--gguf-type", options->out.ggufType,
                        "gguf: f32 | f16 | bf16 | q8_0 (default: --dtype's, else f16)")
        ->check(CLI::IsMember({"f32", "f16", "bf16", "q8_0"}));
    command->add_flag("--force", options->out.force, "replace a model already in --out");
    command->add_flag("--no-masks", options->noMasks, "do not write gradprobe/masks.safetensors");
    command->add_option("--max-shard-bytes", options->out.maxShardBytes,
                        "split the weights into shards above this size (default 4000000000)");
    command->add_option("--tokenizer", options->tokenizer, "tokenizer.json or llama2.c tokenizer.bin");
    command->add_option("--dtype", options->dtype,
                        "fp32 | bf16 | fp16: hold and write the weights in this dtype "
                        "(default: each tensor's stored dtype)");
    command->add_flag("--json", options->json, "print the sizes as JSON on stdout");
    command->callback([options, &action] {
        action = [options] {
            ProgressPrinter progress(options->json);
            LoadOptions load;
            load.dtype = options->dtype;
            load.tokenizerPath = options->tokenizer;
            const auto session = ModelSession::open(options->model, load, &progress);
            ExportOptions out = options->out;
            out.masks = !options->noMasks;
            out.dtype = options->dtype;
            const ExportResult result = session->exportModel(out, &progress, &interruptToken());
            if (options->json)
                std::cout << exportJson(result).dump(2) << "\n";
            else
                printExportSummary(result);
            return 0;
        };
    });
}

}  // namespace gp::cli
