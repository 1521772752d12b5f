// GradProbe Studio's main window: the open model and its layers, the run controls, the plots fed
// live by the worker, the run history, and the File menu (open, recent files, export, history).
// It wires three parts together and owns them: the StudioSession (the document), the
// RunController (the engine on its thread) and the views.
//
// Threads: GUI thread only. The engine's events reach it queued from the RunWorker.
#pragma once

#include <QMainWindow>
#include <QSize>
#include <QString>
#include <QStringList>
#include <QTimer>

#include <memory>
#include <vector>

#include "core/api/engine.h"
#include "ui/engine_metatypes.h"
#include "ui/run_failure.h"

class QLabel;
class QMenu;
class QPlainTextEdit;
class QSortFilterProxyModel;
class QTableView;
class QTabWidget;

namespace gp::ui {

class ControlsPanel;
class HistogramPlot;
class LayerSparsityPlot;
class LayerTableModel;
class MemoryPlot;
class PlotView;
class PplSparsityPlot;
class RunController;
class RunHistoryModel;
class SearchPlot;
class StageProgress;
class StudioSession;

class MainWindow : public QMainWindow {
    Q_OBJECT

public:
    static constexpr int kReplotIntervalMs = 33;  // ~30 Hz
    static constexpr QSize kReportFigureSize{900, 480};

    // settingsFile: an INI file for the settings ("" = the application's QSettings).
    explicit MainWindow(const QString& settingsFile = {}, QWidget* parent = nullptr);
    ~MainWindow() override;

    // Opens a model on the worker (with the device and dtype of the controls). False when a job
    // is still working (said in the status bar). Errors come as a dialog naming file and problem.
    bool openModel(const QString& path);
    // Opens what the user had last, or the demo model on the first start (or when it is gone).
    void openAtStart();
    // Runs the controls' settings on the open model; false when busy.
    bool startRun();
    void cancelRun();
    // Writes the model as it is now (File > Export pruned model... asks for these).
    bool exportModel(const gp::ExportOptions& options);
    // report.json + report.html (with the plots as figures) of the run the model holds now, or
    // of the run selected in the history when the original weights are loaded.
    bool writeReport(const QString& folder);

    StudioSession* session() const { return m_session; }
    RunController* controller() const { return m_controller; }
    ControlsPanel* controls() const { return m_controls; }
    LayerTableModel* layerTable() const { return m_layerModel; }
    QTableView* layerView() const { return m_layerView; }
    RunHistoryModel* runHistory() const { return m_runModel; }
    QTableView* runView() const { return m_runView; }
    StageProgress* stageProgress() const { return m_progress; }
    HistogramPlot* layerHistogram() const { return m_layerHistogram; }
    HistogramPlot* modelHistogram() const { return m_modelHistogram; }
    SearchPlot* searchPlot() const { return m_searchPlot; }
    LayerSparsityPlot* layerPlot() const { return m_layerPlot; }
    MemoryPlot* memoryPlot() const { return m_memoryPlot; }
    PplSparsityPlot* pplPlot() const { return m_pplPlot; }
    std::vector<PlotView*> plots() const;

Q_SIGNALS:
    void modelOpened();
    void runFinished(std::shared_ptr<const gp::PruneResult> result);  // also when cancelled
    void errorShown(const QString& text);
    void modelExported(const gp::ExportResult& result);
    void reportWritten(const QStringList& paths);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    QWidget* buildModelPanel();
    QWidget* buildPlotGrid();
    QWidget* buildControlPanel();
    void buildMenus();
    void rebuildRecentMenu();
    void connectWorker();
    void connectSession();
    void connectControls();

    void onModelOpened(const gp::ModelInfo& info);
    void onJobStarted(const QString& job);
    void onJobFinished(const QString& job);
    void onPruneFinished(std::shared_ptr<const gp::PruneResult> result);
    void onPreview(const gp::Preview& preview);
    void showRun(const PruneResult& result);
    void showError(const gp::ui::RunFailure& failure);
    void requestPreview();
    // OWL's per-layer targets as the table's, from a preview that computes them.
    void requestOwlTargets();
    void revertToSelectedRun();
    void askExportModel();
    void askWriteReport();
    std::shared_ptr<const PruneResult> reportedRun() const;
    void loadHistory();
    void saveHistory();
    void updateSummary();
    void appendLog(const QString& line);
    void showSample(const QString& when, int runId, const QString& text);

    StudioSession* m_session;
    RunController* m_controller;
    LayerTableModel* m_layerModel;
    QSortFilterProxyModel* m_layerProxy;
    QTableView* m_layerView;
    RunHistoryModel* m_runModel;
    QTableView* m_runView;
    QLabel* m_summary;
    QLabel* m_applied;
    QPlainTextEdit* m_sample = nullptr;
    QString m_sampleBefore;  // from the loaded weights
    QPlainTextEdit* m_log;
    QTabWidget* m_sideTabs;
    ControlsPanel* m_controls;
    StageProgress* m_progress;
    HistogramPlot* m_layerHistogram;
    HistogramPlot* m_modelHistogram;
    SearchPlot* m_searchPlot;
    LayerSparsityPlot* m_layerPlot;
    MemoryPlot* m_memoryPlot;
    PplSparsityPlot* m_pplPlot;
    QMenu* m_recentMenu = nullptr;
    QTimer m_replotClock;
    PreviewOptions m_lastPreview;
    bool m_previewRequested = false;
    bool m_owlRequested = false;
    int m_exportingRun = -1;  // the run whose weights the export in progress writes
};

}  // namespace gp::ui
