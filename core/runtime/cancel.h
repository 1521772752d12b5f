// Cooperative cancellation. The caller (CLI signal handler, GUI Cancel button) sets the flag from
// any thread; the engine polls it between batches and layers and unwinds by throwing Cancelled,
// which the facade turns into a Cancelled outcome after restoring the weights.
// Cancelling is an outcome, not an error: Cancelled does not derive from gp::Error.
#pragma once

#include <atomic>
#include <exception>

namespace gp {

struct Cancelled : std::exception {
    const char* what() const noexcept override { return "cancelled"; }
};

class CancelToken {
public:
    void cancel() { m_cancelled.store(true, std::memory_order_relaxed); }
    void reset() { m_cancelled.store(false, std::memory_order_relaxed); }
    bool isCancelled() const { return m_cancelled.load(std::memory_order_relaxed); }

private:
    std::atomic<bool> m_cancelled{false};
};

// Throws Cancelled when token is non-null and set. Engine code calls this between units of work.
inline void throwIfCancelled(const CancelToken* token) {
    if (token && token->isCancelled()) throw Cancelled();
}

}  // namespace gp
