// How this process's heap behaves. Plain C++; every executable calls configureAllocator() once at
// start-up (initialiseLibTorch does, and so does the test harness), so no environment variable is
// needed.
#pragma once

namespace gp {

// Keeps freed memory in the heap for reuse instead of handing every large block back to the
// kernel. glibc's defaults map each allocation above 128 KB (up to 32 MB, adapting) with mmap and
// unmap it on free, so a LibTorch op on a fresh 16 MB tensor pays a page fault per 4 KB page on
// every call: on this VM that dominated a whole evaluation (5.7 s against 0.9 s). After this,
// allocations up to 1 GiB come from the heap (one arena for every thread, so an engine run on a
// worker thread behaves as on the main one) and up to 1 GiB of free heap top is kept. Idempotent;
// a no-op on C libraries other than glibc.
void configureAllocator();

// Hands the free pages inside the heap back to the kernel (malloc_trim): called between the
// stages of a large run so that memory freed by one stage does not stay in the RSS of the next.
void releaseFreeMemory();

}  // namespace gp
