// How a subcommand plugs into `gradprobe`: it adds its CLI11 subcommand with its options and, when
// chosen, sets `action` to the function that runs it and returns the process exit code.
// Errors are thrown as gp::Error and turned into a message + exit code by main().
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

#include "core/api/engine.h"

namespace gp::cli {

using Action = std::function<int()>;

void addInfoCommand(CLI::App& root, Action& action);
void addEvalCommand(CLI::App& root, Action& action);
void addBenchCommand(CLI::App& root, Action& action);
void addPruneCommand(CLI::App& root, Action& action);
void addTrainDemoCommand(CLI::App& root, Action& action);
void addExportCommand(CLI::App& root, Action& action);
void addGenerateCommand(CLI::App& root, Action& action);
void addReportCommand(CLI::App& root, Action& action);

// What every command that opens a model and computes with it is given: --model, --tokenizer,
// --device, --dtype and --blockwise (model_options.cpp). The engine's defaults otherwise.
struct ModelOptions {
    std::string model;
    LoadOptions load;  // device "cpu", dtype "" (fp32 for floating checkpoints)
};
// Adds the options to `command`; --model is required unless `modelRequired` is false (the
// command then checks it itself, e.g. against an alternative such as --synthetic); --blockwise
// only where the command runs block by block (`blockwise`).
void addModelOptions(CLI::App* command, ModelOptions& options, bool modelRequired = true,
                     bool blockwise = true);

// --threads N on every (sub)command below `root`: LibTorch's compute threads for the run
// (default: OMP_NUM_THREADS when set, else the machine's cores).
void addThreadsOption(CLI::App& root, int& threads);

// One line (or two) on stdout saying what an export wrote and how large (export_command.cpp).
void printExportSummary(const ExportResult& result);

}  // namespace gp::cli
