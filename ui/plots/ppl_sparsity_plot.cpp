#include "ui/plots/ppl_sparsity_plot.h"

#include <qcustomplot.h>

#include <algorithm>
#include <map>

#include "ui/plots/plot_palette.h"

namespace gp::ui {

PplSparsityPlot::PplSparsityPlot(QWidget* parent) : PlotView(tr("Perplexity vs sparsity"), parent) {
    QCustomPlot* plot = customPlot();
    plot->xAxis->setLabel(tr("achieved sparsity (%)"));
    plot->yAxis->setLabel(tr("perplexity"));
    plot->legend->setVisible(true);
    plot->legend->setFont(QFont(font().family(), 8));
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignLeft);
    setRuns({});
}

void PplSparsityPlot::setRuns(const std::vector<RunPoint>& runs) {
    QCustomPlot* plot = customPlot();
    for (QCPGraph* graph : m_series) plot->removeGraph(graph);
    m_series.clear();

    std::map<QString, std::vector<const RunPoint*>> bySeries;
    for (const RunPoint& run : runs)
        if (run.pplAfter > 0.0) bySeries[run.series()].push_back(&run);

    double highest = 0.0, lowest = 0.0, widest = 10.0;
    bool any = false;
    int colour = 0;
    for (const auto& [name, points] : bySeries) {
        QCPGraph* graph = plot->addGraph();
        graph->setName(name);
        graph->setPen(QPen(palette::series(colour), 1.6));
        graph->setScatterStyle(
            QCPScatterStyle(QCPScatterStyle::ssCircle, palette::series(colour), Qt::white, 7));
        ++colour;
        // The unpruned model at 0 %: the latest run's "before" (the same model, same text).
        const RunPoint* latest = points.back();
        if (latest->pplBefore > 0.0) graph->addData(0.0, latest->pplBefore);
        for (const RunPoint* point : points)
            graph->addData(100.0 * point->sparsity, point->pplAfter);
        m_series.push_back(graph);
        bool found = false;
        const QCPRange values = graph->data()->valueRange(found);
        if (found) {
            highest = any ? std::max(highest, values.upper) : values.upper;
            lowest = any ? std::min(lowest, values.lower) : values.lower;
            any = true;
        }
        const QCPRange keys = graph->data()->keyRange(found);
        if (found) widest = std::max(widest, keys.upper);
    }
    plot->xAxis->setRange(-2.0, std::min(100.0, widest + 5.0));
    if (any) {
        const double pad = std::max((highest - lowest) * 0.1, 0.05 * highest);
        plot->yAxis->setRange(std::max(0.0, lowest - pad), highest + pad);
    } else {
        plot->yAxis->setRange(0.0, 10.0);
    }
    markDirty();
}

QStringList PplSparsityPlot::seriesNames() const {
    QStringList names;
    for (const QCPGraph* graph : m_series) names << graph->name();
    return names;
}

int PplSparsityPlot::pointCount(const QString& series) const {
    for (const QCPGraph* graph : m_series)
        if (graph->name() == series) return graph->data()->size();
    return 0;
}

}  // namespace gp::ui
