// The report's plots for the CLI: drawn offscreen with the GUI's plotting code
// (ui/report_figures.h, QCustomPlot) when gradprobe is built with Qt Widgets
// (GP_CLI_WITH_PLOTS), otherwise none — the HTML then says the plots are absent.
#pragma once

#include "core/api/engine.h"

namespace gp::cli {

// True when this build draws plots.
bool reportPlotsAvailable();

// PNG bytes by plot name for the record (empty without plots).
ReportImages drawReportPlots(const RunRecord& record);

}  // namespace gp::cli
