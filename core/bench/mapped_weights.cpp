#include "core/bench/mapped_weights.h"

#include <sys/mman.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <map>

#include "core/io/atomic_file.h"
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

// The output's header: the input's tensors in the same order, stored back to back (offsets of
// our own), the data area 8-byte aligned.
std::string headerFor(const SafetensorsFile& file, const std::string& note) {
    nlohmann::ordered_json header;
    nlohmann::ordered_json metadata(file.metadata());
    metadata["pruned_by"] = note;
    header["__metadata__"] = metadata;
    uint64_t offset = 0;
    for (const SafetensorsEntry& entry : file.entries()) {
        const uint64_t bytes = entry.end - entry.begin;
        header[entry.name] = {{"dtype", entry.dtype},
                              {"shape", entry.shape},
                              {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');
    return text;
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
    AtomicFile out(outPath);
    const std::string header = headerFor(file, std::string("gradprobe magnitude, sparsity ") +
                                                   std::to_string(selection.sparsity) + ", group " +
                                                   selectionGroupName(selection.group));
    const uint64_t headerBytes = header.size();
    out.write(&headerBytes, sizeof headerBytes);
    out.write(header.data(), header.size());
    int64_t done = 0;
    for (const SafetensorsEntry& entry : file.entries()) {
        throwIfCancelled(cancel);
        const auto scored = layerOf.find(entry.name);
        if (scored == layerOf.end()) {
            const at::Tensor tensor = file.tensor(entry.name).contiguous();
            out.write(tensor.data_ptr(), tensor.nbytes());
            releasePages(tensor);
            continue;
        }
        const at::Tensor mask = layerMask(selected, source, scored->second);
        const at::Tensor pruned = file.tensor(entry.name).masked_fill(mask, 0);
        source.releaseLastLayer();
        result.pruned += mask.sum().item<int64_t>();
        out.write(pruned.data_ptr(), pruned.nbytes());
        events->onProgress({Stage::Export, ++done, source.layerCount(), "layers"});
    }
    out.commit();
    result.writeSeconds = secondsSince(started);
    events->onStage({Stage::Export, true, result.writeSeconds});
    return result;
}

}  // namespace gp
