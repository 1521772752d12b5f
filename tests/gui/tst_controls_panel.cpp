// The controls: values in and out unchanged, the sparsity slider and spin box kept in sync, one
// signal per user edit and none for a programmatic set, the controls that do not apply disabled.
#include <QCheckBox>
#include <QComboBox>
#include <QDoubleSpinBox>
#include <QPushButton>
#include <QSignalSpy>
#include <QSlider>
#include <QSpinBox>
#include <QtTest/QtTest>

#include "ui/controls_panel.h"

using namespace gp;
using namespace gp::ui;

class TestControlsPanel : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void optionsRoundTrip_data();
    void optionsRoundTrip();
    void setOptionsIsSilent();
    void sliderAndSpinBoxInSync_data();
    void sliderAndSpinBoxInSync();
    void enabledFollowsChoices();
    void busyButtons();
    void labelsUseFlagWords();
};

void TestControlsPanel::optionsRoundTrip_data() {
    QTest::addColumn<QString>("method");
    QTest::addColumn<QString>("group");
    QTest::addColumn<QString>("select");
    QTest::addColumn<QString>("schedule");
    QTest::addColumn<double>("sparsity");
    QTest::addColumn<bool>("probe");
    QTest::newRow("magnitude global exact") << "magnitude"
                                            << "global"
                                            << "exact"
                                            << "oneshot" << 0.5 << false;
    QTest::newRow("wanda row layerwise probe") << "wanda"
                                               << "row"
                                               << "exact"
                                               << "layerwise" << 0.375 << true;
    QTest::newRow("statistical layer iterative") << "magnitude"
                                                 << "layer"
                                                 << "statistical"
                                                 << "iterative" << 0.9 << true;
    QTest::newRow("nm") << "wanda"
                        << "nm"
                        << "exact"
                        << "oneshot" << 0.0 << false;
}

void TestControlsPanel::optionsRoundTrip() {
    QFETCH(QString, method);
    QFETCH(QString, group);
    QFETCH(QString, select);
    QFETCH(QString, schedule);
    QFETCH(double, sparsity);
    QFETCH(bool, probe);
    PruneOptions in;
    in.method = method.toStdString();
    in.group = group.toStdString();
    in.select = select.toStdString();
    in.schedule = schedule.toStdString();
    in.sparsity = sparsity;
    in.nmN = 3;
    in.nmM = 8;
    in.probe.enabled = probe;
    in.probe.threshold = 1.5;
    in.probe.reduction = 0.25;
    in.probe.batches = 4;
    in.calibPath = "/t/calib.txt";
    in.evalPath = "";
    in.nsamples = 32;
    in.seqlen = 0;
    in.evalMaxWindows = 7;
    in.evaluate = false;
    in.seed = 1234;
    LoadOptions load;
    load.dtype = "fp16";
    ControlsPanel panel;
    panel.setOptions(in, load);
    const PruneOptions out = panel.pruneOptions();
    QCOMPARE(QString::fromStdString(out.method), method);
    QCOMPARE(QString::fromStdString(out.group), group);
    QCOMPARE(QString::fromStdString(out.select), select);
    QCOMPARE(QString::fromStdString(out.schedule), schedule);
    QCOMPARE(out.sparsity, sparsity);
    QCOMPARE(out.nmN, int64_t(3));
    QCOMPARE(out.nmM, int64_t(8));
    QCOMPARE(out.probe.enabled, probe);
    QCOMPARE(out.probe.threshold, 1.5);
    QCOMPARE(out.probe.reduction, 0.25);
    QCOMPARE(out.probe.batches, int64_t(4));
    QCOMPARE(out.calibPath, in.calibPath);
    QCOMPARE(out.evalPath, in.evalPath);
    QCOMPARE(out.nsamples, int64_t(32));
    QCOMPARE(out.seqlen, int64_t(0));
    QCOMPARE(out.evalMaxWindows, int64_t(7));
    QCOMPARE(out.evaluate, false);
    QCOMPARE(out.seed, uint64_t(1234));
    QCOMPARE(panel.loadOptions().device, std::string("cpu"));
    QCOMPARE(panel.loadOptions().dtype, std::string("fp16"));
}

void TestControlsPanel::setOptionsIsSilent() {
    ControlsPanel panel;
    QSignalSpy edited(&panel, &ControlsPanel::pruneOptionsEdited);
    QSignalSpy sparsity(&panel, &ControlsPanel::sparsityEdited);
    QSignalSpy load(&panel, &ControlsPanel::loadOptionsEdited);
    PruneOptions options;
    options.sparsity = 0.7;
    options.method = "wanda";
    options.probe.enabled = true;
    LoadOptions loadOptions;
    loadOptions.dtype = "bf16";
    panel.setOptions(options, loadOptions);
    QCOMPARE(edited.count(), 0);
    QCOMPARE(sparsity.count(), 0);
    QCOMPARE(load.count(), 0);
    QCOMPARE(panel.sparsitySlider()->value(), 700);
}

