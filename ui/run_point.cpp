#include "ui/run_point.h"

#include <QDateTime>

namespace gp::ui {

RunPoint RunPoint::fromResult(const PruneResult& result, const QString& model) {
    RunPoint point;
    point.model = model;
    point.method = QString::fromStdString(result.options.method);
    point.probe = result.options.probe.enabled;
    point.group = QString::fromStdString(result.options.group);
    point.select = QString::fromStdString(result.options.select);
    point.schedule = QString::fromStdString(result.options.schedule);
    point.target = result.options.sparsity;
    point.sparsity = result.sparsity;
    point.pplBefore = result.pplBefore;
    point.pplAfter = result.pplAfter;
    point.time = QDateTime::currentDateTime().toString(Qt::ISODate);
    return point;
}

QString RunPoint::series() const {
    return probe ? method + QStringLiteral(" + probe") : method;
}

QJsonObject RunPoint::toJson() const {
    return QJsonObject{{"model", model},        {"method", method},     {"probe", probe},
                       {"group", group},        {"select", select},     {"schedule", schedule},
                       {"target", target},      {"sparsity", sparsity}, {"ppl_before", pplBefore},
                       {"ppl_after", pplAfter}, {"time", time}};
}

RunPoint RunPoint::fromJson(const QJsonObject& object) {
    RunPoint point;
    point.model = object.value("model").toString();
    point.method = object.value("method").toString();
    point.probe = object.value("probe").toBool();
    point.group = object.value("group").toString();
    point.select = object.value("select").toString();
    point.schedule = object.value("schedule").toString();
    point.target = object.value("target").toDouble();
    point.sparsity = object.value("sparsity").toDouble();
    point.pplBefore = object.value("ppl_before").toDouble();
    point.pplAfter = object.value("ppl_after").toDouble();
    point.time = object.value("time").toString();
    return point;
}

QJsonArray runPointsToJson(const std::vector<RunPoint>& points) {
    QJsonArray array;
    for (const RunPoint& point : points) array.append(point.toJson());
    return array;
}

std::vector<RunPoint> runPointsFromJson(const QJsonArray& array) {
    std::vector<RunPoint> points;
    for (const QJsonValue& value : array)
        if (value.isObject()) points.push_back(RunPoint::fromJson(value.toObject()));
    return points;
}

}  // namespace gp::ui
