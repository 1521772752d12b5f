// libFuzzer target: report.json -> RunRecord (what `gradprobe report` and the studio's history
// read back). A gp::Error is the expected answer to a malformed record; an accepted one must
// write back to JSON that parses to the same record.
#include <cstddef>
#include <cstdint>
#include <string>

#include "core/report/run_record.h"
#include "core/runtime/error.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const gp::RunRecord record = gp::parseRunRecord(text, "fuzz/report.json");
        const std::string written = gp::runRecordJson(record);
        if (gp::runRecordJson(gp::parseRunRecord(written, "fuzz/written.json")) != written)
            __builtin_trap();
    } catch (const gp::Error& error) {
        gp::fuzz::rejected(error);
    }
    return 0;
}
