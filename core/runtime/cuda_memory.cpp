// CUDA memory readings. The caching-allocator statistics exist only in a CUDA build of LibTorch,
// so they are compiled in when CMake found one (GP_TORCH_HAS_CUDA); NVML is loaded at run time with dlopen so
// no CUDA toolkit is needed to build, and a machine without a GPU simply reports -1.
#include <dlfcn.h>

#include <ATen/Context.h>

#include "core/runtime/memory.h"

#if defined(GP_TORCH_HAS_CUDA) && __has_include(<c10/cuda/CUDACachingAllocator.h>)
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAFunctions.h>
#define GP_HAVE_CUDA_ALLOCATOR 1
#endif

namespace gp {
namespace {

struct NvmlMemory {
    unsigned long long total, free, used;
};

// Minimal NVML binding: nvmlInit_v2, nvmlDeviceGetHandleByIndex_v2, nvmlDeviceGetMemoryInfo.
bool readNvml(int64_t& used, int64_t& total) {
    static void* library = dlopen("libnvidia-ml.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!library) return false;
    using InitFn = int (*)();
    using HandleFn = int (*)(unsigned, void**);
    using MemoryFn = int (*)(void*, NvmlMemory*);
    static auto init = reinterpret_cast<InitFn>(dlsym(library, "nvmlInit_v2"));
    static auto handleOf = reinterpret_cast<HandleFn>(dlsym(library, "nvmlDeviceGetHandleByIndex_v2"));
    static auto memoryOf = reinterpret_cast<MemoryFn>(dlsym(library, "nvmlDeviceGetMemoryInfo"));
    static const bool initialised = init && handleOf && memoryOf && init() == 0;
    if (!initialised) return false;
    void* device = nullptr;
    NvmlMemory memory{};
    if (handleOf(0, &device) != 0 || memoryOf(device, &memory) != 0) return false;
    used = static_cast<int64_t>(memory.used);
    total = static_cast<int64_t>(memory.total);
    return true;
}

}  // namespace

bool cudaInUse() { return at::hasCUDA(); }

DeviceMemory cudaMemory() {
    DeviceMemory memory;
    if (!cudaInUse()) return memory;
#ifdef GP_HAVE_CUDA_ALLOCATOR
    const auto device = c10::cuda::current_device();
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device);
    const auto aggregate = static_cast<size_t>(c10::cuda::CUDACachingAllocator::StatType::AGGREGATE);
    memory.allocatedBytes = stats.allocated_bytes[aggregate].current;
    memory.reservedBytes = stats.reserved_bytes[aggregate].current;
    memory.peakAllocatedBytes = stats.allocated_bytes[aggregate].peak;
#endif
    readNvml(memory.deviceUsedBytes, memory.deviceTotalBytes);
    return memory;
}

}  // namespace gp
