// RAM and VRAM over time, a strip chart: process RSS, and LibTorch's CUDA allocated/reserved
// memory when CUDA is in use (the VRAM series stay hidden otherwise), in MiB, with the run's peak
// marked. Live samples are placed on one clock across runs (each run's sampler starts at 0 s) and
// only the last kWindowSeconds are kept.
// Threads: GUI thread only.
#pragma once

#include <QElapsedTimer>

#include <cstdint>
#include <vector>

#include "core/runtime/events.h"
#include "ui/plots/plot_view.h"

class QCPGraph;
class QCPItemText;

namespace gp::ui {

class MemoryPlot : public PlotView {
    Q_OBJECT

public:
    static constexpr double kWindowSeconds = 120.0;

    explicit MemoryPlot(QWidget* parent = nullptr);

    // A run starts: its samples go after what is shown, and its peak is tracked afresh.
    void beginRun();
    void addSample(const MemorySampleEvent& event);
    void clear();
    // Shows a finished run's samples on their own clock (no window), e.g. for the report.
    void showSamples(const std::vector<MemorySampleEvent>& samples);

    int sampleCount() const;      // RSS points kept
    int vramSampleCount() const;  // VRAM (allocated) points kept
    bool vramVisible() const;
    int64_t peakRssBytes() const { return m_peakRss; }
    double firstSeconds() const;  // oldest kept sample's time on the plot's clock
    double lastSeconds() const;

private:
    void append(double seconds, const MemorySampleEvent& event);
    void markPeak();
    void rescale(bool window);

    QElapsedTimer m_clock;
    double m_runOffset = 0.0;
    int64_t m_peakRss = 0;
    double m_peakSeconds = 0.0;
    QCPGraph* m_rss;
    QCPGraph* m_vramAllocated;
    QCPGraph* m_vramReserved;
    QCPGraph* m_peak;
    QCPItemText* m_peakLabel;
};

}  // namespace gp::ui
