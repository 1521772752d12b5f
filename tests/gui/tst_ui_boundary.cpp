// ui/ sees the engine only through its facade: no LibTorch header anywhere under ui/ or
// app/studio/, and of core only core/api/*.h and the plain runtime headers; qcustomplot.h only in
// plot .cpp files. Reads the sources from $GP_SOURCE_DIR (set by CTest).
#include <QDirIterator>
#include <QFile>
#include <QRegularExpression>
#include <QtTest/QtTest>

class TestUiBoundary : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void includesStayBehindTheFacade();
};

void TestUiBoundary::includesStayBehindTheFacade() {
    const QString source = qEnvironmentVariable("GP_SOURCE_DIR");
    if (source.isEmpty()) QSKIP("GP_SOURCE_DIR is not set (run through ctest)");
    const QRegularExpression include(QStringLiteral("^\\s*#\\s*include\\s*[<\"]([^>\"]+)[>\"]"),
                                     QRegularExpression::MultilineOption);
    const QRegularExpression allowedCore(QStringLiteral(
        "^core/(api/[a-z_]+\\.h|runtime/(observer|events|cancel|error|memory|allocator)\\.h)$"));
    int files = 0;
    QStringList problems;
    for (const QString& folder : {QStringLiteral("ui"), QStringLiteral("app/studio")}) {
        QDirIterator it(source + '/' + folder, {"*.h", "*.cpp"}, QDir::Files,
                        QDirIterator::Subdirectories);
        while (it.hasNext()) {
            const QString path = it.next();
            const QString relative = QDir(source).relativeFilePath(path);
            QFile file(path);
            QVERIFY(file.open(QIODevice::ReadOnly));
            const QString text = QString::fromUtf8(file.readAll());
            ++files;
            for (auto match = include.globalMatch(text); match.hasNext();) {
                const QString header = match.next().captured(1);
                if (header.startsWith("torch/") || header.startsWith("ATen/") ||
                    header.startsWith("c10/"))
                    problems << relative + ": LibTorch header " + header;
                if (header.startsWith("core/") && !allowedCore.match(header).hasMatch())
                    problems << relative + ": engine-internal header " + header;
                if (header == "qcustomplot.h" &&
                    !(relative.startsWith("ui/plots/") && relative.endsWith(".cpp")))
                    problems << relative + ": qcustomplot.h outside a plot .cpp";
            }
        }
    }
    QVERIFY2(files >= 10,
             qPrintable(QString("only %1 files found under %2").arg(files).arg(source)));
    QVERIFY2(problems.isEmpty(), qPrintable(problems.join('\n')));
}

QTEST_GUILESS_MAIN(TestUiBoundary)
#include "tst_ui_boundary.moc"
