// What a calibration pass collects about the inputs of a set of linear layers (WANDA's channel
// norms, SparseGPT's Hessians): the model's linear-input tap feeds it, endBatch() closes a batch,
// finish() hands out one tensor per layer name. INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model/causal_lm.h"

namespace gp {

class LayerStatistics {
public:
    virtual ~LayerStatistics() = default;
    // A tap for CausalLM::setLinearInputTap; ignores layers it was not given. Keeps a reference.
    virtual LinearInputTap tap() = 0;
    virtual void endBatch() = 0;
    virtual std::map<std::string, at::Tensor> finish() = 0;
};

// Makes the statistics of a block's layers (their resident views); empty = collect nothing.
using StatisticsFactory =
    std::function<std::unique_ptr<LayerStatistics>(const std::vector<PrunableWeight>& layers)>;

}  // namespace gp
