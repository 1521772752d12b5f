#include "ui/run_controller.h"

#include <QDir>
#include <QFile>
#include <QMetaObject>
#include <QStringList>

#ifdef Q_OS_LINUX
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

#include "ui/run_worker.h"

namespace gp::ui {
namespace {

// Compute threads yield to the GUI thread, so input stays responsive while a run keeps every
// core busy: the engine's thread (and the LibTorch/OpenMP threads it starts, which inherit its
// nice value) and the BLAS threads started at load. Linux keeps a nice value per thread;
// QThread's priorities do nothing there for normal threads.
constexpr int kComputeNice = 10;

void yieldToGui() {
#ifdef Q_OS_LINUX
    setpriority(PRIO_PROCESS, static_cast<id_t>(syscall(SYS_gettid)), kComputeNice);
#endif
}

// The threads libraries started when they were loaded (OpenBLAS's pool) carry the process's own
// name; Qt's threads have names of their own and stay as they are: the GUI thread waits on Qt's
// thread pool when it converts large images, so those must not yield.
void lowerLibraryThreads() {
#ifdef Q_OS_LINUX
    const auto gui = static_cast<long>(syscall(SYS_gettid));
    const auto nameOf = [](const QString& task) {
        QFile comm(QStringLiteral("/proc/self/task/%1/comm").arg(task));
        return comm.open(QIODevice::ReadOnly) ? comm.readAll().trimmed() : QByteArray();
    };
    const QByteArray processName = nameOf(QString::number(gui));
    const QStringList tasks =
        QDir(QStringLiteral("/proc/self/task")).entryList(QDir::Dirs | QDir::NoDotAndDotDot);
    for (const QString& task : tasks) {
        bool ok = false;
        const long tid = task.toLong(&ok);
        if (ok && tid != gui && nameOf(task) == processName)
            setpriority(PRIO_PROCESS, static_cast<id_t>(tid), kComputeNice);
    }
#endif
}

}  // namespace

RunController::RunController(QObject* parent) : QObject(parent) {
    registerEngineMetaTypes();
    lowerLibraryThreads();
    m_thread.setObjectName(QStringLiteral("gradprobe-engine"));
    m_worker = new RunWorker(&m_cancel);
    m_worker->moveToThread(&m_thread);
    // Queued (the controller lives on the GUI thread): relayed in the order the worker emitted.
    connect(m_worker, &RunWorker::modelOpened, this, &RunController::modelOpened);
    connect(m_worker, &RunWorker::evaluated, this, &RunController::evaluated);
    connect(m_worker, &RunWorker::pruneFinished, this, &RunController::pruneFinished);
    connect(m_worker, &RunWorker::runApplied, this, &RunController::runApplied);
    connect(m_worker, &RunWorker::exported, this, &RunController::exported);
    connect(m_worker, &RunWorker::reportWritten, this, &RunController::reportWritten);
    connect(m_worker, &RunWorker::fingerprinted, this, &RunController::fingerprinted);
    connect(m_worker, &RunWorker::sampled, this, &RunController::sampled);
    connect(m_worker, &RunWorker::failed, this, &RunController::failed);
    connect(m_worker, &RunWorker::jobFinished, this, &RunController::finishJob);
    connect(m_worker, &RunWorker::previewReady, this,
            [this](quint64 generation, const gp::Preview& preview) {
                receivePreview(generation);
                if (generation == m_previewGeneration) Q_EMIT previewReady(generation, preview);
            });
    connect(m_worker, &RunWorker::previewFailed, this,
            [this](quint64 generation, const gp::ui::RunFailure& failure) {
                receivePreview(generation);
                if (generation == m_previewGeneration) Q_EMIT previewFailed(generation, failure);
            });
    m_thread.start();
    QMetaObject::invokeMethod(m_worker, [] { yieldToGui(); });
}

RunController::~RunController() {
    m_cancel.cancel();
    m_thread.requestInterruption();
    m_thread.quit();
    m_thread.wait();
    // The thread's loop has ended: nothing else can touch the worker now.
    delete m_worker;
}

void RunController::setComputeThreads(int threads) {
    QMetaObject::invokeMethod(m_worker, [threads] { gp::useComputeThreads(threads, 1); });
}

bool RunController::startJob(const QString& job) {
    if (isBusy()) {
        Q_EMIT refused(tr("Busy: wait for the %1 job to finish or cancel it first").arg(m_job));
        return false;
    }
    m_cancel.reset();
    m_job = job;
    Q_EMIT jobStarted(job);
    Q_EMIT busyChanged(true);
    return true;
}

void RunController::finishJob(const QString& job) {
    Q_UNUSED(job);
    const QString finished = m_job;
    m_job.clear();
    Q_EMIT jobFinished(finished);
    Q_EMIT busyChanged(false);
}

bool RunController::openModel(const QString& path, const gp::LoadOptions& options) {
    if (!startJob(QStringLiteral("open"))) return false;
    QMetaObject::invokeMethod(
        m_worker, [worker = m_worker, path, options] { worker->openModel(path, options); });
    return true;
}

bool RunController::evaluate(const gp::EvalOptions& options) {
    if (!startJob(QStringLiteral("evaluate"))) return false;
    QMetaObject::invokeMethod(m_worker,
                              [worker = m_worker, options] { worker->evaluate(options); });
    return true;
}

bool RunController::prune(const gp::PruneOptions& options) {
    if (!startJob(QStringLiteral("prune"))) return false;
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, options] { worker->prune(options); });
    return true;
}

