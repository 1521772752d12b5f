// Checkpoints on disk: a Hugging Face folder with one file or with shards and an index, a single
// .safetensors file with config.json beside it, and every way a folder can be wrong (each error
// says what is there and what is needed). Text files: what passes and what is refused.
#include <QtTest/QtTest>

#include <filesystem>
#include <fstream>
#include <functional>

#include "core/io/checkpoint.h"
#include "core/io/safetensors.h"
#include "core/io/text_file.h"
#include "core/runtime/error.h"

namespace {

namespace fs = std::filesystem;

const char* const kConfig = R"({"model_type": "llama", "hidden_size": 8})";

void writeText(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(text.data(), std::streamsize(text.size()));
}

at::Tensor seeded(at::IntArrayRef shape, int64_t seed) {
    at::manual_seed(seed);
    return at::randn(shape);
}

// A small model's tensors, split in two halves for the sharded layout.
std::vector<std::pair<std::string, at::Tensor>> firstHalf() {
    return {{"model.embed_tokens.weight", seeded({16, 8}, 1)},
            {"model.layers.0.mlp.up_proj.weight", seeded({12, 8}, 2)}};
}
std::vector<std::pair<std::string, at::Tensor>> secondHalf() {
    return {{"model.layers.0.mlp.down_proj.weight", seeded({8, 12}, 3).to(at::kBFloat16)},
            {"model.norm.weight", at::ones({8})}};
}

std::string shardIndex(const std::map<std::string, std::string>& weightMap) {
    std::string json = R"({"metadata": {"total_size": 1234}, "weight_map": {)";
    bool first = true;
    for (const auto& [name, file] : weightMap) {
        json += (first ? "" : ", ") + ("\"" + name + "\": \"" + file + "\"");
        first = false;
    }
    return json + "}}";
}

std::map<std::string, std::string> shardedWeightMap() {
    std::map<std::string, std::string> weightMap;
    for (const auto& [name, tensor] : firstHalf())
        weightMap[name] = "model-00001-of-00002.safetensors";
    for (const auto& [name, tensor] : secondHalf())
        weightMap[name] = "model-00002-of-00002.safetensors";
    return weightMap;
}

void writeShardedFolder(const fs::path& folder) {
    fs::create_directories(folder);
    writeText(folder / "config.json", kConfig);
    gp::writeSafetensors((folder / "model-00001-of-00002.safetensors").string(), firstHalf());
    gp::writeSafetensors((folder / "model-00002-of-00002.safetensors").string(), secondHalf());
    writeText(folder / "model.safetensors.index.json", shardIndex(shardedWeightMap()));
}

void verifyAllTensors(const gp::Checkpoint& checkpoint) {
    auto all = firstHalf();
    for (auto& entry : secondHalf()) all.push_back(entry);
    QCOMPARE(checkpoint.weights.size(), all.size());
    for (const auto& [name, expected] : all) {
        QVERIFY2(checkpoint.weights.count(name), name.c_str());
        const at::Tensor& actual = checkpoint.weights.at(name);
        QCOMPARE(actual.scalar_type(), expected.scalar_type());
        QVERIFY2(at::equal(actual, expected), name.c_str());
    }
}

}  // namespace

