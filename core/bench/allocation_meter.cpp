#include "core/bench/allocation_meter.h"

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <atomic>

namespace gp {

struct CpuAllocationMeter::Counters {
    std::atomic<int64_t> current{0};
    std::atomic<int64_t> peak{0};

    void add(int64_t bytes) {
        const int64_t now = current.fetch_add(bytes) + bytes;
        int64_t seen = peak.load();
        while (now > seen && !peak.compare_exchange_weak(seen, now)) {
        }
    }
};

namespace {

// One counted block: the inner allocation, released (and uncounted) by the deleter. The counters
// are shared so a block freed after the meter is gone still has somewhere to report to.
struct CountedBlock {
    c10::DataPtr inner;
    std::shared_ptr<CpuAllocationMeter::Counters> counters;
    int64_t bytes;

    static void release(void* context) {
        auto* block = static_cast<CountedBlock*>(context);
        block->counters->current.fetch_sub(block->bytes);
        delete block;
    }
};

class CountingAllocator final : public c10::Allocator {
public:
    CountingAllocator(c10::Allocator* inner, std::shared_ptr<CpuAllocationMeter::Counters> counters)
        : m_inner(inner), m_counters(std::move(counters)) {}

    c10::DataPtr allocate(size_t bytes) const override {
        c10::DataPtr inner = m_inner->allocate(bytes);
        void* data = inner.get();
        const c10::Device device = inner.device();
        auto* block = new CountedBlock{std::move(inner), m_counters, static_cast<int64_t>(bytes)};
        m_counters->add(block->bytes);
        return {data, block, &CountedBlock::release, device};
    }

private:
    c10::Allocator* m_inner;
    std::shared_ptr<CpuAllocationMeter::Counters> m_counters;
};

}  // namespace

CpuAllocationMeter::CpuAllocationMeter()
    : m_counters(std::make_shared<Counters>()), m_previous(c10::GetCPUAllocator()) {
    m_counting = std::make_unique<CountingAllocator>(m_previous, m_counters);
    c10::SetCPUAllocator(m_counting.get());
}

CpuAllocationMeter::~CpuAllocationMeter() {
    c10::SetCPUAllocator(m_previous);
    // The counting allocator object itself is no longer called: blocks carry their own deleter.
}

int64_t CpuAllocationMeter::currentBytes() const {
    return m_counters->current.load();
}
int64_t CpuAllocationMeter::peakBytes() const {
    return m_counters->peak.load();
}
void CpuAllocationMeter::resetPeak() {
    m_counters->peak.store(m_counters->current.load());
}

}  // namespace gp
