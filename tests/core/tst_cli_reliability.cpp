// The real `gradprobe` binary under hostile conditions, run as a child process on the demo model:
//   - Ctrl-C (SIGINT) while `prune --out DIR` works: exit code 130, "cancelled", no DIR (or no
//     model in it) and no temporary file left anywhere;
//   - read-only inputs: every input file has the same SHA-256 (and size and time) after a run;
//   - a full disk (a file-size limit in the child: writes fail with EFBIG as with ENOSPC): a
//     non-zero exit, a message naming the file, no model under the final name, no staging left;
//   - a load or a job too big for the machine: refused up front with exit code 4, the bytes it
//     needs and the option that lowers them; an allocation failing mid-run: exit 4, weights
//     restored;
//   - bad arguments: exit code 2 and a message naming the option.
#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <cmath>
#include <csignal>
#include <filesystem>
#include <functional>
#include <map>

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tests/core/unaligned_checkpoint.h"

namespace {

namespace fs = std::filesystem;

QString demoModel() {
    const QByteArray fromEnv = qgetenv("GP_DEMO_MODEL_DIR");
    return fromEnv.isEmpty() ? QStringLiteral(GP_DEMO_MODEL_DIR) : QString::fromLocal8Bit(fromEnv);
}

// Flags that keep a prune short on the demo model: few calibration windows, no perplexity.
QStringList quickPrune(const QString& model, const QString& out, const QString& nsamples = "4") {
    return {"prune",      "--model", model,      "--method", "wanda",     "--sparsity", "0.5",
            "--nsamples", nsamples,  "--seqlen", "64",       "--no-eval", "--out",      out};
}

struct Run {
    int exitCode = -1;
    QProcess::ExitStatus status = QProcess::CrashExit;
    QString output;  // stdout and stderr merged
};

void setUpProcess(QProcess& process) {
    process.setProgram(QStringLiteral(GP_CLI_BINARY));
    process.setProcessChannelMode(QProcess::MergedChannels);
    QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
    environment.insert("OMP_WAIT_POLICY", "PASSIVE");
    process.setProcessEnvironment(environment);
}

Run finish(QProcess& process, int timeoutMs) {
    Run run;
    if (!process.waitForFinished(timeoutMs)) {
        process.kill();
        process.waitForFinished();
        run.output = "TIMED OUT\n";
    }
    run.exitCode = process.exitCode();
    run.status = process.exitStatus();
    run.output += QString::fromLocal8Bit(process.readAll());
    return run;
}

Run runCli(const QStringList& arguments, int timeoutMs = 300000,
           const std::function<void()>& inChild = {}) {
    QProcess process;
    setUpProcess(process);
    process.setArguments(arguments);
    if (inChild) process.setChildProcessModifier(inChild);
    process.start();
    if (!process.waitForStarted()) return Run{-1, QProcess::CrashExit, "did not start"};
    return finish(process, timeoutMs);
}

// Every file under `folder`, relative path -> SHA-256, size and modification time.
QMap<QString, QByteArray> fingerprints(const QString& folder) {
    QMap<QString, QByteArray> result;
    for (const auto& entry : fs::recursive_directory_iterator(folder.toStdString())) {
        if (!entry.is_regular_file()) continue;
        QFile file(QString::fromStdString(entry.path().string()));
        if (!file.open(QIODevice::ReadOnly)) continue;
        QCryptographicHash hash(QCryptographicHash::Sha256);
        hash.addData(&file);
        const QString name =
            QString::fromStdString(fs::relative(entry.path(), folder.toStdString()).string());
        const QFileInfo info(file);
        result[name] = hash.result().toHex() + " " + QByteArray::number(info.size()) + " " +
                       QByteArray::number(info.lastModified().toMSecsSinceEpoch());
    }
    return result;
}

// Names under `folder` that a half-finished write would leave: "*.tmp-*" files or folders.
QStringList leftovers(const QString& folder) {
    QStringList found;
    for (const auto& entry : fs::recursive_directory_iterator(folder.toStdString()))
        if (entry.path().filename().string().find(".tmp-") != std::string::npos)
            found << QString::fromStdString(entry.path().string());
    return found;
}

// The CLI as a child whose own resource usage is measured (wait4): peak RSS and CPU time.
struct MeasuredRun {
    Run run;
    int64_t peakRssBytes = 0;
    double cpuSeconds = 0.0;
    double wallSeconds = 0.0;
};

MeasuredRun runMeasured(const QStringList& arguments, int timeoutMs = 120000) {
    QTemporaryFile log;
    log.open();
    std::vector<std::string> words{GP_CLI_BINARY};
    for (const QString& argument : arguments) words.push_back(argument.toStdString());
    std::vector<char*> argv;
    for (std::string& word : words) argv.push_back(word.data());
    argv.push_back(nullptr);
    QElapsedTimer clock;
    clock.start();
    const pid_t child = ::fork();
    if (child == 0) {
        ::dup2(log.handle(), 1);
        ::dup2(log.handle(), 2);
        ::setenv("OMP_WAIT_POLICY", "PASSIVE", 1);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    MeasuredRun measured;
    int status = 0;
    rusage usage{};
    while (::wait4(child, &status, WNOHANG, &usage) == 0) {
        if (clock.elapsed() > timeoutMs) {
            ::kill(child, SIGKILL);
            ::wait4(child, &status, 0, &usage);
            measured.run.output = "TIMED OUT\n";
            break;
        }
        QTest::qSleep(20);
    }
    measured.wallSeconds = clock.elapsed() / 1000.0;
    measured.run.status = WIFEXITED(status) ? QProcess::NormalExit : QProcess::CrashExit;
    measured.run.exitCode = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    log.seek(0);
    measured.run.output += QString::fromLocal8Bit(log.readAll());
    measured.peakRssBytes = int64_t(usage.ru_maxrss) * 1024;
    measured.cpuSeconds = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6 +
                          usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
    return measured;
}

#define GP_EXPECT_EXIT(run, code)                                                           \
    QVERIFY2((run).status == QProcess::NormalExit && (run).exitCode == (code),              \
             qPrintable(QString("exit %1 (%2), expected %3:\n%4")                           \
                            .arg((run).exitCode)                                            \
                            .arg((run).status == QProcess::NormalExit ? "normal" : "crash") \
                            .arg(code)                                                      \
                            .arg((run).output)))

}  // namespace

class TestCliReliability : public QObject {
    Q_OBJECT

private Q_SLOTS:
    void initTestCase() {
        QVERIFY2(QFileInfo(QStringLiteral(GP_CLI_BINARY)).isExecutable(), GP_CLI_BINARY);
        QVERIFY2(QFileInfo(demoModel() + "/config.json").exists(), qPrintable(demoModel()));
    }

