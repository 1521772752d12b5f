#include "ui/plots/memory_plot.h"

#include <qcustomplot.h>

#include <algorithm>

#include "ui/plots/plot_palette.h"

namespace gp::ui {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

}  // namespace

MemoryPlot::MemoryPlot(QWidget* parent) : PlotView(tr("Memory"), parent) {
    QCustomPlot* plot = customPlot();
    m_clock.start();
    m_rss = plot->addGraph();
    m_rss->setName(tr("RAM (RSS)"));
    m_rss->setPen(QPen(palette::ram(), 1.6));
    m_rss->setBrush(
        QColor(palette::ram().red(), palette::ram().green(), palette::ram().blue(), 30));

    m_vramAllocated = plot->addGraph();
    m_vramAllocated->setName(tr("VRAM allocated"));
    m_vramAllocated->setPen(QPen(palette::vram(), 1.6));
    m_vramReserved = plot->addGraph();
    m_vramReserved->setName(tr("VRAM reserved"));
    m_vramReserved->setPen(QPen(palette::vramReserved(), 1.2, Qt::DashLine));
    for (QCPGraph* vram : {m_vramAllocated, m_vramReserved}) {
        vram->setVisible(false);
        vram->removeFromLegend();
    }

    m_peak = plot->addGraph();
    m_peak->setLineStyle(QCPGraph::lsNone);
    m_peak->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssTriangleInverted, palette::pruned(),
                                            palette::pruned(), 9));
    m_peak->removeFromLegend();
    m_peakLabel = new QCPItemText(plot);
    m_peakLabel->setPositionAlignment(Qt::AlignHCenter | Qt::AlignBottom);
    m_peakLabel->setColor(palette::pruned());
    m_peakLabel->setVisible(false);

    plot->xAxis->setLabel(tr("time (s)"));
    plot->yAxis->setLabel(tr("MiB"));
    plot->legend->setVisible(true);
    plot->legend->setFont(QFont(font().family(), 8));
    plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignBottom | Qt::AlignRight);
    rescale(true);
}

void MemoryPlot::beginRun() {
    m_runOffset = m_clock.elapsed() / 1000.0;
    m_peakRss = 0;
    m_peak->data()->clear();
    m_peakLabel->setVisible(false);
    markDirty();
}

void MemoryPlot::addSample(const MemorySampleEvent& event) {
    append(m_runOffset + event.seconds, event);
    // Fixed window: what left it is dropped, so the buffer stays bounded.
    const double newest = m_rss->data()->isEmpty() ? 0.0 : (m_rss->data()->constEnd() - 1)->key;
    for (QCPGraph* graph : {m_rss, m_vramAllocated, m_vramReserved})
        graph->data()->removeBefore(newest - kWindowSeconds);
    rescale(true);
}

void MemoryPlot::clear() {
    for (QCPGraph* graph : {m_rss, m_vramAllocated, m_vramReserved, m_peak}) graph->data()->clear();
    m_peakRss = 0;
    m_peakLabel->setVisible(false);
    rescale(true);
}

void MemoryPlot::showSamples(const std::vector<MemorySampleEvent>& samples) {
    clear();
    for (const MemorySampleEvent& sample : samples) append(sample.seconds, sample);
    rescale(false);
}

void MemoryPlot::append(double seconds, const MemorySampleEvent& event) {
    m_rss->addData(seconds, double(event.rssBytes) / kMiB);
    if (event.vramAllocatedBytes >= 0) {
        m_vramAllocated->addData(seconds, double(event.vramAllocatedBytes) / kMiB);
        if (event.vramReservedBytes >= 0)
            m_vramReserved->addData(seconds, double(event.vramReservedBytes) / kMiB);
        if (!m_vramAllocated->visible()) {
            for (QCPGraph* vram : {m_vramAllocated, m_vramReserved}) {
                vram->setVisible(true);
                vram->addToLegend();
            }
        }
    }
    if (event.rssBytes > m_peakRss) {
        m_peakRss = event.rssBytes;
        m_peakSeconds = seconds;
        markPeak();
    }
    markDirty();
}

void MemoryPlot::markPeak() {
    const double mib = double(m_peakRss) / kMiB;
    m_peak->data()->clear();
    m_peak->addData(m_peakSeconds, mib);
    m_peakLabel->position->setCoords(m_peakSeconds, mib);
    // Keep the label inside the plot: left of a peak near the right edge, right of it otherwise.
    const QCPRange shown = customPlot()->xAxis->range();
    const bool rightHalf = m_peakSeconds > shown.center();
    m_peakLabel->setPositionAlignment((rightHalf ? Qt::AlignRight : Qt::AlignLeft) |
                                      Qt::AlignBottom);
    m_peakLabel->setText(tr("peak %1 MiB").arg(mib, 0, 'f', 0));
    m_peakLabel->setVisible(true);
}

void MemoryPlot::rescale(bool window) {
    QCustomPlot* plot = customPlot();
    if (m_rss->data()->isEmpty()) {
        plot->xAxis->setRange(0.0, 10.0);
        plot->yAxis->setRange(0.0, 100.0);
        markDirty();
        return;
    }
    const double first = m_rss->data()->constBegin()->key;
    const double last = (m_rss->data()->constEnd() - 1)->key;
    const double left = window ? std::max(first, last - kWindowSeconds) : first;
    const double right = std::max(last, left + 1.0);
    plot->xAxis->setRange(left, right + 0.03 * (right - left));  // the peak mark stays whole
    double highest = 0.0;
    for (QCPGraph* graph : {m_rss, m_vramAllocated, m_vramReserved}) {
        bool found = false;
        const QCPRange range = graph->data()->valueRange(found);
        if (found) highest = std::max(highest, range.upper);
    }
    plot->yAxis->setRange(0.0, std::max(1.0, highest * 1.2));
    if (m_peakRss > 0) markPeak();
    markDirty();
}

int MemoryPlot::sampleCount() const {
    return m_rss->data()->size();
}
int MemoryPlot::vramSampleCount() const {
    return m_vramAllocated->data()->size();
}
bool MemoryPlot::vramVisible() const {
    return m_vramAllocated->visible();
}

double MemoryPlot::firstSeconds() const {
    return m_rss->data()->isEmpty() ? 0.0 : m_rss->data()->constBegin()->key;
}

double MemoryPlot::lastSeconds() const {
    return m_rss->data()->isEmpty() ? 0.0 : (m_rss->data()->constEnd() - 1)->key;
}

}  // namespace gp::ui
