#include "core/bench/synthetic_weights.h"

#include <ATen/CPUGeneratorImpl.h>

#include <array>

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

// 0.02 * Student-t(3), drawn in fp32 (the chi-square accumulated in place: no 3x temporary).
at::Tensor studentT3(int64_t out, int64_t in, at::Generator& generator) {
    const at::Tensor t = at::randn({out, in}, generator);
    at::Tensor chi = at::zeros({out, in});
    for (int i = 0; i < 3; ++i) chi.add_(at::randn({out, in}, generator).square_());
    return t.div_(chi.div_(3.0).sqrt_()).mul_(0.02);
}

}  // namespace

const std::vector<std::string>& syntheticModelNames() {
    static const std::vector<std::string> names = {"gpt-neo-33m", "mistral-7b-layer"};
    return names;
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
    } else {
        throw badArgument("--synthetic", "unknown synthetic model '" + name +
                                             "' (expected gpt-neo-33m or mistral-7b-layer)");
    }
    at::Generator generator = at::detail::createCPUGenerator(seed);
    std::vector<std::pair<std::string, at::Tensor>> weights;
    for (const LayerShape& shape : shapes)
        weights.emplace_back(shape.name, studentT3(shape.out, shape.in, generator).to(dtype));
    return weights;
}

}  // namespace gp
