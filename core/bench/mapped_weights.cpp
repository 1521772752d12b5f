#include "core/bench/mapped_weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <map>

#include "core/io/safetensors.h"
#include "core/prune/selection.h"
#include "core/runtime/error.h"

namespace gp {
namespace {

bool isFloatMatrix(const SafetensorsEntry& entry) {
    const at::ScalarType type = safetensorsScalarType(entry.dtype);
    return entry.shape.size() == 2 && at::isFloatingType(type);
}

// MADV_DONTNEED on the whole pages inside the tensor's bytes. On a private mapping that was
// never written this only drops the pages from the process; the page cache keeps the data.
// (A tensor the reader had to copy, being unaligned in the file, is heap memory: its pages read
// back as zeros afterwards, which is harmless because every caller drops it right after.)
void releasePages(const at::Tensor& view) {
    static const uintptr_t page = uintptr_t(::sysconf(_SC_PAGESIZE));
    const auto begin = reinterpret_cast<uintptr_t>(view.data_ptr());
    const uintptr_t end = begin + view.nbytes();
    const uintptr_t first = (begin + page - 1) / page * page, last = end / page * page;
    if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_DONTNEED);
}

double secondsSince(std::chrono::steady_clock::time_point start) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

}  // namespace

MappedMagnitudeSource::MappedMagnitudeSource(std::shared_ptr<const SafetensorsFile> file)
    : m_file(std::move(file)) {
    for (const SafetensorsEntry& entry : m_file->entries())
        if (isFloatMatrix(entry)) m_names.push_back(entry.name);
    if (m_names.empty())
        throw badInput(m_file->path(), "", "no 2-D floating-point tensor to select from");
}

MappedMagnitudeSource::~MappedMagnitudeSource() {
    releaseLastLayer();
}

std::array<int64_t, 2> MappedMagnitudeSource::shape(int64_t layer) const {
    const SafetensorsEntry* entry = m_file->find(layerName(layer));
    return {entry->shape[0], entry->shape[1]};
}

at::ScalarType MappedMagnitudeSource::dtype(int64_t layer) const {
    return safetensorsScalarType(m_file->find(layerName(layer))->dtype);
}

at::Tensor MappedMagnitudeSource::mapped(int64_t layer) const {
    releaseLastLayer();
    m_last = m_file->tensor(layerName(layer));
    return m_last;
}

at::Tensor MappedMagnitudeSource::scores(int64_t layer) const {
    return mapped(layer).abs();
}

at::Tensor MappedMagnitudeSource::magnitudeOf(int64_t layer) const {
    return mapped(layer);
}

void MappedMagnitudeSource::releaseLastLayer() const {
    if (m_last.defined()) releasePages(m_last);
    m_last = at::Tensor();
}

StreamedPruneResult pruneMappedFile(const MappedMagnitudeSource& source,
                                    const SelectionOptions& selection, const std::string& outPath,
                                    RunObserver* observer, const CancelToken* cancel) {
    const ObserverRef events(observer);
    StreamedPruneResult result;
    result.modelPath = outPath;
    result.layers = source.layerCount();
    result.weights = source.totalNumel();

    auto started = std::chrono::steady_clock::now();
    events->onStage({Stage::Select, false});
    const Selection selected = selectScores(source, selection, observer, cancel);
    result.selectSeconds = secondsSince(started);
    events->onStage({Stage::Select, true, result.selectSeconds});
    result.target = selected.target;
    result.threshold = selected.threshold;

    started = std::chrono::steady_clock::now();
    events->onStage({Stage::Export, false});
    const SafetensorsFile& file = source.file();
    std::map<std::string, int64_t> layerOf;
    for (int64_t layer = 0; layer < source.layerCount(); ++layer)
        layerOf[source.layerName(layer)] = layer;
    std::map<std::string, std::string> metadata = file.metadata();
    metadata["pruned_by"] = std::string("gradprobe magnitude, sparsity ") +
                            std::to_string(selection.sparsity) + ", group " +
                            selectionGroupName(selection.group);
    SafetensorsStreamWriter out(outPath, file.entries(), metadata);
    int64_t done = 0;
    for (const SafetensorsEntry& entry : file.entries()) {
        throwIfCancelled(cancel);
        const auto scored = layerOf.find(entry.name);
        if (scored == layerOf.end()) {
            const at::Tensor tensor = file.tensor(entry.name);
            out.append(tensor);
            releasePages(tensor);
            continue;
        }
        const at::Tensor mask = layerMask(selected, source, scored->second);
        const at::Tensor pruned = file.tensor(entry.name).masked_fill(mask, 0);
        source.releaseLastLayer();
        result.pruned += mask.sum().item<int64_t>();
        out.append(pruned);
        events->onProgress({Stage::Export, ++done, source.layerCount(), "layers"});
    }
    out.commit();
    result.writeSeconds = secondsSince(started);
    events->onStage({Stage::Export, true, result.writeSeconds});
    return result;
}

}  // namespace gp
