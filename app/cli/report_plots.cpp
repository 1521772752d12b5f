#include "app/cli/report_plots.h"

#if defined(GP_CLI_WITH_PLOTS)
#include <QApplication>
#include <QSize>

#include <cstdlib>
#include <memory>
#include <vector>

#include "ui/report_figures.h"
#endif

namespace gp::cli {

#if defined(GP_CLI_WITH_PLOTS)

bool reportPlotsAvailable() { return true; }

ReportImages drawReportPlots(const RunRecord& record) {
    // QCustomPlot draws through a QApplication; a command line usually has no display.
    std::unique_ptr<QApplication> application;
    if (!QApplication::instance()) {
        if (!std::getenv("QT_QPA_PLATFORM")) setenv("QT_QPA_PLATFORM", "offscreen", 0);
        static int argc = 1;
        static char name[] = "gradprobe";
        static char* argv[] = {name, nullptr};
        application = std::make_unique<QApplication>(argc, argv);
    }
    // The record keeps only the numbers of earlier runs that the perplexity-vs-sparsity plot
    // needs; the plot takes them as results.
    std::vector<PruneResult> history;
    for (const RunHistoryPoint& point : record.history) {
        PruneResult run;
        run.runId = point.runId;
        run.options.method = point.method;
        run.options.group = point.group;
        run.options.probe.enabled = point.probe;
        run.sparsity = point.sparsity;
        run.pplBefore = point.pplBefore;
        run.pplAfter = point.pplAfter;
        history.push_back(run);
    }
    ReportImages images;
    for (const auto& [plot, png] : ui::renderReportFigures(record.result, history, QSize(900, 500)))
        images[plot] = png.toStdString();
    return images;
}

#else

bool reportPlotsAvailable() { return false; }

ReportImages drawReportPlots(const RunRecord&) { return {}; }

#endif

}  // namespace gp::cli
