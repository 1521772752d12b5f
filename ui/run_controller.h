// Owns the engine's thread and the RunWorker on it; the GUI's one door to the engine. Posts jobs
// to the worker, one at a time (a second job while one works is refused with a message), cancels
// through the CancelToken, and keeps only the latest slider preview (generation numbers: at most
// one preview in flight, the newest request waiting, stale results dropped).
//
// Threads: every method is called on the GUI thread, and every signal of the controller is
// emitted there. Connect to worker()'s event signals for the live events (queued to receivers on
// other threads; a QSignalSpy on them records on the worker's thread: spy on the controller).
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>
#include <QThread>

#include <memory>
#include <optional>
#include <vector>

#include "core/api/engine.h"
#include "core/runtime/cancel.h"
#include "ui/engine_metatypes.h"
#include "ui/run_failure.h"

namespace gp::ui {

class RunWorker;

class RunController : public QObject {
    Q_OBJECT

public:
    // Make it on the GUI thread: the engine's compute threads (its own, LibTorch's, BLAS's) are
    // set to yield to that one.
    explicit RunController(QObject* parent = nullptr);
    // Shutdown: cancel -> requestInterruption -> quit -> wait; then the worker (and the open
    // model) is destroyed.
    ~RunController() override;

    RunWorker* worker() const { return m_worker; }
    bool isBusy() const { return !m_job.isEmpty(); }
    QString currentJob() const { return m_job; }

    // Post a job. Each returns false and emits refused() when another job is still working.
    bool openModel(const QString& path, const gp::LoadOptions& options);
    bool evaluate(const gp::EvalOptions& options);
    bool prune(const gp::PruneOptions& options);
    bool applyRun(int runId);
    bool restoreOriginal();
    bool exportModel(const gp::ExportOptions& options);
    bool writeReport(const QString& folder, std::shared_ptr<const gp::PruneResult> result,
                     const std::vector<gp::RunHistoryPoint>& history,
                     const gp::ReportImages& images, std::optional<gp::ExportResult> exported);
    bool fingerprint();
    // Asks the running job to stop at its next check; the engine restores the weights.
    void cancel();
    // Compute threads for the jobs posted after this call (0: OMP_NUM_THREADS when set, else the
    // cores less one for the interface); set on the engine thread, between jobs.
    void setComputeThreads(int threads);

    // Latest request wins: returns this request's generation; previewReady() carries it.
    quint64 requestPreview(const gp::PreviewOptions& options);
    quint64 latestPreviewGeneration() const { return m_previewGeneration; }

Q_SIGNALS:
    // The worker's results, relayed on the GUI thread (before the job's jobFinished).
    void modelOpened(const gp::ModelInfo& info);
    void evaluated(const gp::EvalResult& result);
    void pruneFinished(std::shared_ptr<const gp::PruneResult> result);  // also when cancelled
    void runApplied(int runId);                                         // -1: the original weights
    void exported(const gp::ExportResult& result);
    void reportWritten(const QStringList& paths);
    void fingerprinted(const QString& fingerprint);
    void sampled(const QString& when, int runId, const QString& text);
    void failed(const gp::ui::RunFailure& failure);

    void busyChanged(bool busy);
    void jobStarted(const QString& job);
    void jobFinished(const QString& job);
    void refused(const QString& message);
    // Only for the newest preview request; stale ones are dropped.
    void previewReady(quint64 generation, const gp::Preview& preview);
    void previewFailed(quint64 generation, const gp::ui::RunFailure& failure);

private:
    bool startJob(const QString& job);
    void finishJob(const QString& job);
    void sendPreview(quint64 generation, const gp::PreviewOptions& options);
    void receivePreview(quint64 generation);

    QThread m_thread;
    CancelToken m_cancel;
    RunWorker* m_worker;
    QString m_job;  // "" when idle
    quint64 m_previewGeneration = 0;
    bool m_previewInFlight = false;
    std::optional<std::pair<quint64, gp::PreviewOptions>> m_pendingPreview;
};

}  // namespace gp::ui
