// Process and device memory readings, and a sampler thread that reports them to an observer.
// Plain C++; the CUDA readings live in cuda_memory.cpp behind a compile-time check.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <thread>

#include "core/runtime/observer.h"

namespace gp {

int64_t currentRssBytes();      // VmRSS of this process
int64_t peakRssBytes();         // VmHWM of this process (high-water mark since start or reset)
int64_t availableRamBytes();    // MemAvailable of the machine
int64_t totalRamBytes();        // MemTotal of the machine

// CUDA memory of the current device: allocated/reserved by LibTorch's caching allocator and, when
// NVML can be loaded, used/total on the device. -1 where unknown (no CUDA, no NVML).
struct DeviceMemory {
    int64_t allocatedBytes = -1;
    int64_t reservedBytes = -1;
    int64_t peakAllocatedBytes = -1;
    int64_t deviceUsedBytes = -1;   // NVML
    int64_t deviceTotalBytes = -1;  // NVML
};
DeviceMemory cudaMemory();
bool cudaInUse();  // LibTorch has CUDA and a device is present

// Samples RSS (and VRAM when CUDA is in use) every `interval` on its own thread and sends
// MemorySampleEvent to the observer; also tracks the peaks seen. Stops on destruction.
class MemorySampler {
public:
    MemorySampler(RunObserver* observer, std::chrono::milliseconds interval);
    ~MemorySampler();
    MemorySampler(const MemorySampler&) = delete;
    MemorySampler& operator=(const MemorySampler&) = delete;

    int64_t peakRssBytes() const { return m_peakRss.load(); }
    int64_t peakVramBytes() const { return m_peakVram.load(); }
    MemorySampleEvent sampleNow();

private:
    void run();

    RunObserver* m_observer;
    std::chrono::milliseconds m_interval;
    std::chrono::steady_clock::time_point m_start;
    std::atomic<int64_t> m_peakRss{0};
    std::atomic<int64_t> m_peakVram{-1};
    std::atomic<bool> m_stop{false};
    std::thread m_thread;
};

}  // namespace gp
