// One finished run as the perplexity-vs-sparsity history keeps it: a few numbers and the words
// that name its settings. Kept across sessions (QSettings, or a JSON file); JSON keys follow the
// CLI's flags and the run record's keys.
#pragma once

#include <QJsonArray>
#include <QJsonObject>
#include <QString>

#include <vector>

#include "core/api/engine.h"

namespace gp::ui {

struct RunPoint {
    QString model;   // the model's path
    QString method;  // "magnitude" | "wanda"
    bool probe = false;
    QString group;          // "global" | "layer" | "row" | "nm"
    QString select;         // "exact" | "statistical" | "sort"
    QString schedule;       // "oneshot" | "layerwise" | "iterative"
    double target = 0.0;    // asked-for sparsity
    double sparsity = 0.0;  // achieved
    double pplBefore = 0.0;
    double pplAfter = 0.0;  // 0 when the run did not evaluate
    QString time;           // ISO 8601, when the run finished

    static RunPoint fromResult(const PruneResult& result, const QString& model);
    // The perplexity-vs-sparsity plot draws one series per method: "magnitude", "wanda + probe".
    QString series() const;

    QJsonObject toJson() const;
    static RunPoint fromJson(const QJsonObject& object);
};

QJsonArray runPointsToJson(const std::vector<RunPoint>& points);
std::vector<RunPoint> runPointsFromJson(const QJsonArray& array);

}  // namespace gp::ui
