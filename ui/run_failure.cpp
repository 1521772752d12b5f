#include "ui/run_failure.h"

#include <QCoreApplication>
#include <QStringList>

#include <new>

#include "core/runtime/error.h"

namespace gp::ui {

RunFailure RunFailure::fromCurrentException(const QString& job) {
    RunFailure failure;
    failure.job = job;
    try {
        throw;
    } catch (const gp::Error& error) {
        failure.file = QString::fromStdString(error.file());
        failure.object = QString::fromStdString(error.object());
        failure.problem = QString::fromStdString(error.problem());
        failure.outOfMemory = error.kind() == ErrorKind::OutOfMemory;
    } catch (const std::bad_alloc&) {
        failure.problem = QCoreApplication::translate("RunFailure", "out of memory");
        failure.outOfMemory = true;
    } catch (...) {
        // LibTorch's messages carry a C++ backtrace: currentError() keeps the first line.
        const gp::Error error = gp::currentError();
        failure.object = QString::fromStdString(error.object());
        failure.problem = QString::fromStdString(error.problem());
        failure.outOfMemory = error.kind() == ErrorKind::OutOfMemory;
    }
    return failure;
}

QString RunFailure::details() const {
    QStringList lines;
    if (!file.isEmpty()) lines << QCoreApplication::translate("RunFailure", "File: %1").arg(file);
    if (!object.isEmpty()) lines << QCoreApplication::translate("RunFailure", "In: %1").arg(object);
    lines << QCoreApplication::translate("RunFailure", "Problem: %1").arg(problem);
    return lines.join('\n');
}

}  // namespace gp::ui
