#include "core/runtime/compute.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdlib>
#include <thread>

#include "core/runtime/allocator.h"
#include "core/runtime/error.h"

namespace gp {

at::Device parseDevice(const std::string& text) {
    if (text == "cpu") return at::kCPU;
    if (text == "cuda" || text.rfind("cuda:", 0) == 0) {
        if (!at::hasCUDA())
            throw badArgument("--device", "'" + text +
                                              "' asked for, but this LibTorch has no CUDA or no "
                                              "GPU is present; use --device cpu");
        return at::Device(text);
    }
    throw badArgument("--device", "unknown device '" + text + "' (expected cpu, cuda or cuda:N)");
}

at::ScalarType parseDtype(const std::string& text) {
    if (text == "fp32" || text == "float32" || text == "f32") return at::kFloat;
    if (text == "bf16" || text == "bfloat16") return at::kBFloat16;
    if (text == "fp16" || text == "float16" || text == "f16") return at::kHalf;
    throw badArgument("--dtype", "unknown dtype '" + text + "' (expected fp32, bf16 or fp16)");
}

std::string dtypeName(at::ScalarType dtype) {
    switch (dtype) {
        case at::kFloat: return "fp32";
        case at::kBFloat16: return "bf16";
        case at::kHalf: return "fp16";
        case at::kDouble: return "fp64";
        default: return c10::toString(dtype);
    }
}

ComputeSpec parseCompute(const std::string& device, const std::string& dtype) {
    return ComputeSpec{parseDevice(device), parseDtype(dtype)};
}

int chooseThreadCount(int requested, int reservedCores) {
    if (requested > 0) return requested;
    if (const char* environment = std::getenv("OMP_NUM_THREADS")) {
        // As OpenMP reads it: a positive integer (the first of a nested list); else ignored.
        char* end = nullptr;
        const long value = std::strtol(environment, &end, 10);
        if (end != environment && (*end == '\0' || *end == ',') && value > 0 && value < 65536)
            return static_cast<int>(value);
    }
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    return std::max(1, cores - std::max(0, reservedCores));
}

void setComputeThreads(int threads) {
    threads = std::max(1, threads);
    if (at::get_num_threads() != threads) at::set_num_threads(threads);
}

int computeThreads() { return at::get_num_threads(); }

void initialiseLibTorch(int threads, int reservedCores) {
    configureAllocator();
    setComputeThreads(chooseThreadCount(threads, reservedCores));
}

}  // namespace gp
