// Writing a file so that it appears whole or not at all: the bytes go to a temporary file in the
// target's folder (same file system, so the final rename is atomic), which is flushed, fsynced
// and renamed over the target on commit(). Any failure, a full disk included, removes the
// temporary file and throws an Error naming the target. Plain C++.
#pragma once

#include <cstddef>
#include <string>

namespace gp {

class AtomicFile {
public:
    // Creates the temporary file beside `path`; an Error if the folder is missing or read-only.
    explicit AtomicFile(std::string path);
    // Removes the temporary file unless commit() succeeded.
    ~AtomicFile();

    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    // Appends bytes; checks every write (short writes are retried, errors throw).
    void write(const void* data, size_t bytes);
    // fsync, close, rename onto the target, fsync the folder. The target exists only after this.
    void commit();

    const std::string& path() const { return m_path; }
    const std::string& temporaryPath() const { return m_temporaryPath; }

private:
    [[noreturn]] void fail(const std::string& problem);
    void discard() noexcept;

    std::string m_path;
    std::string m_temporaryPath;
    int m_fd = -1;
    bool m_committed = false;
    // Test hook: GP_TEST_WRITE_DELAY_MS makes every write() sleep that long first, so a test can
    // deliver a signal while a model file is being written. 0 (unset) in normal use.
    int m_writeDelayMs = 0;
};

}  // namespace gp
