#include "core/prune/layer_targets.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <sstream>

#include "core/io/text_file.h"
#include "core/runtime/error.h"

namespace gp {

OwlAllocation owlAllocation(const std::vector<PrunableWeight>& layers,
                            const std::map<std::string, at::Tensor>& norms, double sparsity,
                            double lambda, double m) {
    at::NoGradGuard noGrad;
    std::map<int64_t, std::vector<at::Tensor>> scoresByBlock;
    for (const PrunableWeight& layer : layers) {
        if (layer.block < 0) continue;
        const auto found = norms.find(layer.name);
        if (found == norms.end())
            throw Error(ErrorKind::Internal, "", layer.name, "OWL: no activation norms");
        const at::Tensor norm = found->second.to(layer.matrix.device()).to(at::kFloat);
        scoresByBlock[layer.block].push_back(
            (layer.matrix.to(at::kFloat).abs() * norm.unsqueeze(0)).flatten());
    }
    OwlAllocation allocation;
    for (const auto& [block, scores] : scoresByBlock) {
        const at::Tensor all = at::cat(scores);
        const double cut = all.mean().item<double>() * m;
        allocation.blockRatio[block] =
            100.0 * double((all > cut).sum().item<int64_t>()) / double(all.numel());
    }
    std::vector<double> ratios;
    for (const auto& [block, ratio] : allocation.blockRatio) ratios.push_back(ratio);
    std::map<int64_t, double> deviation;
    if (!ratios.empty()) {
        const auto [low, high] = std::minmax_element(ratios.begin(), ratios.end());
        const double span = *high - *low;
        double mean = 0.0;
        for (const auto& [block, ratio] : allocation.blockRatio) {
            deviation[block] = span > 0.0 ? (ratio - *low) / span * 2.0 * lambda : 0.0;
            mean += deviation[block] / double(ratios.size());
        }
        double widest = 0.0;
        for (auto& [block, value] : deviation) {
            value -= mean;
            widest = std::max(widest, std::abs(value));
        }
        const double shrink = widest > lambda ? lambda / widest : 1.0;
        for (auto& [block, value] : deviation) value *= shrink;
    }
    for (const auto& [block, value] : deviation) allocation.blockTarget[block] = sparsity - value;
    for (const PrunableWeight& layer : layers)
        allocation.layerTargets.push_back(
            layer.block < 0 ? sparsity : allocation.blockTarget.at(layer.block));
    return allocation;
}

std::vector<double> resolveLayerTargets(const std::vector<PrunableWeight>& layers,
                                        const PruneOptions& options,
                                        const std::vector<double>& owl) {
    if (options.layerTargets.empty() && owl.empty()) return {};
    std::vector<double> targets =
        owl.empty() ? std::vector<double>(layers.size(), options.sparsity) : owl;
    for (const auto& [name, target] : options.layerTargets) {
        const auto found = std::find_if(layers.begin(), layers.end(),
                                        [&](const PrunableWeight& l) { return l.name == name; });
        if (found == layers.end())
            throw badArgument("--layer-sparsity", "no prunable layer named '" + name + "'");
        if (!(target >= 0.0 && target < 1.0))
            throw badArgument("--layer-sparsity", "the target of '" + name + "' must be in [0, 1)");
        targets[size_t(found - layers.begin())] = target;
    }
    for (size_t i = 0; i < targets.size(); ++i)
        if (!(targets[i] >= 0.0 && targets[i] < 1.0))
            throw badArgument("--layer-sparsity", "the target of '" + layers[i].name + "' (" +
                                                      std::to_string(targets[i]) +
                                                      ") leaves [0, 1); lower --owl-lambda");
    return targets;
}

namespace {

double targetNumber(const std::string& text, const std::string& option, const std::string& name) {
    try {
        size_t used = 0;
        const double value = std::stod(text, &used);
        if (used == text.size()) return value;
    } catch (const std::exception&) {
    }
    throw badArgument(option, "the target of '" + name + "' ('" + text + "') is not a number");
}

}  // namespace

std::map<std::string, double> parseLayerTargets(const std::string& text, const std::string& option) {
    std::map<std::string, double> targets;
    if (text.find('=') == std::string::npos && std::filesystem::exists(text)) {
        nlohmann::json json;
        try {
            json = nlohmann::json::parse(readTextFile(text));
        } catch (const nlohmann::json::exception& error) {
            throw Error(ErrorKind::BadInput, text, "", std::string("not valid JSON: ") + error.what());
        }
        if (!json.is_object())
            throw Error(ErrorKind::BadInput, text, "",
                        "expected an object of layer name -> target sparsity");
        for (const auto& [name, value] : json.items()) {
            if (!value.is_number())
                throw Error(ErrorKind::BadInput, text, name, "the target must be a number");
            targets[name] = value.get<double>();
        }
        return targets;
    }
    std::stringstream stream(text);
    std::string item;
    while (std::getline(stream, item, ',')) {
        if (item.empty()) continue;
        const size_t equals = item.rfind('=');
        if (equals == std::string::npos)
            throw badArgument(option, "'" + item + "': expected name=sparsity, owl, or a JSON file "
                                      "that exists");
        const std::string name = item.substr(0, equals);
        targets[name] = targetNumber(item.substr(equals + 1), option, name);
    }
    return targets;
}

}  // namespace gp
