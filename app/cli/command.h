// How a subcommand plugs into `gradprobe`: it adds its CLI11 subcommand with its options and, when
// chosen, sets `action` to the function that runs it and returns the process exit code.
// Errors are thrown as gp::Error and turned into a message + exit code by main().
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace gp::cli {

using Action = std::function<int()>;

void addInfoCommand(CLI::App& root, Action& action);
void addEvalCommand(CLI::App& root, Action& action);
void addBenchCommand(CLI::App& root, Action& action);

}  // namespace gp::cli
