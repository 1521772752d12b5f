#include "core/bench/synthetic_weights.h"

#include <ATen/CPUGeneratorImpl.h>

#include <array>
#include <chrono>
#include <filesystem>
#include <map>

#include "core/io/safetensors.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

struct LayerShape {
    std::string name;
    int64_t out;
    int64_t in;
};

std::vector<LayerShape> gptNeo33m() {
    std::vector<LayerShape> layers;
    for (int block = 0; block < 4; ++block) {
        const std::string prefix = "transformer.h." + std::to_string(block) + ".";
        for (const char* proj : {"q_proj", "k_proj", "v_proj", "out_proj"})
            layers.push_back({prefix + "attn.attention." + proj + ".weight", 768, 768});
        layers.push_back({prefix + "mlp.c_fc.weight", 3072, 768});
        layers.push_back({prefix + "mlp.c_proj.weight", 768, 3072});
    }
    return layers;
}

std::vector<LayerShape> mistral7bLayer() {
    const std::string prefix = "model.layers.0.";
    return {{prefix + "self_attn.q_proj.weight", 4096, 4096},
            {prefix + "self_attn.k_proj.weight", 1024, 4096},
            {prefix + "self_attn.v_proj.weight", 1024, 4096},
            {prefix + "self_attn.o_proj.weight", 4096, 4096},
            {prefix + "mlp.gate_proj.weight", 14336, 4096},
            {prefix + "mlp.up_proj.weight", 14336, 4096},
            {prefix + "mlp.down_proj.weight", 4096, 14336}};
}

std::vector<LayerShape> mistral7b() {
    std::vector<LayerShape> layers;
    for (int block = 0; block < 32; ++block) {
        const std::string prefix = "model.layers." + std::to_string(block) + ".";
        layers.push_back({prefix + "self_attn.q_proj.weight", 4096, 4096});
        layers.push_back({prefix + "self_attn.k_proj.weight", 1024, 4096});
        layers.push_back({prefix + "self_attn.v_proj.weight", 1024, 4096});
        layers.push_back({prefix + "self_attn.o_proj.weight", 4096, 4096});
        layers.push_back({prefix + "mlp.gate_proj.weight", 14336, 4096});
        layers.push_back({prefix + "mlp.up_proj.weight", 14336, 4096});
        layers.push_back({prefix + "mlp.down_proj.weight", 4096, 14336});
    }
    return layers;
}

// 0.02 * Student-t(3), drawn in fp32 (the chi-square accumulated in place: no 3x temporary).
at::Tensor studentT3(int64_t out, int64_t in, at::Generator& generator) {
    const at::Tensor t = at::randn({out, in}, generator);
    at::Tensor chi = at::zeros({out, in});
    for (int i = 0; i < 3; ++i) chi.add_(at::randn({out, in}, generator).square_());
    return t.div_(chi.div_(3.0).sqrt_()).mul_(0.02);
}

constexpr int64_t kPoolSize = int64_t(1) << 24;
constexpr const char* kGenerator = "gradprobe synthetic weights v1";

// One layer: pool[(start + i * stride) mod 2^24] for i in [0, numel), in bf16, made in chunks so
// that no index tensor the size of the layer is ever held.
at::Tensor layerFromPool(const at::Tensor& pool, const LayerShape& shape,
                         at::Generator& generator) {
    const int64_t start = at::randint(kPoolSize, {1}, generator).item<int64_t>();
    const int64_t stride = 2 * at::randint(kPoolSize / 2, {1}, generator).item<int64_t>() + 1;
    at::Tensor layer = at::empty({shape.out * shape.in}, at::kBFloat16);
    constexpr int64_t kChunk = int64_t(1) << 22;
    for (int64_t begin = 0; begin < layer.numel(); begin += kChunk) {
        const int64_t count = std::min(kChunk, layer.numel() - begin);
        const at::Tensor index = at::arange(begin, begin + count, at::kLong)
                                     .mul_(stride)
                                     .add_(start)
                                     .bitwise_and_(kPoolSize - 1);
        layer.slice(0, begin, begin + count).copy_(pool.index_select(0, index));
    }
    return layer.view({shape.out, shape.in});
}

