// An input statistic (input_statistics.h) that hands out one tensor per layer name when the
// pass is over (WANDA's channel norms, SparseGPT's Hessians): what the sequential scheme collects
// for each block. INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/model/causal_lm.h"
#include "core/prune/input_statistics.h"

namespace gp {

class LayerStatistics : public InputStatistic {
public:
    virtual std::map<std::string, at::Tensor> finish() = 0;
};

// Makes the statistics of a block's layers (their resident views); empty = collect nothing.
using StatisticsFactory =
    std::function<std::unique_ptr<LayerStatistics>(const std::vector<PrunableWeight>& layers)>;

}  // namespace gp
