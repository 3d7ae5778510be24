#include "core/dispatcher.h"

#include <algorithm>
#include <atomic>
#include <functional>
#include <mutex>

#include "core/guarded_call.h"
#include "core/log.h"
#include "core/plugin_marshal.h"
#include "core/time_zones.h"

namespace byparr {
namespace {

using Clock = std::chrono::steady_clock;

// Failures that are the component's own fault count against its breaker, and
// make the chain try the next solver; the site's answers (block, captcha) and the
// deadline are final.
bool component_fault(byparr_error_kind k) {
    return k == BYPARR_ERROR_INTERNAL || k == BYPARR_ERROR_UNSUPPORTED;
}

// A failed bot check: the engine worked, the site's check rejected it. Not the
// component's fault, so it must not open its circuit breaker for every site.
bool failed_bot_check(const SolveOutcome& o) {
    return !o.ok && o.error_kind == BYPARR_ERROR_UNSUPPORTED && o.challenge_seen;
}

std::string passes_key(const Component& c, const SolveRequest& r) {
    return c.id() + ((r.flags & BYPARR_REQ_RETURN_ONLY_COOKIES) ? "|1" : "|0");
}

std::chrono::milliseconds ms_between(std::chrono::steady_clock::time_point from,
                                     std::chrono::steady_clock::time_point to) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(to - from);
}

// What one guarded call of a list-writer entry point came back with. Abandoned:
// FAILED with a TIMEOUT error, no items.
struct ListCall {
    byparr_outcome outcome = BYPARR_OUTCOME_FAILED;
    std::vector<std::string> items;
    bool has_error = false;
    byparr_error_kind kind = BYPARR_ERROR_INTERNAL;
    std::string error;
};

ListCall call_listing(const std::shared_ptr<Component>& c, const char* entry,
                      Clock::time_point deadline,
                      std::function<byparr_outcome(const byparr_list_writer*)> fn) {
    auto sink = std::make_shared<ListSink>();
    auto outcome = std::make_shared<std::atomic<byparr_outcome>>(BYPARR_OUTCOME_FAILED);
    CallEnd end = guarded_call(c, entry, deadline, [sink, outcome, fn = std::move(fn)] {
        byparr_list_writer w = list_writer(sink.get());
        *outcome = fn(&w);
    });
    ListCall out;
    if (end == CallEnd::kAbandoned) {
        out.has_error = true;
        out.kind = BYPARR_ERROR_TIMEOUT;
        out.error = "'" + c->id() + "' did not answer " + entry + " in time";
        return out;
    }
    std::lock_guard<std::mutex> lock(sink->mu);
    out.outcome = outcome->load();
    out.items = std::move(sink->items);
    out.has_error = sink->has_error;
    out.kind = sink->kind;
    out.error = std::move(sink->error);
    return out;
}

// One guarded call of an entry point that answers through a result writer into
// `sink` (solve, lookup, captcha solve); fn's captures must keep what it
// touches alive. False when it was abandoned.
bool call_for_result(const std::shared_ptr<Component>& c, const char* entry,
                     Clock::time_point deadline, const std::shared_ptr<ResultSink>& sink,
                     std::function<byparr_outcome()> fn) {
    auto body = [sink, fn = std::move(fn)] {
        byparr_outcome o = fn();
        std::lock_guard<std::mutex> lock(sink->mu);
        sink->outcome = o;
    };
    return guarded_call(c, entry, deadline, std::move(body), &sink->cancelled) ==
           CallEnd::kReturned;
}

// The kind of a sample from a plugin older than ABI 1.2, which does not say:
// the Prometheus naming convention.
byparr_metric_kind kind_from_name(const std::string& sample) {
    std::string_view name = std::string_view(sample).substr(0, sample.find_first_of("{ "));
    return name.ends_with("_total") ? BYPARR_METRIC_COUNTER : BYPARR_METRIC_GAUGE;
}

uint32_t budget_ms(Clock::time_point deadline) {
    auto left = ms_between(Clock::now(), deadline).count();
    return left > 0 ? static_cast<uint32_t>(left) : 0;
}

}  // namespace

