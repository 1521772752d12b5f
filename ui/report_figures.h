// The report's figures, drawn by the same plot classes as the window (one drawing code path),
// offscreen: no window is shown, so the CLI can call this inside a QApplication created with
// QT_QPA_PLATFORM=offscreen.
//
// Keys and contents: "histogram" (whole-model importance histogram with the normal fit, the
// threshold and the pruned region), "search" (threshold search steps), "layers" (per-layer
// sparsity, target vs achieved, probe restores), "memory" (RAM/VRAM over the run),
// "ppl_vs_sparsity" (perplexity against sparsity over `history`, one series per method).
// Values are PNG files' bytes. Threads: the GUI thread (a QApplication must exist).
#pragma once

#include <QByteArray>
#include <QSize>

#include <map>
#include <string>
#include <vector>

#include "core/api/engine.h"

namespace gp::ui {

std::map<std::string, QByteArray> renderReportFigures(const gp::PruneResult& result,
                                                      const std::vector<gp::PruneResult>& history,
                                                      QSize size);

}  // namespace gp::ui
