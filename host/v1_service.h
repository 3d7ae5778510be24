// The FlareSolverr v1 API as a function from request bytes to reply bytes,
// independent of the HTTP server: routes call it, unit tests and benchmarks call
// it directly. Translates between the wire and the engine (SolvePipeline), which
// owns the gate, the cache and the metrics of the request path.
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
#include "core/solve_pipeline.h"
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

    /// The engine behind /v1: the admin server reads its metrics, gate and cache.
    SolvePipeline& pipeline() { return pipeline_; }
    Metrics& metrics_registry() { return pipeline_.metrics(); }
    Dispatcher& dispatcher() { return pipeline_.dispatcher(); }
    ConcurrencyGate& gate() { return pipeline_.gate(); }
    ClearanceCache& cache() { return pipeline_.cache(); }
    /// Requests currently inside handle_v1 (for graceful shutdown).
    int active() const { return active_.load(); }
    /// Refuse new commands from now on (shutdown in progress).
    void stop_accepting() {
        accepting_ = false;
        pipeline_.gate().close();
    }

  private:
    HttpReply dispatch_v1(std::string_view body, std::string_view authorization,
                          const std::string& rid, int64_t start_ms, AccessRecord& a);
    HttpReply run_request(const V1Request& req, int64_t start_ms, const std::string& rid,
                          AccessRecord& a);
    HttpReply solution_reply(const V1Request& req, const Solution& s, int64_t start_ms);
    HttpReply run_session_cmd(const V1Request& req, int64_t start_ms, AccessRecord& a);
    HttpReply envelope_error(const std::string& message, int64_t start_ms,
                             int http_status = 500) const;
    void register_host_gauges();

    const Config& config_;
    Registry& registry_;
    SolvePipeline pipeline_;
    std::atomic<int> active_{0};
    std::atomic<bool> accepting_{true};
    std::atomic<uint64_t> next_id_{1};
    std::mutex warned_mu_;
    SelfTest self_test_;
    std::set<std::string> warned_fields_;  // removed parameters already logged (warned_mu_)
};

int64_t now_epoch_ms();

}  // namespace byparr
