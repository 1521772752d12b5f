#include "core/io/mapped_file.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/runtime/error.h"

namespace gp {
namespace {

// Closes the descriptor on every path out of open(); the mapping does not need it.
struct FileDescriptor {
    int fd = -1;
    ~FileDescriptor() {
        if (fd >= 0) ::close(fd);
    }
};

std::string systemError(const std::string& what) {
    return what + " (" + std::strerror(errno) + ")";
}

}  // namespace

std::shared_ptr<MappedFile> MappedFile::open(const std::string& path) {
    FileDescriptor file;
    file.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (file.fd < 0) {
        if (errno == ENOENT) throw badInput(path, "", "file not found");
        throw badInput(path, "", systemError("cannot open the file"));
    }
    struct stat info {};
    if (::fstat(file.fd, &info) != 0) throw badInput(path, "", systemError("cannot stat the file"));
    if (S_ISDIR(info.st_mode)) throw badInput(path, "", "is a folder, not a file");
    if (!S_ISREG(info.st_mode)) throw badInput(path, "", "is not a regular file");

    std::shared_ptr<MappedFile> mapped(new MappedFile());
    mapped->m_path = path;
    mapped->m_size = static_cast<uint64_t>(info.st_size);
    if (mapped->m_size == 0) return mapped;  // mmap refuses length 0; nothing to map anyway
    // MAP_PRIVATE + PROT_WRITE over an O_RDONLY descriptor: writes stay in this process.
    // MAP_NORESERVE: no swap is reserved up front for pages that are never written.
    void* address = ::mmap(nullptr, mapped->m_size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_NORESERVE, file.fd, 0);
    if (address == MAP_FAILED) throw badInput(path, "", systemError("cannot map the file"));
    mapped->m_data = static_cast<uint8_t*>(address);
    return mapped;
}

MappedFile::~MappedFile() {
    if (m_data) ::munmap(m_data, m_size);
}

at::Tensor MappedFile::tensor(uint64_t offset, at::IntArrayRef shape, at::ScalarType dtype) const {
    const auto options = at::TensorOptions().dtype(dtype).device(at::kCPU);
    int64_t numel = 1;
    for (const int64_t size : shape) numel *= size;
    if (numel == 0) return at::empty(shape, options);

    uint8_t* address = m_data + offset;
    const size_t elementSize = c10::elementSize(dtype);
    if (!isAligned(offset, dtype)) {
        at::Tensor copy = at::empty(shape, options);
        std::memcpy(copy.data_ptr(), address, static_cast<size_t>(numel) * elementSize);
        return copy;
    }
    std::shared_ptr<const MappedFile> keepAlive = shared_from_this();
    return at::from_blob(
        address, shape, [keepAlive](void*) mutable { keepAlive.reset(); }, options);
}

bool MappedFile::isAligned(uint64_t offset, at::ScalarType dtype) const {
    return reinterpret_cast<uintptr_t>(m_data + offset) % c10::elementSize(dtype) == 0;
}

}  // namespace gp