    // Ctrl-C at a stage of `prune --out`: a clean stop with 130 and nothing written.
    void interruptLeavesNothing_data() {
        QTest::addColumn<QString>("stageLine");
        QTest::addColumn<bool>("evaluate");
        QTest::newRow("during perplexity before") << "[evaluate] perplexity before" << true;
        QTest::newRow("during calibration") << "[calibrate] activation norms" << false;
    }
    void interruptLeavesNothing() {
        QFETCH(QString, stageLine);
        QFETCH(bool, evaluate);
        QTemporaryDir root;
        QVERIFY(root.isValid());
        const QString out = root.filePath("out");
        // Long enough stages (one window per batch) that the signal lands inside them.
        QStringList arguments = quickPrune(demoModel(), out, evaluate ? "4" : "64");
        arguments << "--batch-size"
                  << "1";
        if (evaluate) {
            arguments.removeAll("--no-eval");
            arguments << "--eval-max-windows"
                      << "50";
        }

        QProcess process;
        setUpProcess(process);
        process.setArguments(arguments);
        process.start();
        QVERIFY(process.waitForStarted());
        QByteArray seen;
        QElapsedTimer clock;
        clock.start();
        while (!seen.contains(stageLine.toUtf8()) && clock.elapsed() < 240000 &&
               process.state() == QProcess::Running) {
            process.waitForReadyRead(1000);
            seen += process.readAll();
        }
        QVERIFY2(seen.contains(stageLine.toUtf8()), seen.constData());
        QCOMPARE(::kill(pid_t(process.processId()), SIGINT), 0);
        Run run = finish(process, 120000);
        run.output.prepend(QString::fromLocal8Bit(seen));
        GP_EXPECT_EXIT(run, 130);
        QVERIFY2(run.output.contains("cancelled"), qPrintable(run.output));
        QVERIFY2(!QFileInfo::exists(out + "/model.safetensors"), qPrintable(run.output));
        QVERIFY2(!QFileInfo::exists(out + "/report.json"), qPrintable(run.output));
        QVERIFY2(leftovers(root.path()).isEmpty(), qPrintable(leftovers(root.path()).join("\n")));
    }

