// Short names of prunable layers for tick labels and the layer table: the block number and the
// role ("3.mlp.up_proj" for "model.layers.3.mlp.up_proj.weight"); the full name stays in tooltips.
#pragma once

#include <QString>

#include <string>

namespace gp::ui {

QString shortLayerName(const std::string& name);

}  // namespace gp::ui
