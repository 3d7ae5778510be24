#include "core/dispatcher.h"

#include <algorithm>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "core/log.h"
#include "core/time_zones.h"

namespace byparr {
namespace {

std::string sv(byparr_str s) {
    return s.data ? std::string(s.data, s.len) : std::string();
}
byparr_str view(const std::string& s) {
    return byparr_str{s.data(), s.size()};
}

// The state of one plugin call, shared between the waiting request thread and the
// thread running the call. Whoever finishes last frees it.
struct CallState {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    std::atomic<bool> cancelled{false};
    byparr_outcome outcome = BYPARR_OUTCOME_FAILED;
    Solution solution;
    bool has_error = false;
    byparr_error_kind error_kind = BYPARR_ERROR_INTERNAL;
    std::string error;
};

CallState* cs(void* ctx) {
    return static_cast<CallState*>(ctx);
}

// Writer callbacks. They lock because an abandoned call may still write while the
// request thread has moved on (it no longer reads, but the state must stay sane).
void w_url(void* c, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.url = sv(v);
}
void w_status(void* c, int32_t s) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.status = s;
}
void w_ua(void* c, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.user_agent = sv(v);
}
void w_response(void* c, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.response = sv(v);
    cs(c)->solution.has_response = true;
}
void w_response_bytes(void* c, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.response = sv(v);
    cs(c)->solution.has_response = true;
    cs(c)->solution.response_binary = true;
}
void w_header(void* c, byparr_str k, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.headers.emplace_back(sv(k), sv(v));
}
void w_cookie(void* c, const byparr_cookie* k) {
    if (k == nullptr) return;
    byparr_cookie x{};
    std::memcpy(&x, k, std::min<size_t>(k->struct_size, sizeof x));
    Cookie out{sv(x.name),      sv(x.value), sv(x.domain), sv(x.path),
               sv(x.same_site), x.expires_s, x.http_only,  x.secure};
    if (out.path.empty()) out.path = "/";
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.cookies.push_back(std::move(out));
}
void w_screenshot(void* c, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.screenshot = sv(v);
}
void w_turnstile(void* c, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.turnstile_token = sv(v);
}
void w_challenge(void* c, byparr_str rule, byparr_str kind) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.challenge = true;
    cs(c)->solution.challenge_rule = sv(rule);
    cs(c)->solution.challenge_kind = sv(kind);
}
void w_error(void* c, byparr_error_kind kind, byparr_str msg) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->has_error = true;
    cs(c)->error_kind = kind;
    cs(c)->error = sv(msg);
}
bool is_cancelled(void* c) {
    return cs(c)->cancelled.load();
}

// The host's result writer, filling `state`.
byparr_result_writer result_writer(CallState* state) {
    return byparr_result_writer{sizeof(byparr_result_writer),
                                state,
                                &w_url,
                                &w_status,
                                &w_ua,
                                &w_response,
                                &w_header,
                                &w_cookie,
                                &w_screenshot,
                                &w_turnstile,
                                &w_challenge,
                                &w_error,
                                &w_response_bytes};
}

struct ListSink {
    std::vector<std::string> items;
    bool has_error = false;
    byparr_error_kind kind = BYPARR_ERROR_INTERNAL;
    std::string error;
};
void l_add(void* c, byparr_str v) {
    static_cast<ListSink*>(c)->items.push_back(sv(v));
}
void l_error(void* c, byparr_error_kind k, byparr_str m) {
    auto* s = static_cast<ListSink*>(c);
    s->has_error = true;
    s->kind = k;
    s->error = sv(m);
}
byparr_list_writer list_writer(ListSink& s) {
    return byparr_list_writer{sizeof(byparr_list_writer), &s, &l_add, &l_error};
}

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

// Everything the C structs of one solve() call point into, owned together: the
// call thread keeps it alive until the plugin returns, however late that is.
struct Job {
    SolveRequest req;
    std::vector<byparr_cookie> cookies;
    std::vector<byparr_header> headers;
    byparr_request creq{};
    byparr_result_writer writer{};
};

