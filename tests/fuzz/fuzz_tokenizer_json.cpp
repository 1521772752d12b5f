// libFuzzer target: the tokenizer.json loader. The input is the file's text, optionally followed
// by a NUL byte and a sample text: an accepted tokenizer must encode the sample (or refuse it
// with a gp::Error when it is not UTF-8) and decode the ids again without crashing.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>

#include "core/runtime/error.h"
#include "core/tokenizer/tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const char* bytes = reinterpret_cast<const char*>(data);
    const void* nul = std::memchr(bytes, '\0', size);
    const size_t jsonBytes = nul ? size_t(static_cast<const char*>(nul) - bytes) : size;
    const std::string json(bytes, jsonBytes);
    const std::string sample = nul ? std::string(bytes + jsonBytes + 1, size - jsonBytes - 1)
                                   : std::string("Once upon a time, a cat sat.\n");
    try {
        const auto tokenizer = gp::tokenizerFromJsonText(json, "fuzz/tokenizer.json");
        const auto ids = tokenizer->encode(sample);
        for (const int32_t id : ids)
            if (id < 0) __builtin_trap();
        (void)tokenizer->decode(ids);
        (void)tokenizer->bosId();
        (void)tokenizer->piece(ids.empty() ? 0 : ids.front());
    } catch (const gp::Error& error) {
        gp::fuzz::rejected(error);
    }
    return 0;
}