std::string Dispatcher::no_solver_message() const {
    // Enabled solvers that are out of the chain for now (a failed create, an open
    // circuit breaker) say why: "enable one" would send the operator the wrong way.
    std::string paused;
    for (const auto& st : registry_.status()) {
        if (st.kind != Kind::kSolver || !st.enabled || !st.faulted) continue;
        paused +=
            (paused.empty() ? "" : "; ") + ("'" + st.id + "' is unavailable (" + st.reason + ")");
    }
    if (!paused.empty()) return "No solver is available: " + paused + ".";
    return "No solver is enabled; enable one with 'byparrctl plugins enable'.";
}

SolveOutcome Dispatcher::call_solver(const std::shared_ptr<Component>& c, const SolveRequest& r,
                                     std::chrono::steady_clock::time_point deadline,
                                     uint32_t extra_flags) {
    auto sink = std::make_shared<ResultSink>();
    auto job = make_solve_job(r, budget_ms(deadline), extra_flags, sink.get());
    bool returned = call_for_result(c, "solve", deadline + kGrace, sink, [c, job] {
        return c->def.solver.solve(c->instance, &job->creq, &job->writer);
    });

    SolveOutcome out;
    out.solver_id = c->id();
    if (!returned) {
        out.error_kind = BYPARR_ERROR_TIMEOUT;
        out.error = "timeout";
        return out;
    }
    std::unique_lock<std::mutex> lock(sink->mu);
    switch (sink->outcome) {
        case BYPARR_OUTCOME_OK:
            out.ok = true;
            out.solution = std::move(sink->solution);
            c->record_success();
            break;
        case BYPARR_OUTCOME_NOT_APPLICABLE:
            out.not_applicable = true;
            out.error_kind = BYPARR_ERROR_UNSUPPORTED;
            out.error = "not applicable";
            break;
        default:
            out.error_kind = sink->has_error ? sink->error_kind : BYPARR_ERROR_INTERNAL;
            out.error = sink->has_error ? sink->error : "solver failed without a reason";
            // Which rule blocked, timed out or showed a captcha: for the metrics, the
            // access line and the captcha hook.
            out.solution.challenge_rule = sink->solution.challenge_rule;
            out.solution.challenge_kind = sink->solution.challenge_kind;
            out.challenge_seen = sink->solution.challenge;
            lock.unlock();
            if (component_fault(out.error_kind) && !failed_bot_check(out))
                c->record_fault(out.error, false);
            else
                c->record_success();  // the component worked; the site said no
            break;
    }
    return out;
}

void Dispatcher::apply_cookie_sources(SolveRequest& r, TimePoint deadline) {
    for (const auto& src : registry_.enabled(Kind::kCookieSource)) {
        auto sink = std::make_shared<ResultSink>();
        auto url = std::make_shared<const std::string>(r.url);
        auto lookup = [src, sink, url] {
            byparr_result_writer w = result_writer(sink.get());
            return src->def.cookie_source.lookup(src->instance, view(*url), &w);
        };
        if (!call_for_result(src, "lookup", std::min(deadline, Clock::now() + call_budgets.quick),
                             sink, lookup))
            continue;
        std::lock_guard<std::mutex> lock(sink->mu);
        if (sink->outcome != BYPARR_OUTCOME_OK) continue;
        add_missing_cookies(r.cookies, sink->solution.cookies);
        if (r.user_agent.empty()) r.user_agent = sink->solution.user_agent;
        log::debug("dispatch", "cookie source '{}' supplied {} cookie(s)", src->id(),
                   sink->solution.cookies.size());
    }
}

std::string Dispatcher::pick_proxy(const std::string& url, TimePoint deadline,
                                   std::shared_ptr<Component>* provider) {
    for (const auto& p : registry_.enabled(Kind::kProxyProvider)) {
        ListCall call =
            call_listing(p, "pick", std::min(deadline, Clock::now() + call_budgets.quick),
                         [p, url](const byparr_list_writer* w) {
                             return p->def.proxy_provider.pick(p->instance, view(url), w);
                         });
        if (call.outcome != BYPARR_OUTCOME_OK || call.items.empty()) continue;
        *provider = p;
        return call.items.front();
    }
    return "";
}