bool RunController::applyRun(int runId) {
    if (!startJob(QStringLiteral("revert"))) return false;
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, runId] { worker->applyRun(runId); });
    return true;
}

bool RunController::restoreOriginal() {
    if (!startJob(QStringLiteral("revert"))) return false;
    QMetaObject::invokeMethod(m_worker, [worker = m_worker] { worker->restoreOriginal(); });
    return true;
}

bool RunController::exportModel(const gp::ExportOptions& options) {
    if (!startJob(QStringLiteral("export"))) return false;
    QMetaObject::invokeMethod(m_worker,
                              [worker = m_worker, options] { worker->exportModel(options); });
    return true;
}

bool RunController::writeReport(const QString& folder,
                                std::shared_ptr<const gp::PruneResult> result,
                                const std::vector<gp::RunHistoryPoint>& history,
                                const gp::ReportImages& images,
                                std::optional<gp::ExportResult> exported) {
    if (!result || !startJob(QStringLiteral("report"))) return false;
    QMetaObject::invokeMethod(m_worker,
                              [worker = m_worker, folder, result, history, images, exported] {
                                  worker->writeReport(folder, result, history, images, exported);
                              });
    return true;
}

bool RunController::fingerprint() {
    if (!startJob(QStringLiteral("fingerprint"))) return false;
    QMetaObject::invokeMethod(m_worker, [worker = m_worker] { worker->fingerprint(); });
    return true;
}

void RunController::cancel() {
    m_cancel.cancel();
}

quint64 RunController::requestPreview(const gp::PreviewOptions& options) {
    const quint64 generation = ++m_previewGeneration;
    if (m_previewInFlight)
        m_pendingPreview.emplace(generation, options);  // replaces any older waiting request
    else
        sendPreview(generation, options);
    return generation;
}

void RunController::sendPreview(quint64 generation, const gp::PreviewOptions& options) {
    m_previewInFlight = true;
    QMetaObject::invokeMethod(m_worker, [worker = m_worker, generation, options] {
        worker->preview(generation, options);
    });
}

void RunController::receivePreview(quint64 generation) {
    Q_UNUSED(generation);
    m_previewInFlight = false;
    if (m_pendingPreview) {
        const auto [next, options] = *m_pendingPreview;
        m_pendingPreview.reset();
        sendPreview(next, options);
    }
}

}  // namespace gp::ui
