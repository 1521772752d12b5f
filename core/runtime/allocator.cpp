#include "core/runtime/allocator.h"

#include <cstddef>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace gp {

namespace {
constexpr int kOneGiB = 1 << 30;
constexpr int kTopPadBytes = 64 << 20;  // each growth of the heap asks for 64 MB more
}  // namespace

void configureAllocator() {
#if defined(__GLIBC__)
    // Setting the thresholds explicitly also switches off glibc's adaptive threshold, which
    // otherwise sets the trim threshold to twice the last freed mapping and so keeps trimming.
    mallopt(M_MMAP_THRESHOLD, kOneGiB);
    mallopt(M_TRIM_THRESHOLD, kOneGiB);
    mallopt(M_TOP_PAD, kTopPadBytes);
    // Threads other than the main one get arenas of at most 64 MB heaps, above which every
    // allocation is mapped again whatever the threshold: the Studio runs the engine on a worker
    // thread.
    mallopt(M_ARENA_MAX, 1);
#endif
}

void releaseFreeMemory() {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

}  // namespace gp
