// Single-flight solving: requests for the same site and proxy that arrive
// while it is being solved wait for that solve instead of starting another.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/solution.h"

namespace byparr {

/// Single-flight solving: the first request for a key leads (solves), the ones
/// that arrive while it runs follow (wait for its outcome instead of solving).
///
///   auto t = flights.join_or_lead(key.site_proxy());
///   if (t.leader()) { SolveOutcome o = solve(); t.publish(o); }
///   else if (auto o = t.wait(deadline)) { /* reuse *o */ } else { /* own timeout */ }
///
/// A leader Ticket destroyed without publish() publishes an internal error, so
/// followers never wait for a leader that threw or returned early.
class SingleFlight {
    struct Flight;

  public:
    class Ticket {
      public:
        Ticket(Ticket&& other) noexcept;
        Ticket& operator=(Ticket&&) = delete;
        Ticket(const Ticket&) = delete;
        ~Ticket();

        bool leader() const { return leader_; }
        /// Followers waiting on this flight right now (for tests and metrics).
        size_t followers() const;
        /// Leader only: hands the outcome to every follower (present and
        /// joining until now) and ends the flight; later calls are ignored.
        void publish(const SolveOutcome& outcome);
        /// Follower only: the leader's outcome, or nullopt at the deadline.
        std::optional<SolveOutcome> wait(std::chrono::steady_clock::time_point deadline) const;

      private:
        friend class SingleFlight;
        Ticket(SingleFlight* owner, std::string key, std::shared_ptr<Flight> f, bool leader);
        SingleFlight* owner_;
        std::string key_;
        std::shared_ptr<Flight> flight_;
        bool leader_;
    };

    Ticket join_or_lead(const std::string& key);
    /// Keys being solved right now.
    size_t in_flight() const;

  private:
    struct Flight {
        std::mutex mu;
        std::condition_variable cv;
        std::optional<SolveOutcome> outcome;
        size_t followers = 0;
    };
    void finish(const std::string& key, const std::shared_ptr<Flight>& f, SolveOutcome outcome);

    mutable std::mutex mu_;
    std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
};

}  // namespace byparr
