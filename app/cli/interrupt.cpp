#include "app/cli/interrupt.h"

#include <csignal>

namespace gp::cli {
namespace {

CancelToken g_interrupt;  // the one process-wide token a signal handler may touch

extern "C" void onInterrupt(int) {
    g_interrupt.cancel();  // an atomic store: async-signal-safe
}

}  // namespace

void installInterruptHandler() {
    struct sigaction action {};
    action.sa_handler = onInterrupt;
    sigemptyset(&action.sa_mask);
    sigaction(SIGINT, &action, nullptr);
    sigaction(SIGTERM, &action, nullptr);
}

CancelToken& interruptToken() { return g_interrupt; }

}  // namespace gp::cli
