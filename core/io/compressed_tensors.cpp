#include "core/io/compressed_tensors.h"

#include <nlohmann/json.hpp>

#include "core/io/bit_pack.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

using Json = nlohmann::ordered_json;

// compressed-tensors' key names (compressed_tensors/base.py) and the older block name.
constexpr const char* kQuantizationConfig = "quantization_config";
constexpr const char* kCompressionConfig = "compression_config";
constexpr const char* kSparsityConfig = "sparsity_config";
constexpr const char* kQuantMethod = "quant_method";
constexpr const char* kCompressedTensorsMethod = "compressed-tensors";

constexpr const char* kWeightSuffix = ".weight";
constexpr const char* kShapeSuffix = ".shape";
constexpr const char* kCompressedSuffix = ".compressed";
constexpr const char* kBitmaskSuffix = ".bitmask";
constexpr const char* kRowOffsetsSuffix = ".row_offsets";

bool endsWith(const std::string& text, const std::string& suffix) {
    return text.size() >= suffix.size() &&
           text.compare(text.size() - suffix.size(), suffix.size(), suffix) == 0;
}

Json parseConfig(const std::string& configText, const std::string& source) {
    try {
        Json config = Json::parse(configText);
        if (!config.is_object()) throw badInput(source, "", "config.json is not a JSON object");
        return config;
    } catch (const nlohmann::json::exception& error) {
        throw badInput(source, "", std::string("config.json is not valid JSON: ") + error.what());
    }
}

// The compressed-tensors block of a config: "quantization_config" when its quant_method says so,
// else the older "compression_config"; nullptr when neither is there.
const Json* compressionBlock(const Json& config) {
    const auto block = config.find(kQuantizationConfig);
    if (block != config.end() && block->is_object() && block->value(kQuantMethod, "") ==
                                                            std::string(kCompressedTensorsMethod))
        return &*block;
    const auto older = config.find(kCompressionConfig);
    if (older != config.end() && older->is_object()) return &*older;
    return nullptr;
}

int64_t product(const std::vector<int64_t>& values, size_t count) {
    int64_t result = 1;
    for (size_t i = 0; i < count; ++i) result *= values[i];
    return result;
}

std::string shapeText(at::IntArrayRef shape) {
    std::string text = "[";
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

const at::Tensor& requirePart(const WeightMap& weights, const std::string& name,
                              const std::string& source) {
    const auto found = weights.find(name);
    if (found == weights.end())
        throw badInput(source, name,
                       "missing: a sparse-bitmask weight needs .shape, .compressed and .bitmask");
    return found->second;
}

}  // namespace

std::string sparseBitmaskPrefix(const std::string& weightName) {
    return endsWith(weightName, kWeightSuffix)
               ? weightName.substr(0, weightName.size() - std::string(kWeightSuffix).size())
               : weightName;
}

SparseBitmaskTensors compressSparseBitmask(const at::Tensor& weight) {
    const at::Tensor dense = weight.detach().to(at::kCPU).contiguous();
    const at::Tensor kept = dense.ne(0);  // -0.0 is a zero too
    SparseBitmaskTensors result;
    result.shape = at::tensor(dense.sizes().vec(), at::TensorOptions(at::kLong));
    result.compressed = dense.masked_select(kept);  // row-major, as tensor[bytemask] in torch
    result.bitmask = packBits(kept);
    const at::Tensor rowCounts = kept.sum(-1);  // int64
    result.rowOffsets = (at::cumsum(rowCounts, 0) - rowCounts).contiguous();
    return result;
}

at::Tensor decompressSparseBitmask(const SparseBitmaskTensors& tensors, const std::string& source,
                                   const std::string& prefix) {
    const at::Tensor& shapeTensor = tensors.shape;
    if (shapeTensor.dim() != 1 || shapeTensor.numel() < 1 ||
        at::isFloatingType(shapeTensor.scalar_type()) || shapeTensor.scalar_type() == at::kBool)
        throw badInput(source, prefix + kShapeSuffix, "must be a 1-D integer tensor of the dense shape");
    const at::Tensor shapeValues = shapeTensor.to(at::kCPU, at::kLong).contiguous();
    const std::vector<int64_t> shape(shapeValues.data_ptr<int64_t>(),
                                     shapeValues.data_ptr<int64_t>() + shapeValues.numel());
    for (int64_t size : shape)
        if (size <= 0) throw badInput(source, prefix + kShapeSuffix, "holds a size <= 0");
    const int64_t columns = shape.back();

    std::vector<int64_t> bitmaskShape(shape.begin(), shape.end() - 1);
    bitmaskShape.push_back((columns + 7) / 8);
    if (tensors.bitmask.scalar_type() != at::kByte || tensors.bitmask.sizes().vec() != bitmaskShape)
        throw badInput(source, prefix + kBitmaskSuffix,
                       "must be uint8 " + shapeText(bitmaskShape) + " for the dense shape " +
                           shapeText(shape) + ", found " + std::string(c10::toString(tensors.bitmask.scalar_type())) +
                           " " + shapeText(tensors.bitmask.sizes()));
    const at::Tensor kept = unpackBits(tensors.bitmask, columns);

    const at::Tensor& values = tensors.compressed;
    const int64_t nonZeros = kept.sum().item<int64_t>();
    if (values.dim() != 1 || !at::isFloatingType(values.scalar_type()) ||
        values.numel() != nonZeros)
        throw badInput(source, prefix + kCompressedSuffix,
                       "must be a 1-D float tensor of the " + std::to_string(nonZeros) +
                           " values the bitmask marks, found " + shapeText(values.sizes()));
    if (tensors.rowOffsets.defined()) {
        const at::Tensor rowCounts = kept.reshape({product(shape, shape.size() - 1), columns}).sum(-1);
        const at::Tensor expected = at::cumsum(rowCounts, 0) - rowCounts;
        const at::Tensor& offsets = tensors.rowOffsets;
        if (offsets.numel() != expected.numel() || at::isFloatingType(offsets.scalar_type()) ||
            !at::equal(offsets.to(at::kCPU, at::kLong).reshape({-1}), expected))
            throw badInput(source, prefix + kRowOffsetsSuffix,
                           "do not agree with the bitmask (each row's first index in .compressed)");
    }
    at::Tensor dense = at::zeros(shape, values.options().device(at::kCPU));
    dense.masked_scatter_(kept, values.to(at::kCPU).contiguous());
    return dense;
}

