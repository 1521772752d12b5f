#include "ui/run_history_model.h"

#include <QFont>

#include "ui/studio_session.h"

namespace gp::ui {
namespace {

QString ppl(double value) {
    return value > 0.0 ? QString::number(value, 'f', 3) : QString();
}

}  // namespace

RunHistoryModel::RunHistoryModel(StudioSession* session, QObject* parent)
    : QAbstractTableModel(parent), m_session(session) {
    // Runs are few and change rarely: a reset is simplest and keeps views consistent.
    connect(session, &StudioSession::runsChanged, this, [this] {
        beginResetModel();
        endResetModel();
    });
}

int RunHistoryModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_session->runs().size());
}

int RunHistoryModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant RunHistoryModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const PruneResult& run = *m_session->runs()[size_t(index.row())];
    const bool applied = run.runId == m_session->appliedRun();
    if (role == RunIdRole) return run.runId;
    if (role == Qt::FontRole && applied) {
        QFont bold;
        bold.setBold(true);
        return bold;
    }
    if (role == Qt::ToolTipRole && applied) return tr("the model holds this run's weights now");
    if (role != Qt::DisplayRole) return {};
    const PruneOptions& options = run.options;
    switch (index.column()) {
        case Run:
            return applied ? QStringLiteral("%1 ✓").arg(run.runId) : QString::number(run.runId);
        case Method:
            return QString::fromStdString(options.method) +
                   (options.probe.enabled ? " + probe" : "");
        case Group:
            return options.group == "nm" ? QStringLiteral("%1:%2").arg(options.nmN).arg(options.nmM)
                                         : QString::fromStdString(options.group);
        case Select:
            return QString::fromStdString(options.select);
        case Schedule:
            return QString::fromStdString(options.schedule);
        case Target:
            return QString::number(100.0 * options.sparsity, 'f', 1) + " %";
        case Sparsity:
            return QString::number(100.0 * run.sparsity, 'f', 2) + " %";
        case PplBefore:
            return ppl(run.pplBefore);
        case PplAfter:
            return ppl(run.pplAfter);
        case Seconds: {
            const auto total = run.seconds.find("total");
            return total == run.seconds.end() ? QString() : QString::number(total->second, 'f', 1);
        }
    }
    return {};
}

QVariant RunHistoryModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || role != Qt::DisplayRole || section < 0 ||
        section >= ColumnCount)
        return {};
    static const char* const kTitles[ColumnCount] = {
        "Run",    "Method",   "Group",      "Select",    "Schedule",
        "Target", "Sparsity", "PPL before", "PPL after", "Seconds"};
    return tr(kTitles[section]);
}

}  // namespace gp::ui
