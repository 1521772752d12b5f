#include "ui/report_figures.h"

#include "ui/plots/histogram_plot.h"
#include "ui/plots/layer_sparsity_plot.h"
#include "ui/plots/memory_plot.h"
#include "ui/plots/ppl_sparsity_plot.h"
#include "ui/plots/search_plot.h"
#include "ui/run_point.h"

namespace gp::ui {

std::map<std::string, QByteArray> renderReportFigures(const gp::PruneResult& result,
                                                      const std::vector<gp::PruneResult>& history,
                                                      QSize size) {
    std::map<std::string, QByteArray> figures;

    HistogramPlot histogram;
    histogram.showResult(result);
    histogram.setLayer({});
    figures["histogram"] = histogram.toPng(size);

    SearchPlot search;
    search.showResult(result);
    figures["search"] = search.toPng(size);

    LayerSparsityPlot layers;
    layers.showResult(result);
    figures["layers"] = layers.toPng(size);

    MemoryPlot memory;
    memory.showSamples(result.memory);
    figures["memory"] = memory.toPng(size);

    std::vector<RunPoint> points;
    for (const PruneResult& run : history) points.push_back(RunPoint::fromResult(run, {}));
    PplSparsityPlot ppl;
    ppl.setRuns(points);
    figures["ppl_vs_sparsity"] = ppl.toPng(size);
    return figures;
}

}  // namespace gp::ui
