#include "ui/controls_panel.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QGroupBox>
#include <QHBoxLayout>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QSignalBlocker>
#include <QSlider>
#include <QSpinBox>
#include <QToolButton>
#include <QVBoxLayout>

#include <climits>
#include <cmath>

#include "core/runtime/memory.h"

namespace gp::ui {
namespace {

// Items show the user's word; their data is the engine's (the CLI's) word.
QComboBox* wordBox(const QString& name,
                   std::initializer_list<std::pair<const char*, const char*>> items) {
    auto* box = new QComboBox;
    box->setObjectName(name);
    for (const auto& [label, word] : items)
        box->addItem(QObject::tr(label), QString::fromUtf8(word));
    return box;
}

void selectWord(QComboBox* box, const std::string& word) {
    const int index = box->findData(QString::fromStdString(word));
    if (index >= 0) box->setCurrentIndex(index);
}

std::string wordOf(const QComboBox* box) {
    return box->currentData().toString().toStdString();
}

QSpinBox* countBox(const QString& name, int low, int high) {
    auto* box = new QSpinBox;
    box->setObjectName(name);
    box->setRange(low, high);
    return box;
}

}  // namespace

ControlsPanel::ControlsPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    layout->addWidget(buildTargetBox());
    layout->addWidget(buildScoreBox());
    layout->addWidget(buildProbeBox());
    layout->addWidget(buildDataBox());
    layout->addWidget(buildDeviceBox());

    m_run = new QPushButton(tr("Run"));
    m_run->setObjectName("run");
    m_run->setDefault(true);
    m_cancel = new QPushButton(tr("Cancel"));
    m_cancel->setObjectName("cancel");
    auto* buttons = new QHBoxLayout;
    buttons->addWidget(m_run);
    buttons->addWidget(m_cancel);
    layout->addLayout(buttons);
    layout->addStretch(1);
    connect(m_run, &QPushButton::clicked, this, &ControlsPanel::runRequested);
    connect(m_cancel, &QPushButton::clicked, this, &ControlsPanel::cancelRequested);

    // Any edit of a run setting; the sparsity has its own signal too (it drives the preview).
    // SparseGPT prunes per layer or N:M: a global or row group switches to layer, visibly.
    connect(m_method, &QComboBox::currentIndexChanged, this, [this] {
        const std::string group = wordOf(m_group);
        if (wordOf(m_method) == "sparsegpt" && group != "layer" && group != "nm")
            selectWord(m_group, "layer");
    });
    for (QComboBox* box : {m_method, m_schedule, m_group, m_select})
        connect(box, &QComboBox::currentIndexChanged, this, [this] {
            updateEnabled();
            Q_EMIT pruneOptionsEdited();
        });
    for (QSpinBox* box :
         {m_nmN, m_nmM, m_probeBatches, m_nsamples, m_seqlen, m_evalWindows, m_seed})
        connect(box, &QSpinBox::valueChanged, this, &ControlsPanel::pruneOptionsEdited);
    for (QDoubleSpinBox* box : {m_probeThreshold, m_reduction})
        connect(box, &QDoubleSpinBox::valueChanged, this, &ControlsPanel::pruneOptionsEdited);
    for (QCheckBox* box : {m_probe, m_evaluate})
        connect(box, &QCheckBox::toggled, this, [this] {
            updateEnabled();
            Q_EMIT pruneOptionsEdited();
        });
    for (QLineEdit* edit : {m_calib, m_eval})
        connect(edit, &QLineEdit::editingFinished, this, &ControlsPanel::pruneOptionsEdited);
    for (QComboBox* box : {m_device, m_dtype})
        connect(box, &QComboBox::currentIndexChanged, this, &ControlsPanel::loadOptionsEdited);
    connect(m_slider, &QSlider::valueChanged, this, &ControlsPanel::onSliderMoved);
    connect(m_sparsity, &QDoubleSpinBox::valueChanged, this, &ControlsPanel::onSpinChanged);
    setBusy(false);
    updateEnabled();
}

