// gradprobe: the command-line face of the engine. Exit codes (DESIGN.md): 0 ok, 2 bad arguments,
// 3 bad input file, 4 out of memory, 5 a distributed run lost a rank, 130 cancelled, 1 anything
// unexpected.
#include <cstdlib>
#include <exception>
#include <iostream>

#include "app/cli/command.h"
#include "app/cli/interrupt.h"
#include "core/api/engine.h"
#include "core/runtime/allocator.h"
#include "core/runtime/cancel.h"
#include "core/runtime/error.h"

namespace {

// One line on stderr and the exit code of the error's kind. What the engine did not classify
// (a bug, or a library failing in a way nobody foresaw) gets a hint instead of a stack trace.
int reportFailure(const gp::Error& error) {
    if (error.kind() != gp::ErrorKind::Internal) {
        std::cerr << "gradprobe: error: " << error.what() << "\n";
        return gp::exitCodeFor(error.kind());
    }
    std::cerr << "gradprobe: unexpected failure: " << error.what()
              << " (please report it with the command line that caused it)\n";
    return gp::exitCodeFor(error.kind());
}

// An exception escaping a thread of its own ends the process through std::terminate: the same
// one line, not the runtime's "terminate called after throwing ..." and an abort.
[[noreturn]] void lastResort() {
    int code = 1;
    if (std::current_exception()) {
        try {
            throw;
        } catch (...) {
            code = reportFailure(gp::currentError());
        }
    } else {
        std::cerr << "gradprobe: unexpected failure: the program was ended (please report it "
                     "with the command line that caused it)\n";
    }
    std::_Exit(code);
}

}  // namespace

int main(int argc, char** argv) {
    std::set_terminate(lastResort);
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
    gp::cli::addLaunchCommand(root, action);
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
    } catch (...) {
        return reportFailure(gp::currentError());
    }
}
