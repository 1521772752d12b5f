#include "core/runtime/memory.h"

#include <condition_variable>
#include <fstream>
#include <sstream>
#include <string>

namespace gp {
namespace {

// Reads "<key>: <n> kB" from a /proc file; -1 if absent.
int64_t readProcKilobytes(const char* path, const std::string& key) {
    std::ifstream file(path);
    std::string line;
    while (std::getline(file, line)) {
        if (line.compare(0, key.size(), key) == 0 && line.size() > key.size() &&
            line[key.size()] == ':') {
            std::istringstream fields(line.substr(key.size() + 1));
            int64_t kilobytes = -1;
            fields >> kilobytes;
            return kilobytes < 0 ? -1 : kilobytes * 1024;
        }
    }
    return -1;
}

}  // namespace

int64_t currentRssBytes() { return readProcKilobytes("/proc/self/status", "VmRSS"); }
int64_t peakRssBytes() { return readProcKilobytes("/proc/self/status", "VmHWM"); }
int64_t availableRamBytes() { return readProcKilobytes("/proc/meminfo", "MemAvailable"); }
int64_t totalRamBytes() { return readProcKilobytes("/proc/meminfo", "MemTotal"); }

MemorySampler::MemorySampler(RunObserver* observer, std::chrono::milliseconds interval)
    : m_observer(observer), m_interval(interval), m_start(std::chrono::steady_clock::now()) {
    sampleNow();
    m_thread = std::thread([this] { run(); });
}

MemorySampler::~MemorySampler() {
    m_stop.store(true);
    if (m_thread.joinable()) m_thread.join();
}

MemorySampleEvent MemorySampler::sampleNow() {
    MemorySampleEvent sample;
    sample.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - m_start).count();
    sample.rssBytes = currentRssBytes();
    if (cudaInUse()) {
        const DeviceMemory device = cudaMemory();
        sample.vramAllocatedBytes = device.allocatedBytes;
        sample.vramReservedBytes = device.reservedBytes;
    }
    int64_t seen = m_peakRss.load();
    while (sample.rssBytes > seen && !m_peakRss.compare_exchange_weak(seen, sample.rssBytes)) {
    }
    seen = m_peakVram.load();
    while (sample.vramReservedBytes > seen &&
           !m_peakVram.compare_exchange_weak(seen, sample.vramReservedBytes)) {
    }
    if (m_observer) m_observer->onMemorySample(sample);
    return sample;
}

void MemorySampler::run() {
    // Sleep in short slices so destruction never waits a whole interval.
    const auto slice = std::chrono::milliseconds(20);
    auto next = std::chrono::steady_clock::now() + m_interval;
    while (!m_stop.load()) {
        std::this_thread::sleep_for(slice);
        if (std::chrono::steady_clock::now() >= next) {
            sampleNow();
            next += m_interval;
        }
    }
}

}  // namespace gp