void Dispatcher::report_proxy(const std::shared_ptr<Component>& provider, const SolveRequest& r,
                              const SolveOutcome& last) {
    auto proxy = std::make_shared<const std::string>(r.proxy.url);
    auto url = std::make_shared<const std::string>(r.url);
    byparr_outcome o = last.ok ? BYPARR_OUTCOME_OK : BYPARR_OUTCOME_FAILED;
    byparr_error_kind kind = last.error_kind;
    // Bookkeeping after the answer: it gets a short budget of its own, not the
    // request's (which may be spent), so a slow report never faults a provider
    // that merely got no time.
    guarded_call(provider, "report", Clock::now() + call_budgets.report,
                 [provider, proxy, url, o, kind] {
                     provider->def.proxy_provider.report(provider->instance, view(*proxy),
                                                         view(*url), o, kind);
                 });
}

bool Dispatcher::cannot_get_past(const SolveOutcome& o) {
    return !o.ok && (o.error_kind == BYPARR_ERROR_TIMEOUT || failed_bot_check(o));
}

Dispatcher::Chain Dispatcher::select_chain(SolveRequest& r, std::optional<SolveOutcome>* refusal) {
    if (r.solver.empty()) {
        Chain chain = registry_.solver_chain();
        if (r.session.empty()) put_site_solver_first(chain, r);
        return chain;
    }
    auto c = registry_.find(r.solver);
    SolveOutcome out;
    out.error_kind = BYPARR_ERROR_INVALID_REQUEST;
    if (!c || c->kind() != Kind::kSolver) {
        out.error = "Request parameter 'solver' = '" + r.solver + "' is not a known solver.";
    } else if (!registry_.is_enabled(r.solver)) {
        out.error = "Solver '" + r.solver + "' is disabled.";
    } else if (!c->available(std::chrono::steady_clock::now())) {
        out.error_kind = BYPARR_ERROR_INTERNAL;
        out.error = "Solver '" + r.solver + "' is unavailable: " + c->health_reason();
    } else {
        r.flags |= BYPARR_REQ_NAMED_SOLVER;
        return {c};
    }
    *refusal = std::move(out);
    return {};
}

void Dispatcher::put_site_solver_first(Chain& chain, const SolveRequest& r) {
    if (!site_memory_ || chain.size() < 2) return;
    std::string site = site_of_url(r.url);
    auto remembered = site_memory_->site_solver(site);
    if (!remembered) return;
    // Only while it is enabled and available: solver_chain() holds just those,
    // so a remembered solver that is off or faulted leaves the order alone.
    auto it = std::find_if(chain.begin(), chain.end(),
                           [&](const auto& c) { return c->id() == *remembered; });
    if (it == chain.end()) {
        log::debug("dispatch", "request {}: '{}' passed {} last but is not in the chain now",
                   r.request_id, *remembered, site);
        return;
    }
    if (it == chain.begin()) return;
    std::rotate(chain.begin(), it, it + 1);
    log::debug("dispatch", "request {}: trying '{}' first for {} (it passed there last)",
               r.request_id, *remembered, site);
}

bool Dispatcher::later_solver_can_take(const Chain& chain, size_t i, const SolveRequest& r) const {
    std::lock_guard<std::mutex> lock(passes_mu_);
    for (size_t j = i + 1; j < chain.size(); ++j)
        if (!passes_.count(passes_key(*chain[j], r))) return true;
    return false;
}

void Dispatcher::learn_applicability(const Component& c, const SolveRequest& r,
                                     bool not_applicable) {
    std::lock_guard<std::mutex> lock(passes_mu_);
    if (not_applicable)
        passes_.insert(passes_key(c, r));
    else
        passes_.erase(passes_key(c, r));
}

void Dispatcher::note_outcome(const Component& c, const SolveRequest& r, const SolveOutcome& o) {
    learn_applicability(c, r, o.not_applicable);
    if (on_solver_outcome)
        on_solver_outcome(c.id(), o.not_applicable ? "not_applicable" : outcome_name(o));
}

