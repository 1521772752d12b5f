// safetensors files: read through a private, read-only-backed memory map (the file is opened
// O_RDONLY and is never modified; writes to mapped tensors go to private copy-on-write pages),
// and written atomically (temporary file in the same folder, fsync, rename).
// INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/io/atomic_file.h"

namespace gp {

class MappedFile;

// The safetensors dtype strings we accept: F64 F32 F16 BF16 I64 I32 I16 I8 U8 BOOL.
struct SafetensorsEntry {
    std::string name;
    std::string dtype;  // as written in the header, e.g. "BF16"
    std::vector<int64_t> shape;
    uint64_t begin = 0;  // offsets relative to the data area, as in the header
    uint64_t end = 0;
};

class SafetensorsFile {
public:
    // Maps and validates the file: header length within the file and below 100 MB, JSON well
    // formed, known dtypes, offsets inside the data area, no overlaps, shape x dtype == span.
    // Every violation is an Error (BadInput) naming the file and the tensor. Reads the header
    // only; tensor data is paged in when a tensor is used.
    static std::shared_ptr<SafetensorsFile> open(const std::string& path);
    ~SafetensorsFile();

    const std::string& path() const { return m_path; }
    const std::vector<SafetensorsEntry>& entries() const { return m_entries; }  // file order
    const SafetensorsEntry* find(const std::string& name) const;
    const std::map<std::string, std::string>& metadata() const { return m_metadata; }

    // The tensor, backed by the mapping (no copy when the data is aligned for its dtype; a copy
    // otherwise). The mapping lives as long as any tensor from it, also after this object is
    // gone. In-place changes to the tensor never reach the file. An Error for an unknown name.
    at::Tensor tensor(const std::string& name) const;

    // Whether tensor(name) maps the data (true) or has to copy it into new memory (false): a
    // file written with its data area or a tensor off an element boundary. An Error for an
    // unknown name.
    bool isMapped(const std::string& name) const;

private:
    SafetensorsFile() = default;
    std::string m_path;
    std::shared_ptr<MappedFile> m_file;
    uint64_t m_dataOffset = 0;  // 8 + header length
    std::vector<SafetensorsEntry> m_entries;
    std::map<std::string, size_t> m_index;
    std::map<std::string, std::string> m_metadata;
};

// Parses and validates a header only (the fuzz target's entry point): `bytes` is the whole file
// (or a prefix of it: then offsets past the end are errors). fileForErrors names it in messages.
// Entries come in header order; `metadata` (may be null) receives "__metadata__".
std::vector<SafetensorsEntry> parseSafetensorsHeader(const uint8_t* bytes, uint64_t size,
                                                     const std::string& fileForErrors,
                                                     std::map<std::string, std::string>* metadata);

// Writes tensors (CPU or not; moved to CPU contiguous) in the given order under a temporary name
// beside `path`, then renames. An Error naming the path on any failure (disk full included), and
// no file under `path` unless the write completed.
void writeSafetensors(const std::string& path,
                      const std::vector<std::pair<std::string, at::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

// Writes a file whose tensors are made one at a time (a model that is never resident): the
// header is fixed up front from `entries` (names, dtypes, shapes; their offsets are laid out back
// to back in this order), then append() adds each tensor's bytes in the same order. Atomic like
// writeSafetensors: nothing under `path` unless commit() completes.
class SafetensorsStreamWriter {
public:
    SafetensorsStreamWriter(const std::string& path, std::vector<SafetensorsEntry> entries,
                            const std::map<std::string, std::string>& metadata = {});

    // The next entry's data (any device); an Error if its dtype or shape differ from the entry's.
    void append(const at::Tensor& tensor);
    // An Error unless every entry was appended.
    void commit();

private:
    std::vector<SafetensorsEntry> m_entries;
    size_t m_next = 0;
    AtomicFile m_file;
};

std::string safetensorsDtypeName(at::ScalarType dtype);          // "F32", ...; Error if unsupported
at::ScalarType safetensorsScalarType(const std::string& dtype);  // Error if unknown

}  // namespace gp
