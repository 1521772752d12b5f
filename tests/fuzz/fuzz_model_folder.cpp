// libFuzzer target: the whole folder loader, as `gradprobe eval` opens a model: config.json,
// model.safetensors and tokenizer.json together, so the cross-file checks run on hostile input
// (tensor names, shapes and dtypes against the config, unaligned data copied only after the
// memory check, the tokenizer's ids against the vocabulary); then a short text is encoded and
// decoded. The input is the three files separated by lines "====" (config.json first); a part
// that is missing leaves its file out of the folder. A gp::Error is the expected answer.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "core/api/engine.h"
#include "core/runtime/error.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

namespace fs = std::filesystem;

// One scratch folder per process, rewritten for every input.
const fs::path& scratchFolder() {
    static const fs::path folder = [] {
        gp::initialiseEngine();
        std::string pattern = (fs::temp_directory_path() / "gp-fuzz-folder-XXXXXX").string();
        if (!::mkdtemp(pattern.data())) std::abort();
        return fs::path(pattern);
    }();
    return folder;
}

void writePart(const fs::path& file, const std::string_view* part) {
    std::error_code ignored;
    fs::remove(file, ignored);
    if (part) std::ofstream(file, std::ios::binary).write(part->data(), std::streamsize(part->size()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string_view input(reinterpret_cast<const char*>(data), size);
    constexpr std::string_view kSeparator = "\n====\n";
    std::string_view parts[3];
    size_t found = 0, start = 0;
    while (found < 3) {
        const size_t end = found < 2 ? input.find(kSeparator, start) : std::string_view::npos;
        parts[found++] = input.substr(start, end == std::string_view::npos ? end : end - start);
        if (end == std::string_view::npos) break;
        start = end + kSeparator.size();
    }
    const fs::path& folder = scratchFolder();
    const char* names[3] = {"config.json", "model.safetensors", "tokenizer.json"};
    for (size_t i = 0; i < 3; ++i) writePart(folder / names[i], i < found ? &parts[i] : nullptr);
    try {
        const auto session = gp::ModelSession::open(folder.string(), {});
        if (session->info().numLayers <= 0 || session->info().vocabSize <= 0) __builtin_trap();
        gp::GenerateOptions generate;
        generate.prompt = "the cab";
        generate.steps = 1;
        session->generate(generate);
    } catch (const gp::Error& error) {
        gp::fuzz::rejected(error);
    }
    return 0;
}
