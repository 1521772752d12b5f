// The report's figures drawn by core as SVG text, so the headless CLI needs no GUI library to
// write report.html. They show what the Studio's plots show (same data, same colours): the
// whole-model importance histogram (kept and selected mass per bin, the normal fit, the threshold
// where one decides, else the distribution of the groups' cuts), the threshold search, sparsity
// per layer, memory over the run, and perplexity against sparsity across runs. Plain C++.
#pragma once

#include <map>
#include <string>

#include "core/report/run_record.h"

namespace gp {

// Figure name -> a complete <svg> document. Names as the HTML report captions them:
// "histogram", "search", "layers", "memory", "ppl_vs_sparsity". A figure without data says so
// inside its frame rather than being left out.
std::map<std::string, std::string> renderSvgFigures(const RunRecord& record, int width = 900,
                                                    int height = 500);

}  // namespace gp