    // Ctrl-C while the model file itself is being written (every write slowed by the test
    // hook): exit 130, and no file under any final name, no staging left.
    void interruptDuringExportWriteLeavesNothing() {
        QTemporaryDir root;
        QVERIFY(root.isValid());
        const QString out = root.filePath("out");
        QProcess process;
        setUpProcess(process);
        QProcessEnvironment environment = process.processEnvironment();
        environment.insert("GP_TEST_WRITE_DELAY_MS", "100");
        process.setProcessEnvironment(environment);
        process.setArguments({"export", "--model", demoModel(), "--out", out});
        process.start();
        QVERIFY(process.waitForStarted());
        // The staged weights file appears when its first bytes are being written.
        const auto writing = [&] {
            for (const QString& file : leftovers(root.path()))
                if (file.contains(".safetensors")) return true;
            return false;
        };
        QVERIFY2(QTest::qWaitFor(writing, 60000), qPrintable(leftovers(root.path()).join("\n")));
        QCOMPARE(::kill(pid_t(process.processId()), SIGINT), 0);
        const Run run = finish(process, 120000);
        GP_EXPECT_EXIT(run, 130);
        QVERIFY2(run.output.contains("cancelled"), qPrintable(run.output));
        QVERIFY2(!QFileInfo::exists(out), qPrintable(run.output));
        QVERIFY2(leftovers(root.path()).isEmpty(), qPrintable(leftovers(root.path()).join("\n")));
    }

    // A whole prune and export from a read-only copy of the model: not a byte of it changes.
    void inputsAreNotModified() {
        QTemporaryDir root;
        QVERIFY(root.isValid());
        const QString input = root.filePath("input");
        fs::copy(demoModel().toStdString(), input.toStdString(), fs::copy_options::recursive);
        for (const auto& entry : fs::directory_iterator(input.toStdString()))
            fs::permissions(entry.path(),
                            fs::perms::owner_read | fs::perms::group_read | fs::perms::others_read);
        fs::permissions(input.toStdString(), fs::perms::owner_read | fs::perms::owner_exec |
                                                 fs::perms::group_read | fs::perms::group_exec);
        const QMap<QString, QByteArray> before = fingerprints(input);
        QVERIFY(before.contains("model.safetensors"));

        const Run run = runCli(quickPrune(input, root.filePath("out")));
        GP_EXPECT_EXIT(run, 0);
        QVERIFY2(QFileInfo::exists(root.filePath("out/model.safetensors")), qPrintable(run.output));

        const QMap<QString, QByteArray> after = fingerprints(input);
        QCOMPARE(after.keys(), before.keys());
        for (const QString& name : before.keys())
            QVERIFY2(after[name] == before[name],
                     qPrintable(name + ": " + before[name] + " -> " + after[name]));
        fs::permissions(input.toStdString(), fs::perms::owner_all);
    }

