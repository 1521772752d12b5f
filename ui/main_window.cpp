#include "ui/main_window.h"

#include <QAction>
#include <QCloseEvent>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QGridLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QHeaderView>
#include <QItemSelectionModel>
#include <QLabel>
#include <QMenuBar>
#include <QMessageBox>
#include <QMimeData>
#include <QPlainTextEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStatusBar>
#include <QTabWidget>
#include <QTableView>
#include <QTime>
#include <QVBoxLayout>

#include "ui/controls_panel.h"
#include "ui/export_dialog.h"
#include "ui/layer_table_model.h"
#include "ui/plots/histogram_plot.h"
#include "ui/plots/layer_sparsity_plot.h"
#include "ui/plots/memory_plot.h"
#include "ui/plots/ppl_sparsity_plot.h"
#include "ui/plots/search_plot.h"
#include "ui/report_figures.h"
#include "ui/run_controller.h"
#include "ui/run_history_model.h"
#include "ui/run_worker.h"
#include "ui/stage_progress.h"
#include "ui/studio_session.h"

namespace gp::ui {
namespace {

constexpr int kStatusMs = 6000;

bool samePreview(const PreviewOptions& a, const PreviewOptions& b) {
    return a.sparsity == b.sparsity && a.method == b.method && a.group == b.group &&
           a.nmN == b.nmN && a.nmM == b.nmM && a.layerTargets == b.layerTargets && a.owl == b.owl;
}

QString localPathOf(const QMimeData* mime) {
    if (!mime || !mime->hasUrls()) return {};
    for (const QUrl& url : mime->urls())
        if (url.isLocalFile()) return url.toLocalFile();
    return {};
}

}  // namespace

MainWindow::MainWindow(const QString& settingsFile, QWidget* parent)
    : QMainWindow(parent),
      m_session(new StudioSession(settingsFile, this)),
      m_controller(new RunController(this)) {
    setWindowTitle(tr("GradProbe Studio"));
    setAcceptDrops(true);

    auto* splitter = new QSplitter(Qt::Horizontal, this);
    splitter->addWidget(buildModelPanel());
    splitter->addWidget(buildPlotGrid());
    splitter->addWidget(buildControlPanel());
    splitter->setStretchFactor(0, 2);
    splitter->setStretchFactor(1, 5);
    splitter->setStretchFactor(2, 0);
    splitter->setSizes({480, 900, 330});
    setCentralWidget(splitter);
    m_applied = new QLabel(this);
    statusBar()->addPermanentWidget(m_applied);

    buildMenus();
    connectWorker();
    connectSession();
    connectControls();
    m_controls->setOptions(m_session->pruneOptions(), m_session->loadOptions());
    m_controls->setThreads(m_session->threads());
    m_controller->setComputeThreads(m_session->threads());

    m_replotClock.setInterval(kReplotIntervalMs);
    connect(&m_replotClock, &QTimer::timeout, this, [this] {
        for (PlotView* plot : plots()) plot->replotIfDirty();
    });
    m_replotClock.start();
    updateSummary();
    resize(1700, 1000);
}

MainWindow::~MainWindow() {
    m_session->setPruneOptions(m_controls->pruneOptions());
    m_session->saveSettings();
    // The controller stops the engine thread before the views it reports to go away.
    delete m_controller;
}

std::vector<PlotView*> MainWindow::plots() const {
    return {m_layerHistogram, m_modelHistogram, m_searchPlot, m_layerPlot, m_memoryPlot, m_pplPlot};
}

// ---- layout ----

QWidget* MainWindow::buildModelPanel() {
    auto* top = new QWidget;
    auto* layout = new QVBoxLayout(top);
    layout->setContentsMargins(4, 4, 4, 4);
    m_summary = new QLabel;
    m_summary->setObjectName("summary");
    m_summary->setWordWrap(true);
    m_summary->setTextInteractionFlags(Qt::TextSelectableByMouse);
    layout->addWidget(m_summary);

    m_layerModel = new LayerTableModel(m_session, this);
    m_layerProxy = new QSortFilterProxyModel(this);
    m_layerProxy->setSourceModel(m_layerModel);
    m_layerProxy->setSortRole(LayerTableModel::SortRole);
    m_layerView = new QTableView;
    m_layerView->setObjectName("layers");
    m_layerView->setModel(m_layerProxy);
    m_layerView->setSortingEnabled(true);
    m_layerView->sortByColumn(LayerTableModel::Name, Qt::AscendingOrder);
    m_layerView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_layerView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_layerView->verticalHeader()->setVisible(false);
    m_layerView->verticalHeader()->setDefaultSectionSize(20);
    // Columns are sized once per model, not on every change: ResizeToContents would measure every
    // row on each live per-layer event and stall the event loop.
    m_layerView->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    m_layerView->horizontalHeader()->setStretchLastSection(true);
    connect(m_layerModel, &QAbstractItemModel::modelReset, m_layerView,
            [this] { m_layerView->resizeColumnsToContents(); });
    layout->addWidget(m_layerView, 1);
    // The Target column is editable; OWL's allocation is a one-click starting point.
    auto* targetButtons = new QHBoxLayout;
    auto* owl = new QPushButton(tr("OWL targets"));
    owl->setObjectName("owlTargets");
    owl->setToolTip(tr("--layer-sparsity owl: per-layer targets from each block's WANDA outliers "
                       "around the slider's sparsity (needs an earlier WANDA run's norms)"));
    auto* uniform = new QPushButton(tr("Uniform targets"));
    uniform->setObjectName("uniformTargets");
    targetButtons->addWidget(owl);
    targetButtons->addWidget(uniform);
    targetButtons->addStretch(1);
    layout->addLayout(targetButtons);
    connect(owl, &QPushButton::clicked, this, &MainWindow::requestOwlTargets);
    connect(uniform, &QPushButton::clicked, this, [this] { m_session->setLayerTargets({}); });

    m_sideTabs = new QTabWidget;
    auto* runs = new QWidget;
    auto* runsLayout = new QVBoxLayout(runs);
    runsLayout->setContentsMargins(2, 2, 2, 2);
    m_runModel = new RunHistoryModel(m_session, this);
    m_runView = new QTableView;
    m_runView->setObjectName("runs");
    m_runView->setModel(m_runModel);
    m_runView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_runView->setSelectionMode(QAbstractItemView::SingleSelection);
    m_runView->verticalHeader()->setVisible(false);
    m_runView->verticalHeader()->setDefaultSectionSize(20);
    m_runView->horizontalHeader()->setSectionResizeMode(QHeaderView::Interactive);
    connect(m_runModel, &QAbstractItemModel::modelReset, m_runView,
            [this] { m_runView->resizeColumnsToContents(); });
    runsLayout->addWidget(m_runView, 1);
    auto* buttons = new QHBoxLayout;
    auto* revert = new QPushButton(tr("Revert to selected run"));
    revert->setObjectName("revert");
    auto* original = new QPushButton(tr("Original weights"));
    original->setObjectName("original");
    buttons->addWidget(revert);
    buttons->addWidget(original);
    runsLayout->addLayout(buttons);
    connect(revert, &QPushButton::clicked, this, &MainWindow::revertToSelectedRun);
    connect(original, &QPushButton::clicked, this, [this] { m_controller->restoreOriginal(); });
    m_sideTabs->addTab(runs, tr("Runs"));

    m_log = new QPlainTextEdit;
    m_log->setObjectName("log");
    m_log->setReadOnly(true);
    m_log->setMaximumBlockCount(2000);  // bounded like every live series
    m_sideTabs->addTab(m_log, tr("Log"));

    // The same greedy continuation before and after pruning (RunWorker::sampled).
    m_sample = new QPlainTextEdit;
    m_sample->setObjectName("sample");
    m_sample->setReadOnly(true);
    m_sample->setPlaceholderText(tr("Generated text before and after pruning will appear here."));
    m_sideTabs->addTab(m_sample, tr("Sample"));

    auto* split = new QSplitter(Qt::Vertical);
    split->addWidget(top);
    split->addWidget(m_sideTabs);
    split->setStretchFactor(0, 3);
    split->setStretchFactor(1, 2);
    return split;
}

QWidget* MainWindow::buildPlotGrid() {
    auto* grid = new QWidget;
    auto* layout = new QGridLayout(grid);
    layout->setContentsMargins(2, 2, 2, 2);
    layout->setSpacing(4);
    m_layerHistogram = new HistogramPlot;
    m_layerHistogram->setObjectName("layerHistogram");
    m_modelHistogram = new HistogramPlot;
    m_modelHistogram->setObjectName("modelHistogram");
    m_searchPlot = new SearchPlot;
    m_searchPlot->setObjectName("searchPlot");
    m_layerPlot = new LayerSparsityPlot;
    m_layerPlot->setObjectName("layerPlot");
    m_memoryPlot = new MemoryPlot;
    m_memoryPlot->setObjectName("memoryPlot");
    m_pplPlot = new PplSparsityPlot;
    m_pplPlot->setObjectName("pplPlot");
    layout->addWidget(m_layerHistogram, 0, 0);
    layout->addWidget(m_modelHistogram, 0, 1);
    layout->addWidget(m_searchPlot, 1, 0);
    layout->addWidget(m_layerPlot, 1, 1);
    layout->addWidget(m_memoryPlot, 2, 0);
    layout->addWidget(m_pplPlot, 2, 1);
    for (PlotView* plot : plots())
        connect(plot, &PlotView::saved, this, [this](const QString& path) {
            statusBar()->showMessage(tr("Saved %1").arg(path), kStatusMs);
        });
    return grid;
}

QWidget* MainWindow::buildControlPanel() {
    auto* panel = new QWidget;
    auto* layout = new QVBoxLayout(panel);
    layout->setContentsMargins(0, 0, 0, 0);
    m_controls = new ControlsPanel;
    auto* scroll = new QScrollArea;
    scroll->setWidget(m_controls);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    layout->addWidget(scroll, 1);
    auto* progressBox = new QGroupBox(tr("Progress"));
    auto* progressLayout = new QVBoxLayout(progressBox);
    m_progress = new StageProgress;
    progressLayout->addWidget(m_progress);
    layout->addWidget(progressBox);
    panel->setMinimumWidth(300);
    return panel;
}

void MainWindow::buildMenus() {
    QMenu* file = menuBar()->addMenu(tr("&File"));
    file->addAction(tr("Open &folder..."), QKeySequence::Open, this, [this] {
        const QString path = QFileDialog::getExistingDirectory(this, tr("Open model folder"));
        if (!path.isEmpty()) openModel(path);
    });
    file->addAction(tr("Open fi&le..."), this, [this] {
        const QString path = QFileDialog::getOpenFileName(
            this, tr("Open model file"), {}, tr("Models (*.safetensors *.bin);;All files (*)"));
        if (!path.isEmpty()) openModel(path);
    });
    m_recentMenu = file->addMenu(tr("Open &recent"));
    file->addAction(tr("Open &demo model"), this,
                    [this] { openModel(QString::fromStdString(demoModelPath())); });
    file->addSeparator();
    file->addAction(tr("&Export pruned model..."), this, &MainWindow::askExportModel);
    file->addAction(tr("Export &report..."), this, &MainWindow::askWriteReport);
    file->addSeparator();
    file->addAction(tr("&Quit"), QKeySequence::Quit, this, &QWidget::close);

    QMenu* runs = menuBar()->addMenu(tr("&Run"));
    runs->addAction(tr("&Run"), QKeySequence(Qt::CTRL | Qt::Key_R), this, [this] { startRun(); });
    runs->addAction(tr("&Cancel"), QKeySequence(Qt::Key_Escape), this, [this] { cancelRun(); });
    runs->addSeparator();
    runs->addAction(tr("&Load run history (JSON)..."), this, &MainWindow::loadHistory);
    runs->addAction(tr("&Save run history (JSON)..."), this, &MainWindow::saveHistory);
    runs->addAction(tr("C&lear run history"), this, [this] { m_session->clearHistory(); });
    rebuildRecentMenu();
}

void MainWindow::rebuildRecentMenu() {
    m_recentMenu->clear();
    for (const QString& path : m_session->recentFiles())
        m_recentMenu->addAction(path, this, [this, path] { openModel(path); });
    m_recentMenu->setEnabled(!m_session->recentFiles().isEmpty());
}

// ---- wiring ----

void MainWindow::connectWorker() {
    RunWorker* worker = m_controller->worker();
    connect(m_controller, &RunController::jobStarted, this, &MainWindow::onJobStarted);
    connect(m_controller, &RunController::jobFinished, this, &MainWindow::onJobFinished);
    connect(m_controller, &RunController::busyChanged, m_controls, &ControlsPanel::setBusy);
    connect(m_controller, &RunController::refused, this,
            [this](const QString& message) { statusBar()->showMessage(message, kStatusMs); });
    connect(m_controller, &RunController::previewReady, this,
            [this](quint64, const gp::Preview& preview) { onPreview(preview); });
    connect(m_controller, &RunController::previewFailed, this,
            [this](quint64, const gp::ui::RunFailure& failure) {
                m_owlRequested = false;
                statusBar()->showMessage(tr("No preview: %1").arg(failure.problem), kStatusMs);
            });

    connect(m_controller, &RunController::modelOpened, this, &MainWindow::onModelOpened);
    connect(m_controller, &RunController::pruneFinished, this, &MainWindow::onPruneFinished);
    connect(m_controller, &RunController::sampled, this, &MainWindow::showSample);
    connect(m_controller, &RunController::failed, this, &MainWindow::showError);
    connect(m_controller, &RunController::runApplied, this, [this](int runId) {
        m_session->setAppliedRun(runId);
        if (const auto run = m_session->run(runId)) showRun(*run);
    });
    connect(m_controller, &RunController::exported, this, [this](const gp::ExportResult& result) {
        m_session->setLastExport(result, m_exportingRun);
        const QString path = QString::fromStdString(result.path);
        statusBar()->showMessage(tr("Exported to %1").arg(path), kStatusMs);
        appendLog(tr("exported %1 (%2, %L3 bytes)")
                      .arg(path, QString::fromStdString(result.format))
                      .arg(result.totalBytes));
        for (const std::string& warning : result.warnings)
            appendLog(tr("warning: %1").arg(QString::fromStdString(warning)));
        Q_EMIT modelExported(result);
    });
    connect(m_controller, &RunController::reportWritten, this, [this](const QStringList& paths) {
        statusBar()->showMessage(tr("Report written: %1").arg(paths.join(", ")), kStatusMs);
        appendLog(tr("report written: %1").arg(paths.join(", ")));
        Q_EMIT reportWritten(paths);
    });
    connect(m_controller, &RunController::evaluated, this, [this](const gp::EvalResult& result) {
        appendLog(tr("perplexity %1 over %2 tokens").arg(result.ppl, 0, 'f', 4).arg(result.tokens));
        if (result.documents > 0)  // per document: lm-eval's tokenizer-independent measures
            appendLog(tr("%1 documents: word perplexity %2, byte perplexity %3, bits per byte %4")
                          .arg(result.documents)
                          .arg(result.wordPerplexity, 0, 'f', 4)
                          .arg(result.bytePerplexity, 0, 'f', 6)
                          .arg(result.bitsPerByte, 0, 'f', 6));
    });
    connect(worker, &RunWorker::stage, this, [this](const gp::StageEvent& event) {
        m_progress->onStage(event);
        if (!event.finished)
            statusBar()->showMessage(QStringLiteral("%1 %2").arg(
                QString::fromUtf8(stageName(event.stage)), QString::fromStdString(event.detail)));
    });
    connect(worker, &RunWorker::progress, m_progress, &StageProgress::onProgress);
    for (HistogramPlot* plot : {m_layerHistogram, m_modelHistogram}) {
        connect(worker, &RunWorker::histogram, plot, &HistogramPlot::addHistogram);
        connect(worker, &RunWorker::normalFit, plot, &HistogramPlot::addNormalFit);
    }
    connect(worker, &RunWorker::searchStep, m_searchPlot, &SearchPlot::addStep);
    connect(worker, &RunWorker::layerResult, this, [this](const gp::LayerResultEvent& event) {
        m_session->applyLayerResult(event);
        m_layerPlot->addLayerResult(event);
    });
    connect(worker, &RunWorker::memorySample, m_memoryPlot, &MemoryPlot::addSample);
    connect(worker, &RunWorker::threshold, this, [this](const gp::ThresholdEvent& event) {
        appendLog(
            tr("threshold %1 (%2, %3): %L4 of %L5 selected in %6 s")
                .arg(event.threshold, 0, 'g', 6)
                .arg(QString::fromStdString(event.method), QString::fromStdString(event.group))
                .arg(event.selected)
                .arg(event.total)
                .arg(event.seconds, 0, 'f', 3));
    });
    connect(worker, &RunWorker::metric, this, [this](const gp::MetricEvent& event) {
        appendLog(QStringLiteral("%1 = %2")
                      .arg(QString::fromStdString(event.name))
                      .arg(event.value, 0, 'g', 6));
    });
    connect(worker, &RunWorker::log, this, [this](const gp::LogEvent& event) {
        const QString text = QString::fromStdString(event.text);
        appendLog(event.level == LogEvent::Level::Warning ? tr("warning: %1").arg(text) : text);
    });
}

void MainWindow::connectSession() {
    connect(m_session, &StudioSession::recentFilesChanged, this, &MainWindow::rebuildRecentMenu);
    connect(m_session, &StudioSession::historyChanged, this,
            [this] { m_pplPlot->setRuns(m_session->historyOfModel()); });
    connect(m_session, &StudioSession::selectedLayerChanged, this, [this](const QString& layer) {
        m_layerHistogram->setLayer(layer);
        m_searchPlot->setGroup(m_session->pruneOptions().group == "layer" ? layer : QString());
    });
    connect(m_session, &StudioSession::appliedRunChanged, this, [this] { updateSummary(); });
    connect(m_session, &StudioSession::layerTargetsChanged, this, &MainWindow::requestPreview);
    connect(m_layerView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
            [this](const QModelIndex& current) {
                m_session->setSelectedLayer(current.data(LayerTableModel::NameRole).toString());
            });
    connect(
        m_runView->selectionModel(), &QItemSelectionModel::currentRowChanged, this,
        [this](const QModelIndex& current) {
            if (!current.isValid()) return;
            if (const auto run = m_session->run(current.data(RunHistoryModel::RunIdRole).toInt()))
                showRun(*run);
        });
}

void MainWindow::connectControls() {
    connect(m_controls, &ControlsPanel::pruneOptionsEdited, this, [this] {
        m_session->setPruneOptions(m_controls->pruneOptions());
        requestPreview();
    });
    connect(m_controls, &ControlsPanel::loadOptionsEdited, this, [this] {
        m_session->setLoadOptions(m_controls->loadOptions());
        if (m_session->hasModel()) openModel(QString::fromStdString(m_session->model().path));
    });
    connect(m_controls, &ControlsPanel::threadsEdited, this, [this](int threads) {
        m_session->setThreads(threads);
        m_controller->setComputeThreads(threads);
    });
    connect(m_controls, &ControlsPanel::runRequested, this, [this] { startRun(); });
    connect(m_controls, &ControlsPanel::cancelRequested, this, &MainWindow::cancelRun);
}

// ---- actions ----

bool MainWindow::openModel(const QString& path) {
    return m_controller->openModel(path, m_session->loadOptions());
}

void MainWindow::openAtStart() {
    const QStringList recent = m_session->recentFiles();
    if (!m_session->isFirstStart() && !recent.isEmpty() && QFileInfo::exists(recent.first()))
        openModel(recent.first());
    else
        openModel(QString::fromStdString(demoModelPath()));
}

bool MainWindow::startRun() {
    if (!m_session->hasModel()) {
        statusBar()->showMessage(tr("Open a model first"), kStatusMs);
        return false;
    }
    m_session->setPruneOptions(m_controls->pruneOptions());
    return m_controller->prune(m_session->pruneOptions());
}

void MainWindow::cancelRun() {
    if (!m_controller->isBusy()) return;
    m_controller->cancel();
    statusBar()->showMessage(tr("Cancelling..."));
}

void MainWindow::requestPreview() {
    if (!m_session->hasModel()) return;
    const PreviewOptions options = m_session->previewOptions();
    if (m_previewRequested && samePreview(options, m_lastPreview)) return;
    m_lastPreview = options;
    m_previewRequested = true;
    m_controller->requestPreview(options);
}

void MainWindow::revertToSelectedRun() {
    const QModelIndex current = m_runView->currentIndex();
    if (!current.isValid()) {
        statusBar()->showMessage(tr("Select a run to revert to"), kStatusMs);
        return;
    }
    m_controller->applyRun(current.data(RunHistoryModel::RunIdRole).toInt());
}

void MainWindow::askExportModel() {
    if (!m_session->hasModel()) {
        statusBar()->showMessage(tr("Open a model first"), kStatusMs);
        return;
    }
    const QFileInfo input(QString::fromStdString(m_session->model().path));
    const QString suggested = input.absoluteDir().filePath(input.completeBaseName() + "-pruned");
    const std::string architecture = m_session->model().architecture;
    ExportDialog dialog(suggested, architecture == "llama" || architecture == "mistral", this);
    if (dialog.exec() == QDialog::Accepted) exportModel(dialog.options());
}

bool MainWindow::exportModel(const gp::ExportOptions& options) {
    if (!m_session->hasModel()) return false;
    m_exportingRun = m_session->appliedRun();
    return m_controller->exportModel(options);
}

void MainWindow::askWriteReport() {
    if (!reportedRun()) {
        statusBar()->showMessage(tr("Run first: a report describes a run"), kStatusMs);
        return;
    }
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Write the report into"));
    if (!folder.isEmpty()) writeReport(folder);
}

std::shared_ptr<const PruneResult> MainWindow::reportedRun() const {
    if (const auto applied = m_session->run(m_session->appliedRun())) return applied;
    const QModelIndex selected = m_runView->currentIndex();
    return selected.isValid() ? m_session->run(selected.data(RunHistoryModel::RunIdRole).toInt())
                              : nullptr;
}

bool MainWindow::writeReport(const QString& folder) {
    const auto result = reportedRun();
    if (!result) return false;
    // The figures are drawn here, on the GUI thread, by the window's own plot classes.
    std::vector<PruneResult> runs;
    std::vector<RunHistoryPoint> history;
    for (const auto& run : m_session->runs()) {
        runs.push_back(*run);
        history.push_back({run->runId, run->options.method, run->options.group,
                           run->options.probe.enabled, run->sparsity, run->pplBefore,
                           run->pplAfter});
    }
    ReportImages images;
    for (const auto& [name, png] : renderReportFigures(*result, runs, kReportFigureSize))
        images[name] = png.toStdString();
    return m_controller->writeReport(folder, result, history, images,
                                     m_session->exportOfRun(result->runId));
}

void MainWindow::loadHistory() {
    const QString path = QFileDialog::getOpenFileName(this, tr("Load run history"), {},
                                                      tr("JSON (*.json);;All files (*)"));
    if (path.isEmpty()) return;
    QString error;
    if (!m_session->loadHistoryFile(path, &error))
        QMessageBox::warning(this, tr("Cannot load run history"),
                             tr("File: %1\nProblem: %2").arg(path, error));
}

void MainWindow::saveHistory() {
    const QString path = QFileDialog::getSaveFileName(
        this, tr("Save run history"), QStringLiteral("gradprobe-runs.json"), tr("JSON (*.json)"));
    if (path.isEmpty()) return;
    QString error;
    if (!m_session->saveHistoryFile(path, &error))
        QMessageBox::warning(this, tr("Cannot save run history"),
                             tr("File: %1\nProblem: %2").arg(path, error));
}

// ---- results ----

void MainWindow::onModelOpened(const gp::ModelInfo& info) {
    m_session->setModel(info);
    m_session->addRecentFile(QString::fromStdString(info.path));
    std::vector<std::string> names;
    for (const LayerInfo& layer : info.prunableLayers) names.push_back(layer.name);
    m_layerPlot->setLayers(names);
    m_layerHistogram->clear();
    m_modelHistogram->clear();
    m_searchPlot->clear();
    m_pplPlot->setRuns(m_session->historyOfModel());
    m_controls->setDefaultTexts(QString::fromStdString(info.calibrationTextPath),
                                QString::fromStdString(info.evaluationTextPath));
    setWindowTitle(
        tr("GradProbe Studio — %1").arg(QFileInfo(QString::fromStdString(info.path)).fileName()));
    if (!info.prunableLayers.empty()) m_layerView->selectRow(0);
    updateSummary();
    statusBar()->showMessage(tr("Opened %1").arg(QString::fromStdString(info.path)), kStatusMs);
    m_previewRequested = false;
    requestPreview();
    Q_EMIT modelOpened();
}

void MainWindow::onJobStarted(const QString& job) {
    m_progress->clear();
    if (job != QLatin1String("prune")) return;
    m_memoryPlot->beginRun();
    m_layerPlot->clearResults();
    m_session->clearLayerResults();
    appendLog(tr("run started"));
}

void MainWindow::onJobFinished(const QString& job) {
    Q_UNUSED(job);
    m_progress->finishAll();
}

void MainWindow::onPruneFinished(std::shared_ptr<const gp::PruneResult> result) {
    if (result->cancelled) {
        m_session->addRun(result);  // per-layer state back to the weights the model holds
        if (const auto applied = m_session->run(m_session->appliedRun()))
            showRun(*applied);
        else
            m_layerPlot->clearResults();
        statusBar()->showMessage(tr("Cancelled: the weights are as they were before the run"),
                                 kStatusMs);
        appendLog(tr("run cancelled; weights restored"));
    } else {
        m_session->addRun(result);
        showRun(*result);
        statusBar()->showMessage(tr("Run %1: %2 % sparsity, perplexity %3 -> %4")
                                     .arg(result->runId)
                                     .arg(100.0 * result->sparsity, 0, 'f', 2)
                                     .arg(result->pplBefore, 0, 'f', 3)
                                     .arg(result->pplAfter, 0, 'f', 3),
                                 kStatusMs);
        m_runView->selectRow(m_runModel->rowCount() - 1);
    }
    Q_EMIT runFinished(result);
}

void MainWindow::showRun(const PruneResult& result) {
    m_layerHistogram->showResult(result);
    m_modelHistogram->showResult(result);
    m_searchPlot->showResult(result);
    m_layerPlot->showResult(result);
    if (m_session->hasPreview()) m_layerPlot->setPredicted(m_session->preview().layerSparsity);
}

void MainWindow::requestOwlTargets() {
    if (!m_session->hasModel()) return;
    PreviewOptions options = m_session->previewOptions();
    options.layerTargets.clear();
    options.owl = true;
    m_owlRequested = true;
    m_lastPreview = options;
    m_previewRequested = true;
    m_controller->requestPreview(options);
}

void MainWindow::onPreview(const gp::Preview& preview) {
    if (m_owlRequested && preview.layerTargets.size() == m_session->layers().size()) {
        m_owlRequested = false;
        std::map<std::string, double> targets;
        for (size_t i = 0; i < preview.layerTargets.size(); ++i)
            targets[m_session->layers()[i].info.name] = preview.layerTargets[i];
        m_session->setLayerTargets(std::move(targets));  // predicts again with these
    }
    m_session->setPreview(preview);
    for (const HistogramEvent& histogram : preview.histograms) {
        m_layerHistogram->addHistogram(histogram);
        m_modelHistogram->addHistogram(histogram);
    }
    m_layerPlot->setPredicted(preview.layerSparsity);
}

void MainWindow::showError(const gp::ui::RunFailure& failure) {
    QString headline;
    if (failure.job == QLatin1String("open"))
        headline = tr("Cannot open the model");
    else if (failure.outOfMemory)
        headline = tr("Out of memory");
    else if (failure.job == QLatin1String("prune"))
        headline = tr("The run failed");
    else
        headline = tr("The %1 job failed").arg(failure.job);
    auto* box = new QMessageBox(QMessageBox::Critical, tr("GradProbe Studio"), headline,
                                QMessageBox::Ok, this);
    box->setObjectName("errorDialog");
    box->setInformativeText(failure.details());
    box->setAttribute(Qt::WA_DeleteOnClose);
    box->open();
    appendLog(headline + ": " + failure.details().replace('\n', QStringLiteral("; ")));
    Q_EMIT errorShown(headline + '\n' + failure.details());
}

void MainWindow::updateSummary() {
    if (!m_session->hasModel()) {
        m_summary->setText(tr("No model open. File > Open, or drop a model folder or file here."));
        m_applied->clear();
        return;
    }
    const ModelInfo& info = m_session->model();
    m_summary->setText(
        tr("<b>%1</b><br>%2 (%3), %4 × %5, %6 on %7<br>%L8 parameters, %L9 prunable "
           "in %10 layers")
            .arg(QFileInfo(QString::fromStdString(info.path)).fileName().toHtmlEscaped(),
                 QString::fromStdString(info.architecture), QString::fromStdString(info.format))
            .arg(info.numLayers)
            .arg(info.hiddenSize)
            .arg(QString::fromStdString(info.dtype), QString::fromStdString(info.device))
            .arg(info.totalParameters)
            .arg(info.prunableParameters)
            .arg(info.prunableLayers.size()) +
        (info.maskPath.empty()
             ? QString()
             : tr("<br>masks: %1 (%2 layers)")
                   .arg(QString::fromStdString(info.maskPath).toHtmlEscaped())
                   .arg(info.maskProblem.empty() ? QString::number(info.maskLayers) : tr("unreadable"))));
    const int applied = m_session->appliedRun();
    m_applied->setText(applied < 0 ? tr("original weights") : tr("weights of run %1").arg(applied));
}

void MainWindow::appendLog(const QString& line) {
    m_log->appendPlainText(QTime::currentTime().toString(QStringLiteral("HH:mm:ss ")) + line);
}

// ---- window events ----

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (!localPathOf(event->mimeData()).isEmpty()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QString path = localPathOf(event->mimeData());
    if (path.isEmpty()) return;
    event->acceptProposedAction();
    openModel(path);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    m_controller->cancel();
    QMainWindow::closeEvent(event);
}

void MainWindow::showSample(const QString& when, int runId, const QString& text) {
    if (when == QLatin1String("before")) {
        m_sampleBefore = text;
        m_sample->setPlainText(tr("Before pruning:\n%1").arg(text));
        return;
    }
    m_sample->setPlainText(
        tr("Before pruning:\n%1\n\nAfter run %2:\n%3").arg(m_sampleBefore).arg(runId).arg(text));
}

}  // namespace gp::ui
