// Measures what LibTorch allocates on the CPU: while a CpuAllocationMeter lives, LibTorch's CPU
// allocator is wrapped by one that counts the bytes held (current and peak). The benchmark uses it
// to report each selection's extra memory honestly, temporaries inside LibTorch operations
// (kthvalue's copy, cat, comparison results) included. Process-wide while it lives: create one
// at a time, on the thread that runs the benchmark, when nothing else runs. INTERNAL to core.
#pragma once

#include <cstdint>
#include <memory>

namespace c10 {
struct Allocator;
}

namespace gp {

class CpuAllocationMeter {
public:
    CpuAllocationMeter();   // installs the counting allocator
    ~CpuAllocationMeter();  // puts the previous allocator back (counted blocks stay valid)
    CpuAllocationMeter(const CpuAllocationMeter&) = delete;
    CpuAllocationMeter& operator=(const CpuAllocationMeter&) = delete;

    int64_t currentBytes() const;  // held now, of what was allocated while installed
    int64_t peakBytes() const;     // the most held since the last resetPeak()
    void resetPeak();              // peak = current

    struct Counters;

private:
    std::shared_ptr<Counters> m_counters;
    c10::Allocator* m_previous = nullptr;
    std::unique_ptr<c10::Allocator> m_counting;
};

}  // namespace gp
