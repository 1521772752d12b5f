#include "ui/stage_progress.h"

#include <QGridLayout>
#include <QLabel>
#include <QProgressBar>

#include <cmath>

namespace gp::ui {
namespace {

QString duration(double seconds) {
    if (seconds < 60.0) return QStringLiteral("%1 s").arg(seconds, 0, 'f', seconds < 10.0 ? 1 : 0);
    const int whole = int(std::lround(seconds));
    return QStringLiteral("%1:%2").arg(whole / 60).arg(whole % 60, 2, 10, QLatin1Char('0'));
}

}  // namespace

StageProgress::StageProgress(QWidget* parent) : QWidget(parent), m_grid(new QGridLayout(this)) {
    m_grid->setContentsMargins(0, 0, 0, 0);
    m_grid->setVerticalSpacing(2);
    m_grid->setColumnStretch(1, 1);
}

void StageProgress::clear() {
    for (auto& [stage, row] : m_rows) {
        delete row.name;
        delete row.bar;
        delete row.eta;
    }
    m_rows.clear();
}

StageProgress::Row& StageProgress::rowFor(Stage stage) {
    auto found = m_rows.find(stage);
    if (found != m_rows.end()) return found->second;
    Row& row = m_rows[stage];
    const int line = m_grid->rowCount();
    row.name = new QLabel(QString::fromUtf8(stageName(stage)), this);
    row.bar = new QProgressBar(this);
    row.bar->setRange(0, 0);  // busy until the first progress event
    row.bar->setTextVisible(true);
    row.bar->setMaximumHeight(16);
    row.eta = new QLabel(this);
    row.eta->setMinimumWidth(70);
    m_grid->addWidget(row.name, line, 0);
    m_grid->addWidget(row.bar, line, 1);
    m_grid->addWidget(row.eta, line, 2);
    row.clock.start();
    return row;
}

void StageProgress::onStage(const StageEvent& event) {
    Row& row = rowFor(event.stage);
    const QString name = QString::fromUtf8(stageName(event.stage));
    row.name->setText(event.detail.empty() ? name
                                           : QStringLiteral("%1 (%2)").arg(
                                                 name, QString::fromStdString(event.detail)));
    row.name->setToolTip(row.name->text());
    if (event.finished) {
        row.finished = true;
        row.bar->setRange(0, 1);
        row.bar->setValue(1);
        row.bar->setFormat(QStringLiteral("done"));
        row.eta->setText(duration(event.seconds));
    } else {
        row.finished = false;
        row.clock.restart();
        row.bar->setRange(0, 0);
        row.eta->clear();
    }
}

void StageProgress::onProgress(const ProgressEvent& event) {
    Row& row = rowFor(event.stage);
    if (event.total <= 0) return;
    // Progress is counted in the stage's units; the bar works in per-mille to stay in int range.
    row.bar->setRange(0, 1000);
    row.bar->setValue(int(1000 * event.done / event.total));
    row.bar->setFormat(QStringLiteral("%1/%2 %3")
                           .arg(event.done)
                           .arg(event.total)
                           .arg(QString::fromStdString(event.unit)));
    const double elapsed = row.clock.elapsed() / 1000.0;
    if (event.done > 0 && event.done < event.total) {
        const double remaining = elapsed * double(event.total - event.done) / double(event.done);
        row.eta->setText(tr("ETA %1").arg(duration(remaining)));
    } else if (event.done >= event.total) {
        row.eta->setText(duration(elapsed));
    }
}

void StageProgress::finishAll() {
    for (auto& [stage, row] : m_rows) {
        if (row.bar->maximum() == 0) {
            row.bar->setRange(0, 1);
            row.bar->setValue(row.finished ? 1 : 0);
        }
    }
}

QString StageProgress::etaText(Stage stage) const {
    const auto found = m_rows.find(stage);
    return found == m_rows.end() ? QString() : found->second.eta->text();
}

}  // namespace gp::ui
