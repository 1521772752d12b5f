#include "tests/support/test_support.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>

#include "core/runtime/allocator.h"
#include "core/runtime/error.h"

namespace gp::test {

namespace {
// Every test process gets the engine's heap set-up before its first test, as the apps do, whether
// or not the test calls initialiseEngine().
const bool allocatorConfigured = (configureAllocator(), true);
}  // namespace

std::string dataDir() {
    const char* value = std::getenv("GRADPROBE_DATA");
    return value ? std::string(value) : std::string();
}

std::string dataFileOrEmpty(const std::string& relative, QString* whyMissing) {
    const std::string root = dataDir();
    if (root.empty()) {
        *whyMissing = QString("GRADPROBE_DATA is not set; set it to the shared data folder "
                              "(../shared/data) to run this test (needs %1)")
                          .arg(QString::fromStdString(relative));
        return {};
    }
    const std::filesystem::path path = std::filesystem::path(root) / relative;
    if (!std::filesystem::exists(path)) {
        *whyMissing = QString("GRADPROBE_DATA=%1 has no %2")
                          .arg(QString::fromStdString(root), QString::fromStdString(relative));
        return {};
    }
    return path.string();
}

std::string demoModelDir() {
    if (const char* value = std::getenv("GP_DEMO_MODEL_DIR")) return value;
    return "resources/demo-model";
}

bool allClose(const at::Tensor& actual, const at::Tensor& expected, double atol, double rtol) {
    if (actual.sizes() != expected.sizes()) return false;
    return at::allclose(actual.to(at::kDouble).cpu(), expected.to(at::kDouble).cpu(), rtol, atol);
}

std::string describeDifference(const at::Tensor& actual, const at::Tensor& expected, double atol,
                               double rtol) {
    std::ostringstream out;
    if (actual.sizes() != expected.sizes()) {
        out << "shape " << actual.sizes() << " != expected " << expected.sizes();
        return out.str();
    }
    const at::Tensor a = actual.to(at::kDouble).cpu().flatten();
    const at::Tensor e = expected.to(at::kDouble).cpu().flatten();
    const at::Tensor diff = (a - e).abs();
    const at::Tensor bad = diff > (atol + rtol * e.abs());
    out << "max |actual - expected| = " << diff.max().item<double>() << " (atol " << atol
        << ", rtol " << rtol << "), " << bad.sum().item<int64_t>() << " of " << a.numel()
        << " differ; first:";
    const at::Tensor where = bad.nonzero().flatten();
    for (int64_t i = 0; i < std::min<int64_t>(5, where.numel()); ++i) {
        const int64_t at = where[i].item<int64_t>();
        out << " [" << at << "] " << a[at].item<double>() << " vs " << e[at].item<double>();
    }
    return out.str();
}

std::string readBytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void writeBytes(const std::string& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), std::streamsize(bytes.size()));
    QVERIFY2(out.good(), path.c_str());
}

std::string errorMessageOf(const std::function<void()>& action) {
    try {
        action();
    } catch (const gp::Error& error) {
        return error.what();
    }
    return {};
}

}  // namespace gp::test
