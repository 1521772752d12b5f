// Runtime: errors carry file/object/problem and map to the CLI's exit codes; the cancel token;
// memory readings and the sampler's rate.
#include <QtTest/QtTest>

#include <atomic>
#include <vector>

#include "core/runtime/cancel.h"
#include "core/runtime/error.h"
#include "core/runtime/memory.h"

class TestRuntime : public QObject {
    Q_OBJECT
private Q_SLOTS:
    void errorMessageNamesFileObjectAndProblem() {
        const gp::Error error = gp::badInput("/tmp/m.safetensors", "model.w", "offsets overlap");
        QCOMPARE(std::string(error.what()), std::string("/tmp/m.safetensors: model.w: offsets overlap"));
        QCOMPARE(error.kind(), gp::ErrorKind::BadInput);
        QCOMPARE(error.file(), std::string("/tmp/m.safetensors"));
        QCOMPARE(error.object(), std::string("model.w"));
    }

    void exitCodesFollowTheDesign() {
        QCOMPARE(gp::exitCodeFor(gp::ErrorKind::BadArgument), 2);
        QCOMPARE(gp::exitCodeFor(gp::ErrorKind::BadInput), 3);
        QCOMPARE(gp::exitCodeFor(gp::ErrorKind::OutOfMemory), 4);
        QCOMPARE(gp::exitCodeFor(gp::ErrorKind::Internal), 1);
        QCOMPARE(gp::kCancelledExitCode, 130);
    }

    void cancelTokenThrowsOnlyOnceSet() {
        gp::CancelToken token;
        gp::throwIfCancelled(&token);
        gp::throwIfCancelled(nullptr);
        token.cancel();
        QVERIFY_THROWS_EXCEPTION(gp::Cancelled, gp::throwIfCancelled(&token));
        token.reset();
        gp::throwIfCancelled(&token);
    }

    void memoryReadingsArePlausible() {
        const int64_t rss = gp::currentRssBytes();
        QVERIFY2(rss > 1'000'000, "a running test process has more than 1 MB resident");
        QVERIFY(gp::peakRssBytes() >= rss);
        QVERIFY(gp::totalRamBytes() >= gp::availableRamBytes());
        QVERIFY(gp::availableRamBytes() > 0);
    }

    void samplerReportsAtLeastTwiceASecondAndTracksThePeak() {
        struct Collect : gp::RunObserver {
            std::atomic<int> samples{0};
            void onMemorySample(const gp::MemorySampleEvent& e) override {
                if (e.rssBytes > 0) ++samples;
            }
        } collect;
        {
            gp::MemorySampler sampler(&collect, std::chrono::milliseconds(100));
            // Touch 64 MB so the peak must rise above the starting RSS.
            std::vector<char> block(64 << 20, 1);
            QTRY_VERIFY_WITH_TIMEOUT(collect.samples.load() >= 5,
                                     60000);  // a minute: CI may be busy
            QVERIFY(sampler.peakRssBytes() >= int64_t(64) << 20);
            QCOMPARE(block[12345], char(1));
        }
        const int seen = collect.samples.load();
        QTest::qWait(300);
        QCOMPARE(collect.samples.load(), seen);  // stopped with its destructor
    }
};

QTEST_GUILESS_MAIN(TestRuntime)
#include "tst_runtime.moc"
