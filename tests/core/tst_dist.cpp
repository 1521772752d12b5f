// Distributed runs (core/dist, `gradprobe launch`), with the real binary as 2 and 3 Gloo ranks on
// 127.0.0.1 and free ports, on the demo model:
//   - data-parallel WANDA (row, global, block-wise), magnitude global and the probe give the
//     single-process run's masks and exported model byte for byte, and its perplexity;
//   - the record names the world size and each rank's share;
//   - a rank killed mid-calibration, or stopped (hung): the other exits with code 5 naming the
//     lost rank and the stage, within --dist-timeout, and leaves no model, report or temp file;
//   - Ctrl-C on the launcher stops every rank (exit 130, nothing written);
//   - the environment torchrun and SLURM set is read (and a malformed one refused by name).
#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <csignal>
#include <filesystem>

#include "core/dist/dist_group.h"
#include "core/runtime/error.h"
#include "tests/support/test_support.h"

namespace {

namespace fs = std::filesystem;

// A port nobody listens on: bind to port 0 and release it (as the launcher does).
int freePort() {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t length = sizeof address;
    bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address);
    getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length);
    close(fd);
    return ntohs(address.sin_port);
}

struct Run {
    int exitCode = -1;
    QString output;  // stdout and stderr merged
    double seconds = 0.0;
};

QProcessEnvironment baseEnvironment() {
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    for (const char* name : {"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT",
                             "SLURM_NTASKS", "SLURM_PROCID"})
        environment.remove(name);
    environment.insert("OMP_WAIT_POLICY", "PASSIVE");
    environment.insert("OMP_NUM_THREADS", "1");
    return environment;
}

void start(QProcess& process, const QStringList& arguments,
           const QProcessEnvironment& environment = baseEnvironment()) {
    process.setProgram(QStringLiteral(GP_CLI_BINARY));
    process.setArguments(arguments);
    process.setProcessChannelMode(QProcess::MergedChannels);
    process.setProcessEnvironment(environment);
    process.start();
}

Run finish(QProcess& process, int timeoutMs = 300000) {
    QElapsedTimer clock;
    clock.start();
    Run run;
    if (!process.waitForFinished(timeoutMs)) {
        process.kill();
        process.waitForFinished();
        run.output = "TIMED OUT\n";
    }
    run.seconds = clock.elapsed() / 1000.0;
    run.exitCode = process.exitStatus() == QProcess::NormalExit ? process.exitCode() : -1;
    run.output += QString::fromLocal8Bit(process.readAll());
    return run;
}

Run runCli(const QStringList& arguments) {
    QProcess process;
    start(process, arguments);
    return finish(process);
}

// A prune short enough for 2 cores: 12 calibration windows of 64 ids in batches of 2 (6 batches:
// uneven shares on 4 and 5 ranks would be 2/2/1/1; on 3 ranks 2/2/2), 10 evaluation windows.
// The fault tests take 64 windows in batches of 1: a calibration long enough to be hit.
QStringList pruneArguments(const QString& out, const QStringList& method,
                           const QString& nsamples = "12", const QString& batchSize = "2") {
    QStringList arguments{"prune",        "--sparsity", "0.5",     "--nsamples", nsamples,
                          "--seqlen",     "64",         "--batch-size", batchSize,
                          "--eval-max-windows", "10",   "--out",        out};
    // The demo model unless the method's arguments name another one.
    if (!method.contains("--model"))
        arguments << "--model" << QString::fromStdString(gp::test::demoModelDir());
    return arguments + method;
}

// What `process` printed until `text` appeared (or it ended, or a minute passed).
QByteArray outputUntil(QProcess& process, const char* text) {
    QByteArray seen;
    QElapsedTimer clock;
    clock.start();
    while (!seen.contains(text) && clock.elapsed() < 60000 &&
           process.state() == QProcess::Running) {
        process.waitForReadyRead(200);
        seen += process.readAll();
    }
    return seen;
}

// The process ids of the launcher's ranks, oldest (rank 0) first.
QStringList childrenOf(const QProcess& launcher) {
    QProcess list;
    list.start("pgrep", {"-P", QString::number(launcher.processId())});
    list.waitForFinished();
    return QString::fromLatin1(list.readAll()).split('\n', Qt::SkipEmptyParts);
}

