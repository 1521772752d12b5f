// Checkpoint tensor name (as in the file) -> tensor. Ordered, so iteration is deterministic.
// INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <map>
#include <string>

namespace gp {

using WeightMap = std::map<std::string, at::Tensor>;

}  // namespace gp
