// report.html: one self-contained page a person can open and send — no scripts, no external
// files: the styles are inline and the plots are embedded as base64 PNG data URIs
// (<img src="data:image/png;base64,...">). Sections, in order (each an element with that id):
// summary, settings, layers (per-layer table), search (threshold search), metrics (before and
// after), times, memory (peaks), export, versions, plots. Plain C++: the plots come in as PNG
// bytes drawn by whoever has Qt (the GUI, or the CLI when built with it); without them the plots
// section says so and points to report.json.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/report/run_record.h"

namespace gp {

// name -> PNG file bytes. Known names get a caption ("histogram" -> "Importance histogram ..."),
// other names are shown as they are; images appear in name order.
using ReportImages = std::map<std::string, std::string>;

// The section ids, in page order.
const std::vector<std::string>& htmlReportSections();

// The page. `images` may be empty (see above).
std::string renderHtmlReport(const RunRecord& record, const ReportImages& images);

// RFC 4648 base64 (with padding), as data URIs need it.
std::string base64Encode(const std::string& bytes);

}  // namespace gp
