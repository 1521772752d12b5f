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

// One line (or two) on stdout saying what an export wrote and how large (export_command.cpp).
void printExportSummary(const ExportResult& result);

}  // namespace gp::cli
