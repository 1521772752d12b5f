// Asks where and how to export the model as it is now: the target folder, the format (dense,
// compressed, llama2c: the words of the CLI's --format), the masks file, and whether an existing
// model folder may be replaced. Threads: GUI thread only.
#pragma once

#include <QDialog>

#include "core/api/engine.h"

class QCheckBox;
class QComboBox;
class QLineEdit;

namespace gp::ui {

class ExportDialog : public QDialog {
    Q_OBJECT

public:
    // llama2c is offered only for LLaMA-family models.
    ExportDialog(const QString& suggestedFolder, bool llamaFamily, QWidget* parent = nullptr);

    ExportOptions options() const;

private:
    QLineEdit* m_folder;
    QComboBox* m_format;
    QCheckBox* m_masks;
    QCheckBox* m_force;
};

}  // namespace gp::ui
