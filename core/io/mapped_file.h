// A whole file mapped into memory, private and copy-on-write: the file is opened read-only and
// never modified, yet tensors over the mapping may be changed in place (pruning zeroes weights);
// the changed pages become private copies. Tensors made here keep the mapping alive.
// INTERNAL to core: includes ATen.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <memory>
#include <string>

namespace gp {

class MappedFile : public std::enable_shared_from_this<MappedFile> {
public:
    // Maps the whole file. An Error (BadInput) naming the path when it is missing, a folder, or
    // cannot be mapped. Touches no data: pages are read when first used.
    static std::shared_ptr<MappedFile> open(const std::string& path);
    ~MappedFile();

    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    const std::string& path() const { return m_path; }
    const uint8_t* data() const { return m_data; }  // nullptr for an empty file
    uint64_t size() const { return m_size; }

    // A tensor over bytes [offset, offset + numel x element size) of the file, sharing the mapping
    // (which then lives as long as the tensor). The caller checks the range. Copied instead when
    // the address is not aligned for the dtype, since ATen kernels assume aligned elements.
    at::Tensor tensor(uint64_t offset, at::IntArrayRef shape, at::ScalarType dtype) const;

    // Whether tensor() at this offset maps (true) or has to copy (false).
    bool isAligned(uint64_t offset, at::ScalarType dtype) const;

private:
    MappedFile() = default;
    std::string m_path;
    uint8_t* m_data = nullptr;
    uint64_t m_size = 0;
};

}  // namespace gp
