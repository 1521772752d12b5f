#include "ui/studio_session.h"

#include <QFile>
#include <QFileInfo>
#include <QJsonArray>
#include <QJsonDocument>
#include <QSaveFile>
#include <QSettings>

#include <algorithm>

namespace gp::ui {
namespace {

// Setting keys are the CLI's flags.
QString text(const std::string& value) {
    return QString::fromStdString(value);
}
std::string word(const QVariant& value) {
    return value.toString().toStdString();
}

QString sameModelKey(const QString& path) {
    return QFileInfo(path).fileName();
}

}  // namespace

StudioSession::StudioSession(const QString& settingsFile, QObject* parent) : QObject(parent) {
    m_settings = settingsFile.isEmpty()
                     ? std::make_unique<QSettings>()
                     : std::make_unique<QSettings>(settingsFile, QSettings::IniFormat);
    loadSettings();
}

StudioSession::~StudioSession() {
    saveSettings();
}

void StudioSession::loadSettings() {
    QSettings& s = *m_settings;
    m_firstStart = !s.contains(QStringLiteral("started"));
    const PruneOptions defaults;
    s.beginGroup(QStringLiteral("prune"));
    m_prune.method = word(s.value("method", text(defaults.method)));
    m_prune.sparsity = s.value("sparsity", defaults.sparsity).toDouble();
    m_prune.group = word(s.value("group", text(defaults.group)));
    m_prune.nmN = s.value("nm-n", qlonglong(defaults.nmN)).toLongLong();
    m_prune.nmM = s.value("nm-m", qlonglong(defaults.nmM)).toLongLong();
    m_prune.select = word(s.value("select", text(defaults.select)));
    m_prune.schedule = word(s.value("schedule", text(defaults.schedule)));
    m_prune.probe.enabled = s.value("probe", defaults.probe.enabled).toBool();
    m_prune.probe.threshold = s.value("probe-threshold", defaults.probe.threshold).toDouble();
    m_prune.probe.reduction = s.value("reduction", defaults.probe.reduction).toDouble();
    m_prune.probe.batches =
        s.value("probe-batches", qlonglong(defaults.probe.batches)).toLongLong();
    m_prune.calibPath = word(s.value("calib", QString()));
    m_prune.evalPath = word(s.value("eval", QString()));
    m_prune.nsamples = s.value("nsamples", qlonglong(defaults.nsamples)).toLongLong();
    m_prune.seqlen = s.value("seqlen", qlonglong(defaults.seqlen)).toLongLong();
    m_prune.evalMaxWindows =
        s.value("eval-max-windows", qlonglong(defaults.evalMaxWindows)).toLongLong();
    m_prune.evaluate = s.value("evaluate", defaults.evaluate).toBool();
    m_prune.seed = s.value("seed", qulonglong(defaults.seed)).toULongLong();
    s.endGroup();
    s.beginGroup(QStringLiteral("load"));
    m_load.device = word(s.value("device", QStringLiteral("cpu")));
    m_load.dtype = word(s.value("dtype", QStringLiteral("fp32")));
    m_threads = std::max(0, s.value("threads", 0).toInt());
    s.endGroup();
    m_recent = s.value(QStringLiteral("recent-files")).toStringList();
    const QByteArray history = s.value(QStringLiteral("history")).toByteArray();
    m_history = runPointsFromJson(QJsonDocument::fromJson(history).array());
}

void StudioSession::saveSettings() {
    QSettings& s = *m_settings;
    s.setValue(QStringLiteral("started"), true);
    s.beginGroup(QStringLiteral("prune"));
    s.setValue("method", text(m_prune.method));
    s.setValue("sparsity", m_prune.sparsity);
    s.setValue("group", text(m_prune.group));
    s.setValue("nm-n", qlonglong(m_prune.nmN));
    s.setValue("nm-m", qlonglong(m_prune.nmM));
    s.setValue("select", text(m_prune.select));
    s.setValue("schedule", text(m_prune.schedule));
    s.setValue("probe", m_prune.probe.enabled);
    s.setValue("probe-threshold", m_prune.probe.threshold);
    s.setValue("reduction", m_prune.probe.reduction);
    s.setValue("probe-batches", qlonglong(m_prune.probe.batches));
    s.setValue("calib", text(m_prune.calibPath));
    s.setValue("eval", text(m_prune.evalPath));
    s.setValue("nsamples", qlonglong(m_prune.nsamples));
    s.setValue("seqlen", qlonglong(m_prune.seqlen));
    s.setValue("eval-max-windows", qlonglong(m_prune.evalMaxWindows));
    s.setValue("evaluate", m_prune.evaluate);
    s.setValue("seed", qulonglong(m_prune.seed));
    s.endGroup();
    s.beginGroup(QStringLiteral("load"));
    s.setValue("device", text(m_load.device));
    s.setValue("dtype", text(m_load.dtype));
    s.setValue("threads", m_threads);
    s.endGroup();
    s.setValue(QStringLiteral("recent-files"), m_recent);
    s.setValue(QStringLiteral("history"),
               QJsonDocument(runPointsToJson(m_history)).toJson(QJsonDocument::Compact));
    s.sync();
}

void StudioSession::setPruneOptions(const PruneOptions& options) {
    std::map<std::string, double> targets = std::move(m_prune.layerTargets);
    m_prune = options;
    m_prune.layerTargets = std::move(targets);  // the layer table's, not the controls'
    Q_EMIT pruneOptionsChanged();
}

void StudioSession::setLayerTargets(std::map<std::string, double> targets) {
    m_prune.layerTargets = std::move(targets);
    Q_EMIT pruneOptionsChanged();
    Q_EMIT layerTargetsChanged();
}

double StudioSession::targetOf(const std::string& layer) const {
    const auto found = m_prune.layerTargets.find(layer);
    if (found != m_prune.layerTargets.end()) return found->second;
    if (m_prune.group == "nm" && m_prune.nmM > 0) return 1.0 - double(m_prune.nmN) / double(m_prune.nmM);
    return m_prune.sparsity;
}

void StudioSession::setLoadOptions(const LoadOptions& options) {
    m_load = options;
    Q_EMIT loadOptionsChanged();
}

PreviewOptions StudioSession::previewOptions() const {
    PreviewOptions preview;
    preview.sparsity = m_prune.sparsity;
    preview.method = m_prune.method;
    preview.group = m_prune.group;
    preview.nmN = m_prune.nmN;
    preview.nmM = m_prune.nmM;
    preview.layerTargets = m_prune.layerTargets;
    return preview;
}

void StudioSession::addRecentFile(const QString& path) {
    const QString absolute = QFileInfo(path).absoluteFilePath();
    m_recent.removeAll(absolute);
    m_recent.prepend(absolute);
    while (m_recent.size() > kMaxRecentFiles) m_recent.removeLast();
    Q_EMIT recentFilesChanged();
}

void StudioSession::setModel(const ModelInfo& info) {
    m_model = info;
    m_hasModel = true;
    m_layers.clear();
    for (const LayerInfo& layer : info.prunableLayers) m_layers.push_back({layer});
    m_runs.clear();
    m_appliedRun = -1;
    m_lastExport.reset();
    m_preview = {};
    m_hasPreview = false;
    m_selectedLayer.clear();
    Q_EMIT modelChanged();
    Q_EMIT layersReset();
    Q_EMIT runsChanged();
    Q_EMIT historyChanged();
    Q_EMIT selectedLayerChanged(m_selectedLayer);
}

int StudioSession::layerRow(const std::string& name) const {
    for (size_t i = 0; i < m_layers.size(); ++i)
        if (m_layers[i].info.name == name) return int(i);
    return -1;
}

void StudioSession::applyLayerResult(const LayerResultEvent& event) {
    const int row = layerRow(event.layer);
    if (row < 0) return;
    LayerState& layer = m_layers[row];
    layer.target = event.targetSparsity;
    layer.sparsity = event.sparsity;
    layer.candidates = event.candidates;
    layer.pruned = event.pruned;
    layer.restored = event.restored;
    layer.error = event.reconstructionError;
    Q_EMIT layerChanged(row);
}

void StudioSession::clearLayerResults() {
    for (LayerState& layer : m_layers) {
        layer.target = layer.sparsity = 0.0;
        layer.candidates = layer.pruned = layer.restored = 0;
        layer.error = -1.0;
    }
    Q_EMIT layersReset();
}

void StudioSession::setPreview(const Preview& preview) {
    m_preview = preview;
    m_hasPreview = true;
    for (size_t i = 0; i < m_layers.size(); ++i)
        m_layers[i].predicted = i < preview.layerSparsity.size() ? preview.layerSparsity[i] : -1.0;
    Q_EMIT previewChanged();
}

void StudioSession::setSelectedLayer(const QString& layer) {
    if (layer == m_selectedLayer) return;
    m_selectedLayer = layer;
    Q_EMIT selectedLayerChanged(layer);
}

void StudioSession::addRun(std::shared_ptr<const PruneResult> result) {
    if (!result) return;
    if (result->cancelled) {
        setAppliedRun(m_appliedRun);  // the weights are back to what they were
        return;
    }
    m_runs.push_back(result);
    m_appliedRun = result->runId;
    for (const LayerResultEvent& layer : result->layers) applyLayerResult(layer);
    addHistory(RunPoint::fromResult(*result, QString::fromStdString(m_model.path)));
    Q_EMIT runsChanged();
    Q_EMIT appliedRunChanged(m_appliedRun);
}

std::shared_ptr<const PruneResult> StudioSession::run(int runId) const {
    for (const auto& result : m_runs)
        if (result->runId == runId) return result;
    return nullptr;
}

void StudioSession::setAppliedRun(int runId) {
    const auto result = run(runId);
    m_appliedRun = result ? runId : -1;
    clearLayerResults();
    if (result)
        for (const LayerResultEvent& layer : result->layers) applyLayerResult(layer);
    Q_EMIT appliedRunChanged(m_appliedRun);
    Q_EMIT runsChanged();
}

void StudioSession::setLastExport(const ExportResult& result, int runId) {
    m_lastExport = result;
    m_lastExportRun = runId;
}

std::optional<ExportResult> StudioSession::exportOfRun(int runId) const {
    if (m_lastExport && m_lastExportRun == runId) return m_lastExport;
    return std::nullopt;
}

std::vector<RunPoint> StudioSession::historyOfModel() const {
    std::vector<RunPoint> points;
    const QString key = sameModelKey(QString::fromStdString(m_model.path));
    for (const RunPoint& point : m_history)
        if (sameModelKey(point.model) == key) points.push_back(point);
    return points;
}

void StudioSession::addHistory(const RunPoint& point) {
    m_history.push_back(point);
    if (m_history.size() > size_t(kMaxHistory))
        m_history.erase(m_history.begin(), m_history.end() - kMaxHistory);
    Q_EMIT historyChanged();
}

bool StudioSession::loadHistoryFile(const QString& path, QString* error) {
    QFile file(path);
    if (!file.open(QIODevice::ReadOnly)) {
        if (error) *error = file.errorString();
        return false;
    }
    QJsonParseError parse;
    const QJsonDocument document = QJsonDocument::fromJson(file.readAll(), &parse);
    if (parse.error != QJsonParseError::NoError || !document.isArray()) {
        if (error)
            *error = parse.error != QJsonParseError::NoError
                         ? tr("%1 at offset %2").arg(parse.errorString()).arg(parse.offset)
                         : tr("expected a JSON array of runs");
        return false;
    }
    for (const RunPoint& point : runPointsFromJson(document.array())) m_history.push_back(point);
    if (m_history.size() > size_t(kMaxHistory))
        m_history.erase(m_history.begin(), m_history.end() - kMaxHistory);
    Q_EMIT historyChanged();
    return true;
}

bool StudioSession::saveHistoryFile(const QString& path, QString* error) const {
    QSaveFile file(path);
    if (!file.open(QIODevice::WriteOnly)) {
        if (error) *error = file.errorString();
        return false;
    }
    file.write(QJsonDocument(runPointsToJson(m_history)).toJson());
    if (!file.commit()) {
        if (error) *error = file.errorString();
        return false;
    }
    return true;
}

void StudioSession::clearHistory() {
    m_history.clear();
    Q_EMIT historyChanged();
}

}  // namespace gp::ui