class TestCheckpoint : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_dir;
    fs::path root() const { return fs::path(m_dir.path().toStdString()); }
    // A fresh folder per test row.
    fs::path freshFolder(const std::string& name) const {
        const fs::path folder = root() / name;
        fs::remove_all(folder);
        fs::create_directories(folder);
        return folder;
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void readsAFolderWithOneWeightsFile_data() {
        QTest::addColumn<bool>("withExtras");
        QTest::addColumn<bool>("openConfigJson");
        QTest::newRow("folder with tokenizer and texts") << true << false;
        QTest::newRow("folder with only config and weights") << false << false;
        QTest::newRow("config.json given instead of the folder") << true << true;
    }

    void readsAFolderWithOneWeightsFile() {
        QFETCH(bool, withExtras);
        QFETCH(bool, openConfigJson);
        const fs::path folder = freshFolder("single");
        writeText(folder / "config.json", kConfig);
        auto tensors = firstHalf();
        for (auto& entry : secondHalf()) tensors.push_back(entry);
        gp::writeSafetensors((folder / "model.safetensors").string(), tensors);
        if (withExtras) {
            writeText(folder / "tokenizer.json", "{}");
            writeText(folder / "calibration.txt", "Once upon a time.");
            writeText(folder / "evaluation.txt", "The end.");
        }
        const fs::path opened = openConfigJson ? folder / "config.json" : folder;
        const gp::Checkpoint checkpoint = gp::loadCheckpoint(opened.string());
        QCOMPARE(checkpoint.format, gp::CheckpointFormat::HuggingFaceFolder);
        QCOMPARE(checkpoint.path, folder.string());
        QCOMPARE(checkpoint.configPath, (folder / "config.json").string());
        QCOMPARE(checkpoint.configText, std::string(kConfig));
        QCOMPARE(checkpoint.weightFiles,
                 std::vector<std::string>{(folder / "model.safetensors").string()});
        verifyAllTensors(checkpoint);
        QCOMPARE(checkpoint.tokenizerPath,
                 withExtras ? (folder / "tokenizer.json").string() : std::string());
        QCOMPARE(checkpoint.calibrationTextPath,
                 withExtras ? (folder / "calibration.txt").string() : std::string());
        QCOMPARE(checkpoint.evaluationTextPath,
                 withExtras ? (folder / "evaluation.txt").string() : std::string());
        QVERIFY(!checkpoint.llama2cConfig);
    }

    void readsAShardedFolder() {
        const fs::path folder = root() / "sharded";
        fs::remove_all(folder);
        writeShardedFolder(folder);
        const gp::Checkpoint checkpoint = gp::loadCheckpoint(folder.string());
        QCOMPARE(checkpoint.format, gp::CheckpointFormat::HuggingFaceFolder);
        QCOMPARE(
            checkpoint.weightFiles,
            (std::vector<std::string>{(folder / "model-00001-of-00002.safetensors").string(),
                                      (folder / "model-00002-of-00002.safetensors").string()}));
        verifyAllTensors(checkpoint);
        QCOMPARE(checkpoint.tokenizerPath, std::string());
    }

    void readsASafetensorsFileWithConfigBeside() {
        const fs::path folder = freshFolder("loose");
        writeText(folder / "config.json", kConfig);
        writeText(folder / "tokenizer.json", "{}");
        auto tensors = firstHalf();
        for (auto& entry : secondHalf()) tensors.push_back(entry);
        const fs::path file = folder / "pruned-weights.safetensors";
        gp::writeSafetensors(file.string(), tensors);
        const gp::Checkpoint checkpoint = gp::loadCheckpoint(file.string());
        QCOMPARE(checkpoint.format, gp::CheckpointFormat::SafetensorsFile);
        QCOMPARE(checkpoint.path, file.string());
        QCOMPARE(checkpoint.configText, std::string(kConfig));
        QCOMPARE(checkpoint.weightFiles, std::vector<std::string>{file.string()});
        QCOMPARE(checkpoint.tokenizerPath, (folder / "tokenizer.json").string());
        verifyAllTensors(checkpoint);
    }

    void weightsAreMappedNotRead() {
        // In-place pruning of loaded weights never changes the checkpoint on disk.
        const fs::path folder = root() / "mapped";
        fs::remove_all(folder);
        writeShardedFolder(folder);
        const fs::path shard = folder / "model-00001-of-00002.safetensors";
        std::ifstream before(shard, std::ios::binary);
        const std::string bytesBefore((std::istreambuf_iterator<char>(before)), {});
        {
            gp::Checkpoint checkpoint = gp::loadCheckpoint(folder.string());
            for (auto& [name, tensor] : checkpoint.weights) tensor.zero_();
        }
        std::ifstream after(shard, std::ios::binary);
        const std::string bytesAfter((std::istreambuf_iterator<char>(after)), {});
        QVERIFY(bytesBefore == bytesAfter);
    }

    void explainsWhatIsWrong_data() {
        QTest::addColumn<QString>("kind");
        QTest::addColumn<QStringList>("words");  // all must appear in the message
        const auto row = [](const char* kind, const QStringList& words) {
            QTest::newRow(kind) << QString(kind) << words;
        };
        row("path missing", {"not found"});
        row("empty folder", {"neither config.json nor weights", "the folder is empty"});
        row("config but no weights",
            {"has no weights", "model.safetensors", "found: config.json, notes.txt"});
        row("weights but no config", {"has no config.json", "found: model.safetensors"});
        row("pytorch_model.bin only",
            {"has no weights", "pytorch_model.bin", "pickle", "safetensors"});
        row("llama2.c file in a folder", {"has neither", "stories.bin", "open its .bin file"});
        row("safetensors file without config", {"needs a config.json beside it"});
        row("index lists a missing shard",
            {"model.safetensors.index.json", "not in the folder", "model-00002-of-00002"});
        row("shard lacks a listed tensor",
            {"model-00002-of-00002", "model.norm.weight", "does not hold it"});
        row("index malformed", {"model.safetensors.index.json", "not valid JSON"});
        row("index without weight_map", {"weight_map", "missing"});
        row("index with an empty weight_map", {"weight_map", "lists no tensors"});
        row("index reaching outside the folder",
            {"../outside.safetensors", "not a file in the folder"});
        row("config.json empty", {"config.json", "is empty"});
        row("weights file corrupt", {"model.safetensors", "shorter than the 8-byte"});
        row("unknown file kind", {"model.onnx", "not a model file", "llama2.c .bin"});
        row("PyTorch zip as .bin", {"model.bin", "PyTorch pickle"});
    }

    void explainsWhatIsWrong() {
        QFETCH(QString, kind);
        QFETCH(QStringList, words);
        const fs::path folder = freshFolder("bad");
        fs::path opened = folder;
        const auto weights = [&](const std::string& name) {
            gp::writeSafetensors((folder / name).string(), firstHalf());
        };
        if (kind == "path missing") {
            opened = folder / "nowhere";
        } else if (kind == "config but no weights") {
            writeText(folder / "config.json", kConfig);
            writeText(folder / "notes.txt", "hi");
        } else if (kind == "weights but no config") {
            weights("model.safetensors");
        } else if (kind == "pytorch_model.bin only") {
            writeText(folder / "config.json", kConfig);
            writeText(folder / "pytorch_model.bin", "PK\x03\x04");
        } else if (kind == "llama2.c file in a folder") {
            writeText(folder / "stories.bin", std::string(28, '\0'));
        } else if (kind == "safetensors file without config") {
            weights("weights.safetensors");
            opened = folder / "weights.safetensors";
        } else if (kind == "index lists a missing shard" || kind == "shard lacks a listed tensor") {
            writeShardedFolder(folder);
            if (kind == "index lists a missing shard")
                fs::remove(folder / "model-00002-of-00002.safetensors");
            else  // the second shard loses model.norm.weight
                gp::writeSafetensors((folder / "model-00002-of-00002.safetensors").string(),
                                     {secondHalf()[0]});
        } else if (kind.startsWith("index ")) {
            writeText(folder / "config.json", kConfig);
            weights("model-00001-of-00001.safetensors");
            std::string index;
            if (kind == "index malformed") index = R"({"weight_map": {"a": )";
            if (kind == "index without weight_map") index = R"({"metadata": {}})";
            if (kind == "index with an empty weight_map") index = R"({"weight_map": {}})";
            if (kind == "index reaching outside the folder")
                index = R"({"weight_map": {"a": "../outside.safetensors"}})";
            writeText(folder / "model.safetensors.index.json", index);
        } else if (kind == "config.json empty") {
            writeText(folder / "config.json", "");
            weights("model.safetensors");
        } else if (kind == "weights file corrupt") {
            writeText(folder / "config.json", kConfig);
            writeText(folder / "model.safetensors", "abc");
        } else if (kind == "unknown file kind") {
            writeText(folder / "model.onnx", "onnx");
            opened = folder / "model.onnx";
        } else if (kind == "PyTorch zip as .bin") {
            writeText(folder / "model.bin", std::string("PK\x03\x04", 4) + std::string(60, 'x'));
            opened = folder / "model.bin";
        }

        try {
            (void)gp::loadCheckpoint(opened.string());
            QFAIL("loading must fail");
        } catch (const gp::Error& error) {
            const QString message = QString::fromStdString(error.what());
            QCOMPARE(error.kind(), gp::ErrorKind::BadInput);
            QVERIFY2(message.contains(QString::fromStdString(folder.string())),
                     qPrintable(message));
            for (const QString& word : words)
                QVERIFY2(message.contains(word),
                         qPrintable(message + "  (expected: " + word + ")"));
        }
    }

    void readsTextFiles_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QByteArray>("expected");
        QTest::newRow("ascii") << QByteArray("Once upon a time.\n")
                               << QByteArray("Once upon a time.\n");
        const QByteArray unicode = "Ünïcödé — 日本語 🙂\r\n\ttabs";
        QTest::newRow("utf-8 up to 4 bytes") << unicode << unicode;
        QTest::newRow("byte-order mark removed")
            << QByteArray("\xEF\xBB\xBFhello") << QByteArray("hello");
        QTest::newRow("leading white space kept") << QByteArray("  x ") << QByteArray("  x ");
    }

    void readsTextFiles() {
        QFETCH(QByteArray, bytes);
        QFETCH(QByteArray, expected);
        const fs::path file = root() / "text.txt";
        writeText(file, bytes.toStdString());
        QCOMPARE(gp::readTextFile(file.string()), expected.toStdString());
    }

    void refusesWhatIsNotText_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QStringList>("words");
        const auto row = [](const char* name, const QByteArray& bytes, const QStringList& words) {
            QTest::newRow(name) << bytes << words;
        };
        row("empty", QByteArray(), {"is empty"});
        row("only white space", QByteArray(" \n\t\r\n  "), {"only white space"});
        row("only a byte-order mark and spaces", QByteArray("\xEF\xBB\xBF \n"),
            {"only white space"});
        row("NUL byte", QByteArray("hello\0world", 11), {"NUL byte", "byte offset 5"});
        row("stray continuation byte", QByteArray("abc\x80"),
            {"not valid UTF-8", "0x80", "byte offset 3"});
        row("latin-1 text", QByteArray("caf\xE9 au lait"), {"0xE9", "byte offset 3"});
        row("overlong slash", QByteArray("a\xC0\xAF"), {"0xC0", "byte offset 1"});
        row("overlong 3-byte", QByteArray("ab\xE0\x80\xAF"), {"0xE0", "byte offset 2"});
        row("UTF-16 surrogate", QByteArray("\xED\xA0\x80"), {"0xED", "byte offset 0"});
        row("beyond U+10FFFF", QByteArray("xx\xF4\x90\x80\x80"), {"0xF4", "byte offset 2"});
        row("truncated at the end", QByteArray("ok \xE2\x82"), {"0xE2", "byte offset 3"});
        row("binary file", QByteArray("\x89PNG\r\n\x1a\n"), {"not valid UTF-8", "0x89"});
    }

    void refusesWhatIsNotText() {
        QFETCH(QByteArray, bytes);
        QFETCH(QStringList, words);
        const fs::path file = root() / "not-text.txt";
        writeText(file, bytes.toStdString());
        for (int pass = 0; pass < 2; ++pass) {
            try {
                if (pass == 0)
                    (void)gp::readTextFile(file.string());
                else
                    gp::validateText(bytes.toStdString(), file.string());
                QFAIL("the text must be refused");
            } catch (const gp::Error& error) {
                const QString message = QString::fromStdString(error.what());
                QCOMPARE(error.kind(), gp::ErrorKind::BadInput);
                QCOMPARE(error.file(), file.string());
                for (const QString& word : words)
                    QVERIFY2(message.contains(word),
                             qPrintable(message + "  (expected: " + word + ")"));
            }
        }
    }

    void refusesMissingTextFilesAndFolders() {
        const std::string missing = (root() / "missing.txt").string();
        const std::string folder = root().string();
        for (const auto& [path, words] : std::vector<std::pair<std::string, QString>>{
                 {missing, "not found"}, {folder, "is a folder"}}) {
            try {
                (void)gp::readTextFile(path);
                QFAIL("must throw");
            } catch (const gp::Error& error) {
                QCOMPARE(error.file(), path);
                QVERIFY2(QString(error.what()).contains(words), error.what());
            }
        }
    }
};

QTEST_GUILESS_MAIN(TestCheckpoint)
#include "tst_checkpoint.moc"
