#include "ui/layer_table_model.h"

#include <QStringList>

#include "ui/layer_name.h"
#include "ui/studio_session.h"

namespace gp::ui {
namespace {

QString percent(double fraction) {
    return QString::number(100.0 * fraction, 'f', 1) + " %";
}

// A fused layer's parts after its name: " [q,k,v]".
QString partsLabel(const LayerInfo& layer) {
    QStringList names;
    for (const LayerPart& part : layer.parts) names << QString::fromStdString(part.name);
    return names.isEmpty() ? QString() : " [" + names.join(',') + "]";
}

// And their rows in the tooltip: "q: rows 0–3071".
QString partsTip(const LayerInfo& layer) {
    QString tip;
    for (const LayerPart& part : layer.parts)
        tip += QString("\n%1: rows %2–%3")
                   .arg(QString::fromStdString(part.name))
                   .arg(part.firstRow)
                   .arg(part.firstRow + part.rows - 1);
    return tip;
}

}  // namespace

LayerTableModel::LayerTableModel(StudioSession* session, QObject* parent)
    : QAbstractTableModel(parent), m_session(session) {
    connect(session, &StudioSession::layersReset, this, [this] {
        beginResetModel();
        endResetModel();
    });
    connect(session, &StudioSession::layerChanged, this, [this](int row) {
        if (row >= 0 && row < rowCount())
            Q_EMIT dataChanged(index(row, Predicted), index(row, Error));
    });
    connect(session, &StudioSession::pruneOptionsChanged, this, [this] {
        if (rowCount() > 0) Q_EMIT dataChanged(index(0, Target), index(rowCount() - 1, Target));
    });
    connect(session, &StudioSession::previewChanged, this, [this] {
        if (rowCount() > 0)
            Q_EMIT dataChanged(index(0, Predicted), index(rowCount() - 1, Predicted));
    });
}

int LayerTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : int(m_session->layers().size());
}

int LayerTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant LayerTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const LayerState& layer = m_session->layers()[size_t(index.row())];
    if (role == NameRole) return QString::fromStdString(layer.info.name);
    if (role == Qt::TextAlignmentRole && index.column() != Name)
        return int(Qt::AlignRight | Qt::AlignVCenter);
    if (role == SortRole) {
        switch (index.column()) {
            case Name:
                return index.row();  // model order
            case Shape:
            case Parameters:
                return QVariant::fromValue<qlonglong>(layer.info.numel);
            case Predicted:
                return layer.predicted;
            case Target:
                return m_session->targetOf(layer.info.name);
            case Sparsity:
                return layer.sparsity;
            case Pruned:
                return QVariant::fromValue<qlonglong>(layer.pruned);
            case Restored:
                return QVariant::fromValue<qlonglong>(layer.restored);
            case Error:
                return layer.error;
        }
        return {};
    }
    if (role == Qt::EditRole && index.column() == Target)
        return 100.0 * m_session->targetOf(layer.info.name);
    if (role == Qt::ToolTipRole && index.column() == Name)
        return QString::fromStdString(layer.info.name) + partsTip(layer.info);
    if (role != Qt::DisplayRole) return {};
    switch (index.column()) {
        case Name:
            return shortLayerName(layer.info.name) + partsLabel(layer.info);
        case Shape: {
            QStringList sizes;
            for (int64_t size : layer.info.shape) sizes << QString::number(size);
            return sizes.join(QString::fromUtf8(" × "));
        }
        case Parameters:
            return QLocale().toString(qlonglong(layer.info.numel));
        case Predicted:
            return layer.predicted < 0.0 ? QString() : percent(layer.predicted);
        case Target:
            return percent(m_session->targetOf(layer.info.name));
        case Sparsity:
            return percent(layer.sparsity);
        case Pruned:
            return QLocale().toString(qlonglong(layer.pruned));
        case Restored:
            return QLocale().toString(qlonglong(layer.restored));
        case Error:
            return layer.error < 0.0 ? QString() : QString::number(layer.error, 'g', 4);
    }
    return {};
}

QVariant LayerTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal || section < 0 || section >= ColumnCount) return {};
    if (role == Qt::ToolTipRole) {
        static const char* const kTips[ColumnCount] = {
            "checkpoint tensor name",        "[out, in]",
            "weights in the layer",          "sparsity the targets would give (no run)",
            "the next run's target for this layer (edit it; the rest follow the slider)",
            "zeros after the run shown",     "weights set to zero by the run",
            "candidates the probe gave back",
            "SparseGPT: the layer's reconstruction error, sum of (w - q)^2 / [H^-1]_jj^2 / 2"};
        return tr(kTips[section]);
    }
    if (role != Qt::DisplayRole) return {};
    static const char* const kTitles[ColumnCount] = {
        "Layer", "Shape", "Parameters", "Predicted", "Target", "Sparsity", "Pruned", "Restored", "Error"};
    return tr(kTitles[section]);
}

Qt::ItemFlags LayerTableModel::flags(const QModelIndex& index) const {
    Qt::ItemFlags flags = QAbstractTableModel::flags(index);
    if (index.isValid() && index.column() == Target) flags |= Qt::ItemIsEditable;
    return flags;
}

bool LayerTableModel::setData(const QModelIndex& index, const QVariant& value, int role) {
    if (role != Qt::EditRole || !index.isValid() || index.column() != Target ||
        index.row() >= rowCount())
        return false;
    QString text = value.toString().trimmed();
    text.remove('%');
    bool ok = false;
    const double percentValue = QLocale().toDouble(text.trimmed(), &ok);
    const double parsed = ok ? percentValue : text.trimmed().toDouble(&ok);
    if (!ok || !(parsed >= 0.0 && parsed < 100.0)) return false;
    std::map<std::string, double> targets = m_session->pruneOptions().layerTargets;
    targets[m_session->layers()[size_t(index.row())].info.name] = parsed / 100.0;
    m_session->setLayerTargets(std::move(targets));
    return true;
}

}  // namespace gp::ui
