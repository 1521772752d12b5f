// safetensors: every dtype round-trips bit for bit; a file written byte by byte here (not by our
// writer) reads back; every validation rule rejects its crafted file with a message naming the
// file and the tensor; in-place changes to mapped tensors never reach the file; opening reads
// only the header; a failed write (missing folder, full disk, bad tensor) leaves no file.
#include <QtTest/QtTest>

#include <nlohmann/json.hpp>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>

#include <sys/resource.h>
#include <unistd.h>

#include "core/io/safetensors.h"
#include "core/runtime/error.h"
#include "core/runtime/memory.h"
#include "tests/support/test_support.h"

namespace {

using gp::test::readBytes;
using gp::test::writeBytes;

namespace fs = std::filesystem;

using Tensors = std::vector<std::pair<std::string, at::Tensor>>;

QByteArray sha256(const std::string& path) {
    const std::string bytes = readBytes(path);
    return QCryptographicHash::hash(QByteArray(bytes.data(), qsizetype(bytes.size())),
                                    QCryptographicHash::Sha256);
}

std::string littleEndian64(uint64_t value) {
    std::string bytes(8, '\0');
    for (int i = 0; i < 8; ++i) bytes[i] = char((value >> (8 * i)) & 0xFF);
    return bytes;
}

// A safetensors file assembled by hand: length prefix, header text as given, data bytes.
std::string craftedFile(const std::string& header, const std::string& data) {
    return littleEndian64(header.size()) + header + data;
}

std::string rawBytes(const at::Tensor& tensor) {
    const at::Tensor host = tensor.contiguous();
    return std::string(static_cast<const char*>(host.data_ptr()),
                       size_t(host.numel()) * host.element_size());
}

// Random bit patterns for every dtype (so floats include NaNs with payloads, infinities, -0 and
// subnormals, which a value comparison would miss); booleans are 0 or 1.
at::Tensor randomTensor(at::ScalarType dtype, at::IntArrayRef shape, int64_t seed) {
    at::manual_seed(seed);
    at::Tensor tensor = at::empty(shape, at::TensorOptions().dtype(dtype));
    if (dtype == at::kBool) return at::randint(0, 2, shape).to(at::kBool);
    const at::Tensor bytes =
        at::randint(0, 256, {tensor.numel() * int64_t(tensor.element_size())}, at::kByte);
    std::memcpy(tensor.data_ptr(), bytes.data_ptr(), size_t(bytes.numel()));
    return tensor;
}

// Lowers the file size limit for the process (the kernel then refuses writes past it with
// EFBIG, as a full disk refuses them with ENOSPC) and restores it when it goes out of scope.
class FileSizeLimit {
public:
    explicit FileSizeLimit(rlim_t bytes) {
        getrlimit(RLIMIT_FSIZE, &m_saved);
        m_savedHandler = std::signal(SIGXFSZ, SIG_IGN);  // else the kernel kills the process
        rlimit limit = m_saved;
        limit.rlim_cur = bytes;
        setrlimit(RLIMIT_FSIZE, &limit);
    }
    ~FileSizeLimit() {
        setrlimit(RLIMIT_FSIZE, &m_saved);
        std::signal(SIGXFSZ, m_savedHandler);
    }

private:
    rlimit m_saved{};
    void (*m_savedHandler)(int) = nullptr;
};

std::vector<std::string> folderEntries(const std::string& folder) {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder))
        names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
}

}  // namespace

class TestSafetensors : public QObject {
    Q_OBJECT
private:
    QTemporaryDir m_dir;
    std::string path(const std::string& name) const {
        return (fs::path(m_dir.path().toStdString()) / name).string();
    }

private Q_SLOTS:
    void initTestCase() { QVERIFY(m_dir.isValid()); }

