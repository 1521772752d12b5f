#include "ui/layer_name.h"

#include <QStringList>

#include <algorithm>

namespace gp::ui {

QString shortLayerName(const std::string& name) {
    QStringList parts = QString::fromStdString(name).split('.', Qt::SkipEmptyParts);
    if (!parts.isEmpty() && (parts.last() == "weight" || parts.last() == "bias"))
        parts.removeLast();
    // Keep from the block number on ("3.mlp.up_proj"); without one, the last two parts.
    for (int i = 0; i < parts.size(); ++i) {
        bool isNumber = false;
        parts[i].toInt(&isNumber);
        if (isNumber) return parts.mid(i).join('.');
    }
    return parts.mid(std::max<qsizetype>(0, parts.size() - 2)).join('.');
}

}  // namespace gp::ui
