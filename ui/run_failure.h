// Why a job on the RunWorker failed, as a plain Qt value that crosses threads: the job, and for
// an engine error (gp::Error) the file, the object inside it and the problem.
#pragma once

#include <QMetaType>
#include <QString>

#include <exception>

namespace gp::ui {

struct RunFailure {
    QString job;      // "open", "evaluate", "prune", "preview", "revert"
    QString file;     // gp::Error::file(); "" when none
    QString object;   // gp::Error::object(); "" when none
    QString problem;  // gp::Error::problem(), or what() of any other exception
    bool outOfMemory = false;

    // Builds a failure from the exception being handled (call inside a catch block).
    static RunFailure fromCurrentException(const QString& job);
    // "File: ...\nIn: ...\nProblem: ..." for a dialog.
    QString details() const;
};

}  // namespace gp::ui

Q_DECLARE_METATYPE(gp::ui::RunFailure)
