// Sparsity per prunable layer: the target (grey) beside the achieved sparsity (blue) with the
// weights the probe restored stacked on top (orange: candidates the gradient vetoed), and the
// slider's predicted sparsity as black marks. x: layers in model order, short names.
// Threads: GUI thread only.
#pragma once

#include <QString>

#include <map>
#include <string>
#include <vector>

#include "core/api/engine.h"
#include "core/runtime/events.h"
#include "ui/layer_name.h"
#include "ui/plots/plot_view.h"

class QCPBars;
class QCPGraph;

namespace gp::ui {

class LayerSparsityPlot : public PlotView {
    Q_OBJECT

public:
    explicit LayerSparsityPlot(QWidget* parent = nullptr);

    // The layers, in model order (clears the values).
    void setLayers(const std::vector<std::string>& names);
    void addLayerResult(const LayerResultEvent& event);
    // The slider's prediction, one value per layer in model order (empty: none).
    void setPredicted(const std::vector<double>& sparsity);
    void clearResults();
    void showResult(const PruneResult& result);

    int layerCount() const { return int(m_names.size()); }
    int achievedCount() const;           // layers with an achieved bar
    int predictedCount() const;          // layers with a predicted mark
    double achievedAt(int layer) const;  // fraction; -1 when none
    double restoredAt(int layer) const;  // fraction of the layer restored by the probe
    double targetAt(int layer) const;
    double predictedAt(int layer) const;

private:
    void rebuildTicks();
    void rescale();
    static double valueAt(const QCPBars* bars, int layer);

    std::vector<std::string> m_names;
    std::map<std::string, int> m_index;
    QCPBars* m_target;
    QCPBars* m_achieved;
    QCPBars* m_restored;
    QCPGraph* m_predicted;
};

}  // namespace gp::ui
