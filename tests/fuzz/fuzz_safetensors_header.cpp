// libFuzzer target: the safetensors header parser (length prefix, JSON header, dtypes, shapes,
// offsets, overlaps) over arbitrary bytes taken as a whole file. A gp::Error is the expected
// answer to a malformed file; anything else (a crash, a sanitizer report, another exception)
// is a finding.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "core/io/safetensors.h"
#include "core/runtime/error.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::map<std::string, std::string> metadata;
    try {
        const auto entries = gp::parseSafetensorsHeader(data, size, "fuzz.safetensors", &metadata);
        // Whatever was accepted must lie inside the data area and be self-consistent.
        const uint64_t dataBytes = size - 8 - *reinterpret_cast<const uint64_t*>(data);
        for (const gp::SafetensorsEntry& entry : entries)
            if (entry.begin > entry.end || entry.end > dataBytes) __builtin_trap();
    } catch (const gp::Error& error) {
        gp::fuzz::rejected(error);
    }
    return 0;
}
