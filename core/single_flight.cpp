#include "core/single_flight.h"

namespace byparr {

SingleFlight::Ticket::Ticket(SingleFlight* owner, std::string key, std::shared_ptr<Flight> f,
                             bool leader)
    : owner_(owner), key_(std::move(key)), flight_(std::move(f)), leader_(leader) {}

SingleFlight::Ticket::Ticket(Ticket&& o) noexcept
    : owner_(o.owner_), key_(std::move(o.key_)), flight_(std::move(o.flight_)), leader_(o.leader_) {
    o.leader_ = false;
}

SingleFlight::Ticket::~Ticket() {
    if (!leader_ || !flight_) return;
    SolveOutcome o;
    o.ok = false;
    o.error_kind = BYPARR_ERROR_INTERNAL;
    o.error = "the solve this request was waiting for ended without a result";
    publish(o);
}

void SingleFlight::Ticket::publish(const SolveOutcome& outcome) {
    if (!leader_ || !flight_) return;
    owner_->finish(key_, flight_, outcome);
    leader_ = false;  // published once; the destructor has nothing left to do
}

std::optional<SolveOutcome> SingleFlight::Ticket::wait(
    std::chrono::steady_clock::time_point deadline) const {
    if (!flight_ || leader_) return std::nullopt;  // a leader waiting on itself would hang
    std::unique_lock<std::mutex> lock(flight_->mu);
    ++flight_->followers;
    bool done =
        flight_->cv.wait_until(lock, deadline, [&] { return flight_->outcome.has_value(); });
    --flight_->followers;
    if (!done) return std::nullopt;
    return flight_->outcome;
}

size_t SingleFlight::Ticket::followers() const {
    if (!flight_) return 0;
    std::lock_guard<std::mutex> lock(flight_->mu);
    return flight_->followers;
}

SingleFlight::Ticket SingleFlight::join_or_lead(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = flights_.try_emplace(key);
    if (inserted) it->second = std::make_shared<Flight>();
    return Ticket(this, key, it->second, inserted);
}

size_t SingleFlight::in_flight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return flights_.size();
}

void SingleFlight::finish(const std::string& key, const std::shared_ptr<Flight>& f,
                          SolveOutcome outcome) {
    {
        // Unlisted first: a request arriving from now on starts a new flight
        // (it will find the cache filled) rather than joining a finished one.
        std::lock_guard<std::mutex> lock(mu_);
        auto it = flights_.find(key);
        if (it != flights_.end() && it->second == f) flights_.erase(it);
    }
    {
        std::lock_guard<std::mutex> lock(f->mu);
        f->outcome = std::move(outcome);
    }
    f->cv.notify_all();
}

}  // namespace byparr
