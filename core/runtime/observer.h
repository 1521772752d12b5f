// The one bridge from a running engine to whoever watches it (CLI progress bars and JSON lines,
// the GUI's RunWorker). Called on the engine's thread; implementations forward, they do not block.
// Every method has an empty default so observers implement only what they show.
#pragma once

#include "core/runtime/events.h"

namespace gp {

class RunObserver {
public:
    virtual ~RunObserver() = default;
    virtual void onStage(const StageEvent&) {}
    virtual void onProgress(const ProgressEvent&) {}
    virtual void onHistogram(const HistogramEvent&) {}
    virtual void onNormalFit(const NormalFitEvent&) {}
    virtual void onSearchStep(const SearchStepEvent&) {}
    virtual void onThreshold(const ThresholdEvent&) {}
    virtual void onLayerResult(const LayerResultEvent&) {}
    virtual void onMemorySample(const MemorySampleEvent&) {}
    virtual void onMetric(const MetricEvent&) {}
    virtual void onLog(const LogEvent&) {}
};

// Forwards to an optional observer: engine code holds one of these and never checks for null.
class ObserverRef {
public:
    explicit ObserverRef(RunObserver* observer = nullptr) : m_observer(observer) {}
    RunObserver& operator*() const { return m_observer ? *m_observer : m_silent; }
    RunObserver* operator->() const { return m_observer ? m_observer : &m_silent; }
    RunObserver* get() const { return m_observer; }

private:
    RunObserver* m_observer;
    mutable RunObserver m_silent;
};

}  // namespace gp