QWidget* ControlsPanel::buildTargetBox() {
    auto* box = new QGroupBox(tr("Target"));
    auto* form = new QFormLayout(box);
    m_slider = new QSlider(Qt::Horizontal);
    m_slider->setObjectName("sparsitySlider");
    m_slider->setRange(0, kSliderSteps);
    m_slider->setPageStep(50);
    m_sparsity = new QDoubleSpinBox;
    m_sparsity->setObjectName("sparsity");
    m_sparsity->setRange(0.0, kSliderSteps / 10.0);
    m_sparsity->setDecimals(1);
    m_sparsity->setSingleStep(1.0);
    m_sparsity->setSuffix(QStringLiteral(" %"));
    m_sparsity->setToolTip(tr("--sparsity: target fraction of prunable weights"));
    auto* row = new QHBoxLayout;
    row->addWidget(m_slider, 1);
    row->addWidget(m_sparsity);
    form->addRow(tr("Sparsity"), row);

    m_group =
        wordBox("group", {{"Global", "global"}, {"Layer", "layer"}, {"Row", "row"}, {"N:M", "nm"}});
    m_group->setToolTip(tr("--group: which scores compete for the lowest"));
    form->addRow(tr("Group"), m_group);
    m_nmN = countBox("nmN", 1, 64);
    m_nmM = countBox("nmM", 1, 64);
    auto* nm = new QHBoxLayout;
    nm->addWidget(m_nmN);
    nm->addWidget(new QLabel(QStringLiteral(":")));
    nm->addWidget(m_nmM);
    form->addRow(tr("N:M"), nm);
    m_select = wordBox("select", {{"Exact", "exact"}, {"Statistical", "statistical"}});
    m_select->setToolTip(tr("--select: exact radix selection or the upstream statistical search"));
    form->addRow(tr("Select"), m_select);
    return box;
}

QWidget* ControlsPanel::buildScoreBox() {
    auto* box = new QGroupBox(tr("Method"));
    auto* form = new QFormLayout(box);
    m_method = wordBox("method", {{"Magnitude", "magnitude"},
                                  {"WANDA", "wanda"},
                                  {"SparseGPT", "sparsegpt"}});
    m_method->setToolTip(tr("--method: importance score, or SparseGPT's reconstruction (groups "
                            "layer or N:M)"));
    form->addRow(tr("Method"), m_method);
    m_schedule =
        wordBox("schedule",
                {{"One-shot", "oneshot"}, {"Layer-wise", "layerwise"}, {"Iterative", "iterative"}});
    m_schedule->setToolTip(tr("--schedule"));
    form->addRow(tr("Schedule"), m_schedule);
    return box;
}

QWidget* ControlsPanel::buildProbeBox() {
    auto* box = new QGroupBox(tr("Probe"));
    auto* form = new QFormLayout(box);
    m_probe = new QCheckBox(tr("Probe (GradProbe)"));
    m_probe->setObjectName("probe");
    m_probe->setToolTip(tr("--probe: let gradients veto candidates"));
    form->addRow(m_probe);
    m_probeThreshold = new QDoubleSpinBox;
    m_probeThreshold->setObjectName("probeThreshold");
    m_probeThreshold->setRange(0.0, 1000.0);
    m_probeThreshold->setDecimals(3);
    m_probeThreshold->setSingleStep(0.1);
    m_probeThreshold->setToolTip(tr("--probe-threshold (tau): prune where G1 <= G0 * (1 + tau)"));
    form->addRow(tr("Probe threshold"), m_probeThreshold);
    m_reduction = new QDoubleSpinBox;
    m_reduction->setObjectName("reduction");
    m_reduction->setRange(0.0, 1.0);
    m_reduction->setDecimals(3);
    m_reduction->setSingleStep(0.05);
    m_reduction->setToolTip(tr("--reduction: candidates are scaled by this while probing"));
    form->addRow(tr("Reduction"), m_reduction);
    m_probeBatches = countBox("probeBatches", 1, 100000);
    m_probeBatches->setToolTip(tr("--probe-batches: calibration batches per gradient recording"));
    form->addRow(tr("Probe batches"), m_probeBatches);
    return box;
}

QWidget* ControlsPanel::pathRow(QLineEdit* edit, const QString& caption) {
    auto* row = new QWidget;
    auto* layout = new QHBoxLayout(row);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(edit, 1);
    auto* browse = new QToolButton;
    browse->setText(QStringLiteral("…"));
    layout->addWidget(browse);
    connect(browse, &QToolButton::clicked, this, [this, edit, caption] {
        const QString path = QFileDialog::getOpenFileName(this, caption, edit->text(),
                                                          tr("Text (*.txt);;All files (*)"));
        if (path.isEmpty()) return;
        edit->setText(path);
        Q_EMIT pruneOptionsEdited();
    });
    return row;
}

