// The runs of this session, a view of the StudioSession: one row per finished run with its
// settings and outcome; the run whose weights the model holds now is marked. Select a row to
// show that run's plots; revert applies its masks again. Threads: GUI thread only.
#pragma once

#include <QAbstractTableModel>

namespace gp::ui {

class StudioSession;

class RunHistoryModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column {
        Run,
        Method,
        Group,
        Select,
        Schedule,
        Target,
        Sparsity,
        PplBefore,
        PplAfter,
        Seconds,
        ColumnCount
    };
    enum Role { RunIdRole = Qt::UserRole };

    explicit RunHistoryModel(StudioSession* session, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;

private:
    StudioSession* m_session;
};

}  // namespace gp::ui
