#include "ui/plots/histogram_plot.h"

#include <qcustomplot.h>

#include <algorithm>
#include <cmath>

#include "ui/plots/plot_palette.h"

namespace gp::ui {
namespace {

double normalCdf(double x, double mean, double stddev) {
    return 0.5 * std::erfc(-(x - mean) / (stddev * std::sqrt(2.0)));
}

// What one count of the cut distribution is, in the user's words.
QString cutNoun(const std::string& group) {
    if (group == "layer") return QObject::tr("layer cuts");
    if (group == "row") return QObject::tr("row cuts");
    return QObject::tr("N:M group cuts");
}

QString titleFor(const QString& layer) {
    return layer.isEmpty() ? QObject::tr("Importance — whole model")
                           : QObject::tr("Importance — %1").arg(layer);
}

}  // namespace

HistogramPlot::HistogramPlot(QWidget* parent) : PlotView(titleFor({}), parent) {
    QCustomPlot* plot = customPlot();
    plot->xAxis->setScaleType(QCPAxis::stLogarithmic);
    plot->xAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    plot->xAxis->setNumberFormat(QStringLiteral("eb"));
    plot->xAxis->setNumberPrecision(0);
    plot->xAxis->setLabel(tr("score (log)"));
    plot->yAxis->setLabel(tr("weights per bin"));

    m_region = new QCPItemRect(plot);
    m_region->topLeft->setTypeX(QCPItemPosition::ptPlotCoords);
    m_region->topLeft->setTypeY(QCPItemPosition::ptAxisRectRatio);
    m_region->bottomRight->setTypeX(QCPItemPosition::ptPlotCoords);
    m_region->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
    m_region->setPen(Qt::NoPen);
    m_region->setBrush(palette::prunedRegion());
    m_region->setVisible(false);

    m_all = plot->addGraph();
    m_all->setName(tr("all scores"));
    m_all->setLineStyle(QCPGraph::lsStepLeft);
    m_all->setPen(QPen(palette::kept(), 1.2));
    m_all->setBrush(palette::keptFill());

    m_pruned = plot->addGraph();
    m_pruned->setName(tr("selected for pruning"));
    m_pruned->setLineStyle(QCPGraph::lsStepLeft);
    m_pruned->setPen(QPen(palette::pruned(), 1.2));
    m_pruned->setBrush(palette::prunedFill());

    m_fit = plot->addGraph();
    m_fit->setName(tr("normal fit"));
    m_fit->setPen(QPen(palette::fit(), 1.6, Qt::DashLine));

    m_cuts = plot->addGraph(plot->xAxis, plot->yAxis2);
    m_cuts->setLineStyle(QCPGraph::lsStepLeft);
    m_cuts->setPen(QPen(palette::threshold(), 1.6, Qt::DotLine));
    m_cuts->setVisible(false);
    m_cuts->removeFromLegend();
    plot->yAxis2->setLabel(tr("groups whose cut is in the bin"));

    m_threshold = new QCPItemStraightLine(plot);
    m_threshold->setPen(QPen(palette::threshold(), 1.8));
    m_threshold->setVisible(false);

    plot->legend->setVisible(true);
    plot->legend->setFont(QFont(font().family(), 8));
    // Top left: on a log axis the low tail is thin, the mass sits to the right.
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignLeft | Qt::AlignTop);
    redraw();
}

void HistogramPlot::setLayer(const QString& layer) {
    if (layer == m_layer) return;
    m_layer = layer;
    setTitle(titleFor(layer));
    redraw();
}

void HistogramPlot::addHistogram(const HistogramEvent& event) {
    m_histograms[event.layer] = event;
    if (QString::fromStdString(event.layer) == m_layer) redraw();
}

void HistogramPlot::addNormalFit(const NormalFitEvent& event) {
    m_fits[event.layer] = event;
    if (QString::fromStdString(event.layer) == m_layer) redraw();
}

void HistogramPlot::clear() {
    m_histograms.clear();
    m_fits.clear();
    redraw();
}

void HistogramPlot::showResult(const PruneResult& result) {
    m_histograms.clear();
    m_fits.clear();
    for (const HistogramEvent& histogram : result.histograms)
        m_histograms[histogram.layer] = histogram;
    if (result.normalFit.count > 0) m_fits[result.normalFit.layer] = result.normalFit;
    redraw();
}

void HistogramPlot::redraw() {
    m_all->data()->clear();
    m_pruned->data()->clear();
    m_fit->data()->clear();
    m_cuts->data()->clear();
    m_cuts->setVisible(false);
    m_cuts->removeFromLegend();
    customPlot()->yAxis2->setVisible(false);
    m_threshold->setVisible(false);
    m_region->setVisible(false);
    const auto found = m_histograms.find(m_layer.toStdString());
    if (found == m_histograms.end() || found->second.counts.empty() ||
        found->second.binEdges.size() < 2) {
        setSubtitle(tr("no scores yet: run, or move the sparsity slider"));
        customPlot()->xAxis->setRange(1e-4, 1.0);
        customPlot()->yAxis->setRange(0.0, 1.0);
        markDirty();
        return;
    }
    const HistogramEvent& histogram = found->second;
    drawHistogram(histogram);
    const auto fit = m_fits.find(histogram.layer);
    if (fit != m_fits.end() && fit->second.stddev > 0.0) drawFit(histogram, fit->second);
    if (histogram.cutGroup.empty())
        drawThreshold(histogram);
    else
        drawCuts(histogram);
    markDirty();
}