    // Writes fail part way (RLIMIT_FSIZE in the child; SIGXFSZ ignored so write() returns EFBIG
    // as it returns ENOSPC on a full disk): the error names the file, nothing is left behind.
    void fullDiskLeavesNothing_data() {
        QTest::addColumn<QStringList>("command");
        QTest::addColumn<QString>("failedFile");
        QTest::newRow("export") << QStringList{"export", "--model", demoModel(), "--out"}
                                << "model.safetensors";
        QTest::newRow("prune --out") << QStringList() << "model.safetensors";
    }
    void fullDiskLeavesNothing() {
        QFETCH(QStringList, command);
        QFETCH(QString, failedFile);
        QTemporaryDir root;
        QVERIFY(root.isValid());
        const QString out = root.filePath("out");
        const QStringList arguments =
            command.isEmpty() ? quickPrune(demoModel(), out) : command + QStringList{out};
        // The demo model's weights are 1 MB: a 256 KB limit stops the write in the middle.
        const Run run = runCli(arguments, 300000, [] {
            std::signal(SIGXFSZ, SIG_IGN);
            const rlimit limit{256 * 1024, 256 * 1024};
            setrlimit(RLIMIT_FSIZE, &limit);
        });
        GP_EXPECT_EXIT(run, 3);
        QVERIFY2(
            run.output.contains(out + "/" + failedFile) && run.output.contains("File too large"),
            qPrintable(run.output));
        QVERIFY2(run.output.contains("nothing was written"), qPrintable(run.output));
        QVERIFY2(!QFileInfo::exists(out + "/model.safetensors"), qPrintable(run.output));
        QVERIFY2(leftovers(root.path()).isEmpty(), qPrintable(leftovers(root.path()).join("\n")));
    }

    // A job that cannot fit is refused before it starts (exit 4), saying how much it needs, what
    // is available and which option lowers it; nothing is written.
    void memoryRefusal() {
        QTemporaryDir root;
        QVERIFY(root.isValid());
        const QString out = root.filePath("out");
        // 1,000,000 windows of 256 tokens in one batch: terabytes of activations on any machine.
        const Run run =
            runCli({"prune", "--model", demoModel(), "--method", "wanda", "--nsamples", "1000000",
                    "--batch-size", "1000000", "--seqlen", "256", "--no-eval", "--out", out});
        GP_EXPECT_EXIT(run, 4);
        for (const char* fragment : {"needs about", "TiB of RAM", "are available",
                                     "activations of one batch", "--batch-size"})
            QVERIFY2(run.output.contains(fragment), qPrintable(run.output));
        QVERIFY2(!run.output.contains("[calibrate]"), qPrintable(run.output));
        QVERIFY(!QFileInfo::exists(out));
    }