Dispatcher::ChainResult Dispatcher::run_chain(const Chain& chain, const SolveRequest& r,
                                              TimePoint deadline, bool may_escalate) {
    const auto escalate_after = std::chrono::seconds(registry_.config().escalate_after_s);
    ChainResult res;
    SolveOutcome& last = res.outcome;
    last.error_kind = BYPARR_ERROR_UNSUPPORTED;
    last.error = chain.empty() ? no_solver_message() : "No enabled solver can handle this request.";
    std::string handed_from;               // the solver whose turn ended without an answer
    std::shared_ptr<Component> cut_short;  // capped by us, and no later solver answered
    bool on_challenge = false;
    for (size_t i = 0; i < chain.size(); ++i) {
        const auto& c = chain[i];
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) {
            last.error_kind = BYPARR_ERROR_TIMEOUT;
            last.error = "timeout";
            break;
        }
        bool capped = may_escalate && escalate_after.count() > 0 &&
                      now + escalate_after < deadline && later_solver_can_take(chain, i, r);
        SolveOutcome o = call_solver(c, r, capped ? now + escalate_after : deadline,
                                     capped ? uint32_t{BYPARR_REQ_MAY_HAND_OVER} : 0u);
        note_outcome(*c, r, o);
        if (o.not_applicable) continue;  // not handed to it
        if (!handed_from.empty()) {
            log::debug("dispatch", "request {}: escalated from '{}' to '{}' with {} ms left",
                       r.request_id, handed_from, c->id(), ms_between(now, deadline).count());
            if (on_escalation) on_escalation(handed_from, c->id());
            handed_from.clear();
        }
        last = std::move(o);
        cut_short.reset();
        if (last.ok) {
            res.escalated_on_challenge = on_challenge;
            break;
        }
        if (capped && cannot_get_past(last)) {
            log::debug("dispatch", "request {}: '{}' did not get past {} within {} s ({})",
                       r.request_id, c->id(),
                       last.challenge_seen ? "challenge '" + last.solution.challenge_rule + "'"
                                           : std::string("the page"),
                       escalate_after.count(), last.error);
            on_challenge |= last.challenge_seen;
            handed_from = c->id();
            if (last.error_kind == BYPARR_ERROR_TIMEOUT) cut_short = c;
            continue;
        }
        if (!component_fault(last.error_kind)) break;
        log::warning("dispatch", "solver '{}' failed ({}); trying the next one", c->id(),
                     last.error);
        handed_from = c->id();
    }
    // Every solver after the one we cut short passed on the request: the time
    // left is its own again, rather than ending the request early.
    if (cut_short && std::chrono::steady_clock::now() < deadline) {
        log::debug("dispatch", "request {}: no later solver took it; back to '{}'", r.request_id,
                   cut_short->id());
        last = call_solver(cut_short, r, deadline);
        note_outcome(*cut_short, r, last);
    }
    return res;
}

void Dispatcher::try_captcha_solvers(SolveOutcome& last, const SolveRequest& r,
                                     TimePoint deadline) {
    auto kind = std::make_shared<const std::string>(last.solution.challenge_kind);
    auto url = std::make_shared<const std::string>(r.url);
    for (const auto& cap : registry_.enabled(Kind::kCaptchaSolver)) {
        if (Clock::now() >= deadline) break;
        auto sink = std::make_shared<ResultSink>();
        uint32_t left_ms = budget_ms(deadline);
        auto solve = [cap, sink, kind, url, left_ms] {
            byparr_result_writer w = result_writer(sink.get());
            return cap->def.captcha_solver.solve(cap->instance, view(*kind), view(*url),
                                                 byparr_str{nullptr, 0}, left_ms, &w);
        };
        if (!call_for_result(cap, "captcha solve", deadline + kGrace, sink, solve)) continue;
        std::lock_guard<std::mutex> lock(sink->mu);
        if (sink->outcome != BYPARR_OUTCOME_OK) continue;
        last.ok = true;
        last.solution = std::move(sink->solution);
        last.solver_id = cap->id();
        return;
    }
}

