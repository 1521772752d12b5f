// Ctrl-C (SIGINT) and SIGTERM set the process's cancel token; the running job polls it, stops
// cleanly, restores what it changed and writes no partial output; main() then exits 130.
#pragma once

#include "core/runtime/cancel.h"

namespace gp::cli {

void installInterruptHandler();
CancelToken& interruptToken();

}  // namespace gp::cli
