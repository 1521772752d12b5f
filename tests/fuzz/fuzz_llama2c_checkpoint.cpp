// libFuzzer target: a llama2.c .bin checkpoint read through the real path (a file, memory
// mapped, header validated against the file size, tensors mapped and permuted). The bytes are
// written to one scratch file in the temporary folder per process.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <unistd.h>

#include "core/io/llama2c_checkpoint.h"
#include "core/runtime/error.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

const std::string& scratchPath() {
    static const std::string path = [] {
        const char* folder = std::getenv("TMPDIR");
        return std::string(folder && *folder ? folder : "/tmp") + "/gp_fuzz_llama2c_" +
               std::to_string(::getpid()) + ".bin";
    }();
    return path;
}

struct ScratchRemover {
    ~ScratchRemover() { std::remove(scratchPath().c_str()); }
} g_remover;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    FILE* out = std::fopen(scratchPath().c_str(), "wb");
    if (!out) return 0;
    const bool written = std::fwrite(data, 1, size, out) == size;
    if (std::fclose(out) != 0 || !written) return 0;
    try {
        const gp::Llama2cFile model = gp::readLlama2c(scratchPath());
        if (model.config.dim <= 0 || model.weights.empty()) __builtin_trap();
    } catch (const gp::Error& error) {
        gp::fuzz::rejected(error);
    }
    return 0;
}
