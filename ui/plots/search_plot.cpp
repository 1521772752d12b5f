#include "ui/plots/search_plot.h"

#include <qcustomplot.h>

#include <algorithm>

#include "ui/plots/plot_palette.h"

namespace gp::ui {
namespace {

bool sharesExactPanel(const std::string& method) {
    return method != "statistical";
}

QColor thresholdColour() {
    return palette::kept();
}
QColor errorColour() {
    return palette::pruned();
}

}  // namespace

SearchPlot::SearchPlot(QWidget* parent) : PlotView(tr("Threshold search"), parent) {
    QCustomPlot* plot = customPlot();
    // Row 1 of the frame becomes a grid: subtitles above two axis rects, side by side.
    QCPAxisRect* first = plot->axisRect();
    plot->plotLayout()->take(first);
    auto* grid = new QCPLayoutGrid;
    plot->plotLayout()->addElement(1, 0, grid);
    grid->addElement(1, 0, first);
    auto* second = new QCPAxisRect(plot, true);
    grid->addElement(1, 1, second);
    setUpPanel(m_statistical, first, 0, QStringLiteral("statistical"));
    setUpPanel(m_exact, second, 1, QStringLiteral("exact"));
    plot->legend->setVisible(false);
    redraw(m_statistical);
    redraw(m_exact);
}

void SearchPlot::setUpPanel(Panel& panel, QCPAxisRect* rect, int column, const QString& name) {
    QCustomPlot* plot = customPlot();
    auto* grid = static_cast<QCPLayoutGrid*>(plot->plotLayout()->element(1, 0));
    panel.rect = rect;
    panel.name = name;
    panel.title = new QCPTextElement(plot, name, QFont(font().family(), 9));
    grid->addElement(0, column, panel.title);

    QCPAxis* steps = rect->axis(QCPAxis::atBottom);
    QCPAxis* threshold = rect->axis(QCPAxis::atLeft);
    QCPAxis* error = rect->axis(QCPAxis::atRight);
    steps->setLabel(tr("step"));
    auto stepTicker = QSharedPointer<QCPAxisTickerFixed>(new QCPAxisTickerFixed);
    stepTicker->setTickStep(1.0);
    stepTicker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    steps->setTicker(stepTicker);
    threshold->setLabel(tr("threshold"));
    threshold->setLabelColor(thresholdColour());
    threshold->setNumberFormat(QStringLiteral("g"));
    error->setVisible(true);
    error->setTickLabels(true);
    error->setLabel(tr("count error (%)"));
    error->setLabelColor(errorColour());

    panel.threshold = plot->addGraph(steps, threshold);
    panel.threshold->setName(tr("threshold"));
    panel.threshold->setPen(QPen(thresholdColour(), 1.6));
    panel.threshold->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 6));
    panel.error = plot->addGraph(steps, error);
    panel.error->setName(tr("count error"));
    panel.error->setPen(QPen(errorColour(), 1.4, Qt::DashLine));
    panel.error->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, 5));
}

SearchPlot::Panel& SearchPlot::panelFor(const std::string& method) {
    return sharesExactPanel(method) ? m_exact : m_statistical;
}

const SearchPlot::Panel& SearchPlot::panelFor(const QString& method) const {
    return sharesExactPanel(method.toStdString()) ? m_exact : m_statistical;
}

void SearchPlot::addStep(const SearchStepEvent& event) {
    Panel& panel = panelFor(event.method);
    auto found = panel.searches.find(event.group);
    if (found == panel.searches.end()) {
        if (panel.searches.size() >= kMaxGroups) return;  // bounded; the first groups stay
        found = panel.searches.emplace(event.group, std::vector<SearchStepEvent>{}).first;
    }
    std::vector<SearchStepEvent>& steps = found->second;
    // A step 0 starts a new search of this group; a method change in the exact panel too.
    if (event.step == 0 || (!steps.empty() && steps.back().method != event.method)) steps.clear();
    steps.push_back(event);
    panel.latestGroup = event.group;
    redraw(panel);
}

void SearchPlot::setGroup(const QString& group) {
    m_group = group.toStdString();
    redraw(m_statistical);
    redraw(m_exact);
}

void SearchPlot::clear() {
    for (Panel* panel : {&m_statistical, &m_exact}) {
        panel->searches.clear();
        panel->latestGroup.clear();
        redraw(*panel);
    }
}

void SearchPlot::showResult(const PruneResult& result) {
    if (result.searchSteps.empty()) return;
    Panel& panel = panelFor(result.searchSteps.front().method);
    panel.searches.clear();
    for (const SearchStepEvent& step : result.searchSteps) {
        panel.searches[step.group].push_back(step);
        panel.latestGroup = step.group;
    }
    redraw(panel);
}

void SearchPlot::redraw(Panel& panel) {
    panel.threshold->data()->clear();
    panel.error->data()->clear();
    auto shown = panel.searches.find(m_group);
    if (shown == panel.searches.end()) shown = panel.searches.find(panel.latestGroup);
    QString title = panel.name;
    if (shown != panel.searches.end() && !shown->second.empty()) {
        const std::vector<SearchStepEvent>& steps = shown->second;
        double low = steps.front().threshold, high = low, worst = 0.0;
        for (const SearchStepEvent& step : steps) {
            panel.threshold->addData(step.step, step.threshold);
            panel.error->addData(step.step, 100.0 * step.error);
            low = std::min(low, step.threshold);
            high = std::max(high, step.threshold);
            worst = std::max(worst, std::abs(100.0 * step.error));
        }
        const QString method = QString::fromStdString(steps.front().method);
        const QString group =
            shown->first.empty() ? tr("global") : QString::fromStdString(shown->first);
        title = tr("%1 — %2, %n step(s)", nullptr, int(steps.size())).arg(method, group);
        const double pad = std::max((high - low) * 0.1, std::abs(high) * 0.02 + 1e-12);
        panel.rect->axis(QCPAxis::atBottom)->setRange(-0.5, steps.back().step + 0.5);
        panel.rect->axis(QCPAxis::atLeft)->setRange(low - pad, high + pad);
        const double span = std::max(worst * 1.15, 0.01);
        panel.rect->axis(QCPAxis::atRight)->setRange(-span, span);
    } else {
        title = tr("%1 — not run").arg(panel.name);
        panel.rect->axis(QCPAxis::atBottom)->setRange(-0.5, 4.5);
    }
    panel.title->setText(title);
    markDirty();
}

int SearchPlot::stepCount(const QString& method) const {
    return panelFor(method).threshold->data()->size();
}

double SearchPlot::lastThreshold(const QString& method) const {
    const Panel& panel = panelFor(method);
    return panel.threshold->data()->isEmpty() ? 0.0
                                              : (panel.threshold->data()->constEnd() - 1)->value;
}

int SearchPlot::searchCount(const QString& method) const {
    return int(panelFor(method).searches.size());
}

}  // namespace gp::ui
