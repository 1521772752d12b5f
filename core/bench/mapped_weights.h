// Selection and magnitude pruning over a safetensors file that is never resident as a whole
// (Mistral-7B: 14 GB of bf16): every pass reads the layers one at a time through the memory map,
// and the pages of a layer are handed back to the kernel as soon as the next layer is asked for,
// so the process holds about one layer of the file at any time. INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <memory>
#include <string>
#include <vector>

#include "core/prune/score_source.h"
#include "core/prune/selection_options.h"
#include "core/runtime/cancel.h"
#include "core/runtime/observer.h"

namespace gp {

class SafetensorsFile;

// Magnitude |W| of every 2-D floating-point tensor of a safetensors file, in file order.
// Only for files this process never writes through the map (released pages are read again
// from the file when asked for).
class MappedMagnitudeSource final : public ScoreSource {
public:
    explicit MappedMagnitudeSource(std::shared_ptr<const SafetensorsFile> file);
    ~MappedMagnitudeSource() override;

    int64_t layerCount() const override { return int64_t(m_names.size()); }
    std::string layerName(int64_t layer) const override { return m_names.at(size_t(layer)); }
    std::array<int64_t, 2> shape(int64_t layer) const override;
    at::ScalarType dtype(int64_t layer) const override;
    at::Tensor scores(int64_t layer) const override;       // |W|, a temporary
    at::Tensor magnitudeOf(int64_t layer) const override;  // W itself, over the map
    at::Device device() const override { return at::kCPU; }

    // Hands the pages of the layer read last back to the kernel.
    void releaseLastLayer() const;
    const SafetensorsFile& file() const { return *m_file; }

private:
    at::Tensor mapped(int64_t layer) const;

    std::shared_ptr<const SafetensorsFile> m_file;
    std::vector<std::string> m_names;
    mutable at::Tensor m_last;  // the layer read last (a view over the map)
};

struct StreamedPruneResult {
    std::string modelPath;
    int64_t layers = 0;
    int64_t weights = 0;
    int64_t pruned = 0;  // weights set to zero by this run
    int64_t target = 0;
    double threshold = 0.0;
    double selectSeconds = 0.0;
    double writeSeconds = 0.0;
};

// Selects over the source with `selection` (any method and group) and writes every tensor of the
// source's file to `outPath` with the selected weights zeroed, one layer at a time, atomically
// (no file under outPath unless it completed). Tensors that are not scored are copied as they are.
StreamedPruneResult pruneMappedFile(const MappedMagnitudeSource& source,
                                    const SelectionOptions& selection, const std::string& outPath,
                                    RunObserver* observer = nullptr,
                                    const CancelToken* cancel = nullptr);

}  // namespace gp
