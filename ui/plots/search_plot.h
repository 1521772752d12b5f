// The threshold search, step by step: the threshold tried (left axis) and the count error it gave
// ((selected - target) / total, right axis, in %), for the statistical search and the exact
// radix selection side by side. Each panel keeps the latest search of its method (per group:
// "" for the global group, the layer's name for the layer group) and shows the chosen group's,
// or the latest one when that group has none. Bounded: at most kMaxGroups searches kept per method.
// Threads: GUI thread only.
#pragma once

#include <QString>

#include <map>
#include <string>
#include <vector>

#include "core/api/engine.h"
#include "core/runtime/events.h"
#include "ui/plots/plot_view.h"

class QCPAxisRect;
class QCPGraph;
class QCPTextElement;

namespace gp::ui {

class SearchPlot : public PlotView {
    Q_OBJECT

public:
    static constexpr size_t kMaxGroups = 512;

    explicit SearchPlot(QWidget* parent = nullptr);

    void addStep(const SearchStepEvent& event);
    // The group whose searches are shown: "" (global) or a layer's name.
    void setGroup(const QString& group);
    void clear();
    // Shows a finished run's search in its method's panel (the other panel keeps what it had,
    // so the last statistical and exact searches stay side by side).
    void showResult(const PruneResult& result);

    // Steps drawn in the panel of `method` ("statistical" or "exact"; "sort" shares exact's).
    int stepCount(const QString& method) const;
    double lastThreshold(const QString& method) const;
    int searchCount(const QString& method) const;  // groups whose latest search is kept

private:
    struct Panel {
        QCPAxisRect* rect = nullptr;
        QCPTextElement* title = nullptr;
        QCPGraph* threshold = nullptr;
        QCPGraph* error = nullptr;
        // Latest search per group, and the group that searched last.
        std::map<std::string, std::vector<SearchStepEvent>> searches;
        std::string latestGroup;
        QString name;  // "statistical" or "exact" (whose panel "sort" shares)
    };
    Panel& panelFor(const std::string& method);
    const Panel& panelFor(const QString& method) const;
    void setUpPanel(Panel& panel, QCPAxisRect* rect, int column, const QString& name);
    void redraw(Panel& panel);

    Panel m_statistical;
    Panel m_exact;
    std::string m_group;
};

}  // namespace gp::ui
