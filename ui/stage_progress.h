// One progress bar per stage of the job that works now (load, calibrate, score, select, probe,
// apply, evaluate), each with its detail, its progress in the stage's units and an ETA from the
// rate so far; a finished stage shows its time. Threads: GUI thread only.
#pragma once

#include <QElapsedTimer>
#include <QWidget>

#include <map>

#include "core/runtime/events.h"

class QGridLayout;
class QLabel;
class QProgressBar;

namespace gp::ui {

class StageProgress : public QWidget {
    Q_OBJECT

public:
    explicit StageProgress(QWidget* parent = nullptr);

    void clear();  // a new job starts
    void onStage(const StageEvent& event);
    void onProgress(const ProgressEvent& event);
    void finishAll();  // the job ended: stop every busy indicator

    int stageCount() const { return int(m_rows.size()); }
    QString etaText(Stage stage) const;

private:
    struct Row {
        QLabel* name = nullptr;
        QProgressBar* bar = nullptr;
        QLabel* eta = nullptr;
        QElapsedTimer clock;
        bool finished = false;
    };
    Row& rowFor(Stage stage);

    QGridLayout* m_grid;
    std::map<Stage, Row> m_rows;
};

}  // namespace gp::ui