QWidget* ControlsPanel::buildDataBox() {
    auto* box = new QGroupBox(tr("Texts"));
    auto* form = new QFormLayout(box);
    m_calib = new QLineEdit;
    m_calib->setObjectName("calib");
    m_calib->setClearButtonEnabled(true);
    m_calib->setToolTip(tr("--calib: calibration text (WANDA and the probe)"));
    form->addRow(tr("Calib"), pathRow(m_calib, tr("Calibration text")));
    m_eval = new QLineEdit;
    m_eval->setObjectName("eval");
    m_eval->setClearButtonEnabled(true);
    m_eval->setToolTip(tr("--eval: evaluation text for the perplexity"));
    form->addRow(tr("Eval"), pathRow(m_eval, tr("Evaluation text")));
    m_nsamples = countBox("nsamples", 1, 1000000);
    m_nsamples->setToolTip(tr("--nsamples: calibration windows"));
    form->addRow(tr("Nsamples"), m_nsamples);
    m_seqlen = countBox("seqlen", 0, 1 << 20);
    m_seqlen->setSpecialValueText(tr("auto"));
    m_seqlen->setToolTip(tr("--seqlen: tokens per window (auto: min(512, context))"));
    form->addRow(tr("Seqlen"), m_seqlen);
    m_evalWindows = countBox("evalMaxWindows", 0, 1000000);
    m_evalWindows->setSpecialValueText(tr("all"));
    m_evalWindows->setToolTip(tr("--eval-max-windows: evaluate at most N windows"));
    form->addRow(tr("Eval max windows"), m_evalWindows);
    m_evaluate = new QCheckBox(tr("Perplexity before and after"));
    m_evaluate->setObjectName("evaluate");
    m_evaluate->setToolTip(tr("off: --no-eval"));
    form->addRow(m_evaluate);
    m_seed = countBox("seed", 0, INT_MAX);
    m_seed->setToolTip(tr("--seed: calibration sampling seed"));
    form->addRow(tr("Seed"), m_seed);
    return box;
}

QWidget* ControlsPanel::buildDeviceBox() {
    auto* box = new QGroupBox(tr("Device"));
    auto* form = new QFormLayout(box);
    m_device = wordBox("device", {{"CPU", "cpu"}});
    if (cudaInUse()) m_device->addItem(tr("CUDA"), QStringLiteral("cuda"));
    m_device->setToolTip(tr("--device (the model is loaded again)"));
    form->addRow(tr("Device"), m_device);
    m_dtype = wordBox("dtype", {{"fp32", "fp32"}, {"bf16", "bf16"}, {"fp16", "fp16"}});
    m_dtype->setToolTip(tr("--dtype (the model is loaded again)"));
    form->addRow(tr("Dtype"), m_dtype);
    m_threads = new QSpinBox;
    m_threads->setObjectName("threads");
    m_threads->setRange(0, 1024);
    m_threads->setSpecialValueText(tr("Auto"));
    m_threads->setToolTip(tr("--threads: compute threads for the next jobs (Auto: "
                             "OMP_NUM_THREADS when set, else the cores less one for the window)"));
    form->addRow(tr("Threads"), m_threads);
    connect(m_threads, &QSpinBox::valueChanged, this, &ControlsPanel::threadsEdited);
    return box;
}

void ControlsPanel::setThreads(int threads) {
    const QSignalBlocker blocker(m_threads);
    m_threads->setValue(threads);
}

int ControlsPanel::threads() const { return m_threads->value(); }

