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
#include <set>
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
#include "host/self_test.h"

namespace byparr {

struct HttpReply {
    int status = 200;
    std::string body;
    std::string content_type = "application/json";
    std::vector<std::pair<std::string, std::string>> headers;
};

/// What the HTTP layer knows about a request that the API needs for its log line.
struct RequestMeta {
    std::string request_id;  // the client's X-Request-Id if usable, else "" (one is made)
    std::string client;      // peer address, "" in tests that call handle_v1 directly
};

/// What one /v1 request did, for its access line and the metrics: filled in as the
/// request goes, written once at the end.
struct AccessRecord {
    std::string cmd = "invalid";
    std::string domain;
    std::string outcome = "invalid";  // solved, not_detected, cached, timeout, blocked,
                                      // captcha, proxy, error, busy, invalid, ok
    std::string solver, rule, kind, cache;
    std::string detail;  // the error message, when there is one
};

class V1Service {
public:
    V1Service(const Config& config, Registry& registry);

    /// `authorization` is the request's Authorization header ("" if none). The reply
    /// carries X-Request-Id (the client's own when it sent a usable one).
    HttpReply handle_v1(std::string_view body, std::string_view authorization = {},
                        const RequestMeta& meta = {});
    HttpReply index();
    /// 200 when at least one solver can serve (passed its start-up self-test and is
    /// in the chain), else 503; the body lists each solver and why it is not ready.
    HttpReply health();
    /// Runs the start-up self-test (background); main() calls it once listening.
    void start_self_test() { self_test_.start(); }
    SelfTest& self_test() { return self_test_; }
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
    HttpReply dispatch_v1(std::string_view body, std::string_view authorization,
                          const std::string& rid, int64_t start_ms, AccessRecord& a);
    HttpReply run_request(const V1Request& req, int64_t start_ms, const std::string& rid,
                          AccessRecord& a);
    HttpReply solution_reply(const V1Request& req, const Solution& s, int64_t start_ms);
    HttpReply run_session_cmd(const V1Request& req, int64_t start_ms, AccessRecord& a);
    HttpReply envelope_error(const std::string& message, int64_t start_ms, int http_status = 500) const;
    std::string error_message(const SolveOutcome& o, uint32_t timeout_ms, int64_t asked_ms) const;
    std::string timeout_message(uint32_t timeout_ms, int64_t asked_ms) const;
    /// Metrics and the access line of one finished /v1 request.
    void record(const AccessRecord& a, int http_status, double seconds, const std::string& rid,
                const RequestMeta& meta);
    /// FlareSolverr's domain label, bounded: past kMaxDomains distinct values "other".
    std::string domain_label(const std::string& domain);
    static constexpr size_t kMaxDomains = 1000;

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
    std::mutex domains_mu_;
    std::map<std::string, bool> domains_;
    SelfTest self_test_;
    std::set<std::string> warned_fields_;  // removed parameters already logged (open_sites_mu_)
};

int64_t now_epoch_ms();

}  // namespace byparr
