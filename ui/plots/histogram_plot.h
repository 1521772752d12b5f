// Importance histogram of one layer or of the whole model: score counts on log-spaced bins (log x
// axis), the part selected for pruning filled apart at the bottom of each bin (kept above it),
// the fitted normal curve (expected count per bin). Where one threshold decides (the global
// group, or a layer's own cut under the layer group) it is a vertical line with the pruned region
// shaded; where many cuts decide (the whole model under layer/row/N:M groups, a layer under
// row/N:M) there is no line and no region — the distribution of those groups' cuts is drawn on
// the right axis instead. Exact zeros cannot sit on a log axis: they are noted in a label.
//
// Keeps the latest histogram and fit of every layer it is sent (one per prunable layer, bounded by
// the model) and draws the one chosen with setLayer(). Threads: GUI thread only.
#pragma once

#include <QString>

#include <map>
#include <string>

#include "core/api/engine.h"
#include "core/runtime/events.h"
#include "ui/plots/plot_view.h"

class QCPGraph;
class QCPItemRect;
class QCPItemStraightLine;

namespace gp::ui {

class HistogramPlot : public PlotView {
    Q_OBJECT

public:
    explicit HistogramPlot(QWidget* parent = nullptr);

    // The layer shown: a prunable layer's name, or "" for the whole model.
    void setLayer(const QString& layer);
    QString layer() const { return m_layer; }

    void addHistogram(const HistogramEvent& event);
    void addNormalFit(const NormalFitEvent& event);
    void clear();
    // Shows a finished run: its histograms and its normal fit (the whole model's).
    void showResult(const PruneResult& result);

    // What is drawn (tests and the report check these against the engine's numbers).
    int binCount() const;              // bins of the shown histogram (0: none)
    int histogramPointCount() const;   // points of the step graph (bins + 1)
    int prunedPointCount() const;      // points of the selected-scores graph
    int fitPointCount() const;         // points of the normal curve
    double fitValueAt(int bin) const;  // expected count in that bin under the fit
    bool thresholdVisible() const;
    bool regionVisible() const;
    int cutPointCount() const;   // points of the cut-distribution graph (0: a single threshold)
    QString cutLegend() const;   // its legend entry ("" when hidden)
    double thresholdX() const;  // read back from the line item
    double shadedUpTo() const;  // right edge of the pruned region
    QString zerosText() const;  // the subtitle: weights, zeros (off the log axis)

private:
    void redraw();
    void drawHistogram(const HistogramEvent& histogram);
    void drawFit(const HistogramEvent& histogram, const NormalFitEvent& fit);
    void drawThreshold(const HistogramEvent& histogram);
    void drawCuts(const HistogramEvent& histogram);

    QString m_layer;
    std::map<std::string, HistogramEvent> m_histograms;
    std::map<std::string, NormalFitEvent> m_fits;
    QCPGraph* m_all;
    QCPGraph* m_pruned;
    QCPGraph* m_fit;
    QCPGraph* m_cuts;
    QCPItemStraightLine* m_threshold;
    QCPItemRect* m_region;
};

}  // namespace gp::ui
