#include "ui/export_dialog.h"

#include <QCheckBox>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFormLayout>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>
#include <QToolButton>

namespace gp::ui {

ExportDialog::ExportDialog(const QString& suggestedFolder, bool llamaFamily, QWidget* parent)
    : QDialog(parent),
      m_folder(new QLineEdit(suggestedFolder)),
      m_format(new QComboBox),
      m_masks(new QCheckBox(tr("Also write the masks (gradprobe/masks.safetensors)"))),
      m_force(new QCheckBox(tr("Replace a model already in that folder"))) {
    setWindowTitle(tr("Export pruned model"));
    auto* form = new QFormLayout(this);
    auto* folderRow = new QHBoxLayout;
    folderRow->addWidget(m_folder, 1);
    auto* browse = new QToolButton;
    browse->setText(QStringLiteral("…"));
    folderRow->addWidget(browse);
    form->addRow(tr("Folder"), folderRow);
    connect(browse, &QToolButton::clicked, this, [this] {
        const QString path = QFileDialog::getSaveFileName(
            this, tr("Export to folder"), m_folder->text(), {}, nullptr, QFileDialog::ShowDirsOnly);
        if (!path.isEmpty()) m_folder->setText(path);
    });
    m_format->addItem(tr("Dense (Hugging Face folder)"), QStringLiteral("dense"));
    m_format->addItem(tr("Compressed (sparse bitmask)"), QStringLiteral("compressed"));
    if (llamaFamily) {
        m_format->addItem(tr("llama2.c .bin"), QStringLiteral("llama2c"));
        m_format->addItem(tr("GGUF F16 (llama.cpp)"), QStringLiteral("gguf:f16"));
        m_format->addItem(tr("GGUF Q8_0 (llama.cpp)"), QStringLiteral("gguf:q8_0"));
    }
    m_format->setToolTip(tr("--format"));
    form->addRow(tr("Format"), m_format);
    m_masks->setChecked(true);
    form->addRow(m_masks);
    form->addRow(m_force);
    connect(m_format, &QComboBox::currentIndexChanged, this, [this] {
        const QString format = m_format->currentData().toString();
        m_masks->setEnabled(format != QLatin1String("llama2c") && !format.startsWith("gguf"));
    });

    auto* buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel);
    buttons->button(QDialogButtonBox::Ok)->setText(tr("Export"));
    form->addRow(buttons);
    connect(buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    connect(m_folder, &QLineEdit::textChanged, this, [this, buttons](const QString& text) {
        buttons->button(QDialogButtonBox::Ok)->setEnabled(!text.trimmed().isEmpty());
    });
    resize(560, sizeHint().height());
}

ExportOptions ExportDialog::options() const {
    ExportOptions options;
    options.outDir = m_folder->text().trimmed().toStdString();
    // "gguf:<type>" carries the GGUF type (--format gguf --gguf-type <type>).
    const QStringList format = m_format->currentData().toString().split(QLatin1Char(':'));
    options.format = format.front().toStdString();
    if (format.size() > 1) options.ggufType = format.back().toStdString();
    options.masks = m_masks->isEnabled() && m_masks->isChecked();
    options.force = m_force->isChecked();
    return options;
}

}  // namespace gp::ui