std::string withSparsityConfig(const std::string& configText, const SparsityConfig& sparsity,
                               const std::string& source) {
    Json config = parseConfig(configText, source);
    config.erase(kCompressionConfig);
    Json block;
    block[kQuantMethod] = kCompressedTensorsMethod;
    Json sparse;
    sparse["format"] = sparsity.format;
    sparse["global_sparsity"] = sparsity.globalSparsity;
    sparse["sparsity_structure"] = sparsity.sparsityStructure;
    sparse["targets"] = sparsity.targets;
    sparse["ignore"] = sparsity.ignore;
    block[kSparsityConfig] = sparse;
    config[kQuantizationConfig] = block;
    return config.dump(2) + "\n";
}

std::string withoutCompressionConfig(const std::string& configText, const std::string& source) {
    Json config = parseConfig(configText, source);
    if (!compressionBlock(config)) return configText;
    const auto block = config.find(kQuantizationConfig);
    if (block != config.end() && block->value(kQuantMethod, "") == std::string(kCompressedTensorsMethod))
        config.erase(kQuantizationConfig);
    config.erase(kCompressionConfig);
    return config.dump(2) + "\n";
}

std::string declaredSparsityFormat(const std::string& configText, const std::string& source) {
    const Json config = parseConfig(configText, source);
    const Json* block = compressionBlock(config);
    if (!block) return "";
    const auto sparsity = block->find(kSparsityConfig);
    if (sparsity == block->end() || !sparsity->is_object()) return "";
    const auto format = sparsity->find("format");
    return format != sparsity->end() && format->is_string() ? format->get<std::string>() : "";
}

void decompressSparseBitmask(WeightMap& weights, const std::string& configText,
                             const std::string& source) {
    const Json config = parseConfig(configText, source);
    const Json* block = compressionBlock(config);
    if (!block) return;
    const auto groups = block->find("config_groups");
    if (groups != block->end() && groups->is_object() && !groups->empty())
        throw badInput(source, kQuantizationConfig,
                       "the weights are quantized with compressed-tensors (config_groups), which "
                       "GradProbe does not read; only sparse-bitmask or dense sparsity is supported");
    const std::string format = declaredSparsityFormat(configText, source);
    if (format.empty() || format == "dense") return;
    if (format != kSparseBitmaskFormat)
        throw badInput(source, std::string(kSparsityConfig) + ".format",
                       "\"" + format + "\" is not supported; GradProbe reads \"sparse-bitmask\" "
                       "and \"dense\"");

    std::vector<std::string> prefixes;
    for (const auto& [name, tensor] : weights)
        if (endsWith(name, kCompressedSuffix))
            prefixes.push_back(name.substr(0, name.size() - std::string(kCompressedSuffix).size()));
    for (const std::string& prefix : prefixes) {
        SparseBitmaskTensors parts;
        parts.compressed = requirePart(weights, prefix + kCompressedSuffix, source);
        parts.shape = requirePart(weights, prefix + kShapeSuffix, source);
        parts.bitmask = requirePart(weights, prefix + kBitmaskSuffix, source);
        const auto offsets = weights.find(prefix + kRowOffsetsSuffix);
        if (offsets != weights.end()) parts.rowOffsets = offsets->second;
        const std::string dense = prefix + kWeightSuffix;
        if (weights.count(dense))
            throw badInput(source, dense, "is stored both dense and compressed");
        at::Tensor weight = decompressSparseBitmask(parts, source, prefix);
        for (const char* suffix : {kCompressedSuffix, kShapeSuffix, kBitmaskSuffix, kRowOffsetsSuffix})
            weights.erase(prefix + suffix);
        weights[dense] = std::move(weight);
    }
}

}  // namespace gp
