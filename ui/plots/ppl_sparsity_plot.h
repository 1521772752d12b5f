// Perplexity against achieved sparsity across runs (this session's and the reloaded history),
// one series per method ("magnitude", "wanda + probe", ...), each starting from the unpruned
// model's perplexity at 0 %. Threads: GUI thread only.
#pragma once

#include <QString>
#include <QStringList>

#include <vector>

#include "ui/plots/plot_view.h"
#include "ui/run_point.h"

class QCPGraph;

namespace gp::ui {

class PplSparsityPlot : public PlotView {
    Q_OBJECT

public:
    explicit PplSparsityPlot(QWidget* parent = nullptr);

    // Replaces what is drawn; runs without a perplexity after pruning are left out.
    void setRuns(const std::vector<RunPoint>& runs);

    int seriesCount() const { return int(m_series.size()); }
    QStringList seriesNames() const;
    int pointCount(const QString& series) const;  // including the unpruned point at 0 %

private:
    std::vector<QCPGraph*> m_series;
};

}  // namespace gp::ui
