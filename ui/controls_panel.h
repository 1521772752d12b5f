// The run's settings as widgets: method, probe (on/off, threshold, reduction, batches), schedule,
// group (global/layer/row/N:M), selection method, target sparsity (slider and spin box kept in
// sync), calibration and evaluation texts, nsamples, seqlen, device, dtype, seed; and the Run and
// Cancel buttons. Labels use the CLI's flag words. It only edits values: the window copies them
// into the StudioSession and acts on them. Threads: GUI thread only.
#pragma once

#include <QWidget>

#include "core/api/engine.h"

class QCheckBox;
class QComboBox;
class QDoubleSpinBox;
class QLineEdit;
class QPushButton;
class QSlider;
class QSpinBox;

namespace gp::ui {

class ControlsPanel : public QWidget {
    Q_OBJECT

public:
    static constexpr int kSliderSteps = 990;  // 0.1 % steps from 0 to 99 %

    explicit ControlsPanel(QWidget* parent = nullptr);

    // Shows these values without emitting any *Edited signal.
    void setOptions(const PruneOptions& prune, const LoadOptions& load);
    PruneOptions pruneOptions() const;
    LoadOptions loadOptions() const;
    // The texts used when the fields are empty (the model's own), shown as placeholders.
    void setDefaultTexts(const QString& calibration, const QString& evaluation);
    void setBusy(bool busy);
    // --threads: compute threads; 0 = automatic (OMP_NUM_THREADS when set, else the machine's
    // cores less one for the interface). setThreads() emits nothing.
    void setThreads(int threads);
    int threads() const;

    double sparsity() const;  // fraction, from the spin box
    QSlider* sparsitySlider() const { return m_slider; }
    QDoubleSpinBox* sparsitySpinBox() const { return m_sparsity; }
    QPushButton* runButton() const { return m_run; }
    QPushButton* cancelButton() const { return m_cancel; }

Q_SIGNALS:
    void pruneOptionsEdited();  // any run setting, the sparsity included
    void sparsityEdited(double fraction);
    void loadOptionsEdited();  // device or dtype: the model must be loaded again
    void threadsEdited(int threads);
    void runRequested();
    void cancelRequested();

private:
    QWidget* buildScoreBox();
    QWidget* buildTargetBox();
    QWidget* buildProbeBox();
    QWidget* buildDataBox();
    QWidget* buildDeviceBox();
    QWidget* pathRow(QLineEdit* edit, const QString& caption);
    void updateEnabled();
    void onSliderMoved(int value);
    void onSpinChanged(double percent);

    QComboBox* m_method;
    QComboBox* m_schedule;
    QSlider* m_slider;
    QDoubleSpinBox* m_sparsity;
    QComboBox* m_group;
    QSpinBox* m_nmN;
    QSpinBox* m_nmM;
    QComboBox* m_select;
    QCheckBox* m_probe;
    QDoubleSpinBox* m_probeThreshold;
    QDoubleSpinBox* m_reduction;
    QSpinBox* m_probeBatches;
    QLineEdit* m_calib;
    QLineEdit* m_eval;
    QSpinBox* m_nsamples;
    QSpinBox* m_seqlen;
    QSpinBox* m_evalWindows;
    QCheckBox* m_evaluate;
    QSpinBox* m_seed;
    QComboBox* m_device;
    QComboBox* m_dtype;
    QSpinBox* m_threads;
    QPushButton* m_run;
    QPushButton* m_cancel;
    bool m_busy = false;
};

}  // namespace gp::ui