SolveOutcome Dispatcher::solve(const SolveRequest& request) {
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(request.timeout_ms);
    SolveRequest r = request;
    apply_cookie_sources(r, deadline);

    std::shared_ptr<Component> provider;
    if (r.proxy.empty() && r.session.empty()) {
        std::string picked = pick_proxy(r.url, deadline, &provider);
        // A pool entry may name its exit's zone (core/time_zones.h): "URL#country=DE".
        std::string why;
        if (!picked.empty()) {
            Proxy pooled = proxy_from_pool_entry(picked, &why);
            if (!r.proxy.timezone.empty()) pooled.timezone = r.proxy.timezone;  // the client's
            r.proxy = std::move(pooled);
        }
        if (!why.empty()) log::warning("dispatch", "proxy pool entry: {}; no zone for it", why);
    }

    std::optional<SolveOutcome> refusal;
    Chain chain = select_chain(r, &refusal);
    if (refusal) return std::move(*refusal);
    // A named solver is the client's choice, and a session lives in one solver.
    bool may_escalate = r.solver.empty() && r.session.empty();
    ChainResult res = run_chain(chain, r, deadline, may_escalate);
    SolveOutcome& last = res.outcome;
    if (site_memory_ && may_escalate && last.ok &&
        (last.solution.challenge || res.escalated_on_challenge))
        site_memory_->remember_site_solver(site_of_url(r.url), last.solver_id);
    if (provider) report_proxy(provider, r, last);
    // The captcha hook: a captcha-solver plugin gets a chance before we give up.
    if (!last.ok && last.error_kind == BYPARR_ERROR_CAPTCHA) try_captcha_solvers(last, r, deadline);
    return std::move(last);
}

SolveOutcome Dispatcher::probe(const std::string& solver_id, const SolveRequest& request) {
    SolveOutcome out;
    auto c = registry_.find(solver_id);
    if (!c || c->kind() != Kind::kSolver || c->instance == nullptr) {
        out.error = c ? c->health_reason() : "no solver '" + solver_id + "'";
        return out;
    }
    SolveRequest r = request;
    r.flags |= BYPARR_REQ_NAMED_SOLVER;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(r.timeout_ms);
    out = call_solver(c, r, deadline);
    // The self-test is a plain page request: what it says about applicability
    // holds for the chain (not its outcome, which is no client's request).
    learn_applicability(*c, r, out.not_applicable);
    if (out.not_applicable) out.error = "not applicable to a plain local page";
    return out;
}

std::shared_ptr<Component> Dispatcher::session_solver(const std::string& solver,
                                                      std::string* error) {
    if (!solver.empty()) {
        auto c = registry_.find(solver);
        if (!c || c->kind() != Kind::kSolver || !c->instance) {
            *error = "Request parameter 'solver' = '" + solver + "' is not a known solver.";
            return nullptr;
        }
        if (!c->def.solver.session_create) {
            *error = "Solver '" + solver + "' does not support sessions.";
            return nullptr;
        }
        return c;
    }
    for (const auto& c : registry_.solver_chain())
        if (c->def.solver.session_create && c->def.solver.session_list &&
            c->def.solver.session_destroy)
            return c;
    *error = "No enabled solver supports sessions.";
    return nullptr;
}

SessionOutcome Dispatcher::session_create(const std::string& id, const Proxy& proxy,
                                          const std::string& solver) {
    SessionOutcome out;
    auto c = session_solver(solver, &out.error);
    if (!c) return out;
    auto existed = std::make_shared<std::atomic<bool>>(false);
    ListCall call =
        call_listing(c, "session_open", Clock::now() + call_budgets.session,
                     [c, id, proxy, existed](const byparr_list_writer* w) {
                         byparr_proxy p{sizeof(byparr_proxy), view(proxy.url), view(proxy.username),
                                        view(proxy.password)};
                         bool ex = false;
                         // session_open (ABI 1.1) carries what session_create cannot: the zone.
                         byparr_session_spec spec{sizeof(byparr_session_spec), view(id), p,
                                                  view(proxy.timezone)};
                         byparr_outcome o =
                             c->def.solver.session_open
                                 ? c->def.solver.session_open(c->instance, &spec, &ex, w)
                                 : c->def.solver.session_create(c->instance, view(id), &p, &ex, w);
                         *existed = ex;
                         return o;
                     });
    out.ok = call.outcome == BYPARR_OUTCOME_OK;
    out.existed = *existed;
    out.error_kind = call.kind;
    out.error = call.has_error ? call.error : "session could not be created";
    return out;
}

