#include "core/concurrency_gate.h"

#include <algorithm>

namespace byparr {

ConcurrencyGate::Admit ConcurrencyGate::acquire(std::chrono::steady_clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mu_);
    if (closed_) return Admit::kClosed;
    if (in_flight_ < max_ && queue_.empty()) {
        ++in_flight_;
        return Admit::kAdmitted;
    }
    if (queue_.size() >= max_queue_) return Admit::kQueueFull;
    uint64_t ticket = next_ticket_++;
    queue_.push_back(ticket);
    // FIFO: only the head of the queue may take a free slot.
    bool ok = cv_.wait_until(lock, deadline, [&] {
        return closed_ || (in_flight_ < max_ && queue_.front() == ticket);
    });
    if (closed_ || !ok) {
        queue_.erase(std::find(queue_.begin(), queue_.end(), ticket));
        cv_.notify_all();  // the next in line may now be the head
        return closed_ ? Admit::kClosed : Admit::kTimedOut;
    }
    queue_.pop_front();
    ++in_flight_;
    cv_.notify_all();
    return Admit::kAdmitted;
}

void ConcurrencyGate::release() {
    std::lock_guard<std::mutex> lock(mu_);
    if (in_flight_ > 0) --in_flight_;
    cv_.notify_all();
}

void ConcurrencyGate::close() {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    cv_.notify_all();
}

uint32_t ConcurrencyGate::in_flight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return in_flight_;
}

uint32_t ConcurrencyGate::queued() const {
    std::lock_guard<std::mutex> lock(mu_);
    return static_cast<uint32_t>(queue_.size());
}

}  // namespace byparr
