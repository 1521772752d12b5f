// The document of GradProbe Studio: what the window shows about the open model, independent of
// any widget. It holds the model's description and per-layer state (predicted by the slider,
// achieved by the run shown), the run history of this session (results to compare and revert to)
// and the perplexity-vs-sparsity history kept across sessions, the selected layer, and the
// settings of the controls and the recent files (persisted with QSettings). Views listen to its
// signals; the window changes it in response to the user and to the worker's results.
//
// Threads: GUI thread only.
#pragma once

#include <QObject>
#include <QString>
#include <QStringList>

#include <map>
#include <memory>
#include <optional>
#include <vector>

#include "core/api/engine.h"
#include "ui/run_point.h"

class QSettings;

namespace gp::ui {

struct LayerState {
    LayerInfo info;
    double predicted = -1.0;  // the slider's prediction; -1 when none
    double target = 0.0;      // of the run shown
    double sparsity = 0.0;    // achieved by the run shown (0: original weights)
    int64_t candidates = 0;
    int64_t pruned = 0;
    int64_t restored = 0;
    double error = -1.0;      // SparseGPT's reconstruction error of the run shown; -1: none
};

class StudioSession : public QObject {
    Q_OBJECT

public:
    static constexpr int kMaxRecentFiles = 8;
    static constexpr int kMaxHistory = 500;

    // settingsFile: an INI file to keep the settings in; "" = the application's QSettings.
    explicit StudioSession(const QString& settingsFile = {}, QObject* parent = nullptr);
    ~StudioSession() override;

    // ---- settings (persisted) ----
    const PruneOptions& pruneOptions() const { return m_prune; }
    // Everything but the per-layer targets, which the layer table owns (setLayerTargets).
    void setPruneOptions(const PruneOptions& options);
    // Per-layer targets by layer name (the rest at the slider's sparsity); the next run's.
    void setLayerTargets(std::map<std::string, double> targets);
    double targetOf(const std::string& layer) const;  // what the next run asks of this layer
    const LoadOptions& loadOptions() const { return m_load; }
    void setLoadOptions(const LoadOptions& options);
    int threads() const { return m_threads; }  // --threads; 0 = automatic
    void setThreads(int threads) { m_threads = threads; }
    PreviewOptions previewOptions() const;  // the slider's part of the prune options
    QStringList recentFiles() const { return m_recent; }
    void addRecentFile(const QString& path);
    bool isFirstStart() const { return m_firstStart; }
    void saveSettings();

    // ---- the open model ----
    bool hasModel() const { return m_hasModel; }
    const ModelInfo& model() const { return m_model; }
    void setModel(const ModelInfo& info);  // forgets the runs and the per-layer state
    const std::vector<LayerState>& layers() const { return m_layers; }
    int layerRow(const std::string& name) const;  // -1 when unknown
    void applyLayerResult(const LayerResultEvent& event);
    void clearLayerResults();

    const Preview& preview() const { return m_preview; }
    bool hasPreview() const { return m_hasPreview; }
    void setPreview(const Preview& preview);

    QString selectedLayer() const { return m_selectedLayer; }  // "" = none
    void setSelectedLayer(const QString& layer);

    // ---- runs of this session (this model) ----
    void addRun(std::shared_ptr<const PruneResult> result);  // becomes the applied run
    const std::vector<std::shared_ptr<const PruneResult>>& runs() const { return m_runs; }
    std::shared_ptr<const PruneResult> run(int runId) const;
    int appliedRun() const { return m_appliedRun; }  // -1: original weights
    // The engine now holds this run's weights (or the original, -1): per-layer state follows.
    void setAppliedRun(int runId);

    // The last export, and the run whose weights it wrote (-1: the original weights).
    void setLastExport(const ExportResult& result, int runId);
    std::optional<ExportResult> exportOfRun(int runId) const;

    // ---- perplexity-vs-sparsity history (persisted) ----
    const std::vector<RunPoint>& history() const { return m_history; }
    std::vector<RunPoint> historyOfModel() const;               // the open model's points
    bool loadHistoryFile(const QString& path, QString* error);  // adds the file's points
    bool saveHistoryFile(const QString& path, QString* error) const;
    void clearHistory();

Q_SIGNALS:
    void pruneOptionsChanged();
    void layerTargetsChanged();
    void loadOptionsChanged();
    void recentFilesChanged();
    void modelChanged();
    void layerChanged(int row);
    void layersReset();
    void previewChanged();
    void selectedLayerChanged(const QString& layer);
    void runsChanged();
    void appliedRunChanged(int runId);
    void historyChanged();

private:
    void loadSettings();
    void addHistory(const RunPoint& point);

    std::unique_ptr<QSettings> m_settings;
    bool m_firstStart = true;
    PruneOptions m_prune;
    LoadOptions m_load;
    int m_threads = 0;
    QStringList m_recent;

    bool m_hasModel = false;
    ModelInfo m_model;
    std::vector<LayerState> m_layers;
    Preview m_preview;
    bool m_hasPreview = false;
    QString m_selectedLayer;

    std::vector<std::shared_ptr<const PruneResult>> m_runs;
    int m_appliedRun = -1;
    std::optional<ExportResult> m_lastExport;
    int m_lastExportRun = -1;
    std::vector<RunPoint> m_history;
};

}  // namespace gp::ui