void HistogramPlot::drawHistogram(const HistogramEvent& histogram) {
    const std::vector<double>& edges = histogram.binEdges;
    const size_t bins = std::min(histogram.counts.size(), edges.size() - 1);
    double highest = 1.0;
    // Step graphs: one point per bin's left edge, then the last right edge closes the last bin.
    for (size_t i = 0; i < bins; ++i) {
        const double count = double(histogram.counts[i]);
        const double below =
            i < histogram.countsBelow.size() ? double(histogram.countsBelow[i]) : 0.0;
        m_all->addData(edges[i], count);
        m_pruned->addData(edges[i], below);
        highest = std::max(highest, count);
    }
    m_all->addData(edges[bins], bins ? double(histogram.counts[bins - 1]) : 0.0);
    const double lastBelow = bins && bins - 1 < histogram.countsBelow.size()
                                 ? double(histogram.countsBelow[bins - 1])
                                 : 0.0;
    m_pruned->addData(edges[bins], lastBelow);

    customPlot()->xAxis->setRange(edges.front(), edges[bins]);
    customPlot()->yAxis->setRange(0.0, highest * 1.25);  // room for the legend
    const double zeroShare =
        histogram.total ? 100.0 * double(histogram.zeros) / double(histogram.total) : 0.0;
    setSubtitle(tr("%L1 weights; zeros (off the log axis): %L2 (%3 %), %L4 of them pruned")
                    .arg(histogram.total)
                    .arg(histogram.zeros)
                    .arg(zeroShare, 0, 'f', 2)
                    .arg(histogram.zerosBelow));
}

void HistogramPlot::drawFit(const HistogramEvent& histogram, const NormalFitEvent& fit) {
    // Expected count per bin under the fitted normal: the same unit as the bars, on the same bins.
    const std::vector<double>& edges = histogram.binEdges;
    const size_t bins = std::min(histogram.counts.size(), edges.size() - 1);
    const double count = double(fit.count > 0 ? fit.count : histogram.total);
    for (size_t i = 0; i < bins; ++i) {
        const double mass = normalCdf(edges[i + 1], fit.mean, fit.stddev) -
                            normalCdf(edges[i], fit.mean, fit.stddev);
        m_fit->addData(std::sqrt(edges[i] * edges[i + 1]), count * mass);
    }
}

void HistogramPlot::drawThreshold(const HistogramEvent& histogram) {
    const double threshold = histogram.threshold;
    if (!(threshold > 0.0) || histogram.binEdges.empty()) return;  // no line on a log axis at 0
    m_threshold->point1->setCoords(threshold, 0.0);
    m_threshold->point2->setCoords(threshold, 1.0);
    m_threshold->setVisible(true);
    m_region->topLeft->setCoords(std::min(histogram.binEdges.front(), threshold), 0.0);
    m_region->bottomRight->setCoords(threshold, 1.0);
    m_region->setVisible(true);
}

void HistogramPlot::drawCuts(const HistogramEvent& histogram) {
    const std::vector<double>& edges = histogram.binEdges;
    const size_t bins = std::min(histogram.cutCounts.size(), edges.size() - 1);
    if (bins == 0) return;
    int64_t highest = 1, groups = histogram.zeroCuts;
    for (size_t i = 0; i < bins; ++i) {
        m_cuts->addData(edges[i], double(histogram.cutCounts[i]));
        highest = std::max(highest, histogram.cutCounts[i]);
        groups += histogram.cutCounts[i];
    }
    m_cuts->addData(edges[bins], double(histogram.cutCounts[bins - 1]));
    const QString noun = cutNoun(histogram.cutGroup);
    m_cuts->setName(tr("%1 (right axis)").arg(noun));
    m_cuts->setVisible(true);
    m_cuts->addToLegend();
    QCPAxis* right = customPlot()->yAxis2;
    right->setVisible(true);
    right->setRange(0.0, double(highest) * 1.25);
    // Shorter than the one-threshold subtitle: the cuts are the news here.
    setSubtitle(tr("%L1 weights, %L2 %3, no single threshold; zeros: %L4")
                    .arg(histogram.total)
                    .arg(groups)
                    .arg(noun)
                    .arg(histogram.zeros));
}

int HistogramPlot::binCount() const {
    const auto found = m_histograms.find(m_layer.toStdString());
    return found == m_histograms.end() ? 0 : int(found->second.counts.size());
}

int HistogramPlot::histogramPointCount() const {
    return m_all->data()->size();
}
int HistogramPlot::prunedPointCount() const {
    return m_pruned->data()->size();
}
int HistogramPlot::fitPointCount() const {
    return m_fit->data()->size();
}
double HistogramPlot::fitValueAt(int bin) const {
    return bin >= 0 && bin < m_fit->data()->size() ? m_fit->data()->at(bin)->value : 0.0;
}

bool HistogramPlot::thresholdVisible() const {
    return m_threshold->visible();
}
bool HistogramPlot::regionVisible() const {
    return m_region->visible();
}
int HistogramPlot::cutPointCount() const {
    return m_cuts->visible() ? m_cuts->data()->size() : 0;
}
QString HistogramPlot::cutLegend() const {
    return m_cuts->visible() ? m_cuts->name() : QString();
}
double HistogramPlot::thresholdX() const {
    return m_threshold->point1->coords().x();
}
double HistogramPlot::shadedUpTo() const {
    return m_region->bottomRight->coords().x();
}
QString HistogramPlot::zerosText() const {
    return subtitle();
}

}  // namespace gp::ui
