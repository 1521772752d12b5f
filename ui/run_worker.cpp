#include "ui/run_worker.h"

#include <QCoreApplication>

#include "core/runtime/error.h"

namespace gp::ui {
namespace {

constexpr auto kProgressInterval = std::chrono::milliseconds(20);

}  // namespace

RunWorker::RunWorker(const CancelToken* cancel, QObject* parent)
    : QObject(parent), m_cancel(cancel) {}

RunWorker::~RunWorker() = default;

bool RunWorker::requireSession(const QString& job) {
    if (m_session) return true;
    RunFailure failure;
    failure.job = job;
    failure.problem = QCoreApplication::translate("RunWorker", "no model is open");
    Q_EMIT failed(failure);
    return false;
}

void RunWorker::openModel(const QString& path, const gp::LoadOptions& options) {
    try {
        // The new model replaces the old one only once it loaded: a bad file keeps the old one.
        std::unique_ptr<ModelSession> opened =
            ModelSession::open(path.toStdString(), options, this);
        m_session = std::move(opened);
        Q_EMIT modelOpened(m_session->info());
        emitSample(QStringLiteral("before"), -1);
    } catch (...) {
        Q_EMIT failed(RunFailure::fromCurrentException(QStringLiteral("open")));
    }
    Q_EMIT jobFinished(QStringLiteral("open"));
}

// The user's first sanity check of a pruned model: the same greedy continuation of the same
// prompt before and after. A model that cannot generate (no tokenizer) simply shows none; the
// job itself succeeded.
void RunWorker::emitSample(const QString& when, int runId) {
    GenerateOptions options;
    options.prompt = "Once upon a time";
    options.steps = 48;
    try {
        const GenerateResult sample = m_session->generate(options, m_cancel);
        Q_EMIT sampled(when, runId, QString::fromStdString(sample.text));
    } catch (const Cancelled&) {
    } catch (const gp::Error&) {
    }
}

void RunWorker::evaluate(const gp::EvalOptions& options) {
    if (requireSession(QStringLiteral("evaluate"))) {
        try {
            Q_EMIT evaluated(m_session->evaluate(options, this, m_cancel));
        } catch (const Cancelled&) {
            // An outcome, not an error: nothing to report beyond the job's end.
        } catch (...) {
            Q_EMIT failed(RunFailure::fromCurrentException(QStringLiteral("evaluate")));
        }
    }
    Q_EMIT jobFinished(QStringLiteral("evaluate"));
}

void RunWorker::prune(const gp::PruneOptions& options) {
    if (requireSession(QStringLiteral("prune"))) {
        try {
            auto result = std::make_shared<PruneResult>(m_session->prune(options, this, m_cancel));
            const int runId = result->runId;
            Q_EMIT pruneFinished(std::move(result));
            emitSample(QStringLiteral("after"), runId);
        } catch (const Cancelled&) {
            auto result = std::make_shared<PruneResult>();
            result->options = options;
            result->cancelled = true;
            Q_EMIT pruneFinished(std::move(result));
        } catch (...) {
            Q_EMIT failed(RunFailure::fromCurrentException(QStringLiteral("prune")));
        }
    }
    Q_EMIT jobFinished(QStringLiteral("prune"));
}

void RunWorker::preview(quint64 generation, const gp::PreviewOptions& options) {
    if (!m_session) {
        RunFailure failure;
        failure.job = QStringLiteral("preview");
        failure.problem = QCoreApplication::translate("RunWorker", "no model is open");
        Q_EMIT previewFailed(generation, failure);
        return;
    }
    try {
        Q_EMIT previewReady(generation, m_session->preview(options));
    } catch (...) {
        Q_EMIT previewFailed(generation,
                             RunFailure::fromCurrentException(QStringLiteral("preview")));
    }
}

void RunWorker::applyRun(int runId) {
    if (requireSession(QStringLiteral("revert"))) {
        try {
            m_session->applyRun(runId);
            Q_EMIT runApplied(runId);
        } catch (...) {
            Q_EMIT failed(RunFailure::fromCurrentException(QStringLiteral("revert")));
        }
    }
    Q_EMIT jobFinished(QStringLiteral("revert"));
}

void RunWorker::restoreOriginal() {
    if (requireSession(QStringLiteral("revert"))) {
        try {
            m_session->restoreOriginal();
            Q_EMIT runApplied(-1);
        } catch (...) {
            Q_EMIT failed(RunFailure::fromCurrentException(QStringLiteral("revert")));
        }
    }
    Q_EMIT jobFinished(QStringLiteral("revert"));
}

void RunWorker::exportModel(const gp::ExportOptions& options) {
    if (requireSession(QStringLiteral("export"))) {
        try {
            Q_EMIT exported(m_session->exportModel(options, this, m_cancel));
        } catch (const Cancelled&) {
        } catch (...) {
            Q_EMIT failed(RunFailure::fromCurrentException(QStringLiteral("export")));
        }
    }
    Q_EMIT jobFinished(QStringLiteral("export"));
}

void RunWorker::writeReport(const QString& folder, std::shared_ptr<const gp::PruneResult> result,
                            const std::vector<gp::RunHistoryPoint>& history,
                            const gp::ReportImages& images,
                            std::optional<gp::ExportResult> exported) {
    if (requireSession(QStringLiteral("report"))) {
        try {
            RunRecord record =
                m_session->runRecord(*result, exported ? &*exported : nullptr, history);
            record.versions["qt"] = qVersion();
            QStringList paths;
            for (const std::string& path : gp::writeReport(folder.toStdString(), record, images))
                paths << QString::fromStdString(path);
            Q_EMIT reportWritten(paths);
        } catch (...) {
            Q_EMIT failed(RunFailure::fromCurrentException(QStringLiteral("report")));
        }
    }
    Q_EMIT jobFinished(QStringLiteral("report"));
}

void RunWorker::fingerprint() {
    if (requireSession(QStringLiteral("fingerprint"))) {
        try {
            Q_EMIT fingerprinted(QString::fromStdString(m_session->weightFingerprint()));
        } catch (...) {
            Q_EMIT failed(RunFailure::fromCurrentException(QStringLiteral("fingerprint")));
        }
    }
    Q_EMIT jobFinished(QStringLiteral("fingerprint"));
}

void RunWorker::onStage(const StageEvent& event) {
    m_lastProgress = {};
    Q_EMIT stage(event);
}

void RunWorker::onProgress(const ProgressEvent& event) {
    const auto now = std::chrono::steady_clock::now();
    const bool ends = event.done == 0 || event.done >= event.total;
    if (!ends && now - m_lastProgress < kProgressInterval) return;
    m_lastProgress = now;
    Q_EMIT progress(event);
}

void RunWorker::onHistogram(const HistogramEvent& event) {
    Q_EMIT histogram(event);
}
void RunWorker::onNormalFit(const NormalFitEvent& event) {
    Q_EMIT normalFit(event);
}
void RunWorker::onSearchStep(const SearchStepEvent& event) {
    Q_EMIT searchStep(event);
}
void RunWorker::onThreshold(const ThresholdEvent& event) {
    Q_EMIT threshold(event);
}
void RunWorker::onLayerResult(const LayerResultEvent& event) {
    Q_EMIT layerResult(event);
}
void RunWorker::onMemorySample(const MemorySampleEvent& event) {
    Q_EMIT memorySample(event);
}
void RunWorker::onMetric(const MetricEvent& event) {
    Q_EMIT metric(event);
}
void RunWorker::onLog(const LogEvent& event) {
    Q_EMIT log(event);
}

}  // namespace gp::ui