    // Loading a bf16 checkpoint as fp32 converts it into a copy twice its size: refused up front
    // when that does not fit (info, which converts nothing, still describes it). The checkpoint is 3/4 of this machine's RAM, sparse on disk (its
    // weights are holes: no disk space), so the fp32 copy would need 1.5 times the RAM.
    void loadRefusal() {
        QFile meminfo("/proc/meminfo");
        QVERIFY(meminfo.open(QIODevice::ReadOnly));
        const QList<QByteArray> fields = meminfo.readLine().simplified().split(' ');
        QCOMPARE(fields.value(0), QByteArray("MemTotal:"));
        const int64_t ramBytes = fields.value(1).toLongLong() * 1024;
        const int64_t hidden = 64;
        const int64_t vocab = ramBytes * 3 / 4 / (2 * hidden);

        QTemporaryDir root;
        QVERIFY(root.isValid());
        const nlohmann::json config = {
            {"model_type", "llama"},      {"vocab_size", vocab},
            {"hidden_size", hidden},      {"intermediate_size", 16},
            {"num_hidden_layers", 1},     {"num_attention_heads", 2},
            {"num_key_value_heads", 2},   {"max_position_embeddings", 64},
            {"tie_word_embeddings", true}};
        QFile configFile(root.filePath("config.json"));
        QVERIFY(configFile.open(QIODevice::WriteOnly));
        configFile.write(QByteArray::fromStdString(config.dump()));
        configFile.close();

        const std::vector<std::pair<std::string, std::vector<int64_t>>> tensors = {
            {"model.embed_tokens.weight", {vocab, hidden}},
            {"model.layers.0.input_layernorm.weight", {hidden}},
            {"model.layers.0.self_attn.q_proj.weight", {hidden, hidden}},
            {"model.layers.0.self_attn.k_proj.weight", {hidden, hidden}},
            {"model.layers.0.self_attn.v_proj.weight", {hidden, hidden}},
            {"model.layers.0.self_attn.o_proj.weight", {hidden, hidden}},
            {"model.layers.0.post_attention_layernorm.weight", {hidden}},
            {"model.layers.0.mlp.gate_proj.weight", {16, hidden}},
            {"model.layers.0.mlp.up_proj.weight", {16, hidden}},
            {"model.layers.0.mlp.down_proj.weight", {hidden, 16}},
            {"model.norm.weight", {hidden}}};
        nlohmann::json header = nlohmann::json::object();
        int64_t offset = 0;
        for (const auto& [name, shape] : tensors) {
            int64_t bytes = 2;
            for (const int64_t size : shape) bytes *= size;
            header[name] = {
                {"dtype", "BF16"}, {"shape", shape}, {"data_offsets", {offset, offset + bytes}}};
            offset += bytes;
        }
        QByteArray headerText = QByteArray::fromStdString(header.dump());
        // Padded as real files are, so the data is aligned and mapped, not copied.
        headerText.append(QByteArray((8 - headerText.size() % 8) % 8, ' '));
        QFile weights(root.filePath("model.safetensors"));
        QVERIFY(weights.open(QIODevice::WriteOnly));
        const quint64 headerBytes = quint64(headerText.size());
        weights.write(reinterpret_cast<const char*>(&headerBytes), sizeof headerBytes);
        weights.write(headerText);
        QVERIFY(weights.resize(qint64(8 + headerText.size() + offset)));  // a hole: sparse
        weights.close();

        const Run run = runCli({"eval", "--model", root.path()});
        GP_EXPECT_EXIT(run, 4);
        for (const char* fragment : {"load: needs about", "GiB of RAM", "are available",
                                     "weights converted to fp32", "--dtype bf16"})
            QVERIFY2(run.output.contains(fragment), qPrintable(run.output));

        // Describing it needs only the headers: info keeps the weights mapped as stored.
        const Run info = runCli({"info", "--model", root.path(), "--json"});
        GP_EXPECT_EXIT(info, 0);
        QVERIFY2(info.output.contains(QString("\"vocab_size\": %1").arg(vocab)),
                 qPrintable(info.output));
    }