SessionOutcome Dispatcher::session_list(const std::string& solver) {
    SessionOutcome out;
    auto c = session_solver(solver, &out.error);
    if (!c) return out;
    ListCall call = call_listing(
        c, "session_list", Clock::now() + call_budgets.session,
        [c](const byparr_list_writer* w) { return c->def.solver.session_list(c->instance, w); });
    out.ok = call.outcome == BYPARR_OUTCOME_OK;
    out.sessions = std::move(call.items);
    out.error_kind = call.kind;
    out.error = call.error;
    return out;
}

SessionOutcome Dispatcher::session_destroy(const std::string& id, const std::string& solver) {
    SessionOutcome out;
    auto c = session_solver(solver, &out.error);
    if (!c) return out;
    ListCall call = call_listing(c, "session_destroy", Clock::now() + call_budgets.session,
                                 [c, id](const byparr_list_writer* w) {
                                     return c->def.solver.session_destroy(c->instance, view(id), w);
                                 });
    out.ok = call.outcome == BYPARR_OUTCOME_OK;
    out.error_kind = call.has_error ? call.kind : BYPARR_ERROR_INTERNAL;
    out.error = call.error;
    return out;
}

std::string Dispatcher::user_agent() {
    for (const auto& c : registry_.solver_chain()) {
        if (!c->def.solver.user_agent) continue;
        ListCall call = call_listing(c, "user_agent", Clock::now() + call_budgets.quick,
                                     [c](const byparr_list_writer* w) {
                                         c->def.solver.user_agent(c->instance, w);
                                         return BYPARR_OUTCOME_OK;
                                     });
        if (!call.items.empty()) return call.items.front();
    }
    return "";
}

std::vector<std::string> Dispatcher::solver_metrics() {
    std::vector<std::string> out;
    for (auto& m : solver_metric_samples())
        out.push_back(std::move(m.sample));
    return out;
}

std::vector<std::pair<std::string, std::string>> Dispatcher::solver_metrics_by_component() {
    std::vector<std::pair<std::string, std::string>> out;
    for (auto& m : solver_metric_samples())
        out.emplace_back(std::move(m.component), std::move(m.sample));
    return out;
}

std::vector<Dispatcher::SolverMetric> Dispatcher::solver_metric_samples() {
    std::vector<SolverMetric> out;
    for (const auto& c : registry_.enabled(Kind::kSolver)) {
        if (c->instance == nullptr) continue;
        // A scrape must answer: a solver that does not report in time is left
        // out of this one and, faulted, out of the next ones until it is back.
        auto deadline = Clock::now() + call_budgets.metrics;
        if (c->def.solver.metric_samples) {
            auto sink = std::make_shared<MetricSink>();
            if (guarded_call(c, "metric_samples", deadline, [c, sink] {
                    byparr_metric_writer w = metric_writer(sink.get());
                    c->def.solver.metric_samples(c->instance, &w);
                }) != CallEnd::kReturned)
                continue;
            std::lock_guard<std::mutex> lock(sink->mu);
            for (auto& [kind, sample] : sink->samples)
                out.push_back({c->id(), kind, std::move(sample)});
        } else if (c->def.solver.metrics) {
            ListCall call = call_listing(c, "metrics", deadline, [c](const byparr_list_writer* w) {
                c->def.solver.metrics(c->instance, w);
                return BYPARR_OUTCOME_OK;
            });
            for (auto& l : call.items)
                out.push_back({c->id(), kind_from_name(l), std::move(l)});
        }
    }
    return out;
}

}  // namespace byparr
