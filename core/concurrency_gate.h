// At most N solves at once; the rest wait in FIFO order with their own deadline
// counting, in a bounded queue. A full queue is refused at once.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>

namespace byparr {

class ConcurrencyGate {
public:
    ConcurrencyGate(uint32_t max_concurrent, uint32_t max_queue)
        : max_(max_concurrent), max_queue_(max_queue) {}

    enum class Admit { kAdmitted = 1, kQueueFull, kTimedOut, kClosed };

    /// Waits for a slot until `deadline`. On kAdmitted the caller must release().
    Admit acquire(std::chrono::steady_clock::time_point deadline);
    void release();
    /// Wakes every waiter with kClosed (shutdown).
    void close();

    uint32_t in_flight() const;
    uint32_t queued() const;

private:
    mutable std::mutex mu_;
    std::condition_variable cv_;
    uint32_t max_, max_queue_;
    uint32_t in_flight_ = 0;
    uint64_t next_ticket_ = 0;
    std::deque<uint64_t> queue_;  // tickets in arrival order
    bool closed_ = false;
};

/// RAII slot.
class GateSlot {
public:
    explicit GateSlot(ConcurrencyGate* g) : g_(g) {}
    ~GateSlot() { if (g_) g_->release(); }
    GateSlot(const GateSlot&) = delete;
    GateSlot& operator=(const GateSlot&) = delete;

private:
    ConcurrencyGate* g_;
};

}  // namespace byparr