std::shared_ptr<Job> make_job(const SolveRequest& r, uint32_t budget_ms, uint32_t extra_flags,
                              CallState* state) {
    auto job = std::make_shared<Job>();
    job->req = r;
    for (const auto& k : job->req.cookies) {
        byparr_cookie x{};
        x.struct_size = sizeof x;
        x.name = view(k.name);
        x.value = view(k.value);
        x.domain = view(k.domain);
        x.path = view(k.path);
        x.same_site = view(k.same_site);
        x.expires_s = k.expires_s;
        x.http_only = k.http_only;
        x.secure = k.secure;
        job->cookies.push_back(x);
    }
    auto& q = job->creq;
    q.struct_size = sizeof q;
    q.method = job->req.cmd == Command::kRequestPost ? BYPARR_METHOD_POST : BYPARR_METHOD_GET;
    q.url = view(job->req.url);
    q.post_data = view(job->req.post_data);
    q.session_id = view(job->req.session);
    q.request_id = view(job->req.request_id);
    q.user_agent = view(job->req.user_agent);
    q.proxy = byparr_proxy{sizeof(byparr_proxy), view(job->req.proxy.url),
                           view(job->req.proxy.username), view(job->req.proxy.password)};
    q.cookies = job->cookies.empty() ? nullptr : job->cookies.data();
    q.cookie_count = job->cookies.size();
    q.flags = job->req.flags | extra_flags;
    q.timeout_ms = budget_ms;
    q.wait_after_ms = job->req.wait_ms;
    q.session_ttl_ms = job->req.session_ttl_ms;
    q.is_cancelled = &is_cancelled;
    q.cancel_ctx = state;
    q.timezone = view(job->req.proxy.timezone);
    for (const auto& h : job->req.ext.headers)
        job->headers.push_back(byparr_header{sizeof(byparr_header), view(h.name), view(h.value)});
    q.headers = job->headers.empty() ? nullptr : job->headers.data();
    q.header_count = job->headers.size();
    q.header_scope = job->req.ext.header_scope == HeaderScope::kSite ? BYPARR_HEADERS_SITE
                                                                     : BYPARR_HEADERS_DOCUMENT;
    q.content_type = view(job->req.ext.content_type);
    q.tabs_till_verify = static_cast<uint32_t>(std::max(0, job->req.ext.tabs_till_verify));
    job->writer = result_writer(state);
    return job;
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
    auto state = std::make_shared<CallState>();
    auto now = std::chrono::steady_clock::now();
    uint32_t budget_ms =
        deadline > now
            ? static_cast<uint32_t>(
                  std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count())
            : 0;

    auto job = make_job(r, budget_ms, extra_flags, state.get());
    c->note_call();
    std::thread([c, state, job] {
        byparr_outcome o = c->def.solver.solve(c->instance, &job->creq, &job->writer);
        std::lock_guard<std::mutex> lock(state->mu);
        state->outcome = o;
        state->done = true;
        if (state->cancelled) c->note_returned_after_abandon();
        state->cv.notify_all();
    }).detach();

    SolveOutcome out;
    out.solver_id = c->id();
    std::unique_lock<std::mutex> lock(state->mu);
    if (!state->cv.wait_until(lock, deadline + kGrace, [&] { return state->done; })) {
        state->cancelled = true;
        c->note_abandoned();
        lock.unlock();
        c->record_fault("solve() did not return by its deadline", /*hang=*/true);
        log::error("dispatch", "solver '{}' did not return within its deadline; abandoned",
                   c->id());
        out.error_kind = BYPARR_ERROR_TIMEOUT;
        out.error = "timeout";
        return out;
    }
    switch (state->outcome) {
        case BYPARR_OUTCOME_OK:
            out.ok = true;
            out.solution = std::move(state->solution);
            c->record_success();
            break;
        case BYPARR_OUTCOME_NOT_APPLICABLE:
            out.error_kind = BYPARR_ERROR_UNSUPPORTED;
            out.error = "not applicable";
            break;
        default:
            out.error_kind = state->has_error ? state->error_kind : BYPARR_ERROR_INTERNAL;
            out.error = state->has_error ? state->error : "solver failed without a reason";
            // Which rule blocked, timed out or showed a captcha: for the metrics, the
            // access line and the captcha hook.
            out.solution.challenge_rule = state->solution.challenge_rule;
            out.solution.challenge_kind = state->solution.challenge_kind;
            out.challenge_seen = state->solution.challenge;
            if (component_fault(out.error_kind) && !failed_bot_check(out)) {
                lock.unlock();
                c->record_fault(out.error, false);
            } else {
                c->record_success();  // the component worked; the site said no
            }
            break;
    }
    // Keep NOT_APPLICABLE distinguishable for the chain.
    if (state->outcome == BYPARR_OUTCOME_NOT_APPLICABLE) out.solver_id = "";
    return out;
}

void Dispatcher::apply_cookie_sources(SolveRequest& r) {
    for (const auto& src : registry_.enabled(Kind::kCookieSource)) {
        CallState st;
        byparr_result_writer w = result_writer(&st);
        src->note_call();
        byparr_outcome o = src->def.cookie_source.lookup(src->instance, view(r.url), &w);
        if (o != BYPARR_OUTCOME_OK) continue;
        add_missing_cookies(r.cookies, st.solution.cookies);
        if (r.user_agent.empty()) r.user_agent = st.solution.user_agent;
        log::debug("dispatch", "cookie source '{}' supplied {} cookie(s)", src->id(),
                   st.solution.cookies.size());
    }
}

