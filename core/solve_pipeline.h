// The solve pipeline: what happens to a page request between the wire format and
// the dispatcher, as named steps, independent of HTTP.
//
//   prepare         defaults (PROXY_URL, DISABLE_MEDIA) and the effective timeout
//   consult_cache   clearance lookup; single flight: wait for a solve of the same site
//   admit           the concurrency gate (MAX_CONCURRENT, MAX_QUEUE)
//   dispatch        the solver chain (Dispatcher::solve)
//   store           clearance write, "open site" hint, hand the outcome to followers
//   conclude        outcome vocabulary, challenge metrics, the error message
//
// and, for every /v1 request whatever command it was, `finish`: the one place that
// writes the request metrics, the access log line and the status board.
//
// The v1 service parses the body, calls solve_page (or the session commands) and
// renders the answer; the admin server reads the same object's metrics, gate
// cache and status board. Thread-safe: one object serves every request thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "core/clearance_cache.h"
#include "core/concurrency_gate.h"
#include "core/config.h"
#include "core/dispatcher.h"
#include "core/metrics.h"
#include "core/registry.h"
#include "core/status_board.h"
#include "core/v1_request.h"

namespace byparr {

/// What one /v1 request did, for its access line and the metrics: filled in as the request goes,
/// written once at the end (finish()).
struct AccessRecord {
    std::string cmd = "invalid";
    std::string domain;
    std::string outcome = "invalid";  // solved, not_detected, cached, timeout, blocked,
                                      // captcha, proxy, error, busy, invalid, ok
    std::string solver, rule, kind, cache;
    std::string detail;  // the error message, when there is one
};

/// How a page request ended, for the wire layer to render.
struct PageAnswer {
    bool ok = false;
    Solution solution;      // when ok
    int http_status = 200;  // when not ok: 500, or 503 (busy, shutting down)
    std::string message;    // when not ok: the envelope's message, without "Error: "
    int retry_after_s = 0;  // > 0: say Retry-After (a full queue)
};

class SolvePipeline {
  public:
    SolvePipeline(const Config& config, Registry& registry);

    /// request.get / request.post, validated. Fills `a` as it goes. Never throws
    /// for a solver's failure; answers by the request's deadline (+ the
    /// dispatcher's grace).
    PageAnswer solve_page(const V1Request& req, const std::string& request_id, AccessRecord& a);

    /// The proxy a request or a new session uses: its own, else PROXY_URL. A
    /// zone given without a URL ({"timezone": ...}) applies to PROXY_URL's exit.
    Proxy proxy_for(const std::optional<Proxy>& given) const;

    /// The one place a finished /v1 request is accounted for: metrics, the access
    /// line, the status board. `client` is "" when unknown.
    void finish(const AccessRecord& a, int http_status, double seconds,
                const std::string& request_id, const std::string& client);

    /// The user agent the last answer carried, else what the chain's first solver
    /// reports ("" when it cannot say yet).
    std::string user_agent();

    /// The timeout error message (with the SOLVER_TIMEOUT cap explained).
    std::string timeout_message(uint32_t timeout_ms, int64_t asked_ms) const;
    std::string error_message(const SolveOutcome& o, uint32_t timeout_ms, int64_t asked_ms) const;

    Metrics& metrics() { return metrics_; }
    Dispatcher& dispatcher() { return dispatcher_; }
    ConcurrencyGate& gate() { return gate_; }
    ClearanceCache& cache() { return cache_; }
    /// Recent requests, latency per minute and per-site outcomes (GET /status.json).
    StatusBoard& status_board() { return board_; }
    const Config& config() const { return config_; }
    Registry& registry() { return registry_; }

  private:
    struct Job;  // one page request on its way through the steps
    void register_request_metrics();
    void register_gauges();
    SolveRequest prepare(const V1Request& req, const std::string& request_id) const;
    std::optional<PageAnswer> consult_cache(Job& job);
    std::optional<PageAnswer> join_flight(Job& job);
    std::optional<PageAnswer> admit(Job& job);
    void store(Job& job, const SolveOutcome& o);
    PageAnswer conclude(Job& job, SolveOutcome o);
    PageAnswer fail(Job& job, const SolveOutcome& o);
    bool open_site(const std::string& site_proxy);
    void count_challenge(const AccessRecord& a);
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
    StatusBoard board_;
    // Sites (site|proxy) whose last page had no challenge: single flight is
    // skipped for them for a while, so a burst of searches on an unprotected
    // indexer runs in parallel instead of in two waves.
    std::mutex open_sites_mu_;
    std::map<std::string, std::chrono::steady_clock::time_point> open_sites_;
    std::mutex ua_mu_;
    std::string cached_ua_;
    std::mutex domains_mu_;
    std::map<std::string, bool> domains_;
};

}  // namespace byparr
