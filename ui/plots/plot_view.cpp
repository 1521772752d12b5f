#include "ui/plots/plot_view.h"

#include <qcustomplot.h>

#include <QBuffer>
#include <QFileDialog>
#include <QMenu>
#include <QVBoxLayout>

namespace gp::ui {
namespace {

QSize sizeOr(QSize size, const QWidget* widget) {
    if (size.isValid() && !size.isEmpty()) return size;
    const QSize own = widget->size();
    return own.isEmpty() ? QSize(640, 400) : own;
}

}  // namespace

PlotView::PlotView(const QString& title, QWidget* parent)
    : QWidget(parent), m_plot(new QCustomPlot(this)) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);
    setMinimumSize(280, 200);

    m_plot->plotLayout()->insertRow(0);
    m_title = new QCPTextElement(m_plot, title, QFont(font().family(), 10, QFont::Bold));
    m_plot->plotLayout()->addElement(0, 0, m_title);
    m_plot->setNoAntialiasingOnDrag(true);
    m_plot->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_plot, &QWidget::customContextMenuRequested, this, [this](const QPoint& at) {
        QMenu* menu = createContextMenu(this);
        menu->setAttribute(Qt::WA_DeleteOnClose);
        menu->popup(m_plot->mapToGlobal(at));
    });
}

PlotView::~PlotView() = default;

QString PlotView::title() const {
    return m_title->text();
}

void PlotView::setTitle(const QString& title) {
    m_title->setText(title);
    markDirty();
}

QString PlotView::subtitle() const {
    return m_subtitle ? m_subtitle->text() : QString();
}

void PlotView::setSubtitle(const QString& subtitle) {
    QCPLayoutGrid* layout = m_plot->plotLayout();
    if (!m_subtitle && subtitle.isEmpty()) return;
    if (!m_subtitle) {
        layout->insertRow(1);
        m_subtitle = new QCPTextElement(m_plot, subtitle, QFont(font().family(), 8));
        layout->addElement(1, 0, m_subtitle);
    }
    m_subtitle->setText(subtitle);
    m_subtitle->setVisible(!subtitle.isEmpty());
    markDirty();
}

void PlotView::placeLegendUnderTitle() {
    QCPLayoutGrid* layout = m_plot->plotLayout();
    const int row = m_subtitle ? 2 : 1;
    layout->insertRow(row);
    layout->addElement(row, 0, m_plot->legend);  // takes it out of the axis rect's inset layout
    m_plot->legend->setWrap(2);  // two items a row: the labels stay whole in a narrow plot
    m_plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    m_plot->legend->setBorderPen(Qt::NoPen);
    layout->setRowStretchFactor(row, 0.001);  // as high as the legend needs, no more
    markDirty();
}

void PlotView::replotIfDirty() {
    if (!m_dirty) return;
    m_dirty = false;
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

QByteArray PlotView::toPng(QSize size) const {
    const QSize target = sizeOr(size, this);
    const QPixmap pixmap = m_plot->toPixmap(target.width(), target.height());
    QByteArray bytes;
    QBuffer buffer(&bytes);
    buffer.open(QIODevice::WriteOnly);
    pixmap.save(&buffer, "PNG");
    return bytes;
}

bool PlotView::savePng(const QString& path, QSize size) const {
    const QSize target = sizeOr(size, this);
    return m_plot->savePng(path, target.width(), target.height());
}

bool PlotView::savePdf(const QString& path, QSize size) const {
    const QSize target = sizeOr(size, this);
    return m_plot->savePdf(path, target.width(), target.height());
}

QMenu* PlotView::createContextMenu(QWidget* parent) {
    auto* menu = new QMenu(parent);
    menu->addAction(tr("Save as PNG..."), this, [this] { saveWithDialog(QStringLiteral("png")); });
    menu->addAction(tr("Save as PDF..."), this, [this] { saveWithDialog(QStringLiteral("pdf")); });
    return menu;
}

void PlotView::saveWithDialog(const QString& format) {
    const QString filter = format == QLatin1String("pdf") ? tr("PDF (*.pdf)") : tr("PNG (*.png)");
    QString stem = title().toLower();
    stem.replace(QRegularExpression(QStringLiteral("[^a-z0-9]+")), QStringLiteral("-"));
    QString path = QFileDialog::getSaveFileName(this, tr("Save plot"), stem + '.' + format, filter);
    if (path.isEmpty()) return;
    if (!path.endsWith('.' + format, Qt::CaseInsensitive)) path += '.' + format;
    const bool ok = format == QLatin1String("pdf") ? savePdf(path) : savePng(path);
    if (ok) Q_EMIT saved(path);
}

}  // namespace gp::ui
