// gradprobe-studio: the desktop application. Opens the model given on the command line, else the
// last one opened, else (first start) the built-in demo model.
//
// For demos and the README's screenshot it can also run a list of targets one after another
// (--run 0.3,0.5:statistical) and then save a picture of the window and quit (--screenshot).
#include <QApplication>
#include <QCommandLineParser>
#include <QDir>
#include <QFileInfo>
#include <QTimer>

#include <deque>

#include "core/api/engine.h"
#include "core/runtime/allocator.h"
#include "ui/controls_panel.h"
#include "ui/main_window.h"
#include "ui/run_controller.h"
#include "ui/studio_session.h"

namespace {

struct ScriptedRun {
    double sparsity = 0.5;
    QString select;  // "" = as set in the controls
};

// "0.3,0.5:statistical" -> runs; false on a malformed item.
bool parseRuns(const QString& text, std::deque<ScriptedRun>& runs) {
    for (const QString& item : text.split(',', Qt::SkipEmptyParts)) {
        const QStringList parts = item.split(':');
        bool ok = false;
        ScriptedRun run;
        run.sparsity = parts[0].toDouble(&ok);
        if (!ok || run.sparsity < 0.0 || run.sparsity >= 1.0 || parts.size() > 2) return false;
        if (parts.size() == 2) run.select = parts[1];
        runs.push_back(run);
    }
    return true;
}

}  // namespace

int main(int argc, char** argv) {
    gp::configureAllocator();  // before Qt or LibTorch start threads of their own
    QApplication app(argc, argv);
    QApplication::setApplicationName("GradProbe Studio");
    QApplication::setOrganizationName("GradProbe");
    QApplication::setApplicationVersion(QString::fromStdString(gp::engineVersion()));
    gp::initialiseEngine(0, /*reservedCores=*/1);  // one core for the interface

    QCommandLineParser parser;
    parser.setApplicationDescription("Prune neural networks and see why each weight goes.");
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument("model",
                                 "Hugging Face folder, .safetensors file or llama2.c .bin");
    const QCommandLineOption settingsOption(
        "settings", "Keep the settings in this INI file instead of the user's.", "file");
    const QCommandLineOption runOption(
        "run",
        "Once the model is open, run these targets one after another with the controls' "
        "other settings; an item may name the selection: 0.3,0.5:statistical.",
        "targets");
    const QCommandLineOption screenshotOption(
        "screenshot", "After the runs, save a picture of the window to this PNG and quit.", "file");
    parser.addOptions({settingsOption, runOption, screenshotOption});
    parser.process(app);

    std::deque<ScriptedRun> runs;
    if (!parseRuns(parser.value(runOption), runs)) {
        qCritical(
            "--run: expected targets in [0, 1) separated by commas, e.g. 0.3,0.5:statistical");
        return 2;
    }
    const QString screenshot = parser.value(screenshotOption);

    gp::ui::MainWindow window(parser.value(settingsOption));
    const bool scripted = !runs.empty() || !screenshot.isEmpty();
    // Each scripted run changes only what its item names; the rest stays as the settings had it.
    const gp::PruneOptions base = window.session()->pruneOptions();
    auto next = [&] {
        if (!runs.empty()) {
            const ScriptedRun run = runs.front();
            runs.pop_front();
            gp::PruneOptions options = base;
            options.sparsity = run.sparsity;
            if (!run.select.isEmpty()) options.select = run.select.toStdString();
            window.controls()->setOptions(options, window.session()->loadOptions());
            window.startRun();
        } else if (!screenshot.isEmpty()) {
            // Let the replot clock draw the last events, then take the picture.
            QTimer::singleShot(1000, &window, [&] {
                QDir().mkpath(QFileInfo(screenshot).absolutePath());
                const bool saved = window.grab().save(screenshot, "PNG");
                QApplication::exit(saved ? 0 : 1);
            });
        }
    };
    if (scripted) {
        QObject::connect(window.controller(), &gp::ui::RunController::jobFinished, &window,
                         [&](const QString& job) {
                             if (job == QLatin1String("prune") ||
                                 (job == QLatin1String("open") && window.session()->hasModel()))
                                 QTimer::singleShot(0, &window, next);
                             else if (job == QLatin1String("open"))
                                 QApplication::exit(3);  // the model did not open
                         });
    }
    const QStringList models = parser.positionalArguments();
    if (models.isEmpty())
        window.openAtStart();
    else
        window.openModel(models.first());
    window.show();
    return QApplication::exec();
}
