// Runs a validated request through the registry's components: cookie sources
// first, a proxy provider when the request has no proxy, then the solver chain,
// each call under the request's deadline. A solver that does not return in time
// is abandoned (its thread keeps the component alive) and faulted; the client
// still gets its answer on time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/registry.h"
#include "core/solution.h"

namespace byparr {

struct SessionOutcome {
    bool ok = false;
    bool existed = false;
    std::vector<std::string> sessions;
    byparr_error_kind error_kind = BYPARR_ERROR_INTERNAL;
    std::string error;
};

class Dispatcher {
  public:
    explicit Dispatcher(Registry& registry) : registry_(registry) {}

    /// Serves request.get/request.post. Never throws; returns by
    /// request.timeout_ms + kGrace at the latest.
    SolveOutcome solve(const SolveRequest& request);

    /// One call to the named solver alone: no cookie sources, no proxy provider, no
    /// chain, no captcha hook. For the start-up self-test, which must test the
    /// solver itself, not a proxy a provider would pick for the test page.
    SolveOutcome probe(const std::string& solver_id, const SolveRequest& request);

    SessionOutcome session_create(const std::string& id, const ProxySpec& proxy,
                                  const std::string& solver);
    SessionOutcome session_list(const std::string& solver);
    SessionOutcome session_destroy(const std::string& id, const std::string& solver);

    /// The UA the first solver of the chain reports without starting a browser.
    std::string user_agent();

    /// Extra metric lines from solvers ("name value", without the byparr_ prefix).
    std::vector<std::string> solver_metrics();
    /// The same, each line with the id of the solver that wrote it (for HELP text).
    std::vector<std::pair<std::string, std::string>> solver_metrics_by_component();

    /// How long past its own deadline a solver may take before it is abandoned:
    /// solvers are told the deadline and should answer by it; this only covers the
    /// hand-off. Kept small because the contract promises the timeout answer
    /// within 0.5 s of the deadline.
    static constexpr std::chrono::milliseconds kGrace{250};

    /// Called when a request moves on to the next solver after one failed on its
    /// own account (metrics). Set before the first request; any thread.
    std::function<void(const std::string& from, const std::string& to)> on_escalation;

  private:
    std::string no_solver_message() const;
    SolveOutcome call_solver(const std::shared_ptr<Component>& c, const SolveRequest& r,
                             std::chrono::steady_clock::time_point deadline);
    std::shared_ptr<Component> session_solver(const std::string& solver, std::string* error);
    void apply_cookie_sources(SolveRequest& r);
    std::string pick_proxy(const std::string& url, std::shared_ptr<Component>* provider);

    Registry& registry_;
};

}  // namespace byparr