std::string syntheticFilePath(const std::string& name, uint64_t seed, const std::string& folder) {
    return (std::filesystem::path(folder) /
            ("gradprobe-synthetic-" + name + "-seed" + std::to_string(seed) + ".safetensors"))
        .string();
}

// A file an earlier run wrote for the same model and seed: complete (it was renamed into place
// only when whole) and valid (the reader checks every offset).
bool isReusable(const std::string& path, const std::string& name, uint64_t seed, int64_t layers) {
    std::error_code error;
    if (!std::filesystem::is_regular_file(path, error)) return false;
    try {
        const auto file = SafetensorsFile::open(path);
        const auto& meta = file->metadata();
        const auto field = [&](const char* key) {
            const auto it = meta.find(key);
            return it == meta.end() ? std::string() : it->second;
        };
        return field("generator") == kGenerator && field("model") == name &&
               field("seed") == std::to_string(seed) && int64_t(file->entries().size()) == layers;
    } catch (const Error&) {
        return false;
    }
}

}  // namespace

const std::vector<std::string>& syntheticModelNames() {
    static const std::vector<std::string> names = {"gpt-neo-33m", "mistral-7b-layer", "mistral-7b"};
    return names;
}

bool isStreamedSyntheticModel(const std::string& name) {
    return name == "mistral-7b";
}

SyntheticFile writeSyntheticModelFile(const std::string& name, uint64_t seed,
                                      const std::string& folder,
                                      const std::function<void(int64_t, int64_t)>& layerDone) {
    if (!isStreamedSyntheticModel(name))
        throw badArgument("--synthetic", "'" + name + "' is made in memory, not as a file");
    const std::vector<LayerShape> shapes = mistral7b();
    SyntheticFile result;
    result.path = syntheticFilePath(name, seed, folder);
    if (isReusable(result.path, name, seed, int64_t(shapes.size()))) {
        result.reused = true;
        return result;
    }
    const auto started = std::chrono::steady_clock::now();
    std::vector<SafetensorsEntry> entries;
    for (const LayerShape& shape : shapes)
        entries.push_back({shape.name, "BF16", {shape.out, shape.in}});
    SafetensorsStreamWriter file(
        result.path, std::move(entries),
        {{"generator", kGenerator}, {"model", name}, {"seed", std::to_string(seed)}});
    at::Generator generator = at::detail::createCPUGenerator(seed);
    const at::Tensor pool = studentT3(1, kPoolSize, generator).view({kPoolSize});
    for (size_t i = 0; i < shapes.size(); ++i) {
        file.append(layerFromPool(pool, shapes[i], generator));
        if (layerDone) layerDone(int64_t(i) + 1, int64_t(shapes.size()));
    }
    file.commit();
    result.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    return result;
}

std::vector<std::pair<std::string, at::Tensor>> syntheticWeights(const std::string& name,
                                                                 uint64_t seed) {
    std::vector<LayerShape> shapes;
    at::ScalarType dtype = at::kFloat;
    if (name == "gpt-neo-33m") {
        shapes = gptNeo33m();
    } else if (name == "mistral-7b-layer") {
        shapes = mistral7bLayer();
        dtype = at::kBFloat16;
    } else if (isStreamedSyntheticModel(name)) {
        throw badArgument("--synthetic", "'" + name +
                                             "' is too large to hold in memory; it is streamed "
                                             "from a file (bench select and prune do that)");
    } else {
        throw badArgument("--synthetic",
                          "unknown synthetic model '" + name +
                              "' (expected gpt-neo-33m, mistral-7b-layer or mistral-7b)");
    }
    at::Generator generator = at::detail::createCPUGenerator(seed);
    std::vector<std::pair<std::string, at::Tensor>> weights;
    for (const LayerShape& shape : shapes)
        weights.emplace_back(shape.name, studentT3(shape.out, shape.in, generator).to(dtype));
    return weights;
}

}  // namespace gp
