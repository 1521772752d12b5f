// The frame every plot shares: a QCustomPlot with a title, a dirty flag for the window's steady
// replot clock (~30 Hz, rpQueuedReplot: a flood of events costs one redraw per tick), rendering to
// PNG/PDF (also without a visible window, for the report), and a right-click menu to save it.
// QCustomPlot's header stays inside the plot .cpp files; users see only this class.
//
// Threads: GUI thread only.
#pragma once

#include <QByteArray>
#include <QSize>
#include <QString>
#include <QWidget>

class QCustomPlot;
class QCPTextElement;
class QMenu;

namespace gp::ui {

class PlotView : public QWidget {
    Q_OBJECT

public:
    explicit PlotView(const QString& title, QWidget* parent = nullptr);
    ~PlotView() override;

    QString title() const;
    void setTitle(const QString& title);
    // Moves the legend out of the axis rect into a row under the title, its items side by side
    // (for plots whose data fills the whole rect).
    void placeLegendUnderTitle();
    // A smaller line under the title (facts about what is drawn); "" hides it.
    QString subtitle() const;
    void setSubtitle(const QString& subtitle);
    QCustomPlot* customPlot() const { return m_plot; }

    // Data changed: the next tick of the replot clock redraws this plot.
    void markDirty() { m_dirty = true; }
    bool isDirty() const { return m_dirty; }
    // Called by the replot clock: queues one replot when dirty.
    void replotIfDirty();

    // Renders the plot at `size` (its own size when empty), visible or not.
    QByteArray toPng(QSize size = {}) const;
    bool savePng(const QString& path, QSize size = {}) const;
    bool savePdf(const QString& path, QSize size = {}) const;
    // The right-click menu: "Save as PNG...", "Save as PDF..." (caller owns it).
    QMenu* createContextMenu(QWidget* parent);

Q_SIGNALS:
    void saved(const QString& path);

private:
    void saveWithDialog(const QString& format);

    QCustomPlot* m_plot;
    QCPTextElement* m_title;
    QCPTextElement* m_subtitle = nullptr;
    bool m_dirty = false;
};

}  // namespace gp::ui
