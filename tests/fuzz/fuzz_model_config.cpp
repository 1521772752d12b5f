// libFuzzer target: config.json -> ModelConfig for every architecture. A gp::Error is the
// expected answer to a malformed config; an accepted one must have positive sizes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/model/model_config.h"
#include "core/runtime/error.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const gp::ModelConfig config = gp::parseModelConfig(text, "fuzz/config.json");
        if (config.vocabSize <= 0 || config.hiddenSize <= 0 || config.numLayers <= 0)
            __builtin_trap();
    } catch (const gp::Error& error) {
        gp::fuzz::rejected(error);
    }
    return 0;
}
