// What a load or a prune run will need in memory beyond the loaded weights, estimated before it
// starts, so a job that cannot fit is refused with a message saying how much it needs, what is
// available and which option lowers the biggest part, instead of dying (or swapping) an hour in.
// INTERNAL to core/api: includes ATen through session_impl.h.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/api/session_impl.h"

namespace gp {

struct MemoryPart {
    std::string what;  // "activations of one batch", ...
    int64_t bytes = 0;
    std::string lowerBy;  // the option that lowers it, in the CLI's words
};

struct MemoryEstimate {
    std::vector<MemoryPart> parts;
    int64_t totalBytes() const;
};

// The run's own allocations: the copy of the prunable weights kept for restoring them (first run
// only), per-run masks, scores, one batch of forward activations (calibration, evaluation) and,
// with the probe, gradients and the activations saved for the backward pass. Rough (within a
// small factor): it errs high on activations, which dominate large jobs.
// Block-wise runs (options.blockwise) count one block, the calibration hidden states and one
// layer's scores instead of anything the size of the model (except the probe's state).
MemoryEstimate estimatePruneMemory(const ModelSession::Impl& session, const PruneOptions& options,
                                   int64_t seqlen);

// Evaluating windows of `seqlen` tokens, `batchSize` per forward pass: one batch's activations.
MemoryEstimate estimateEvalMemory(const ModelSession::Impl& session, int64_t batchSize,
                                  int64_t seqlen);

// Generating: the model recomputes the whole sequence (`tokens`: the prompt and the new tokens,
// at most the context) at every step; the last step's forward pass is the largest.
MemoryEstimate estimateGenerateMemory(const ModelSession::Impl& session, int64_t tokens);

// What loading needs beyond the memory map: tensors the file stores unaligned are copied into
// aligned memory (checkpoint.unmapped, placeholders in `weights`); with `convert`, floating-point
// weights stored in another dtype than the compute dtype are converted into copies (a bf16
// checkpoint run in fp32 needs twice its size), and on a GPU every weight is copied there.
// Weights used as stored are mapped, not copied.
MemoryEstimate estimateLoadMemory(const WeightMap& weights, const ComputeSpec& compute,
                                  const Checkpoint& checkpoint, bool convert);

// Free RAM, or free memory of the compute GPU; -1 when unknown.
int64_t availableBytesFor(const ComputeSpec& compute);

// Throws Error(OutOfMemory, object `job`) when the estimate exceeds `availableBytes` (a negative
// value means unknown: nothing is checked), saying how much is needed, how much is available and
// which option lowers the biggest part. `where` is "RAM" or "GPU memory".
void requireMemory(const MemoryEstimate& estimate, int64_t availableBytes, const std::string& where,
                   const std::string& job);

// The same against the compute device's free memory (RAM or the GPU's).
void requireMemory(const MemoryEstimate& estimate, const ComputeSpec& compute,
                   const std::string& job);

// "1.5 GiB", "300 MiB", "12 KiB".
std::string describeBytes(int64_t bytes);

}  // namespace gp
