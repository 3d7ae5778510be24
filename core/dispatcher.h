// Runs a validated request through the registry's components: cookie sources
// first, a proxy provider when the request has no proxy, then the solver chain,
// each call under the request's deadline. A solver that does not return in time
// is abandoned (its thread keeps the component alive) and faulted; the client
// still gets its answer on time.
//
// Escalation (ESCALATE_AFTER): while a later solver of the chain can take the
// request, a solver gets min(ESCALATE_AFTER, time left). When it cannot get past
// the page in that time (a timeout, usually with the challenge still on the
// page, or a failed bot check: UNSUPPORTED naming the challenge), the rest of the
// request's time goes to the next solver. The last solver that can take the
// request gets all the time left. Blocks and captchas are the site's final word
// and never escalate; nor do requests that name a solver or use a session (the
// session lives in one solver).
//
// Per-site engine memory (with a ClearanceCache attached): the solver that
// passed a site's challenge, or answered after an escalation, is tried first for
// that site next time.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "core/clearance_cache.h"
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

    SessionOutcome session_create(const std::string& id, const Proxy& proxy,
                                  const std::string& solver);
    SessionOutcome session_list(const std::string& solver);
    SessionOutcome session_destroy(const std::string& id, const std::string& solver);

    /// The UA the first solver of the chain reports without starting a browser.
    std::string user_agent();

    /// One metric sample a solver reported: "name{labels} value" without the
    /// byparr_ prefix, the kind of its family, and the solver (for HELP text).
    struct SolverMetric {
        std::string component;
        byparr_metric_kind kind = BYPARR_METRIC_GAUGE;
        std::string sample;
    };
    /// Every enabled solver's samples: with the kind it declared (ABI 1.2
    /// metric_samples), or, from an older plugin's metrics, guessed from the
    /// name as before ("_total": counter, else gauge).
    std::vector<SolverMetric> solver_metric_samples();
    /// The samples alone (byparrctl stats).
    std::vector<std::string> solver_metrics();
    /// The samples with the solver that wrote each.
    std::vector<std::pair<std::string, std::string>> solver_metrics_by_component();

    /// How long past its own deadline a solver may take before it is abandoned:
    /// solvers are told the deadline and should answer by it; this only covers the
    /// hand-off. Kept small because the contract promises the timeout answer
    /// within 0.5 s of the deadline.
    static constexpr std::chrono::milliseconds kGrace{250};

    /// How long the entry points other than solve() may take before they are
    /// abandoned and their component faulted (core/guarded_call.h). Cookie
    /// lookup and proxy pick get min(quick, the request's time left): they are
    /// lookups, and a hung one must not eat the solve's time or hold its gate
    /// slot. Set before the first request (tests shorten them).
    struct CallBudgets {
        std::chrono::milliseconds quick{2000};     // lookup, pick, user_agent
        std::chrono::milliseconds report{1000};    // proxy report, after the answer
        std::chrono::milliseconds metrics{1000};   // per solver, per scrape
        std::chrono::milliseconds session{30000};  // may start a browser
    };
    CallBudgets call_budgets;

    /// Called when a request moves on to the next solver after one failed on its
    /// own account or could not get past a challenge (metrics). Set before the
    /// first request; any thread.
    std::function<void(const std::string& from, const std::string& to)> on_escalation;

    /// Called after every solver call of solve() with the solver's id and its
    /// outcome: outcome_name() or "not_applicable" (metrics). Set before the
    /// first request; any thread.
    std::function<void(const std::string& solver, const char* outcome)> on_solver_outcome;

    /// Where the per-site engine memory lives; nullptr (the default): none.
    /// Set before the first request; the cache must outlive the dispatcher's use.
    void set_site_memory(ClearanceCache* cache) { site_memory_ = cache; }

    /// A failure that another solver may get past: a timeout (the challenge
    /// still there, or nothing at all, at the escalation deadline), or a failed
    /// bot check (UNSUPPORTED naming the challenge on the page).
    static bool cannot_get_past(const SolveOutcome& o);

  private:
    using Chain = std::vector<std::shared_ptr<Component>>;
    using TimePoint = std::chrono::steady_clock::time_point;
    struct ChainResult {
        SolveOutcome outcome;
        bool escalated_on_challenge = false;  // the answer came after one
    };

    std::string no_solver_message() const;
    /// extra_flags: BYPARR_REQ_* bits for this call only (the hand-over of a capped turn).
    SolveOutcome call_solver(const std::shared_ptr<Component>& c, const SolveRequest& r,
                             std::chrono::steady_clock::time_point deadline,
                             uint32_t extra_flags = 0);
    /// The named solver alone, or the chain (remembered solver first); an error
    /// in *refusal when a named solver cannot serve.
    Chain select_chain(SolveRequest& r, std::optional<SolveOutcome>* refusal);
    void put_site_solver_first(Chain& chain, const SolveRequest& r);
    ChainResult run_chain(const Chain& chain, const SolveRequest& r, TimePoint deadline,
                          bool may_escalate);
    /// Whether a solver after chain[i] may take r (it has not said "not
    /// applicable" to a request of r's kind).
    bool later_solver_can_take(const Chain& chain, size_t i, const SolveRequest& r) const;
    void learn_applicability(const Component& c, const SolveRequest& r, bool not_applicable);
    void note_outcome(const Component& c, const SolveRequest& r, const SolveOutcome& o);
    void try_captcha_solvers(SolveOutcome& last, const SolveRequest& r, TimePoint deadline);
    std::shared_ptr<Component> session_solver(const std::string& solver, std::string* error);
    void apply_cookie_sources(SolveRequest& r, TimePoint deadline);
    std::string pick_proxy(const std::string& url, TimePoint deadline,
                           std::shared_ptr<Component>* provider);
    void report_proxy(const std::shared_ptr<Component>& provider, const SolveRequest& r,
                      const SolveOutcome& last);

    Registry& registry_;
    ClearanceCache* site_memory_ = nullptr;
    // "<solver>|<returnOnlyCookies>" for solvers whose last answer to such a
    // request was "not applicable" (cookie-import to a page request, learned at
    // the start-up self-test): they are no escalation target, so the solver
    // before them keeps the whole budget.
    mutable std::mutex passes_mu_;
    std::set<std::string> passes_;
};

}  // namespace byparr
