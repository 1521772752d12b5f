#include "core/io/atomic_file.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <random>
#include <thread>

#include <fcntl.h>
#include <unistd.h>

#include "core/runtime/error.h"

namespace gp {
namespace {

std::string withErrno(const std::string& what, int error) {
    return what + " (" + std::strerror(error) + ")";
}

std::string folderOf(const std::string& path) {
    const std::filesystem::path parent = std::filesystem::path(path).parent_path();
    return parent.empty() ? std::string(".") : parent.string();
}

// Makes the folder entry of a rename durable; best effort (some file systems refuse fsync on a
// folder, and the data itself is already on disk).
void syncFolder(const std::string& folder) {
    const int fd = ::open(folder.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    ::fsync(fd);
    ::close(fd);
}

}  // namespace

AtomicFile::AtomicFile(std::string path) : m_path(std::move(path)) {
    if (m_path.empty()) throw badInput(m_path, "", "no output path given");
    if (const char* delay = std::getenv("GP_TEST_WRITE_DELAY_MS"))
        m_writeDelayMs = std::atoi(delay);
    const std::string folder = folderOf(m_path);
    if (!std::filesystem::is_directory(folder))
        throw badInput(m_path, "", "cannot write: the folder " + folder + " does not exist");
    // A random suffix and O_EXCL: two writers of the same target never share a temporary file.
    // Mode 0666 lets the umask decide the final permissions, as for any newly created file.
    std::random_device entropy;
    for (int attempt = 0; attempt < 16 && m_fd < 0; ++attempt) {
        m_temporaryPath =
            m_path + ".tmp-" + std::to_string(::getpid()) + "-" + std::to_string(entropy());
        m_fd = ::open(m_temporaryPath.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (m_fd < 0 && errno != EEXIST) break;
    }
    if (m_fd < 0) {
        const int error = errno;
        m_temporaryPath.clear();
        throw badInput(m_path, "", withErrno("cannot create a file in " + folder, error));
    }
}

AtomicFile::~AtomicFile() {
    if (!m_committed) discard();
}

void AtomicFile::discard() noexcept {
    if (m_fd >= 0) ::close(m_fd);
    m_fd = -1;
    if (!m_temporaryPath.empty()) ::unlink(m_temporaryPath.c_str());
    m_temporaryPath.clear();
}

void AtomicFile::fail(const std::string& problem) {
    discard();
    throw badInput(m_path, "", problem + "; nothing was written");
}

void AtomicFile::write(const void* data, size_t bytes) {
    if (m_fd < 0) fail("cannot write: the file was already closed");
    if (m_writeDelayMs > 0) std::this_thread::sleep_for(std::chrono::milliseconds(m_writeDelayMs));
    const auto* cursor = static_cast<const uint8_t*>(data);
    while (bytes > 0) {
        // Chunks of at most 1 GiB: Linux caps a single write near 2 GiB anyway.
        const size_t chunk = std::min<size_t>(bytes, size_t(1) << 30);
        const ssize_t written = ::write(m_fd, cursor, chunk);
        if (written < 0) {
            if (errno == EINTR) continue;
            fail(withErrno("cannot write", errno));
        }
        if (written == 0) fail("cannot write (the device accepted no bytes)");
        cursor += written;
        bytes -= static_cast<size_t>(written);
    }
}

void AtomicFile::commit() {
    if (m_fd < 0) fail("cannot commit: the file was already closed");
    if (::fsync(m_fd) != 0) fail(withErrno("cannot flush to disk", errno));
    const int fd = m_fd;
    m_fd = -1;
    if (::close(fd) != 0) fail(withErrno("cannot close", errno));
    if (::rename(m_temporaryPath.c_str(), m_path.c_str()) != 0)
        fail(withErrno("cannot rename " + m_temporaryPath + " into place", errno));
    m_committed = true;
    m_temporaryPath.clear();
    syncFolder(folderOf(m_path));
}

}  // namespace gp
