#include "app/cli/progress_printer.h"

#include <unistd.h>

#include <cstdio>

namespace gp::cli {

ProgressPrinter::ProgressPrinter(bool quiet) : m_quiet(quiet), m_terminal(isatty(STDERR_FILENO)) {}

ProgressPrinter::~ProgressPrinter() { finishBar(); }

void ProgressPrinter::finishBar() {
    if (m_barOpen) std::fputc('\n', stderr);
    m_barOpen = false;
}

void ProgressPrinter::onStage(const StageEvent& event) {
    if (m_quiet) return;
    std::lock_guard lock(m_mutex);
    finishBar();
    if (event.finished)
        std::fprintf(stderr, "[%s] done in %.2f s%s%s\n", stageName(event.stage), event.seconds,
                     event.detail.empty() ? "" : ": ", event.detail.c_str());
    else
        std::fprintf(stderr, "[%s] %s\n", stageName(event.stage), event.detail.c_str());
}

void ProgressPrinter::onProgress(const ProgressEvent& event) {
    if (m_quiet || event.total <= 0) return;
    std::lock_guard lock(m_mutex);
    const auto now = std::chrono::steady_clock::now();
    const bool last = event.done >= event.total;
    // On a terminal redraw at most 10 times a second; in a log only the last update.
    if (!m_terminal && !last) return;
    if (m_terminal && !last && now - m_lastDraw < std::chrono::milliseconds(100)) return;
    m_lastDraw = now;
    constexpr int kWidth = 30;
    const int filled = int(kWidth * event.done / event.total);
    std::string bar(filled, '#');
    bar.resize(kWidth, '.');
    std::fprintf(stderr, "%s  %-9s [%s] %lld/%lld %s", m_terminal ? "\r" : "",
                 stageName(event.stage), bar.c_str(), static_cast<long long>(event.done),
                 static_cast<long long>(event.total), event.unit.c_str());
    m_barOpen = true;
    if (last || !m_terminal) finishBar();
}

void ProgressPrinter::onLog(const LogEvent& event) {
    if (m_quiet && event.level == LogEvent::Level::Info) return;
    std::lock_guard lock(m_mutex);
    finishBar();
    std::fprintf(stderr, "%s%s\n", event.level == LogEvent::Level::Warning ? "warning: " : "",
                 event.text.c_str());
}

}  // namespace gp::cli
