// The table of prunable layers, a view of the StudioSession: name, shape, parameters, the
// slider's predicted sparsity, the next run's target (editable), the achieved sparsity, and the weights pruned and restored by the
// probe, and SparseGPT's reconstruction error. SortRole gives numbers for sorting through a QSortFilterProxyModel; NameRole the layer's
// full name. Threads: GUI thread only.
#pragma once

#include <QAbstractTableModel>

namespace gp::ui {

class StudioSession;

class LayerTableModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column { Name, Shape, Parameters, Predicted, Target, Sparsity, Pruned, Restored, Error, ColumnCount };
    enum Role { SortRole = Qt::UserRole, NameRole };

    explicit LayerTableModel(StudioSession* session, QObject* parent = nullptr);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role) const override;
    // Target is editable: a percentage in [0, 100) sets that layer's target for the next run.
    Qt::ItemFlags flags(const QModelIndex& index) const override;
    bool setData(const QModelIndex& index, const QVariant& value, int role = Qt::EditRole) override;

private:
    StudioSession* m_session;
};

}  // namespace gp::ui