    void roundTripIsBitIdentical_data() {
        QTest::addColumn<QString>("dtype");
        QTest::addColumn<int>("scalarType");
        QTest::addColumn<QList<qint64>>("shape");
        const std::pair<const char*, at::ScalarType> dtypes[] = {
            {"F64", at::kDouble}, {"F32", at::kFloat}, {"F16", at::kHalf},  {"BF16", at::kBFloat16},
            {"I64", at::kLong},   {"I32", at::kInt},   {"I16", at::kShort}, {"I8", at::kChar},
            {"U8", at::kByte},    {"BOOL", at::kBool}};
        for (const auto& [name, type] : dtypes) {
            QTest::addRow("%s 3x5x7", name) << QString(name) << int(type) << QList<qint64>{3, 5, 7};
            QTest::addRow("%s scalar", name) << QString(name) << int(type) << QList<qint64>{};
            QTest::addRow("%s empty", name) << QString(name) << int(type) << QList<qint64>{0, 4};
        }
    }

    void roundTripIsBitIdentical() {
        QFETCH(QString, dtype);
        QFETCH(int, scalarType);
        QFETCH(QList<qint64>, shape);
        const auto type = static_cast<at::ScalarType>(scalarType);
        const std::vector<int64_t> sizes(shape.begin(), shape.end());
        // An odd-sized byte tensor first, so the tensor under test is not at offset 0.
        const Tensors tensors = {{"lead.bytes", randomTensor(at::kByte, {13}, 1)},
                                 {"model.weight", randomTensor(type, sizes, 2)},
                                 {"tail", randomTensor(at::kFloat, {4}, 3)}};
        const std::string file = path("roundtrip.safetensors");
        gp::writeSafetensors(file, tensors, {{"format", "pt"}, {"note", "ünïcode ✓"}});

        const auto opened = gp::SafetensorsFile::open(file);
        QCOMPARE(opened->entries().size(), size_t(3));
        QCOMPARE(opened->entries()[1].name, std::string("model.weight"));  // order as given
        QCOMPARE(opened->entries()[1].dtype, dtype.toStdString());
        QCOMPARE(gp::safetensorsDtypeName(type), dtype.toStdString());
        QCOMPARE(gp::safetensorsScalarType(dtype.toStdString()), type);
        QCOMPARE(opened->metadata().at("note"), std::string("ünïcode ✓"));
        for (const auto& [name, expected] : tensors) {
            const at::Tensor actual = opened->tensor(name);
            QCOMPARE(actual.scalar_type(), expected.scalar_type());
            QCOMPARE(actual.sizes().vec(), expected.sizes().vec());
            QVERIFY2(rawBytes(actual) == rawBytes(expected), name.c_str());
        }
    }

