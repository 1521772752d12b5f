// gradprobe info --model PATH [--json]: architecture, sizes, prunable layers.
#include <nlohmann/json.hpp>

#include <cstdio>
#include <iostream>
#include <memory>

#include "app/cli/command.h"
#include "app/cli/progress_printer.h"
#include "core/api/engine.h"

namespace gp::cli {
namespace {

struct InfoOptions {
    std::string model;
    std::string device = "cpu";
    bool includeHead = false;
    bool json = false;
};

// A fused layer's parts: "q 0-3071, k 3072-4095, v 4096-5119" (rows, inclusive).
std::string partsText(const LayerInfo& layer) {
    std::string text;
    for (const LayerPart& part : layer.parts)
        text += (text.empty() ? "" : ", ") + part.name + " " + std::to_string(part.firstRow) + "-" +
                std::to_string(part.firstRow + part.rows - 1);
    return text;
}

nlohmann::json infoJson(const ModelInfo& info) {
    nlohmann::json layers = nlohmann::json::array();
    for (const LayerInfo& layer : info.prunableLayers) {
        nlohmann::json entry = {{"name", layer.name}, {"block", layer.block},
                                {"shape", layer.shape}, {"numel", layer.numel}};
        if (!layer.parts.empty()) {
            entry["parts"] = nlohmann::json::array();
            for (const LayerPart& part : layer.parts)
                entry["parts"].push_back(
                    {{"name", part.name}, {"first_row", part.firstRow}, {"rows", part.rows}});
        }
        layers.push_back(entry);
    }
    return {{"path", info.path},
            {"format", info.format},
            {"architecture", info.architecture},
            {"dtype", info.dtype},
            {"vocab_size", info.vocabSize},
            {"hidden_size", info.hiddenSize},
            {"num_layers", info.numLayers},
            {"num_heads", info.numHeads},
            {"num_kv_heads", info.numKvHeads},
            {"intermediate_size", info.intermediateSize},
            {"context_length", info.contextLength},
            {"total_parameters", info.totalParameters},
            {"prunable_parameters", info.prunableParameters},
            {"tokenizer", info.tokenizerPath},
            {"masks", info.maskPath},
            {"mask_layers", info.maskLayers},
            {"prunable_layers", layers}};
}

void printInfo(const ModelInfo& info) {
    std::printf("%s (%s, %s)\n", info.path.c_str(), info.format.c_str(), info.architecture.c_str());
    std::printf("  vocab %lld, hidden %lld, layers %lld, heads %lld (kv %lld), mlp %lld, "
                "context %lld\n",
                (long long)info.vocabSize, (long long)info.hiddenSize, (long long)info.numLayers,
                (long long)info.numHeads, (long long)info.numKvHeads,
                (long long)info.intermediateSize, (long long)info.contextLength);
    std::printf("  parameters %lld, prunable %lld (%.1f%%) in %zu layers\n",
                (long long)info.totalParameters, (long long)info.prunableParameters,
                info.totalParameters ? 100.0 * info.prunableParameters / info.totalParameters : 0.0,
                info.prunableLayers.size());
    std::printf("  tokenizer %s\n", info.tokenizerPath.empty() ? "(none)" : info.tokenizerPath.c_str());
    if (!info.maskPath.empty() && info.maskProblem.empty())
        std::printf("  masks %s (%lld layers)\n", info.maskPath.c_str(), (long long)info.maskLayers);
    else if (!info.maskPath.empty())
        std::printf("  masks unreadable: %s\n", info.maskProblem.c_str());
    for (const LayerInfo& layer : info.prunableLayers) {
        std::string shape;
        for (int64_t size : layer.shape) shape += (shape.empty() ? "" : "x") + std::to_string(size);
        std::printf("  %-50s %12s %10lld", layer.name.c_str(), shape.c_str(),
                    (long long)layer.numel);
        if (!layer.parts.empty()) std::printf("  parts: %s", partsText(layer).c_str());
        std::printf("\n");
    }
}

}  // namespace

void addInfoCommand(CLI::App& root, Action& action) {
    auto options = std::make_shared<InfoOptions>();
    CLI::App* command = root.add_subcommand("info", "Describe a model: architecture, sizes, prunable layers");
    command->add_option("--model", options->model, "Hugging Face folder, .safetensors file or llama2.c .bin")
        ->required();
    command->add_option("--device", options->device, "cpu | cuda | cuda:N");
    command->add_flag("--include-head", options->includeHead, "count the output head as prunable");
    command->add_flag("--json", options->json, "print JSON on stdout");
    command->callback([options, &action] {
        action = [options] {
            ProgressPrinter progress(/*quiet=*/true);
            LoadOptions load;
            load.device = options->device;
            load.includeHead = options->includeHead;
            // Describing needs the headers only: keep the weights mapped as stored (a 7B bf16
            // checkpoint would otherwise be converted to 27 GB of fp32 first).
            load.blockwise = true;
            const auto session = ModelSession::open(options->model, load, &progress);
            if (options->json)
                std::cout << infoJson(session->info()).dump(2) << "\n";
            else
                printInfo(session->info());
            return 0;
        };
    });
}

}  // namespace gp::cli
