// Forwards a run's events to the caller's observer and keeps what the result carries for the
// plots and the report (the latest histogram per layer, the normal fit, the latest search's
// steps, every memory sample). Memory samples arrive on the sampler's thread, hence the lock.
#pragma once

#include <algorithm>
#include <mutex>

#include "core/prune/prune_result.h"
#include "core/runtime/observer.h"

namespace gp {

class RunRecorder final : public RunObserver {
public:
    RunRecorder(RunObserver* forward, PruneResult& result) : m_forward(forward), m_result(result) {}

    void onStage(const StageEvent& event) override { m_forward->onStage(event); }
    void onProgress(const ProgressEvent& event) override { m_forward->onProgress(event); }
    void onThreshold(const ThresholdEvent& event) override { m_forward->onThreshold(event); }
    void onLayerResult(const LayerResultEvent& event) override { m_forward->onLayerResult(event); }
    void onMetric(const MetricEvent& event) override { m_forward->onMetric(event); }
    void onLog(const LogEvent& event) override { m_forward->onLog(event); }

    void onHistogram(const HistogramEvent& event) override {
        {
            std::lock_guard lock(m_mutex);
            auto& kept = m_result.histograms;
            auto same = std::find_if(kept.begin(), kept.end(),
                                     [&](const HistogramEvent& h) { return h.layer == event.layer; });
            if (same != kept.end())
                *same = event;
            else
                kept.push_back(event);
        }
        m_forward->onHistogram(event);
    }
    void onNormalFit(const NormalFitEvent& event) override {
        if (event.layer.empty()) {
            std::lock_guard lock(m_mutex);
            m_result.normalFit = event;
        }
        m_forward->onNormalFit(event);
    }
    void onSearchStep(const SearchStepEvent& event) override {
        {
            std::lock_guard lock(m_mutex);
            if (event.step == 0) m_result.searchSteps.clear();  // a new search begins
            m_result.searchSteps.push_back(event);
        }
        m_forward->onSearchStep(event);
    }
    void onMemorySample(const MemorySampleEvent& event) override {
        {
            std::lock_guard lock(m_mutex);
            m_result.memory.push_back(event);
        }
        m_forward->onMemorySample(event);
    }

private:
    ObserverRef m_forward;
    PruneResult& m_result;
    std::mutex m_mutex;
};

}  // namespace gp
