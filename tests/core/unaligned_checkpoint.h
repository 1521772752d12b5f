// A hostile copy of the demo model: its model.safetensors stores every tensor off its 4-byte
// element boundary (the header's length makes the data area start at an odd offset, so no
// tensor can be mapped) and declares a model.embed_tokens.weight of at least 40 GB (twice the
// machine's RAM when that is more), in a sparse file: the file's size covers every declared
// byte, the disk holds none of them. Plain C++ and nlohmann_json: for engine and CLI tests.
#pragma once

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include <unistd.h>

namespace gp::test {

enum class HugeEmbedding {
    WrongShape,      // config.json still says vocab_size 512: the shapes disagree
    MatchingConfig,  // config.json's vocab_size matches the huge embedding
};

inline int64_t hugeEmbeddingRows(int64_t hidden) {
    const int64_t ram = int64_t(::sysconf(_SC_PHYS_PAGES)) * int64_t(::sysconf(_SC_PAGESIZE));
    const int64_t bytes = std::max<int64_t>(40'000'000'000, 2 * ram);
    return bytes / (hidden * 4);
}

// Writes the checkpoint into `folder` (created; the demo model's other files copied beside it).
// Returns the path of its model.safetensors.
inline std::filesystem::path writeUnalignedCheckpoint(const std::filesystem::path& demo,
                                                      const std::filesystem::path& folder,
                                                      HugeEmbedding how) {
    namespace fs = std::filesystem;
    using Json = nlohmann::ordered_json;
    fs::create_directories(folder);
    for (const char* name : {"config.json", "tokenizer.json", "evaluation.txt", "calibration.txt"})
        fs::copy_file(demo / name, folder / name, fs::copy_options::overwrite_existing);

    std::ifstream in(demo / "model.safetensors", std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    uint64_t headerLength = 0;
    std::memcpy(&headerLength, bytes.data(), 8);
    Json header = Json::parse(bytes.substr(8, headerLength));
    const std::string data = bytes.substr(8 + headerLength);

    const int64_t hidden = header["model.embed_tokens.weight"]["shape"][1].get<int64_t>();
    const int64_t rows = hugeEmbeddingRows(hidden);
    const uint64_t hugeBytes = uint64_t(rows) * uint64_t(hidden) * 4;
    // The demo's embedding bytes stay in the data area, unreferenced; the huge one follows it.
    header["model.embed_tokens.weight"] = {
        {"dtype", "F32"},
        {"shape", {rows, hidden}},
        {"data_offsets", {data.size(), data.size() + hugeBytes}}};
    std::string text = header.dump();
    while ((8 + text.size()) % 4 != 1) text += ' ';  // every F32 tensor 1 byte off its boundary

    const fs::path weights = folder / "model.safetensors";
    {
        std::ofstream out(weights, std::ios::binary | std::ios::trunc);
        const uint64_t length = text.size();
        out.write(reinterpret_cast<const char*>(&length), 8);
        out << text << data;
    }
    fs::resize_file(weights, 8 + text.size() + data.size() + hugeBytes);  // sparse

    if (how == HugeEmbedding::MatchingConfig) {
        std::ifstream configIn(folder / "config.json");
        Json config = Json::parse(configIn);
        config["vocab_size"] = rows;
        std::ofstream(folder / "config.json", std::ios::trunc) << config.dump(2);
    }
    return weights;
}

}  // namespace gp::test