std::string Dispatcher::pick_proxy(const std::string& url, std::shared_ptr<Component>* provider) {
    for (const auto& p : registry_.enabled(Kind::kProxyProvider)) {
        ListSink sink;
        auto w = list_writer(sink);
        p->note_call();
        if (p->def.proxy_provider.pick(p->instance, view(url), &w) == BYPARR_OUTCOME_OK &&
            !sink.items.empty()) {
            *provider = p;
            return sink.items.front();
        }
    }
    return "";
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
    bool not_applicable = !o.ok && o.solver_id.empty();
    learn_applicability(c, r, not_applicable);
    if (on_solver_outcome)
        on_solver_outcome(c.id(), not_applicable ? "not_applicable" : outcome_name(o));
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
        if (!o.ok && o.solver_id.empty()) continue;  // not applicable: not handed to it
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
    for (const auto& cap : registry_.enabled(Kind::kCaptchaSolver)) {
        auto now = std::chrono::steady_clock::now();
        if (now >= deadline) break;
        CallState st;
        byparr_result_writer w = result_writer(&st);
        auto left = ms_between(now, deadline);
        cap->note_call();
        if (cap->def.captcha_solver.solve(cap->instance, view(last.solution.challenge_kind),
                                          view(r.url), byparr_str{nullptr, 0},
                                          static_cast<uint32_t>(left.count()),
                                          &w) == BYPARR_OUTCOME_OK) {
            last.ok = true;
            last.solution = std::move(st.solution);
            last.solver_id = cap->id();
            return;
        }
    }
}

SolveOutcome Dispatcher::solve(const SolveRequest& request) {
    auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(request.timeout_ms);
    SolveRequest r = request;
    apply_cookie_sources(r);

    std::shared_ptr<Component> provider;
    if (r.proxy.empty() && r.session.empty()) {
        std::string picked = pick_proxy(r.url, &provider);
        // A pool entry may name its exit's zone (core/time_zones.h): "URL#country=DE".
        std::string why;
        if (!picked.empty()) {
            ProxySpec pooled = proxy_from_pool_entry(picked, &why);
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
    if (provider) {
        provider->def.proxy_provider.report(provider->instance, view(r.proxy.url), view(r.url),
                                            last.ok ? BYPARR_OUTCOME_OK : BYPARR_OUTCOME_FAILED,
                                            last.error_kind);
    }
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
    learn_applicability(*c, r, !out.ok && out.solver_id.empty());
    if (!out.ok && out.solver_id.empty()) {
        out.solver_id = solver_id;
        out.error = "not applicable to a plain local page";
    }
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

SessionOutcome Dispatcher::session_create(const std::string& id, const ProxySpec& proxy,
                                          const std::string& solver) {
    SessionOutcome out;
    auto c = session_solver(solver, &out.error);
    if (!c) return out;
    ListSink sink;
    auto w = list_writer(sink);
    byparr_proxy p{sizeof(byparr_proxy), view(proxy.url), view(proxy.username),
                   view(proxy.password)};
    bool existed = false;
    // session_open (ABI 1.1) carries what session_create cannot: the session's zone.
    byparr_session_spec spec{sizeof(byparr_session_spec), view(id), p, view(proxy.timezone)};
    byparr_outcome o = c->def.solver.session_open
                           ? c->def.solver.session_open(c->instance, &spec, &existed, &w)
                           : c->def.solver.session_create(c->instance, view(id), &p, &existed, &w);
    out.ok = o == BYPARR_OUTCOME_OK;
    out.existed = existed;
    out.error_kind = sink.kind;
    out.error = sink.has_error ? sink.error : "session could not be created";
    return out;
}

SessionOutcome Dispatcher::session_list(const std::string& solver) {
    SessionOutcome out;
    auto c = session_solver(solver, &out.error);
    if (!c) return out;
    ListSink sink;
    auto w = list_writer(sink);
    out.ok = c->def.solver.session_list(c->instance, &w) == BYPARR_OUTCOME_OK;
    out.sessions = std::move(sink.items);
    out.error_kind = sink.kind;
    out.error = sink.error;
    return out;
}

SessionOutcome Dispatcher::session_destroy(const std::string& id, const std::string& solver) {
    SessionOutcome out;
    auto c = session_solver(solver, &out.error);
    if (!c) return out;
    ListSink sink;
    auto w = list_writer(sink);
    out.ok = c->def.solver.session_destroy(c->instance, view(id), &w) == BYPARR_OUTCOME_OK;
    out.error_kind = sink.has_error ? sink.kind : BYPARR_ERROR_INTERNAL;
    out.error = sink.error;
    return out;
}

std::string Dispatcher::user_agent() {
    for (const auto& c : registry_.solver_chain()) {
        if (!c->def.solver.user_agent) continue;
        ListSink sink;
        auto w = list_writer(sink);
        c->def.solver.user_agent(c->instance, &w);
        if (!sink.items.empty()) return sink.items.front();
    }
    return "";
}

std::vector<std::string> Dispatcher::solver_metrics() {
    std::vector<std::string> out;
    for (auto& [id, line] : solver_metrics_by_component())
        out.push_back(std::move(line));
    return out;
}

std::vector<std::pair<std::string, std::string>> Dispatcher::solver_metrics_by_component() {
    std::vector<std::pair<std::string, std::string>> out;
    for (const auto& c : registry_.enabled(Kind::kSolver)) {
        if (!c->def.solver.metrics || c->instance == nullptr) continue;
        ListSink sink;
        auto w = list_writer(sink);
        c->def.solver.metrics(c->instance, &w);
        for (auto& l : sink.items)
            out.emplace_back(c->id(), std::move(l));
    }
    return out;
}

}  // namespace byparr
