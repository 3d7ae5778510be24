#include "core/solve_pipeline.h"

#include <unistd.h>

#include <fstream>

#include "core/log.h"
#include "core/proc_tree.h"

namespace byparr {

namespace {

// Resident memory of this process and its descendants is reported by the
// solvers themselves; the host reports its own.
double self_rss_bytes() {
    std::ifstream in("/proc/self/statm");
    long pages = 0, rss = 0;
    in >> pages >> rss;
    return static_cast<double>(rss) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// Memory limit of this process's cgroup (a container's --memory), 0 when none.
double cgroup_memory_limit_bytes() {
    for (const char* path :
         {"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}) {
        std::ifstream in(path);
        std::string v;
        if (!(in >> v) || v == "max") continue;
        try {
            double n = std::stod(v);
            // cgroup v1 says "no limit" with a huge number (PAGE_COUNTER_MAX pages).
            if (n > 0 && n < 1e18) return n;
        } catch (...) {
        }
    }
    return 0;
}

const char* const kRequestResults[] = {"solved",  "not_detected", "cached", "timeout", "blocked",
                                       "captcha", "proxy",        "error",  "busy",    "invalid"};
const char* const kFailureReasons[] = {"timeout", "blocked", "captcha", "proxy", "error", "busy"};

using Series = std::vector<std::pair<Labels, double>>;

}  // namespace

/// One page request on its way through the steps: what the steps hand each other.
struct SolvePipeline::Job {
    Job(const V1Request& r, const std::string& id, AccessRecord& record, SolveRequest s)
        : req(r), rid(id), a(record), sr(std::move(s)) {}
    const V1Request& req;
    const std::string& rid;
    AccessRecord& a;
    SolveRequest sr;
    uint32_t timeout_ms = 0;
    int64_t asked_ms = 0;
    std::chrono::steady_clock::time_point deadline;
    bool cacheable = false;
    ClearanceKey key;
    std::optional<ClearanceEntry> hit;
    std::optional<SingleFlight::Ticket> ticket;

    std::optional<ClearanceEntry> lookup(ClearanceCache& cache) const {
        return sr.user_agent.empty() ? cache.get_any_agent(key) : cache.get(key);
    }
    /// A leader hands its outcome to the requests waiting on the same site.
    void publish(const SolveOutcome& o) {
        if (ticket && ticket->leader()) ticket->publish(o);
        ticket.reset();
    }
};

SolvePipeline::SolvePipeline(const Config& config, Registry& registry)
    : config_(config),
      registry_(registry),
      dispatcher_(registry),
      gate_(config.max_concurrent, config.max_queue),
      cache_(ClearanceCache::Options{static_cast<int64_t>(config.cache_duration_s),
                                     config.state_dir,
                                     config.cache_backend,
                                     {}}) {
    register_request_metrics();
    dispatcher_.on_escalation = [this](const std::string& from, const std::string& to) {
        metrics_.inc("byparr_escalations_total", {{"from", from}, {"to", to}});
    };
    dispatcher_.on_solver_outcome = [this](const std::string& solver, const char* outcome) {
        metrics_.inc("byparr_solver_outcomes_total", {{"solver", solver}, {"outcome", outcome}});
    };
    // The per-site engine memory lives with the clearances (same site key, same
    // stores); sessions keep their own solver and are left out by the dispatcher.
    dispatcher_.set_site_memory(&cache_);
    // The chain's solvers and neighbours at 0, so a dashboard shows "none yet".
    auto chain = registry_.solver_chain();
    for (size_t i = 0; i < chain.size(); ++i) {
        for (const char* o : {"solved", "not_detected", "timeout", "error"})
            metrics_.inc("byparr_solver_outcomes_total",
                         {{"solver", chain[i]->id()}, {"outcome", o}}, 0);
        if (i + 1 < chain.size())
            metrics_.inc("byparr_escalations_total",
                         {{"from", chain[i]->id()}, {"to", chain[i + 1]->id()}}, 0);
    }
    register_gauges();
}

void SolvePipeline::register_request_metrics() {
    metrics_.counter("byparr_requests_total",
                     "Requests to /v1 by command and result (solved, not_detected, cached, "
                     "timeout, blocked, captcha, proxy, error, busy, invalid; ok for sessions).");
    metrics_.counter("byparr_request_failures_total",
                     "Failed request.get/request.post by reason, with the challenge rule id and "
                     "kind when one was seen (none otherwise).");
    metrics_.counter("flaresolverr_request_total",
                     "FlareSolverr-compatible: requests by target domain and result (solved, "
                     "not_detected, error, unknown).");
    metrics_.histogram("flaresolverr_request_duration",
                       "FlareSolverr-compatible: request duration in seconds by domain.",
                       {0, 10, 25, 50});
    metrics_.histogram("byparr_request_duration_seconds", "Time to answer a /v1 request.",
                       {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120});
    metrics_.counter("byparr_challenges_total",
                     "Challenges seen, by rule id, kind and outcome (solved, timeout, blocked, "
                     "captcha, error).");
    metrics_.counter("byparr_cache_hits_total", "Requests that found a fresh clearance.");
    metrics_.counter("byparr_cache_misses_total", "Requests that found no clearance.");
    metrics_.counter("byparr_escalations_total",
                     "Requests handed from one solver to the next (from, to): it could not get "
                     "past a challenge within ESCALATE_AFTER, or failed on its own account.");
    metrics_.counter("byparr_solver_outcomes_total",
                     "Solver calls by solver and outcome (solved, not_detected, timeout, blocked, "
                     "captcha, proxy, invalid, error, not_applicable); a request that escalated "
                     "counts once per solver it reached.");
    // Counters exist at 0 from the start, so rate() and absent() work before the
    // first failure and dashboards show 0 rather than "no data".
    for (const char* cmd : {"request.get", "request.post"})
        for (const char* r : kRequestResults)
            metrics_.inc("byparr_requests_total", {{"cmd", cmd}, {"result", r}}, 0);
    for (const char* cmd : {"sessions.create", "sessions.list", "sessions.destroy"})
        for (const char* r : {"ok", "error"})
            metrics_.inc("byparr_requests_total", {{"cmd", cmd}, {"result", r}}, 0);
    metrics_.inc("byparr_requests_total", {{"cmd", "invalid"}, {"result", "invalid"}}, 0);
    for (const char* r : kFailureReasons)
        metrics_.inc("byparr_request_failures_total",
                     {{"reason", r}, {"rule", "none"}, {"kind", "none"}}, 0);
    metrics_.inc("byparr_cache_hits_total", {}, 0);
    metrics_.inc("byparr_cache_misses_total", {}, 0);
}

void SolvePipeline::register_gauges() {
    auto one = [](double v) { return Series{{{}, v}}; };
    metrics_.gauge_fn("byparr_cache_entries", "Clearances in the cache.",
                      [this, one] { return one(double(cache_.size())); });
    metrics_.gauge_fn("byparr_queue_depth", "Requests waiting for a solve slot.",
                      [this, one] { return one(double(gate_.queued())); });
    metrics_.gauge_fn("byparr_queue_limit", "MAX_QUEUE: requests that may wait for a slot.",
                      [this, one] { return one(double(config_.max_queue)); });
    metrics_.gauge_fn("byparr_inflight_requests", "Solves running now.",
                      [this, one] { return one(double(gate_.in_flight())); });
    metrics_.gauge_fn("byparr_concurrency_limit", "MAX_CONCURRENT: solves at once.",
                      [this, one] { return one(double(config_.max_concurrent)); });
    metrics_.gauge_fn("byparr_host_resident_memory_bytes", "Resident memory of the host process.",
                      [one] { return one(self_rss_bytes()); });
    metrics_.gauge_fn(
        "byparr_process_tree_pss_bytes",
        "Proportional set size of the host and every descendant (browser workers, Chromium).",
        [one] { return one(double(process_tree_pss_bytes(::getpid()))); });
    metrics_.gauge_fn("byparr_memory_limit_bytes",
                      "Memory limit of the process's cgroup (container --memory); absent "
                      "without one.",
                      [] {
                          Series out;
                          if (double l = cgroup_memory_limit_bytes(); l > 0) out.push_back({{}, l});
                          return out;
                      });
}

Proxy SolvePipeline::proxy_for(const std::optional<Proxy>& given) const {
    // `{}` means "none given", so PROXY_URL applies, as in FlareSolverr.
    Proxy proxy;
    if (given && !given->empty())
        proxy = *given;
    else
        proxy = config_.proxy;
    if (given) proxy.timezone = given->timezone;
    return proxy;
}

std::string SolvePipeline::timeout_message(uint32_t timeout_ms, int64_t asked_ms) const {
    std::string m =
        "Error solving the challenge. Timeout after " + python_seconds(timeout_ms) + " seconds.";
    // The client asked for longer than the operator allows: say so, or the
    // number looks like a bug in the client's own setting.
    if (asked_ms > int64_t(timeout_ms) &&
        int64_t(timeout_ms) == int64_t(config_.solver_timeout_s) * 1000)
        m += " The request's maxTimeout of " + std::to_string(asked_ms) +
             " ms was capped by SOLVER_TIMEOUT=" + std::to_string(config_.solver_timeout_s) + ".";
    return m;
}

std::string SolvePipeline::error_message(const SolveOutcome& o, uint32_t timeout_ms,
                                         int64_t asked_ms) const {
    switch (o.error_kind) {
        case BYPARR_ERROR_TIMEOUT:
            return timeout_message(timeout_ms, asked_ms);
        case BYPARR_ERROR_BLOCKED:
            return "Error solving the challenge. Cloudflare has blocked this request. Probably "
                   "your IP is banned for this site, check in your web browser.";
        case BYPARR_ERROR_CAPTCHA:
            return "Error solving the challenge. Captcha detected (" +
                   (o.error.empty() ? std::string("unknown kind") : o.error) +
                   "): it needs a person or a captcha-solver plugin.";
        case BYPARR_ERROR_PROXY:
            return "Error solving the challenge. Proxy error: " + o.error;
        case BYPARR_ERROR_INVALID_REQUEST:
        case BYPARR_ERROR_UNKNOWN_SESSION:
            return o.error;
        default:
            return "Error solving the challenge. " + o.error;
    }
}

// ---- the steps ----

SolveRequest SolvePipeline::prepare(const V1Request& req, const std::string& request_id) const {
    SolveRequest sr;
    sr.cmd = req.cmd;
    sr.request_id = request_id;
    sr.url = req.url;
    sr.post_data = req.post_data;
    sr.session = req.session;
    sr.solver = req.solver;
    sr.cookies = req.cookies;
    sr.ext = req.ext;  // headers, body type, tabs_till_verify (docs/api-extensions.md)
    if (req.return_only_cookies) sr.flags |= BYPARR_REQ_RETURN_ONLY_COOKIES;
    if (req.return_screenshot) sr.flags |= BYPARR_REQ_RETURN_SCREENSHOT;
    if (req.disable_media_set.value_or(config_.disable_media)) sr.flags |= BYPARR_REQ_DISABLE_MEDIA;
    sr.wait_ms = static_cast<uint32_t>(req.wait_seconds * 1000);
    sr.session_ttl_ms =
        static_cast<uint32_t>(std::min<int64_t>(req.session_ttl_minutes, 100000) * 60000);
    // A session keeps the proxy it was created with (contract).
    if (req.session.empty()) sr.proxy = proxy_for(req.proxy);
    return sr;
}

bool SolvePipeline::open_site(const std::string& site_proxy) {
    std::lock_guard<std::mutex> lock(open_sites_mu_);
    auto it = open_sites_.find(site_proxy);
    return it != open_sites_.end() && it->second > std::chrono::steady_clock::now();
}

// Clearance cache and single flight. Sessions keep their own cookie jar, so
// they neither read nor feed the cache. An answer here ends the request.
std::optional<PageAnswer> SolvePipeline::consult_cache(Job& job) {
    if (job.cacheable) {
        job.key = make_clearance_key(job.sr.url, job.sr.user_agent, job.sr.proxy);
        job.hit = job.lookup(cache_);
        if (!job.hit && !open_site(job.key.site_proxy())) {
            if (auto answer = join_flight(job)) return answer;
        }
        metrics_.inc(job.hit ? "byparr_cache_hits_total" : "byparr_cache_misses_total");
    }
    if (!job.hit) return std::nullopt;
    if (job.req.return_only_cookies && job.req.cmd == Command::kRequestGet) {
        // Answered from the cache without a page load: the cookies and the UA
        // they are bound to are all the client will use.
        PageAnswer answer;
        answer.ok = true;
        answer.solution.url = job.req.url;
        answer.solution.status = 200;
        answer.solution.cookies = job.hit->cookies;
        answer.solution.user_agent = job.hit->user_agent;
        answer.solution.challenge = true;
        job.a.outcome = "cached";
        job.a.solver = "cache";
        job.a.cache = "hit";
        return answer;
    }
    // Start with the clearance; cookies the client sent win on the same name.
    add_missing_cookies(job.sr.cookies, job.hit->cookies);
    job.sr.user_agent = job.hit->user_agent;
    return std::nullopt;
}

// Another request is solving this site right now: wait for it (before taking a
// gate slot) rather than starting a second browser.
std::optional<PageAnswer> SolvePipeline::join_flight(Job& job) {
    job.ticket.emplace(flights_.join_or_lead(job.key.site_proxy()));
    if (job.ticket->leader()) {
        // A flight may have landed between the lookup and joining: then its
        // clearance is in the cache and there is nothing to lead.
        job.hit = job.lookup(cache_);
        if (job.hit) {
            SolveOutcome landed;
            landed.ok = true;
            job.publish(landed);
        }
        return std::nullopt;
    }
    auto leader = job.ticket->wait(job.deadline);
    job.ticket.reset();
    if (!leader) {
        job.a.cache = "wait";
        SolveOutcome late;
        late.error_kind = BYPARR_ERROR_TIMEOUT;
        late.error = "timed out waiting for another request solving the same site";
        return fail(job, late);
    }
    if (!leader->ok && leader->error_kind != BYPARR_ERROR_TIMEOUT) {
        job.a.solver = leader->solver_id;
        job.a.rule = leader->solution.challenge_rule;
        job.a.kind = leader->solution.challenge_kind;
        job.a.cache = "wait";
        return fail(job, *leader);
    }
    job.hit = job.lookup(cache_);  // the leader's clearance, if its page had a challenge
    return std::nullopt;
}

// The concurrency gate; an answer here (busy, shutting down, timed out in the
// queue) ends the request, and a leader tells its followers.
std::optional<PageAnswer> SolvePipeline::admit(Job& job) {
    auto admit = gate_.acquire(job.deadline);
    if (admit == ConcurrencyGate::Admit::kAdmitted) return std::nullopt;
    PageAnswer answer;
    answer.http_status = 503;
    job.a.outcome = "busy";
    if (admit == ConcurrencyGate::Admit::kQueueFull) {
        job.a.detail = "queue full";
        log::warning("v1", "request {} refused: queue full", job.rid);
        answer.message = fmt::format(
            "Byparr is busy: {} solves are running and {} are queued "
            "(MAX_CONCURRENT={}, MAX_QUEUE={}). Retry later.",
            gate_.in_flight(), gate_.queued(), config_.max_concurrent, config_.max_queue);
        answer.retry_after_s = 5;
        SolveOutcome busy;
        busy.error_kind = BYPARR_ERROR_INVALID_REQUEST;
        busy.error = answer.message;
        job.publish(busy);
        return answer;
    }
    SolveOutcome late;
    late.error_kind = BYPARR_ERROR_TIMEOUT;
    job.publish(late);
    if (admit == ConcurrencyGate::Admit::kClosed) {
        job.a.detail = "shutting down";
        answer.message = "Byparr is shutting down.";
        return answer;
    }
    late.error = "timed out in the queue";
    return fail(job, late);
}

void SolvePipeline::store(Job& job, const SolveOutcome& o) {
    if (job.cacheable && o.ok && o.solution.challenge) {
        // A challenge despite cached cookies means the clearance is dead.
        if (job.hit)
            cache_.invalidate(ClearanceKey{job.key.site, job.hit->user_agent, job.key.proxy});
        std::string ua = o.solution.user_agent.empty() ? job.sr.user_agent : o.solution.user_agent;
        cache_.put(make_clearance_key(job.sr.url, ua, job.sr.proxy), o.solution.cookies);
    }
    if (job.cacheable && o.ok) {
        std::lock_guard<std::mutex> lock(open_sites_mu_);
        if (o.solution.challenge) {
            open_sites_.erase(job.key.site_proxy());
        } else {
            if (open_sites_.size() > 10000) open_sites_.clear();  // bound it; it is only a hint
            open_sites_[job.key.site_proxy()] =
                std::chrono::steady_clock::now() + std::chrono::seconds(60);
        }
    }
    job.publish(o);  // after the cache is filled, so followers find it there
}

void SolvePipeline::count_challenge(const AccessRecord& a) {
    metrics_.inc("byparr_challenges_total", {{"rule", a.rule.empty() ? "unknown" : a.rule},
                                             {"kind", a.kind.empty() ? "unknown" : a.kind},
                                             {"outcome", a.outcome}});
}

// Every failed page request ends here: one outcome vocabulary, one message.
PageAnswer SolvePipeline::fail(Job& job, const SolveOutcome& o) {
    job.a.outcome = outcome_name(o);
    job.a.detail = o.error;
    PageAnswer answer;
    answer.http_status = 500;
    answer.message = error_message(o, job.timeout_ms, job.asked_ms);
    return answer;
}

PageAnswer SolvePipeline::conclude(Job& job, SolveOutcome o) {
    AccessRecord& a = job.a;
    a.outcome = outcome_name(o);
    a.solver = o.solver_id;
    a.rule = o.solution.challenge_rule;
    a.kind = o.solution.challenge_kind;
    if (o.solution.challenge || o.error_kind == BYPARR_ERROR_BLOCKED ||
        o.error_kind == BYPARR_ERROR_CAPTCHA ||
        (o.error_kind == BYPARR_ERROR_TIMEOUT && !a.rule.empty()))
        count_challenge(a);
    if (!o.ok) {
        if (o.error_kind != BYPARR_ERROR_TIMEOUT)
            log::info("v1", "request {} failed: {}", job.rid, o.error);
        return fail(job, o);
    }
    if (config_.log_html && log::enabled(log::Level::kDebug))
        log::debug("v1", "request {} html: {}", job.rid, o.solution.response);
    if (!o.solution.user_agent.empty()) {
        std::lock_guard<std::mutex> lock(ua_mu_);
        cached_ua_ = o.solution.user_agent;
    }
    PageAnswer answer;
    answer.ok = true;
    answer.solution = std::move(o.solution);
    return answer;
}

PageAnswer SolvePipeline::solve_page(const V1Request& req, const std::string& request_id,
                                     AccessRecord& a) {
    Job job(req, request_id, a, prepare(req, request_id));
    job.timeout_ms = static_cast<uint32_t>(
        std::min<int64_t>(req.max_timeout_ms, int64_t(config_.solver_timeout_s) * 1000));
    job.asked_ms = req.max_timeout_ms;
    job.deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(job.timeout_ms);
    job.cacheable = cache_.enabled() && job.sr.session.empty();

    if (auto answer = consult_cache(job)) return std::move(*answer);
    a.cache = job.hit ? "hit" : job.cacheable ? "miss" : "off";
    if (auto answer = admit(job)) return std::move(*answer);
    SolveOutcome o;
    {
        GateSlot slot(&gate_);
        auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
            job.deadline - std::chrono::steady_clock::now());
        job.sr.timeout_ms = static_cast<uint32_t>(std::max<int64_t>(0, left.count()));
        o = dispatcher_.solve(job.sr);
        store(job, o);
    }
    return conclude(job, std::move(o));
}

// ---- accounting ----

std::string SolvePipeline::user_agent() {
    {
        std::lock_guard<std::mutex> lock(ua_mu_);
        if (!cached_ua_.empty()) return cached_ua_;
    }
    std::string ua = dispatcher_.user_agent();
    std::lock_guard<std::mutex> lock(ua_mu_);
    if (!ua.empty()) cached_ua_ = ua;
    return ua;
}

std::string SolvePipeline::domain_label(const std::string& domain) {
    if (domain.empty()) return "unknown";
    std::lock_guard<std::mutex> lock(domains_mu_);
    if (domains_.count(domain)) return domain;
    // A client may name any number of hosts: past the cap, new ones share a label
    // so /metrics cannot grow without bound.
    if (domains_.size() >= kMaxDomains) return "other";
    domains_[domain] = true;
    return domain;
}

void SolvePipeline::finish(const AccessRecord& a, int http_status, double seconds,
                           const std::string& request_id, const std::string& client) {
    metrics_.inc("byparr_requests_total", {{"cmd", a.cmd}, {"result", a.outcome}});
    metrics_.observe("byparr_request_duration_seconds", {{"cmd", a.cmd}}, seconds);
    bool request_cmd = a.cmd == "request.get" || a.cmd == "request.post";
    bool failed = a.outcome != "solved" && a.outcome != "not_detected" && a.outcome != "cached" &&
                  a.outcome != "ok";
    if (request_cmd && failed && a.outcome != "invalid") {
        metrics_.inc("byparr_request_failures_total", {{"reason", a.outcome},
                                                       {"rule", a.rule.empty() ? "none" : a.rule},
                                                       {"kind", a.kind.empty() ? "none" : a.kind}});
    }
    // FlareSolverr's own counting (its prometheus plugin): every /v1 answer, the
    // result read from the message, the domain from the URL ("unknown" without).
    const char* fs_result = a.outcome == "solved" || a.outcome == "cached" ? "solved"
                            : a.outcome == "not_detected"                  ? "not_detected"
                            : failed                                       ? "error"
                                                                           : "unknown";
    std::string domain = domain_label(a.domain);
    metrics_.inc("flaresolverr_request_total", {{"domain", domain}, {"result", fs_result}});
    metrics_.observe("flaresolverr_request_duration", {{"domain", domain}}, seconds);

    // One access line per request, whatever happened to it.
    std::string status = std::to_string(http_status);
    std::string ms = fmt::format("{:.0f}", seconds * 1000);
    log::write(log::Level::kInfo, "access",
               a.cmd + " " + (a.domain.empty() ? "-" : a.domain) + " " + a.outcome,
               {{"id", request_id},
                {"client", client.empty() ? "-" : client},
                {"cmd", a.cmd},
                {"domain", a.domain},
                {"status", status},
                {"outcome", a.outcome},
                {"duration_ms", ms},
                {"solver", a.solver},
                {"rule", a.rule},
                {"kind", a.kind},
                {"cache", a.cache}});

    // The status page: the same facts, minus the client address (a person's
    // view need not list who asked). The domain is a host name, never a URL.
    RequestSample sample;
    sample.time_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    sample.id = request_id;
    sample.cmd = a.cmd;
    sample.domain = a.domain;
    sample.outcome = a.outcome;
    sample.rule = a.rule;
    sample.solver = a.solver;
    sample.cache = a.cache;
    sample.http_status = http_status;
    sample.duration_ms = seconds * 1000;
    board_.record(std::move(sample));
}

}  // namespace byparr
