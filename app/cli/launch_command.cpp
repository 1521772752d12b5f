// gradprobe launch --nproc N -- <command ...>: N ranks of a distributed run on this machine, as
// torchrun --standalone starts them: each a copy of this executable with RANK, WORLD_SIZE,
// LOCAL_RANK, MASTER_ADDR=127.0.0.1 and a free MASTER_PORT, OMP_NUM_THREADS = its share of the
// cores (unless set). Waits for all; Ctrl-C (SIGINT/SIGTERM) is passed on to every rank; exits
// with the first failing rank's code, after giving the others --grace seconds to stop by
// themselves (they notice a lost peer within their --dist-timeout) and killing what is left.
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "app/cli/command.h"
#include "app/cli/interrupt.h"
#include "core/runtime/error.h"

namespace gp::cli {
namespace {

struct LaunchOptions {
    int nproc = 2;
    int port = 0;          // 0 = a free one
    double grace = 360.0;  // seconds the others get after the first failure
    std::vector<std::string> command;
};

// A port nobody listens on now (the kernel's choice for an ephemeral bind).
int freePort() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) throw Error(ErrorKind::Internal, "", "launch", "cannot open a socket");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0 &&
                       getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) == 0;
    close(fd);
    if (!bound) throw Error(ErrorKind::Internal, "", "launch", "cannot find a free port");
    return ntohs(address.sin_port);
}

pid_t startRank(const LaunchOptions& o, int rank, int port) {
    const pid_t pid = fork();
    if (pid < 0) throw Error(ErrorKind::Internal, "", "launch", "fork failed");
    if (pid > 0) return pid;
    // The child: only async-signal-safe work until exec (setenv is fine in a fresh child).
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    setenv("RANK", std::to_string(rank).c_str(), 1);
    setenv("LOCAL_RANK", std::to_string(rank).c_str(), 1);
    setenv("WORLD_SIZE", std::to_string(o.nproc).c_str(), 1);
    setenv("LOCAL_WORLD_SIZE", std::to_string(o.nproc).c_str(), 1);
    setenv("MASTER_ADDR", "127.0.0.1", 1);
    setenv("MASTER_PORT", std::to_string(port).c_str(), 1);
    setenv("OMP_NUM_THREADS", std::to_string(std::max(1u, cores / unsigned(o.nproc))).c_str(), 0);
    std::vector<char*> argv;
    static char self[] = "gradprobe";
    argv.push_back(self);
    for (const std::string& argument : o.command) argv.push_back(const_cast<char*>(argument.c_str()));
    argv.push_back(nullptr);
    execv("/proc/self/exe", argv.data());
    std::perror("gradprobe launch: exec");
    _exit(127);
}

std::string describeStatus(int status) {
    if (WIFEXITED(status)) return "exited with " + std::to_string(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) return "was killed by signal " + std::to_string(WTERMSIG(status));
    return "stopped";
}

int exitCodeOf(int status) {
    if (WIFEXITED(status)) return WEXITSTATUS(status);
    return 128 + (WIFSIGNALED(status) ? WTERMSIG(status) : 0);
}

int launch(const LaunchOptions& o) {
    if (o.nproc < 1) throw badArgument("--nproc", "must be at least 1");
    if (o.command.empty()) throw badArgument("command", "give the command after --, e.g. -- prune ...");
    if (o.command.front() == "launch") throw badArgument("command", "launch cannot launch itself");
    const int port = o.port > 0 ? o.port : freePort();
    std::vector<pid_t> pids;
    for (int rank = 0; rank < o.nproc; ++rank) pids.push_back(startRank(o, rank, port));

    using Clock = std::chrono::steady_clock;
    std::vector<bool> running(pids.size(), true);
    int live = o.nproc, firstFailure = -1, exitCode = 0;
    bool forwarded = false;
    Clock::time_point deadline = Clock::time_point::max();
    while (live > 0) {
        if (interruptToken().isCancelled() && !forwarded) {
            forwarded = true;
            for (size_t r = 0; r < pids.size(); ++r)
                if (running[r]) kill(pids[r], SIGINT);
            deadline = std::min(deadline, Clock::now() + std::chrono::seconds(15));
        }
        if (Clock::now() > deadline) {
            for (size_t r = 0; r < pids.size(); ++r)
                if (running[r]) {
                    std::fprintf(stderr, "gradprobe launch: stopping rank %zu\n", r);
                    kill(pids[r], SIGKILL);
                }
            deadline = Clock::time_point::max();
        }
        int status = 0;
        const pid_t done = waitpid(-1, &status, WNOHANG);
        if (done <= 0) {
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
            continue;
        }
        for (size_t r = 0; r < pids.size(); ++r) {
            if (pids[r] != done || !running[r]) continue;
            running[r] = false;
            --live;
            if (exitCodeOf(status) == 0) break;
            std::fprintf(stderr, "gradprobe launch: rank %zu %s\n", r, describeStatus(status).c_str());
            if (firstFailure < 0) {
                firstFailure = int(r);
                exitCode = exitCodeOf(status);
                deadline = std::min(deadline, Clock::now() + std::chrono::milliseconds(
                                                                  int64_t(o.grace * 1000)));
            }
        }
    }
    if (forwarded) return kCancelledExitCode;
    return exitCode;
}

}  // namespace

void addLaunchCommand(CLI::App& root, Action& action) {
    auto options = std::make_shared<LaunchOptions>();
    CLI::App* command = root.add_subcommand(
        "launch", "Run a command as N ranks of a distributed job on this machine "
                  "(gradprobe launch --nproc 2 -- prune --model ... --out ...)");
    command->add_option("--nproc", options->nproc, "ranks to start")->capture_default_str();
    command->add_option("--master-port", options->port, "rendezvous port (default: a free one)");
    command->add_option("--grace", options->grace,
                        "seconds the other ranks get to stop after one fails")
        ->capture_default_str();
    command->add_option("command", options->command, "the gradprobe command each rank runs")
        ->required();
    command->callback([options, &action] { action = [options] { return launch(*options); }; });
}

}  // namespace gp::cli