nlohmann::json readReport(const QString& folder) {
    return nlohmann::json::parse(gp::test::readBytes((folder + "/report.json").toStdString()));
}

// Nothing but the folder's own name may appear in `parent` (no staging, no temp file).
QStringList entriesOf(const QString& parent) {
    return QDir(parent).entryList(QDir::AllEntries | QDir::Hidden | QDir::NoDotAndDotDot);
}

}  // namespace

class TestDist : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void environmentOfTorchrunAndSlurm();
    void malformedEnvironmentNamesTheVariable();
    void sharesCoverEveryUnitOnce();
    void dataParallelMatchesOneProcess_data();
    void dataParallelMatchesOneProcess();
    void killedRankStopsTheOthers();
    void hungRankTimesOut();
    void ctrlCOnTheLauncherStopsEveryRank();

private:
    QTemporaryDir m_dir;
};

void TestDist::environmentOfTorchrunAndSlurm() {
    const std::map<std::string, std::string> torchrun{{"RANK", "3"},
                                                      {"WORLD_SIZE", "8"},
                                                      {"LOCAL_RANK", "1"},
                                                      {"MASTER_ADDR", "node0"},
                                                      {"MASTER_PORT", "29400"}};
    gp::DistEnvironment environment = gp::readDistEnvironment(&torchrun);
    QCOMPARE(environment.source, std::string("torchrun"));
    QCOMPARE(environment.rank, 3);
    QCOMPARE(environment.worldSize, 8);
    QCOMPARE(environment.localRank, 1);
    QCOMPARE(environment.masterAddr, std::string("node0"));
    QCOMPARE(environment.masterPort, 29400);

    const std::map<std::string, std::string> slurm{
        {"SLURM_PROCID", "5"}, {"SLURM_NTASKS", "16"}, {"SLURM_LOCALID", "5"}, {"MASTER_ADDR", "n1"}};
    environment = gp::readDistEnvironment(&slurm);
    QCOMPARE(environment.source, std::string("slurm"));
    QCOMPARE(environment.rank, 5);
    QCOMPARE(environment.worldSize, 16);
    QCOMPARE(environment.masterPort, 29500);  // torch.distributed's default

    const std::map<std::string, std::string> none{{"HOME", "/root"}};
    environment = gp::readDistEnvironment(&none);
    QCOMPARE(environment.worldSize, 1);
    QCOMPARE(environment.source, std::string());
}