    // A checkpoint whose tensors are all stored unaligned (none can be mapped) with a declared
    // 40 GB embedding in a sparse file: nothing is copied or read before the headers have been
    // checked against the config and the copies counted against the machine's memory. Each
    // command ends quickly (CPU time, which a busy machine does not stretch), with a classified
    // exit, a message naming the file, and a small peak RSS.
    void unalignedHugeCheckpointIsCheap_data() {
        QTest::addColumn<bool>("matchingConfig");
        QTest::addColumn<QStringList>("command");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("mustSay");
        const QStringList eval{"eval", "--max-windows", "1", "--seqlen", "32"};
        const QStringList generate{"generate", "--prompt", "Once", "--steps", "2"};
        const QString shape = "model.embed_tokens.weight: shape [";
        QTest::newRow("wrong shape: info") << false << QStringList{"info"} << 3 << shape;
        QTest::newRow("wrong shape: eval") << false << eval << 3 << shape;
        const QString copies = "stores unaligned (the largest model.embed_tokens.weight)";
        QTest::newRow("too big to copy: eval") << true << eval << 4 << copies;
        QTest::newRow("too big to copy: generate") << true << generate << 4 << copies;
        QTest::newRow("too big to copy: info reads headers only")
            << true << QStringList{"info"} << 0 << "parameters";
    }
    void unalignedHugeCheckpointIsCheap() {
        QFETCH(bool, matchingConfig);
        QFETCH(QStringList, command);
        QFETCH(int, exitCode);
        QFETCH(QString, mustSay);
        QTemporaryDir root;
        QVERIFY(root.isValid());
        const fs::path folder = fs::path(root.path().toStdString()) / "model";
        const fs::path weights = gp::test::writeUnalignedCheckpoint(
            demoModel().toStdString(), folder,
            matchingConfig ? gp::test::HugeEmbedding::MatchingConfig
                           : gp::test::HugeEmbedding::WrongShape);
        QVERIFY(fs::file_size(weights) > 40'000'000'000ull);

        QStringList arguments = command;
        arguments.insert(1, "--model");
        arguments.insert(2, QString::fromStdString(folder.string()));
        const MeasuredRun measured = runMeasured(arguments);
        const QString report = QString("%1\npeak RSS %2 MB, CPU %3 s, wall %4 s")
                                   .arg(measured.run.output)
                                   .arg(measured.peakRssBytes >> 20)
                                   .arg(measured.cpuSeconds)
                                   .arg(measured.wallSeconds);
        qInfo("%s: peak RSS %lld MB, CPU %.2f s, wall %.2f s", qPrintable(command.first()),
              (long long)(measured.peakRssBytes >> 20), measured.cpuSeconds, measured.wallSeconds);
        GP_EXPECT_EXIT(measured.run, exitCode);
        QVERIFY2(measured.run.output.contains(mustSay), qPrintable(report));
        const QString named = QString::fromStdString((exitCode == 4 ? weights : folder).string());
        if (exitCode != 0) QVERIFY2(measured.run.output.contains(named), qPrintable(report));
        QVERIFY2(measured.peakRssBytes < 500ll << 20, qPrintable(report));
        QVERIFY2(measured.cpuSeconds < 10.0, qPrintable(report));
        for (const char* never : {"internal error", "frame #"})
            QVERIFY2(!measured.run.output.contains(never), qPrintable(report));
    }

    // An allocation that fails mid-run (the address space capped in the child, so the check up
    // front passes and LibTorch's allocator fails later): exit 4, a message saying so and that
    // the weights are intact, and nothing written.
    void allocationFailureMidRun() {
        QTemporaryDir root;
        QVERIFY(root.isValid());
        const QString out = root.filePath("out");
        const Run run =
            // 3,072 windows in one batch: about 8 GB of activations (attention in query chunks),
            // which the up-front check lets through on a machine with that much free.
            runCli({"prune", "--model", demoModel(), "--method", "wanda", "--nsamples", "3072",
                    "--batch-size", "3072", "--seqlen", "256", "--no-eval", "--out", out},
                   300000, [] {
                       const rlimit limit{3000000000ull, 3000000000ull};
                       setrlimit(RLIMIT_AS, &limit);
                   });
        GP_EXPECT_EXIT(run, 4);
        QVERIFY2(run.output.contains("can't allocate memory") &&
                     run.output.contains("the weights are as they were before the run"),
                 qPrintable(run.output));
        QVERIFY(!QFileInfo::exists(out));
        QVERIFY2(leftovers(root.path()).isEmpty(), qPrintable(leftovers(root.path()).join("\n")));
    }

    void badArguments_data() {
        QTest::addColumn<QStringList>("arguments");
        QTest::addColumn<int>("exitCode");
        QTest::addColumn<QString>("mustSay");
        const QString model = demoModel();
        QTest::newRow("sparsity 1.2")
            << QStringList{"prune", "--model", model, "--sparsity", "1.2", "--no-eval"} << 2
            << "--sparsity";
        QTest::newRow("sparsity -0.5")
            << QStringList{"prune", "--model", model, "--sparsity", "-0.5", "--no-eval"} << 2
            << "--sparsity";
        QTest::newRow("unknown method")
            << QStringList{"prune", "--model", model, "--method", "random", "--no-eval"} << 2
            << "--method";
        QTest::newRow("sparsity not a number")
            << QStringList{"prune", "--model", model, "--sparsity", "half"} << 2 << "--sparsity";
        QTest::newRow("unknown option")
            << QStringList{"prune", "--model", model, "--fast"} << 2 << "--fast";
        QTest::newRow("seqlen 1") << QStringList{"eval", "--model", model, "--seqlen", "1"} << 2
                                  << "--seqlen";
        QTest::newRow("sparsegpt, global group")
            << QStringList{"prune", "--model", model, "--method", "sparsegpt", "--group", "global",
                           "--no-eval"}
            << 2 << "--group";
        QTest::newRow("target of a layer that is not there")
            << QStringList{"prune", "--model", model, "--layer-sparsity", "no.such.weight=0.3",
                           "--no-eval"}
            << 2 << "no.such.weight";
        QTest::newRow("layer target not a number")
            << QStringList{"prune", "--model", model, "--layer-sparsity", "a=half", "--no-eval"}
            << 2 << "--layer-sparsity";
        QTest::newRow("threads 0")
            << QStringList{"bench", "select", "--model", model, "--threads", "0"} << 2
            << "--threads";
        QTest::newRow("missing model")
            << QStringList{"info", "--model", "/nonexistent/model"} << 3 << "/nonexistent/model";
    }
    // Three layers set by hand (a list, then a JSON file): each prunes exactly ⌊s × weights⌋,
    // every other layer ⌊0.5 × weights⌋, and the JSON says target and achieved per layer.
    // The JSON a --json run printed (stdout), past the progress lines (stderr) merged before it.
    static nlohmann::json printedJson(const Run& run) {
        const int start = run.output.indexOf("{\n");
        if (start < 0) return nlohmann::json();
        return nlohmann::json::parse(run.output.mid(start).toStdString());
    }

    void layerTargetsPruneExactlyThoseCounts_data() {
        QTest::addColumn<bool>("jsonFile");
        QTest::newRow("name=s list") << false;
        QTest::newRow("JSON file") << true;
    }
    void layerTargetsPruneExactlyThoseCounts() {
        QFETCH(bool, jsonFile);
        const QString model = demoModel();
        const QStringList base = {"prune",   "--model", model,  "--method",    "magnitude",
                                  "--group", "layer",   "--sparsity", "0.5", "--no-eval",
                                  "--json"};
        const Run plain = runCli(base, 120000);
        GP_EXPECT_EXIT(plain, 0);
        const nlohmann::json layers = printedJson(plain)["layers"];
        QVERIFY(layers.size() >= 4);
        const std::map<std::string, double> chosen = {{layers[0]["name"], 0.1},
                                                      {layers[2]["name"], 0.35},
                                                      {layers[3]["name"], 0.8}};
        QString spec;
        nlohmann::json file = nlohmann::json::object();
        for (const auto& [name, target] : chosen) {
            spec += QString("%1%2=%3").arg(spec.isEmpty() ? "" : ",").arg(name.c_str()).arg(target);
            file[name] = target;
        }
        QTemporaryDir folder;
        const QString path = folder.filePath("targets.json");
        if (jsonFile) {
            QFile out(path);
            QVERIFY(out.open(QIODevice::WriteOnly));
            out.write(QByteArray::fromStdString(file.dump()));
        }
        const Run run = runCli(base + QStringList{"--layer-sparsity", jsonFile ? path : spec}, 120000);
        GP_EXPECT_EXIT(run, 0);
        const nlohmann::json result = printedJson(run);
        QVERIFY2(result.contains("layers"), qPrintable(run.output));
        for (const nlohmann::json& layer : result["layers"]) {
            const std::string name = layer["name"];
            const double target = chosen.count(name) ? chosen.at(name) : 0.5;
            const int64_t numel = layer["numel"];
            QCOMPARE(layer["pruned"].get<int64_t>(), int64_t(std::floor(target * double(numel))));
            QCOMPARE(layer["target_sparsity"].get<double>(), target);
        }
    }
    // The compute threads: OMP_NUM_THREADS when set, --threads over it, and the output says
    // which. With one thread the child's CPU time (its rusage, counted when it is reaped) stays
    // within its wall time: it computed on one core at a time.
    void threadsFollowEnvironmentAndOption_data() {
        QTest::addColumn<QString>("ompNumThreads");  // "" = unset
        QTest::addColumn<QStringList>("extra");
        QTest::addColumn<int>("threads");
        QTest::newRow("OMP_NUM_THREADS=1") << "1" << QStringList{} << 1;
        QTest::newRow("--threads 3") << "" << QStringList{"--threads", "3"} << 3;
        QTest::newRow("--threads 3 over OMP_NUM_THREADS=1")
            << "1" << QStringList{"--threads", "3"} << 3;
    }
    void threadsFollowEnvironmentAndOption() {
        QFETCH(QString, ompNumThreads);
        QFETCH(QStringList, extra);
        QFETCH(int, threads);
        QProcess process;
        process.setProgram(QStringLiteral(GP_CLI_BINARY));
        QProcessEnvironment environment = QProcessEnvironment::systemEnvironment();
        environment.insert("OMP_WAIT_POLICY", "PASSIVE");
        environment.remove("OMP_NUM_THREADS");
        if (!ompNumThreads.isEmpty()) environment.insert("OMP_NUM_THREADS", ompNumThreads);
        process.setProcessEnvironment(environment);
        process.setArguments(QStringList{"bench", "select", "--model", demoModel(), "--sparsity",
                                         "0.5", "--repeat", "3", "--json"} +
                             extra);
        rusage before{}, after{};
        getrusage(RUSAGE_CHILDREN, &before);
        QElapsedTimer wall;
        wall.start();
        process.start();
        QVERIFY(process.waitForFinished(120000));
        const double wallSeconds = wall.elapsed() / 1000.0;
        getrusage(RUSAGE_CHILDREN, &after);
        const QByteArray errors = process.readAllStandardError();
        QVERIFY2(process.exitStatus() == QProcess::NormalExit && process.exitCode() == 0,
                 errors.constData());
        const auto report = nlohmann::json::parse(process.readAllStandardOutput().toStdString());
        QCOMPARE(report.at("threads").get<int>(), threads);
        const auto seconds = [](const timeval& t) { return t.tv_sec + t.tv_usec / 1e6; };
        const double cpuSeconds = seconds(after.ru_utime) - seconds(before.ru_utime) +
                                  seconds(after.ru_stime) - seconds(before.ru_stime);
        if (threads == 1)
            QVERIFY2(
                cpuSeconds <= wallSeconds * 1.05 + 0.05,
                qPrintable(
                    QString("CPU %1 s in %2 s of wall time").arg(cpuSeconds).arg(wallSeconds)));
    }

    void badArguments() {
        QFETCH(QStringList, arguments);
        QFETCH(int, exitCode);
        QFETCH(QString, mustSay);
        const Run run = runCli(arguments, 120000);
        GP_EXPECT_EXIT(run, exitCode);
        QVERIFY2(run.output.contains(mustSay), qPrintable(run.output));
    }
};

QTEST_GUILESS_MAIN(TestCliReliability)
#include "tst_cli_reliability.moc"
