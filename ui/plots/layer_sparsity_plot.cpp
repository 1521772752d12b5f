#include "ui/plots/layer_sparsity_plot.h"

#include <qcustomplot.h>

#include "ui/plots/plot_palette.h"

namespace gp::ui {

LayerSparsityPlot::LayerSparsityPlot(QWidget* parent) : PlotView(tr("Sparsity per layer"), parent) {
    QCustomPlot* plot = customPlot();
    auto* group = new QCPBarsGroup(plot);
    group->setSpacingType(QCPBarsGroup::stAbsolute);
    group->setSpacing(1);

    m_target = new QCPBars(plot->xAxis, plot->yAxis);
    m_target->setName(tr("target"));
    m_target->setPen(QPen(palette::target().darker(130)));
    m_target->setBrush(palette::target());
    m_target->setWidth(0.38);
    m_target->setBarsGroup(group);

    m_achieved = new QCPBars(plot->xAxis, plot->yAxis);
    m_achieved->setName(tr("achieved"));
    m_achieved->setPen(QPen(palette::kept().darker(120)));
    m_achieved->setBrush(palette::kept());
    m_achieved->setWidth(0.38);
    m_achieved->setBarsGroup(group);

    m_restored = new QCPBars(plot->xAxis, plot->yAxis);
    m_restored->setName(tr("restored by probe"));
    m_restored->setPen(QPen(palette::restored().darker(120)));
    m_restored->setBrush(palette::restored());
    m_restored->setWidth(0.38);
    m_restored->setBarsGroup(group);
    m_restored->moveAbove(m_achieved);

    m_predicted = plot->addGraph();
    m_predicted->setName(tr("predicted (slider)"));
    m_predicted->setLineStyle(QCPGraph::lsNone);
    m_predicted->setScatterStyle(
        QCPScatterStyle(QCPScatterStyle::ssDiamond, palette::predicted(), palette::predicted(), 6));
    m_predicted->removeFromLegend();  // listed once there is a prediction

    plot->yAxis->setLabel(tr("sparsity (%)"));
    plot->yAxis->setRange(0.0, 100.0);
    plot->xAxis->setTickLabelRotation(60);
    plot->xAxis->setTickLabelFont(QFont(font().family(), 7));
    plot->legend->setVisible(true);
    plot->legend->setFont(QFont(font().family(), 8));
    placeLegendUnderTitle();  // bars fill the rect up to 100 %
    rescale();
}

void LayerSparsityPlot::setLayers(const std::vector<std::string>& names) {
    m_names = names;
    m_index.clear();
    for (size_t i = 0; i < names.size(); ++i) m_index[names[i]] = int(i);
    clearResults();
    m_predicted->data()->clear();
    rebuildTicks();
    rescale();
}

void LayerSparsityPlot::addLayerResult(const LayerResultEvent& event) {
    auto found = m_index.find(event.layer);
    if (found == m_index.end()) {
        found = m_index.emplace(event.layer, int(m_names.size())).first;
        m_names.push_back(event.layer);
        rebuildTicks();
        rescale();
    }
    const double key = found->second;
    const double numel = double(std::max<int64_t>(1, event.numel));
    // One value per layer: replace what an earlier round of this run reported.
    m_target->data()->remove(key);
    m_achieved->data()->remove(key);
    m_restored->data()->remove(key);
    m_target->addData(key, 100.0 * event.targetSparsity);
    m_achieved->addData(key, 100.0 * event.sparsity);
    m_restored->addData(key, 100.0 * double(event.restored) / numel);
    markDirty();
}

void LayerSparsityPlot::setPredicted(const std::vector<double>& sparsity) {
    m_predicted->data()->clear();
    for (size_t i = 0; i < sparsity.size() && i < m_names.size(); ++i)
        m_predicted->addData(double(i), 100.0 * sparsity[i]);
    if (m_predicted->data()->isEmpty())
        m_predicted->removeFromLegend();
    else
        m_predicted->addToLegend();
    markDirty();
}

void LayerSparsityPlot::clearResults() {
    m_target->data()->clear();
    m_achieved->data()->clear();
    m_restored->data()->clear();
    markDirty();
}

void LayerSparsityPlot::showResult(const PruneResult& result) {
    std::vector<std::string> names;
    for (const LayerResultEvent& layer : result.layers) names.push_back(layer.layer);
    if (names != m_names) setLayers(names);
    clearResults();
    for (const LayerResultEvent& layer : result.layers) addLayerResult(layer);
}

void LayerSparsityPlot::rebuildTicks() {
    auto ticker = QSharedPointer<QCPAxisTickerText>(new QCPAxisTickerText);
    // Past ~40 layers every label cannot be read: label every k-th layer.
    const size_t every = std::max<size_t>(1, (m_names.size() + 39) / 40);
    for (size_t i = 0; i < m_names.size(); i += every)
        ticker->addTick(double(i), shortLayerName(m_names[i]));
    customPlot()->xAxis->setTicker(ticker);
    markDirty();
}

void LayerSparsityPlot::rescale() {
    customPlot()->xAxis->setRange(-0.7, std::max<double>(1.0, double(m_names.size())) - 0.3);
    markDirty();
}

double LayerSparsityPlot::valueAt(const QCPBars* bars, int layer) {
    const auto found = bars->data()->findBegin(layer, false);
    if (found == bars->data()->constEnd() || found->key != layer) return -1.0;
    return found->value / 100.0;
}

int LayerSparsityPlot::achievedCount() const {
    return m_achieved->data()->size();
}
int LayerSparsityPlot::predictedCount() const {
    return m_predicted->data()->size();
}
double LayerSparsityPlot::achievedAt(int layer) const {
    return valueAt(m_achieved, layer);
}
double LayerSparsityPlot::restoredAt(int layer) const {
    return valueAt(m_restored, layer);
}
double LayerSparsityPlot::targetAt(int layer) const {
    return valueAt(m_target, layer);
}

double LayerSparsityPlot::predictedAt(int layer) const {
    const auto found = m_predicted->data()->findBegin(layer, false);
    if (found == m_predicted->data()->constEnd() || found->key != layer) return -1.0;
    return found->value / 100.0;
}

}  // namespace gp::ui
