// Helpers shared by the engine tests. INTERNAL: includes ATen and Qt Test.
#pragma once

#include <ATen/ATen.h>
#include <QtTest/QtTest>

#include <filesystem>
#include <functional>
#include <string>

namespace gp::test {

// A temporary folder that hands out fresh, numbered paths inside it ("name-1", "name-2", ...).
class ScratchFolder {
public:
    bool isValid() const { return m_dir.isValid(); }
    std::filesystem::path fresh(const std::string& name) {
        return std::filesystem::path(m_dir.path().toStdString()) /
               (name + "-" + std::to_string(++m_counter));
    }

private:
    QTemporaryDir m_dir;
    int m_counter = 0;
};

// The message of the gp::Error that `action` throws, or "" when it throws none.
std::string errorMessageOf(const std::function<void()>& action);

// $GRADPROBE_DATA (../shared/data in CI), or "" when unset.
std::string dataDir();
// Skips the current test with a clear message when GRADPROBE_DATA is unset or lacks `relative`;
// returns the full path otherwise. Use through GP_REQUIRE_DATA.
std::string dataFileOrEmpty(const std::string& relative, QString* whyMissing);

// The built-in demo model folder (resources/demo-model in the source tree).
std::string demoModelDir();

// A whole file's bytes ("" when it cannot be read); and writing them, replacing the file (a
// failed write fails the current test, naming the path).
std::string readBytes(const std::string& path);
void writeBytes(const std::string& path, const std::string& bytes);

// Describes how two tensors differ: shapes, max |a-b|, and the first differing values.
std::string describeDifference(const at::Tensor& actual, const at::Tensor& expected, double atol,
                               double rtol);
bool allClose(const at::Tensor& actual, const at::Tensor& expected, double atol, double rtol);

}  // namespace gp::test

// Resolves a file under $GRADPROBE_DATA into `var`, or QSKIPs the test saying why.
#define GP_REQUIRE_DATA(var, relative)                                       \
    std::string var;                                                         \
    do {                                                                     \
        QString gpWhyMissing;                                                \
        var = gp::test::dataFileOrEmpty(relative, &gpWhyMissing);            \
        if (var.empty()) QSKIP(qPrintable(gpWhyMissing));                    \
    } while (false)

// Compares tensors with allclose and fails with describeDifference's report.
#define GP_COMPARE_TENSORS(actual, expected, atol, rtol)                                   \
    do {                                                                                   \
        const at::Tensor gpA = (actual), gpE = (expected);                                 \
        if (!gp::test::allClose(gpA, gpE, (atol), (rtol)))                                 \
            QFAIL(gp::test::describeDifference(gpA, gpE, (atol), (rtol)).c_str());        \
    } while (false)
