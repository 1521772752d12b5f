// The CLI's RunObserver: stage lines and a progress bar on stderr (redrawn in place on a
// terminal, one line per stage otherwise), so stdout stays clean for --json output.
#pragma once

#include <chrono>
#include <mutex>
#include <string>

#include "core/runtime/observer.h"

namespace gp::cli {

class ProgressPrinter : public RunObserver {
public:
    explicit ProgressPrinter(bool quiet = false);
    ~ProgressPrinter() override;

    void onStage(const StageEvent& event) override;
    void onProgress(const ProgressEvent& event) override;
    void onLog(const LogEvent& event) override;

private:
    void finishBar();

    bool m_quiet;
    bool m_terminal;
    bool m_barOpen = false;
    std::chrono::steady_clock::time_point m_lastDraw;
    std::mutex m_mutex;
};

}  // namespace gp::cli