void ControlsPanel::setOptions(const PruneOptions& prune, const LoadOptions& load) {
    const QSignalBlocker blockers[] = {
        QSignalBlocker(this),       QSignalBlocker(m_method), QSignalBlocker(m_schedule),
        QSignalBlocker(m_group),    QSignalBlocker(m_select), QSignalBlocker(m_slider),
        QSignalBlocker(m_sparsity), QSignalBlocker(m_device), QSignalBlocker(m_dtype)};
    selectWord(m_method, prune.method);
    selectWord(m_schedule, prune.schedule);
    selectWord(m_group, prune.group);
    selectWord(m_select, prune.select);
    m_nmN->setValue(int(prune.nmN));
    m_nmM->setValue(int(prune.nmM));
    m_sparsity->setValue(100.0 * prune.sparsity);
    m_slider->setValue(int(std::lround(1000.0 * prune.sparsity)));
    m_probe->setChecked(prune.probe.enabled);
    m_probeThreshold->setValue(prune.probe.threshold);
    m_reduction->setValue(prune.probe.reduction);
    m_probeBatches->setValue(int(prune.probe.batches));
    m_calib->setText(QString::fromStdString(prune.calibPath));
    m_eval->setText(QString::fromStdString(prune.evalPath));
    m_nsamples->setValue(int(prune.nsamples));
    m_seqlen->setValue(int(prune.seqlen));
    m_evalWindows->setValue(int(prune.evalMaxWindows));
    m_evaluate->setChecked(prune.evaluate);
    m_seed->setValue(int(prune.seed));
    selectWord(m_device, load.device.rfind("cuda", 0) == 0 ? "cuda" : "cpu");
    selectWord(m_dtype, load.dtype.empty() ? "fp32" : load.dtype);
    updateEnabled();
}

PruneOptions ControlsPanel::pruneOptions() const {
    PruneOptions options;
    options.method = wordOf(m_method);
    options.schedule = wordOf(m_schedule);
    options.group = wordOf(m_group);
    options.select = wordOf(m_select);
    options.nmN = m_nmN->value();
    options.nmM = m_nmM->value();
    options.sparsity = sparsity();
    options.probe.enabled = m_probe->isChecked();
    options.probe.threshold = m_probeThreshold->value();
    options.probe.reduction = m_reduction->value();
    options.probe.batches = m_probeBatches->value();
    options.calibPath = m_calib->text().trimmed().toStdString();
    options.evalPath = m_eval->text().trimmed().toStdString();
    options.nsamples = m_nsamples->value();
    options.seqlen = m_seqlen->value();
    options.evalMaxWindows = m_evalWindows->value();
    options.evaluate = m_evaluate->isChecked();
    options.seed = uint64_t(m_seed->value());
    return options;
}

LoadOptions ControlsPanel::loadOptions() const {
    LoadOptions options;
    options.device = wordOf(m_device);
    options.dtype = wordOf(m_dtype);
    return options;
}

void ControlsPanel::setDefaultTexts(const QString& calibration, const QString& evaluation) {
    m_calib->setPlaceholderText(calibration.isEmpty() ? tr("(none shipped: choose a file)")
                                                      : tr("model's own: %1").arg(calibration));
    m_eval->setPlaceholderText(evaluation.isEmpty() ? tr("(none shipped: choose a file)")
                                                    : tr("model's own: %1").arg(evaluation));
}

void ControlsPanel::setBusy(bool busy) {
    m_busy = busy;
    m_run->setEnabled(!busy);
    m_cancel->setEnabled(busy);
    m_device->setEnabled(!busy);
    m_dtype->setEnabled(!busy);
}

double ControlsPanel::sparsity() const {
    return m_sparsity->value() / 100.0;
}

void ControlsPanel::onSliderMoved(int value) {
    {
        const QSignalBlocker blocker(m_sparsity);
        m_sparsity->setValue(value / 10.0);
    }
    Q_EMIT sparsityEdited(sparsity());
    Q_EMIT pruneOptionsEdited();
}

void ControlsPanel::onSpinChanged(double percent) {
    {
        const QSignalBlocker blocker(m_slider);
        m_slider->setValue(int(std::lround(percent * 10.0)));
    }
    Q_EMIT sparsityEdited(sparsity());
    Q_EMIT pruneOptionsEdited();
}

void ControlsPanel::updateEnabled() {
    const bool nm = wordOf(m_group) == "nm";
    m_nmN->setEnabled(nm);
    m_nmM->setEnabled(nm);
    m_slider->setEnabled(!nm);  // N:M fixes the sparsity at 1 - N/M
    m_sparsity->setEnabled(!nm);
    const bool probe = m_probe->isChecked();
    for (QWidget* widget :
         {static_cast<QWidget*>(m_probeThreshold), static_cast<QWidget*>(m_reduction),
          static_cast<QWidget*>(m_probeBatches)})
        widget->setEnabled(probe);
    // The statistical search works on the global and layer groups only.
    m_select->setEnabled(wordOf(m_group) == "global" || wordOf(m_group) == "layer");
}

}  // namespace gp::ui
