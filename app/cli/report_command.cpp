// gradprobe report RUN.json --html OUT: rebuilds report.html from a run record (report.json).
// The plots are drawn as SVG by core (no GUI library needed).
#include <cstdio>
#include <memory>

#include "app/cli/command.h"
#include "core/api/engine.h"
#include "core/report/svg_figures.h"

namespace gp::cli {
namespace {

struct ReportCommandOptions {
    std::string record;
    std::string html;
};

}  // namespace

void addReportCommand(CLI::App& root, Action& action) {
    auto options = std::make_shared<ReportCommandOptions>();
    CLI::App* command =
        root.add_subcommand("report", "Write the HTML report of a run record (report.json)");
    command->add_option("record", options->record, "the run record: a report.json")->required();
    command->add_option("--html", options->html, "the HTML file to write")->required();
    command->callback([options, &action] {
        action = [options] {
            const RunRecord record = readRunRecord(options->record);
            const ReportImages images = renderSvgFigures(record);
            writeHtmlReport(options->html, record, images);
            std::fprintf(stderr, "wrote %s (%zu plots)\n", options->html.c_str(), images.size());
            return 0;
        };
    });
}

}  // namespace gp::cli