void TestControlsPanel::sliderAndSpinBoxInSync_data() {
    QTest::addColumn<int>("sliderValue");
    QTest::addColumn<double>("percent");
    QTest::newRow("0") << 0 << 0.0;
    QTest::newRow("12.3") << 123 << 12.3;
    QTest::newRow("50") << 500 << 50.0;
    QTest::newRow("99") << 990 << 99.0;
}

void TestControlsPanel::sliderAndSpinBoxInSync() {
    QFETCH(int, sliderValue);
    QFETCH(double, percent);
    ControlsPanel panel;
    PruneOptions start;
    start.sparsity = 0.31;
    panel.setOptions(start, {});
    QSignalSpy sparsity(&panel, &ControlsPanel::sparsityEdited);
    panel.sparsitySlider()->setValue(sliderValue);  // the user drags the slider
    QCOMPARE(panel.sparsitySpinBox()->value(), percent);
    QCOMPARE(sparsity.count(), 1);
    QCOMPARE(sparsity.at(0).at(0).toDouble(), percent / 100.0);
    QCOMPARE(panel.pruneOptions().sparsity, percent / 100.0);

    panel.sparsitySpinBox()->setValue(42.5);  // the user types
    QCOMPARE(panel.sparsitySlider()->value(), 425);
    QCOMPARE(sparsity.count(), 2);
    QCOMPARE(panel.sparsity(), 0.425);
}

void TestControlsPanel::enabledFollowsChoices() {
    ControlsPanel panel;
    PruneOptions options;
    options.group = "global";
    options.probe.enabled = false;
    panel.setOptions(options, {});
    auto* nmN = panel.findChild<QSpinBox*>("nmN");
    auto* tau = panel.findChild<QDoubleSpinBox*>("probeThreshold");
    auto* probe = panel.findChild<QCheckBox*>("probe");
    auto* group = panel.findChild<QComboBox*>("group");
    auto* select = panel.findChild<QComboBox*>("select");
    QVERIFY(nmN && tau && probe && group && select);
    QVERIFY(!nmN->isEnabled());
    QVERIFY(!tau->isEnabled());
    QVERIFY(select->isEnabled());
    QSignalSpy edited(&panel, &ControlsPanel::pruneOptionsEdited);
    probe->setChecked(true);
    QVERIFY(tau->isEnabled());
    group->setCurrentIndex(group->findData("nm"));
    QVERIFY(nmN->isEnabled());
    QVERIFY(!panel.sparsitySlider()->isEnabled());  // N:M fixes the sparsity
    QVERIFY(!select->isEnabled());                  // statistical: global and layer groups only
    QCOMPARE(edited.count(), 2);
    QCOMPARE(panel.pruneOptions().group, std::string("nm"));
}

void TestControlsPanel::busyButtons() {
    ControlsPanel panel;
    QSignalSpy run(&panel, &ControlsPanel::runRequested);
    QSignalSpy cancel(&panel, &ControlsPanel::cancelRequested);
    QVERIFY(panel.runButton()->isEnabled());
    QVERIFY(!panel.cancelButton()->isEnabled());
    QTest::mouseClick(panel.runButton(), Qt::LeftButton);
    QCOMPARE(run.count(), 1);
    panel.setBusy(true);
    QVERIFY(!panel.runButton()->isEnabled());
    QTest::mouseClick(panel.cancelButton(), Qt::LeftButton);
    QCOMPARE(cancel.count(), 1);
    QCOMPARE(run.count(), 1);
}

void TestControlsPanel::labelsUseFlagWords() {
    // One word for one idea: each control's tooltip names the CLI flag it stands for.
    ControlsPanel panel;
    const QStringList flags = {
        "--method", "--sparsity",        "--group",     "--select",        "--schedule",
        "--probe",  "--probe-threshold", "--reduction", "--probe-batches", "--calib",
        "--eval",   "--nsamples",        "--seqlen",    "--seed",          "--device",
        "--dtype",  "--eval-max-windows", "--threads"};
    QString tips;
    for (const QWidget* widget : panel.findChildren<QWidget*>()) tips += widget->toolTip() + '\n';
    for (const QString& flag : flags)
        QVERIFY2(
            tips.contains(flag + ':') || tips.contains(flag + ' ') || tips.contains(flag + '\n'),
            qPrintable(flag));
}

QTEST_MAIN(TestControlsPanel)
#include "tst_controls_panel.moc"
