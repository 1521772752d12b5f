// The engine's side of the GUI: a QObject that lives on the RunController's thread, owns the open
// ModelSession and runs one job at a time on it (open, evaluate, prune, preview, revert). It is
// the engine's RunObserver and forwards every event as a queued signal carrying plain values; it
// never touches a widget.
//
// Threads: the job methods run on the worker's thread (the controller posts them there);
// on*() observer callbacks run on the engine's thread, except onMemorySample, which comes from the
// memory sampler's own thread (emitting a signal is safe from any thread). Signals reach the GUI
// queued.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "core/api/engine.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"
#include "ui/engine_metatypes.h"
#include "ui/run_failure.h"

namespace gp::ui {

class RunWorker : public QObject, public RunObserver {
    Q_OBJECT

public:
    // `cancel` belongs to the controller and outlives the worker.
    explicit RunWorker(const CancelToken* cancel, QObject* parent = nullptr);
    ~RunWorker() override;

    // ---- jobs: worker thread only; each but preview ends with jobFinished(job); preview ends
    // with previewReady or previewFailed ----
    void openModel(const QString& path, const gp::LoadOptions& options);
    void evaluate(const gp::EvalOptions& options);
    void prune(const gp::PruneOptions& options);
    void preview(quint64 generation, const gp::PreviewOptions& options);
    void applyRun(int runId);
    void restoreOriginal();
    void exportModel(const gp::ExportOptions& options);
    // report.json + report.html for `result` into `folder`; `images` were drawn on the GUI thread.
    void writeReport(const QString& folder, std::shared_ptr<const gp::PruneResult> result,
                     const std::vector<gp::RunHistoryPoint>& history,
                     const gp::ReportImages& images, std::optional<gp::ExportResult> exported);
    void fingerprint();

    // ---- RunObserver: engine threads ----
    void onStage(const StageEvent& event) override;
    void onProgress(const ProgressEvent& event) override;
    void onHistogram(const HistogramEvent& event) override;
    void onNormalFit(const NormalFitEvent& event) override;
    void onSearchStep(const SearchStepEvent& event) override;
    void onThreshold(const ThresholdEvent& event) override;
    void onLayerResult(const LayerResultEvent& event) override;
    void onMemorySample(const MemorySampleEvent& event) override;
    void onMetric(const MetricEvent& event) override;
    void onLog(const LogEvent& event) override;

Q_SIGNALS:
    void modelOpened(const gp::ModelInfo& info);
    void evaluated(const gp::EvalResult& result);
    void pruneFinished(std::shared_ptr<const gp::PruneResult> result);  // also when cancelled
    void previewReady(quint64 generation, const gp::Preview& preview);
    void previewFailed(quint64 generation, const gp::ui::RunFailure& failure);
    void runApplied(int runId);  // -1: the original weights
    void exported(const gp::ExportResult& result);
    void reportWritten(const QStringList& paths);
    void fingerprinted(const QString& fingerprint);  // of the weights the model holds now
    // A short greedy sample from the same prompt: once from the loaded weights ("before"), again
    // after each completed run ("after", with its run id).
    void sampled(const QString& when, int runId, const QString& text);
    void failed(const gp::ui::RunFailure& failure);
    void jobFinished(const QString& job);

    void stage(const gp::StageEvent& event);
    void progress(const gp::ProgressEvent& event);
    void histogram(const gp::HistogramEvent& event);
    void normalFit(const gp::NormalFitEvent& event);
    void searchStep(const gp::SearchStepEvent& event);
    void threshold(const gp::ThresholdEvent& event);
    void layerResult(const gp::LayerResultEvent& event);
    void memorySample(const gp::MemorySampleEvent& event);
    void metric(const gp::MetricEvent& event);
    void log(const gp::LogEvent& event);

private:
    bool requireSession(const QString& job);
    void emitSample(const QString& when, int runId);

    const CancelToken* m_cancel;
    std::unique_ptr<ModelSession> m_session;
    // Progress events are thinned to about 50 per second: the bar cannot show more.
    std::chrono::steady_clock::time_point m_lastProgress;
};

}  // namespace gp::ui