void TestDist::malformedEnvironmentNamesTheVariable() {
    const std::vector<std::pair<std::map<std::string, std::string>, std::string>> cases{
        {{{"RANK", "x"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}, "RANK"},
        {{{"RANK", "2"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}}, "RANK"},
        {{{"RANK", "0"}}, "WORLD_SIZE"},
        {{{"RANK", "0"}, {"WORLD_SIZE", "2"}}, "MASTER_ADDR"},
        {{{"RANK", "0"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "-1"}},
         "MASTER_PORT"}};
    for (const auto& [variables, name] : cases) {
        try {
            gp::readDistEnvironment(&variables);
            QFAIL(("accepted an environment with a bad " + name).c_str());
        } catch (const gp::Error& error) {
            QCOMPARE(error.kind(), gp::ErrorKind::BadArgument);
            QVERIFY2(error.object() == name, error.what());
        }
    }
}

void TestDist::sharesCoverEveryUnitOnce() {
    for (int world = 1; world <= 5; ++world)
        for (int64_t count : {0, 1, 4, 6, 7, 13}) {
            int64_t next = 0;
            for (int rank = 0; rank < world; ++rank) {
                const gp::Share share = gp::shareOf(count, rank, world);
                QCOMPARE(share.begin, next);
                QVERIFY(share.size() == count / world || share.size() == count / world + 1);
                next = share.end;
            }
            QCOMPARE(next, count);
        }
}

void TestDist::dataParallelMatchesOneProcess_data() {
    QTest::addColumn<int>("ranks");
    QTest::addColumn<QStringList>("method");
    QTest::newRow("wanda row, 2 ranks") << 2 << QStringList{"--method", "wanda", "--group", "row"};
    QTest::newRow("wanda global, 3 ranks")
        << 3 << QStringList{"--method", "wanda", "--group", "global"};
    QTest::newRow("wanda library norm, block-wise, 2 ranks")
        << 2 << QStringList{"--method", "wanda", "--wanda-norm", "library", "--blockwise"};
    QTest::newRow("magnitude global, 3 ranks")
        << 3 << QStringList{"--method", "magnitude", "--group", "global"};
    QTest::newRow("probe, 3 ranks over 4 batches")
        << 3 << QStringList{"--method", "magnitude", "--probe", "--probe-threshold", "0",
                            "--probe-batches", "4"};
    // A real pretrained model (llama2.c format) with its own texts, from $GRADPROBE_DATA.
    QTest::newRow("stories260K wanda global + probe, 2 ranks")
        << 2 << QStringList{"stories260K", "--method", "wanda", "--group", "global", "--probe",
                            "--probe-batches", "3"};
}

void TestDist::dataParallelMatchesOneProcess() {
    QFETCH(int, ranks);
    QFETCH(QStringList, method);
    if (method.first() == "stories260K") {
        GP_REQUIRE_DATA(model, "stories260K/stories260K.bin");
        GP_REQUIRE_DATA(calibration, "tinystories/tinystories_val.txt");
        GP_REQUIRE_DATA(evaluation, "tinystories/TinyStories-valid.first69.txt");
        method.removeFirst();
        method << "--model" << QString::fromStdString(model) << "--calib"
               << QString::fromStdString(calibration) << "--eval"
               << QString::fromStdString(evaluation);
    }
    const QString tag = QString::fromLatin1(QTest::currentDataTag()).replace(' ', '_').remove(',');
    const QString single = m_dir.filePath(tag + "-single");
    const QString parallel = m_dir.filePath(tag + "-dist");

    const Run alone = runCli(pruneArguments(single, method));
    QVERIFY2(alone.exitCode == 0, qPrintable(alone.output));
    const Run job = runCli(QStringList{"launch", "--nproc", QString::number(ranks), "--"} +
                           pruneArguments(parallel, method));
    QVERIFY2(job.exitCode == 0, qPrintable(job.output));

    for (const char* file : {"model.safetensors", "gradprobe/masks.safetensors"}) {
        const std::string expected = gp::test::readBytes((single + "/" + file).toStdString());
        QVERIFY2(!expected.empty(), file);
        QVERIFY2(gp::test::readBytes((parallel + "/" + file).toStdString()) == expected,
                 qPrintable(QString("%1 differs from the single-process run's").arg(file)));
    }
    const nlohmann::json one = readReport(single), many = readReport(parallel);
    for (const char* key : {"ppl_before", "ppl_after"}) {
        const double expected = one["result"][key], actual = many["result"][key];
        QVERIFY2(std::abs(actual - expected) <= 1e-6 * expected,
                 qPrintable(QString("%1: %2 vs %3 alone").arg(key).arg(actual, 0, 'g', 17)
                                .arg(expected, 0, 'g', 17)));
    }
    QCOMPARE(one["result"]["pruned_parameters"], many["result"]["pruned_parameters"]);
    QVERIFY(!one.contains("distributed"));
    const nlohmann::json& facts = many["distributed"];
    QCOMPARE(facts["world_size"].get<int>(), ranks);
    QCOMPARE(facts["backend"].get<std::string>(), std::string("gloo"));
    QCOMPARE(int(facts["ranks"].size()), ranks);
    int64_t covered = 0;
    for (const nlohmann::json& rank : facts["ranks"]) {
        QCOMPARE(rank["calibration_batch_begin"].get<int64_t>(), covered);
        covered = rank["calibration_batch_end"].get<int64_t>();
        QVERIFY(rank["peak_rss_bytes"].get<int64_t>() > 0);
    }
    QCOMPARE(covered, int64_t(6));  // 12 windows in batches of 2
}

// Rank 1 is killed once rank 0 starts calibrating: rank 0 must stop with exit code 5, naming
// rank 1 and the calibration, well within its --dist-timeout, and write nothing.
void TestDist::killedRankStopsTheOthers() {
    const QString parent = m_dir.filePath("killed");
    QVERIFY(QDir().mkpath(parent));
    const QString out = parent + "/model";
    const QStringList arguments = pruneArguments(out, {"--method", "wanda", "--dist-timeout", "60"}, "64", "1");
    QProcessEnvironment environment = baseEnvironment();
    environment.insert("WORLD_SIZE", "2");
    environment.insert("MASTER_ADDR", "127.0.0.1");
    environment.insert("MASTER_PORT", QString::number(freePort()));
    QProcess ranks[2];
    for (int rank = 0; rank < 2; ++rank) {
        QProcessEnvironment mine = environment;
        mine.insert("RANK", QString::number(rank));
        start(ranks[rank], arguments, mine);
        QVERIFY(ranks[rank].waitForStarted());
    }
    const QByteArray seen = outputUntil(ranks[0], "[calibrate]");
    QVERIFY2(seen.contains("[calibrate]"), seen.constData());
    ::kill(pid_t(ranks[1].processId()), SIGKILL);
    const Run survivor = finish(ranks[0], 120000);
    finish(ranks[1]);
    const QString output = QString::fromLocal8Bit(seen) + survivor.output;
    QVERIFY2(survivor.exitCode == 5, qPrintable(output));
    QVERIFY2(output.contains("lost rank 1"), qPrintable(output));
    QVERIFY2(output.contains("stage 'calibrate'"), qPrintable(output));
    QVERIFY2(survivor.seconds < 60, qPrintable(output));
    QVERIFY2(entriesOf(parent).isEmpty(), qPrintable(entriesOf(parent).join(", ")));
}

// A stopped rank (SIGSTOP: alive, silent) is a hang: the launcher's other rank gives up after
// --dist-timeout, names it, and the launcher ends the stopped one and fails.
void TestDist::hungRankTimesOut() {
    const QString parent = m_dir.filePath("hung");
    QVERIFY(QDir().mkpath(parent));
    QProcess launcher;
    start(launcher, QStringList{"launch", "--nproc", "2", "--grace", "3", "--"} +
                        pruneArguments(parent + "/model", {"--method", "wanda", "--dist-timeout", "5"},
                                       "64", "1"));
    QVERIFY(launcher.waitForStarted());
    const QByteArray seen = outputUntil(launcher, "[calibrate]");
    QVERIFY2(seen.contains("[calibrate]"), seen.constData());
    // The launcher's children: rank 1 is the younger one.
    const QStringList children = childrenOf(launcher);
    QCOMPARE(children.size(), 2);
    ::kill(pid_t(children.last().toInt()), SIGSTOP);
    const Run run = finish(launcher, 120000);
    const QString output = QString::fromLocal8Bit(seen) + run.output;
    QVERIFY2(run.exitCode == 5, qPrintable(output));
    QVERIFY2(output.contains("lost rank 1"), qPrintable(output));
    QVERIFY2(output.contains("stage 'calibrate'"), qPrintable(output));
    QVERIFY2(entriesOf(parent).isEmpty(), qPrintable(entriesOf(parent).join(", ")));
}

void TestDist::ctrlCOnTheLauncherStopsEveryRank() {
    const QString parent = m_dir.filePath("interrupted");
    QVERIFY(QDir().mkpath(parent));
    QProcess launcher;
    start(launcher, QStringList{"launch", "--nproc", "2", "--"} +
                        pruneArguments(parent + "/model", {"--method", "wanda"}, "64", "1"));
    QVERIFY(launcher.waitForStarted());
    const QByteArray seen = outputUntil(launcher, "[calibrate]");
    QVERIFY2(seen.contains("[calibrate]"), seen.constData());
    const QStringList children = childrenOf(launcher);
    ::kill(pid_t(launcher.processId()), SIGINT);
    const Run run = finish(launcher, 120000);
    QVERIFY2(run.exitCode == 130, qPrintable(QString::fromLocal8Bit(seen) + run.output));
    for (const QString& child : children)
        QVERIFY2(::kill(pid_t(child.toInt()), 0) != 0, "a rank outlived the launcher");
    QVERIFY2(entriesOf(parent).isEmpty(), qPrintable(entriesOf(parent).join(", ")));
}

QTEST_GUILESS_MAIN(TestDist)
#include "tst_dist.moc"
