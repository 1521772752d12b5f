// libFuzzer target: llama2.c tokenizer.bin. The first byte picks the vocabulary size the model
// would ask for (0: as many pieces as the file holds, else 256 + byte), the rest is the file; an
// accepted tokenizer must encode and decode a sample text.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/runtime/error.h"
#include "core/tokenizer/llama2c_tokenizer.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) return 0;
    const int32_t vocabSize = data[0] == 0 ? 0 : 256 + data[0];
    const std::string file(reinterpret_cast<const char*>(data + 1), size - 1);
    try {
        const auto tokenizer = gp::parseLlama2cTokenizer(file, vocabSize, "fuzz/tokenizer.bin");
        const auto ids = tokenizer->encode("Once upon a time, L\xC3\xA9o saw a \xF0\x9F\x90\xB1.");
        for (const int32_t id : ids)
            if (id < 0 || id >= tokenizer->vocabSize()) __builtin_trap();
        (void)tokenizer->decode(ids);
    } catch (const gp::Error& error) {
        gp::fuzz::rejected(error);
    }
    return 0;
}
