#include "core/io/mask_file.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "core/io/bit_pack.h"
#include "core/io/safetensors.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

constexpr const char* kFormat = "gradprobe-masks";

void requireMaskFormat(const SafetensorsFile& file) {
    const auto& metadata = file.metadata();
    const auto format = metadata.find("format");
    if (format == metadata.end() || format->second != kFormat)
        throw badInput(file.path(), "__metadata__", "is not a GradProbe masks file (format \"" +
                                                        std::string(kFormat) + "\" missing)");
}

}  // namespace

std::string findMaskFile(const std::string& folder) {
    namespace fs = std::filesystem;
    std::error_code error;
    for (const char* name : {kMaskFileName, kLegacyMaskFileName})
        if (fs::is_regular_file(fs::path(folder) / name, error))
            return (fs::path(folder) / name).string();
    return "";
}

int64_t maskFileLayers(const std::string& path) {
    const auto file = SafetensorsFile::open(path);
    requireMaskFormat(*file);
    return int64_t(file->entries().size());
}

void writeMaskFile(const std::string& path,
                   const std::vector<std::pair<std::string, at::Tensor>>& keptMasks) {
    std::vector<std::pair<std::string, at::Tensor>> packed;
    nlohmann::ordered_json shapes = nlohmann::ordered_json::object();
    for (const auto& [name, mask] : keptMasks) {
        if (mask.dim() != 2)
            throw badArgument(name, "a layer mask must be 2-D, found " + std::to_string(mask.dim()) +
                                        " dimensions");
        shapes[name] = mask.sizes().vec();
        packed.emplace_back(name, packBits(mask));
    }
    std::error_code ignored;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ignored);
    writeSafetensors(path, packed,
                     {{"format", kFormat},
                      {"version", "1"},
                      {"bit_order", "little"},
                      {"set_bit", "kept"},
                      {"shapes", shapes.dump()}});
}

std::map<std::string, at::Tensor> readMaskFile(const std::string& path) {
    const auto file = SafetensorsFile::open(path);
    requireMaskFormat(*file);
    const auto& metadata = file->metadata();
    const auto order = metadata.find("bit_order");
    if (order == metadata.end() || order->second != "little")
        throw badInput(path, "bit_order", "must be \"little\"");
    nlohmann::json shapes;
    try {
        shapes = nlohmann::json::parse(metadata.count("shapes") ? metadata.at("shapes") : "");
    } catch (const nlohmann::json::exception& error) {
        throw badInput(path, "shapes", std::string("is not valid JSON: ") + error.what());
    }
    std::map<std::string, at::Tensor> masks;
    for (const SafetensorsEntry& entry : file->entries()) {
        if (!shapes.contains(entry.name) || !shapes[entry.name].is_array() ||
            shapes[entry.name].size() != 2)
            throw badInput(path, entry.name, "has no [rows, columns] entry in \"shapes\"");
        const int64_t rows = shapes[entry.name][0].get<int64_t>();
        const int64_t columns = shapes[entry.name][1].get<int64_t>();
        const at::Tensor bytes = file->tensor(entry.name);
        if (bytes.scalar_type() != at::kByte || bytes.dim() != 2 || bytes.size(0) != rows ||
            bytes.size(1) != (columns + 7) / 8)
            throw badInput(path, entry.name,
                           "must be U8 [" + std::to_string(rows) + ", " +
                               std::to_string((columns + 7) / 8) + "] for a [" +
                               std::to_string(rows) + ", " + std::to_string(columns) + "] layer");
        masks[entry.name] = unpackBits(bytes, columns);
    }
    return masks;
}

}  // namespace gp
