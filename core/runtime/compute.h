// Where and in which precision the engine computes. INTERNAL: includes ATen; never include from
// ui/ or app/ (they pass the strings "cpu", "cuda", "fp32", "bf16", "fp16").
#pragma once

#include <ATen/ATen.h>

#include <string>

namespace gp {

struct ComputeSpec {
    at::Device device = at::kCPU;
    at::ScalarType dtype = at::kFloat;
};

// "cpu", "cuda", "cuda:N"; an Error (BadArgument) if unknown or CUDA is not available.
at::Device parseDevice(const std::string& text);
// "fp32"/"float32", "bf16"/"bfloat16", "fp16"/"float16"; BadArgument otherwise.
at::ScalarType parseDtype(const std::string& text);
std::string dtypeName(at::ScalarType dtype);  // "fp32", "bf16", "fp16", ...
ComputeSpec parseCompute(const std::string& device, const std::string& dtype);

// The intra-op thread count to use: `requested` when > 0 (--threads, the Studio's setting);
// otherwise OMP_NUM_THREADS when it holds a positive integer; otherwise the machine's cores less
// `reservedCores` (the Studio keeps one for the interface), never below 1.
int chooseThreadCount(int requested, int reservedCores = 0);

// Sets LibTorch's intra-op threads (at least 1) for the calling thread and every thread that
// starts computing afterwards (OpenMP keeps the count per thread: a worker thread that
// computes calls this itself before a job, or keeps the count it first computed with).
void setComputeThreads(int threads);
int computeThreads();  // the calling thread's count

// Process-wide LibTorch set-up: the heap (configureAllocator) and the intra-op threads,
// chooseThreadCount(threads, reservedCores).
void initialiseLibTorch(int threads = 0, int reservedCores = 0);

}  // namespace gp