    void writerFollowsTheReferenceLayout() {
        // What huggingface/safetensors writes for one F32 tensor [2] = {1, 2}: the header JSON
        // with keys dtype, shape, data_offsets, padded with spaces to a multiple of 8.
        const std::string file = path("reference.safetensors");
        gp::writeSafetensors(file, {{"a", at::tensor({1.0f, 2.0f})}});
        const std::string json = R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}})";
        const std::string padding((8 - json.size() % 8) % 8, ' ');
        std::string data(8, '\0');
        const float values[] = {1.0f, 2.0f};
        std::memcpy(data.data(), values, 8);
        QCOMPARE(readBytes(file), craftedFile(json + padding, data));

        // Metadata comes first, then the tensors with offsets in the order given.
        gp::writeSafetensors(file, {{"z", at::zeros({3}, at::kShort)}, {"y", at::ones({1})}},
                             {{"format", "pt"}});
        const std::string bytes = readBytes(file);
        uint64_t headerBytes = 0;
        std::memcpy(&headerBytes, bytes.data(), 8);
        QCOMPARE(headerBytes % 8, uint64_t(0));
        const auto header = nlohmann::ordered_json::parse(bytes.substr(8, headerBytes));
        QCOMPARE(header.begin().key(), std::string("__metadata__"));
        QCOMPARE(header["z"]["data_offsets"].dump(), std::string("[0,6]"));
        QCOMPARE(header["y"]["data_offsets"].dump(), std::string("[6,10]"));
    }

    void readsAFileWrittenByHand_data() {
        QTest::addColumn<int>("padding");
        QTest::newRow("data area aligned") << 0;
        QTest::newRow("data area misaligned (tensors copied)") << 1;
        QTest::newRow("data area misaligned by 3") << 3;
    }

    void readsAFileWrittenByHand() {
        QFETCH(int, padding);
        // Tensors listed out of data order, with metadata, as other writers may produce.
        std::string json = R"({"__metadata__":{"format":"pt"},)"
                           R"("b":{"dtype":"I16","shape":[3],"data_offsets":[16,22]},)"
                           R"("a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})";
        while ((json.size() + 8) % 8 != 0) json += ' ';  // align, then misalign on purpose
        json += std::string(size_t(padding), ' ');
        // F32 1.5, -2, 0.25, 1024 and I16 1, -2, 300, written as little-endian bytes.
        const std::string data =
            std::string("\x00\x00\xC0\x3F", 4) + std::string("\x00\x00\x00\xC0", 4) +
            std::string("\x00\x00\x80\x3E", 4) + std::string("\x00\x00\x80\x44", 4) +
            std::string("\x01\x00\xFE\xFF\x2C\x01", 6);
        const std::string file = path("by-hand.safetensors");
        writeBytes(file, craftedFile(json, data));

        const auto opened = gp::SafetensorsFile::open(file);
        QCOMPARE(opened->entries().size(), size_t(2));
        QCOMPARE(opened->entries()[0].name, std::string("b"));  // header order
        QCOMPARE(opened->metadata().at("format"), std::string("pt"));
        const at::Tensor a = opened->tensor("a");
        QCOMPARE(a.scalar_type(), at::kFloat);
        QCOMPARE(a.sizes().vec(), (std::vector<int64_t>{2, 2}));
        QCOMPARE(a[0][0].item<float>(), 1.5f);
        QCOMPARE(a[0][1].item<float>(), -2.0f);
        QCOMPARE(a[1][0].item<float>(), 0.25f);
        QCOMPARE(a[1][1].item<float>(), 1024.0f);
        const at::Tensor b = opened->tensor("b");
        QCOMPARE(b.scalar_type(), at::kShort);
        QCOMPARE(b[0].item<int16_t>(), int16_t(1));
        QCOMPARE(b[1].item<int16_t>(), int16_t(-2));
        QCOMPARE(b[2].item<int16_t>(), int16_t(300));
        QVERIFY(reinterpret_cast<uintptr_t>(a.data_ptr()) % alignof(float) == 0);
        QVERIFY(opened->find("c") == nullptr);
        try {
            (void)opened->tensor("c");
            QFAIL("an unknown name must throw");
        } catch (const gp::Error& error) {
            QCOMPARE(error.object(), std::string("c"));
        }
    }

    void rejectsMalformedFiles_data() {
        QTest::addColumn<QByteArray>("bytes");
        QTest::addColumn<QString>("object");     // the tensor/key the error must name, or ""
        QTest::addColumn<QStringList>("words");  // all must appear in the message
        const auto row = [](const char* name, const std::string& bytes, const char* object,
                            const QStringList& words) {
            QTest::newRow(name) << QByteArray(bytes.data(), qsizetype(bytes.size()))
                                << QString(object) << words;
        };
        const auto file = [](const std::string& header, size_t dataBytes = 16) {
            return craftedFile(header, std::string(dataBytes, '\0'));
        };
        const auto entry = [](const std::string& body) { return R"({"w":)" + body + "}"; };

        row("shorter than 8 bytes", "abc", "", {"3 bytes", "shorter than the 8-byte"});
        row("header past the end", littleEndian64(1000) + "{}", "", {"1000", "past the end"});
        row("header of 100 MB", littleEndian64(100'000'000) + "{}", "", {"100 MB"});
        row("header length absurd", littleEndian64(~uint64_t(0)) + "{}", "", {"100 MB"});
        row("JSON malformed", file(R"({"w":)"), "", {"not valid JSON"});
        row("JSON with invalid UTF-8", file("{\"w\xff\":1}"), "", {"not valid JSON"});
        row("header not an object", file("[1,2]"), "", {"not a JSON object"});
        row("entry not an object", file(entry("3")), "w", {"not a JSON object"});
        row("dtype missing", file(entry(R"({"shape":[4],"data_offsets":[0,16]})")), "w",
            {"no \"dtype\""});
        row("shape missing", file(entry(R"({"dtype":"F32","data_offsets":[0,16]})")), "w",
            {"no \"shape\""});
        row("data_offsets missing", file(entry(R"({"dtype":"F32","shape":[4]})")), "w",
            {"no \"data_offsets\""});
        row("dtype not a string", file(entry(R"({"dtype":4,"shape":[4],"data_offsets":[0,16]})")),
            "w", {"\"dtype\" is not a string"});
        row("shape not an array",
            file(entry(R"({"dtype":"F32","shape":"4","data_offsets":[0,16]})")), "w",
            {"\"shape\" is not an array"});
        row("shape of floats",
            file(entry(R"({"dtype":"F32","shape":[4.0],"data_offsets":[0,16]})")), "w",
            {"\"shape\" is not an array"});
        row("data_offsets of one number",
            file(entry(R"({"dtype":"F32","shape":[4],"data_offsets":[16]})")), "w",
            {"data_offsets", "two non-negative integers"});
        row("data_offsets negative",
            file(entry(R"({"dtype":"F32","shape":[4],"data_offsets":[-4,12]})")), "w",
            {"data_offsets", "two non-negative integers"});
        row("unknown dtype", file(entry(R"({"dtype":"Q4_K","shape":[4],"data_offsets":[0,16]})")),
            "w", {"unsupported dtype \"Q4_K\"", "BF16"});
        row("fp8 dtype not supported",
            file(entry(R"({"dtype":"F8_E4M3","shape":[16],"data_offsets":[0,16]})")), "w",
            {"unsupported dtype \"F8_E4M3\""});
        row("negative shape",
            file(entry(R"({"dtype":"F32","shape":[-2,-2],"data_offsets":[0,16]})")), "w",
            {"negative size -2"});
        row("shape overflows 64 bits",
            file(entry(R"({"dtype":"F32","shape":[4294967296,4294967296],)"
                       R"("data_offsets":[0,16]})")),
            "w", {"absurd shape", "overflows"});
        row("dimension beyond int64",
            file(entry(R"({"dtype":"U8","shape":[18446744073709551615],)"
                       R"("data_offsets":[0,16]})")),
            "w", {"absurd size 18446744073709551615"});
        row("begin after end", file(entry(R"({"dtype":"F32","shape":[1],"data_offsets":[12,8]})")),
            "w", {"begin 12 is after end 8"});
        row("end beyond the data area",
            file(entry(R"({"dtype":"F32","shape":[16],"data_offsets":[0,64]})")), "w",
            {"end 64", "beyond the data area (16 bytes)"});
        row("shape x dtype != span",
            file(entry(R"({"dtype":"F32","shape":[2,2],"data_offsets":[0,12]})")), "w",
            {"[2, 2]", "needs 16 bytes", "span 12"});
        row("overlapping tensors",
            file(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},)"
                 R"("b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})"),
            "b", {"overlap tensor a"});
        row("duplicate names",
            file(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                 R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})"),
            "a", {"more than once"});
        row("metadata not an object", file(R"({"__metadata__":["x"]})"), "__metadata__",
            {"not an object"});
        row("metadata value not a string", file(R"({"__metadata__":{"step":3}})"), "__metadata__",
            {"\"step\"", "not a string"});
    }

    void rejectsMalformedFiles() {
        QFETCH(QByteArray, bytes);
        QFETCH(QString, object);
        QFETCH(QStringList, words);
        const std::string file = path("bad.safetensors");
        writeBytes(file, bytes.toStdString());
        try {
            (void)gp::SafetensorsFile::open(file);
            QFAIL("the file must be rejected");
        } catch (const gp::Error& error) {
            const QString message = QString::fromStdString(error.what());
            QCOMPARE(error.kind(), gp::ErrorKind::BadInput);
            QCOMPARE(error.file(), file);
            QVERIFY2(message.startsWith(QString::fromStdString(file)), qPrintable(message));
            QCOMPARE(QString::fromStdString(error.object()), object);
            for (const QString& word : words)
                QVERIFY2(message.contains(word),
                         qPrintable(message + "  (expected: " + word + ")"));
        }
        // The header parser alone (the fuzz entry point) says the same.
        const auto* data = reinterpret_cast<const uint8_t*>(bytes.constData());
        QVERIFY_THROWS_EXCEPTION(
            gp::Error, gp::parseSafetensorsHeader(data, uint64_t(bytes.size()), "x", nullptr));
    }

    void acceptsGapsAndZeroSizedTensors() {
        // Not dense like the reference writer's output, yet unambiguous: gaps and empty tensors
        // sharing an offset are accepted.
        const std::string json = R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                                 R"("f":{"dtype":"F32","shape":[0,3],"data_offsets":[4,4]},)"
                                 R"("w":{"dtype":"U8","shape":[2],"data_offsets":[6,8]}})";
        const std::string file = path("gaps.safetensors");
        writeBytes(file, craftedFile(json, std::string("\0\0\0\0\0\0\x07\x09", 8)));
        const auto opened = gp::SafetensorsFile::open(file);
        QCOMPARE(opened->tensor("e").numel(), int64_t(0));
        QCOMPARE(opened->tensor("f").sizes().vec(), (std::vector<int64_t>{0, 3}));
        QCOMPARE(opened->tensor("w")[1].item<uint8_t>(), uint8_t(9));
    }

    void inPlaceChangesNeverReachTheFile() {
        const std::string file = path("cow.safetensors");
        const at::Tensor original = randomTensor(at::kFloat, {64, 64}, 7);
        gp::writeSafetensors(file, {{"w", original}, {"b", randomTensor(at::kBFloat16, {64}, 8)}});
        const QByteArray before = sha256(file);

        auto opened = gp::SafetensorsFile::open(file);
        at::Tensor w = opened->tensor("w");
        QCOMPARE(opened->tensor("w").data_ptr(), w.data_ptr());  // mapped, not copied
        w.zero_();                                               // prune everything in place
        opened->tensor("b").mul_(3);
        QCOMPARE(opened->tensor("w").abs().sum().item<float>(), 0.0f);  // same pages
        opened.reset();  // the mapping outlives the file object while a tensor uses it
        QCOMPARE(w.abs().sum().item<float>(), 0.0f);

        QCOMPARE(sha256(file), before);
        QVERIFY(rawBytes(gp::SafetensorsFile::open(file)->tensor("w")) == rawBytes(original));
    }

    void openingReadsOnlyTheHeader() {
        // 2 GiB of declared data in a sparse file: opening and listing must not read it.
        const uint64_t rows = 16384, columns = 32768;  // F32: 2 GiB
        std::string json = R"({"big":{"dtype":"F32","shape":[16384,32768],)"
                           R"("data_offsets":[0,2147483648]}})";
        json.append((8 - json.size() % 8) % 8, ' ');  // aligned, so the tensor is not copied
        const std::string file = path("sparse.safetensors");
        writeBytes(file, craftedFile(json, ""));
        fs::resize_file(file, 8 + json.size() + rows * columns * 4);

        const int64_t rssBefore = gp::currentRssBytes();
        QElapsedTimer timer;
        timer.start();
        const auto opened = gp::SafetensorsFile::open(file);
        const at::Tensor big = opened->tensor("big");
        const qint64 elapsedMs = timer.elapsed();
        const int64_t grownBytes = gp::currentRssBytes() - rssBefore;
        QCOMPARE(big.numel(), int64_t(rows * columns));
        QVERIFY2(elapsedMs < 500, qPrintable(QString("open took %1 ms").arg(elapsedMs)));
        QVERIFY2(grownBytes < (64 << 20),
                 qPrintable(QString("RSS grew by %1 bytes").arg(grownBytes)));
        QCOMPARE(big[1000][1000].item<float>(), 0.0f);  // one page read on demand
    }

    void failedWritesLeaveNoFile_data() {
        QTest::addColumn<QString>("failure");
        QTest::newRow("folder missing") << "folder missing";
        QTest::newRow("folder is a file") << "folder is a file";
        QTest::newRow("disk full (file size limit)") << "disk full";
        QTest::newRow("disk full over an existing file") << "disk full over existing";
        QTest::newRow("dtype safetensors cannot store") << "complex dtype";
        QTest::newRow("duplicate names") << "duplicate names";
        QTest::newRow("read-only folder") << "read-only folder";
    }

    void failedWritesLeaveNoFile() {
        QFETCH(QString, failure);
        QTemporaryDir dir;
        const std::string folder = dir.path().toStdString();
        std::string target = folder + "/model.safetensors";
        const Tensors tensors = {{"w", randomTensor(at::kFloat, {256, 256}, 11)}};  // 256 KiB
        std::function<void()> write = [&] { gp::writeSafetensors(target, tensors); };
        QByteArray existing;
        std::unique_ptr<FileSizeLimit> limit;

        if (failure == "folder missing") {
            target = folder + "/missing/model.safetensors";
        } else if (failure == "folder is a file") {
            writeBytes(folder + "/plain", "x");
            target = folder + "/plain/model.safetensors";
        } else if (failure == "disk full" || failure == "disk full over existing") {
            if (failure == "disk full over existing") {
                gp::writeSafetensors(target, {{"old", at::ones({3})}});
                existing = sha256(target);
            }
            limit = std::make_unique<FileSizeLimit>(64 * 1024);
        } else if (failure == "complex dtype") {
            write = [&] {
                gp::writeSafetensors(target, {{"c", at::zeros({2}, at::kComplexFloat)}});
            };
        } else if (failure == "duplicate names") {
            write = [&] { gp::writeSafetensors(target, {tensors[0], tensors[0]}); };
        } else if (failure == "read-only folder") {
            if (geteuid() == 0) QSKIP("running as root: permissions do not stop root");
            fs::permissions(folder, fs::perms::owner_read | fs::perms::owner_exec);
        }

        try {
            write();
            QFAIL("the write must fail");
        } catch (const gp::Error& error) {
            limit.reset();
            const QString message = QString::fromStdString(error.what());
            QVERIFY2(message.contains(QString::fromStdString(target)), qPrintable(message));
            if (failure.startsWith("disk full"))
                QVERIFY2(message.contains("cannot write") && message.contains("File too large"),
                         qPrintable(message));
        }
        limit.reset();
        fs::permissions(folder, fs::perms::owner_all);
        if (existing.isEmpty()) {
            QVERIFY(!fs::exists(target));
            QVERIFY2(folderEntries(folder).size() <= 1,  // only "plain" may remain
                     qPrintable(QString::fromStdString(
                         folderEntries(folder).empty() ? "" : folderEntries(folder)[0])));
        } else {
            QCOMPARE(sha256(target), existing);  // the old file is untouched
            QCOMPARE(folderEntries(folder), std::vector<std::string>{"model.safetensors"});
        }
    }

    void writesTensorsThatAreNotContiguous() {
        const at::Tensor base = at::arange(12, at::kFloat).reshape({3, 4});
        const std::string file = path("strided.safetensors");
        gp::writeSafetensors(file, {{"t", base.t()}, {"s", base.slice(1, 1, 3)}});
        const auto opened = gp::SafetensorsFile::open(file);
        QVERIFY(at::equal(opened->tensor("t"), base.t()));
        QVERIFY(at::equal(opened->tensor("s"), base.slice(1, 1, 3)));
    }
};

QTEST_GUILESS_MAIN(TestSafetensors)
#include "tst_safetensors.moc"
