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

// Process-wide LibTorch set-up: the heap (configureAllocator) and intra-op threads = hardware
// cores (LibTorch starts with ONE here).
void initialiseLibTorch();

}  // namespace gp
