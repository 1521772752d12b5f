// gradprobe: the command-line face of the engine. Exit codes (DESIGN.md): 0 ok, 2 bad arguments,
// 3 bad input file, 4 out of memory, 130 cancelled, 1 anything unexpected.
#include <iostream>

#include "app/cli/command.h"
#include "app/cli/interrupt.h"
#include "core/api/engine.h"
#include "core/runtime/allocator.h"
#include "core/runtime/cancel.h"
#include "core/runtime/error.h"

int main(int argc, char** argv) {
    gp::configureAllocator();  // before Qt or LibTorch start threads of their own
    CLI::App root{"GradProbe: prune neural networks with magnitude, WANDA and the gradient probe",
                  "gradprobe"};
    root.set_version_flag("--version", std::string("gradprobe ") + GP_VERSION);
    root.require_subcommand(1);

    gp::cli::Action action;
    gp::cli::addInfoCommand(root, action);
    gp::cli::addEvalCommand(root, action);
    gp::cli::addPruneCommand(root, action);
    gp::cli::addBenchCommand(root, action);
    gp::cli::addTrainDemoCommand(root, action);
    gp::cli::addExportCommand(root, action);
    gp::cli::addGenerateCommand(root, action);
    gp::cli::addReportCommand(root, action);
    int threads = 0;
    gp::cli::addThreadsOption(root, threads);

    try {
        root.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        const int code = root.exit(error);
        return code == 0 ? 0 : 2;
    }

    gp::initialiseEngine(threads);
    gp::cli::installInterruptHandler();
    try {
        return action();
    } catch (const gp::Cancelled&) {
        std::cerr << "gradprobe: cancelled\n";
        return gp::kCancelledExitCode;
    } catch (const gp::Error& error) {
        std::cerr << "gradprobe: error: " << error.what() << "\n";
        return gp::exitCodeFor(error.kind());
    } catch (const std::bad_alloc&) {
        std::cerr << "gradprobe: error: out of memory\n";
        return gp::exitCodeFor(gp::ErrorKind::OutOfMemory);
    } catch (const std::exception& error) {
        std::cerr << "gradprobe: internal error: " << error.what() << "\n";
        return 1;
    }
}
