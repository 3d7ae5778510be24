// The FlareSolverr v1 API as a function from request bytes to reply bytes,
// independent of the HTTP server: routes call it, unit tests and benchmarks call
// it directly. Owns the gate and the metrics families of the request path.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clearance_cache.h"
#include "core/concurrency_gate.h"
#include "core/config.h"
#include "core/dispatcher.h"
#include "core/metrics.h"
#include "core/registry.h"
#include "core/v1_request.h"

namespace byparr {

struct HttpReply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
};

class V1Service {
public:
    V1Service(const Config& config, Registry& registry);

    /// `authorization` is the request's Authorization header ("" if none).
    HttpReply handle_v1(std::string_view body, std::string_view authorization = {});
    HttpReply index();
    HttpReply health();
    HttpReply metrics();
    /// The error envelope for a failure outside a command (bad body, too large…).
    HttpReply error_reply(int http_status, const std::string& message) const;

    Metrics& metrics_registry() { return metrics_; }
    Dispatcher& dispatcher() { return dispatcher_; }
    ConcurrencyGate& gate() { return gate_; }
    ClearanceCache& cache() { return cache_; }
    /// Requests currently inside handle_v1 (for graceful shutdown).
    int active() const { return active_.load(); }
    /// Refuse new commands from now on (shutdown in progress).
    void stop_accepting() { accepting_ = false; gate_.close(); }

private:
    HttpReply run_request(const V1Request& req, int64_t start_ms, const std::string& rid);
    HttpReply solution_reply(const V1Request& req, const Solution& s, int64_t start_ms);
    HttpReply run_session_cmd(const V1Request& req, int64_t start_ms);
    HttpReply envelope_error(const std::string& message, int64_t start_ms, int http_status = 500) const;
    std::string error_message(const SolveOutcome& o, uint32_t timeout_ms) const;
    void count(const char* cmd, const char* result, const std::string& domain, double seconds);

    const Config& config_;
    Registry& registry_;
    Dispatcher dispatcher_;
    ConcurrencyGate gate_;
    ClearanceCache cache_;
    SingleFlight flights_;
    Metrics metrics_;
    std::atomic<int> active_{0};
    std::atomic<bool> accepting_{true};
    std::atomic<uint64_t> next_id_{1};
    // Sites (site|proxy) whose last page had no challenge: single flight is
    // skipped for them for a while, so a burst of searches on an unprotected
    // indexer runs in parallel instead of in two waves.
    std::mutex open_sites_mu_;
    std::map<std::string, std::chrono::steady_clock::time_point> open_sites_;
    std::mutex ua_mu_;
    std::string cached_ua_;
};

int64_t now_epoch_ms();

}  // namespace byparr
