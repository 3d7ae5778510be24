#include "host/v1_service.h"

#include <Poco/URI.h>
#include <Poco/UUIDGenerator.h>

#include <cctype>
#include <fstream>
#include <map>
#include <sstream>

#include "core/json_writer.h"
#include "core/log.h"
#include "core/proc_tree.h"
#include "core/target_guard.h"
#include "core/v1_wire.h"

namespace byparr {

int64_t now_epoch_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

namespace {

// A UA that is true for the default solver when no browser has started yet: it is
// what the webengine plugin presents (Chromium 102, QtWebEngine token removed).
constexpr const char* kFallbackUa =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/102.0.5005.177 Safari/537.36";

std::string domain_of(const std::string& url) {
    try {
        return Poco::URI(url).getHost();
    } catch (...) {
        return "";
    }
}

void write_tail(JsonWriter& w, int64_t start_ms) {
    w.field("startTimestamp", start_ms).field("endTimestamp", now_epoch_ms());
    w.field("version", BYPARR_VERSION);
}

// Resident memory of this process and its descendants is reported by the
// solvers themselves; the host reports its own.
double self_rss_bytes() {
    std::ifstream in("/proc/self/statm");
    long pages = 0, rss = 0;
    in >> pages >> rss;
    return static_cast<double>(rss) * static_cast<double>(sysconf(_SC_PAGESIZE));
}

// Help text for the families solver plugins report ("name value" lines without
// HELP): promtool warns on a family without one. Unknown families get a generic
// line naming the plugin.
const std::map<std::string, std::string>& solver_family_help() {
    static const std::map<std::string, std::string> h{
        {"browser_workers", "Browser worker processes running (webengine)."},
        {"browser_memory_bytes",
         "Proportional set size of the browser workers and their Chromium processes."},
        {"browser_restarts_total",
         "Browser worker restarts by reason: crash, memory, pages (recycled), idle (stopped)."},
        {"browser_pages_total", "Pages the browser workers loaded."},
        {"browser_sessions", "Browser sessions (sessions.create) alive."},
        {"cookie_import_files", "Cookie files the cookie-import plugin serves."},
    };
    return h;
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

}  // namespace

V1Service::V1Service(const Config& config, Registry& registry)
    : config_(config),
      registry_(registry),
      dispatcher_(registry),
      gate_(config.max_concurrent, config.max_queue),
      cache_(ClearanceCache::Options{static_cast<int64_t>(config.cache_duration_s),
                                     config.state_dir,
                                     config.cache_backend,
                                     {}}),
      self_test_(config, registry, dispatcher_) {
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
    metrics_.gauge_fn("byparr_cache_entries", "Clearances in the cache.", [this] {
        return std::vector<std::pair<Labels, double>>{{{}, double(cache_.size())}};
    });
    metrics_.gauge_fn("byparr_queue_depth", "Requests waiting for a solve slot.", [this] {
        return std::vector<std::pair<Labels, double>>{{{}, double(gate_.queued())}};
    });
    metrics_.gauge_fn(
        "byparr_queue_limit", "MAX_QUEUE: requests that may wait for a slot.", [this] {
            return std::vector<std::pair<Labels, double>>{{{}, double(config_.max_queue)}};
        });
    metrics_.gauge_fn("byparr_inflight_requests", "Solves running now.", [this] {
        return std::vector<std::pair<Labels, double>>{{{}, double(gate_.in_flight())}};
    });
    metrics_.gauge_fn("byparr_concurrency_limit", "MAX_CONCURRENT: solves at once.", [this] {
        return std::vector<std::pair<Labels, double>>{{{}, double(config_.max_concurrent)}};
    });
    metrics_.gauge_fn("byparr_host_resident_memory_bytes", "Resident memory of the host process.",
                      [] {
                          return std::vector<std::pair<Labels, double>>{{{}, self_rss_bytes()}};
                      });
    metrics_.gauge_fn(
        "byparr_process_tree_pss_bytes",
        "Proportional set size of the host and every descendant (browser workers, Chromium).", [] {
            return std::vector<std::pair<Labels, double>>{
                {{}, double(process_tree_pss_bytes(::getpid()))}};
        });
    metrics_.gauge_fn("byparr_memory_limit_bytes",
                      "Memory limit of the process's cgroup (container --memory); absent "
                      "without one.",
                      [] {
                          std::vector<std::pair<Labels, double>> out;
                          if (double l = cgroup_memory_limit_bytes(); l > 0) out.push_back({{}, l});
                          return out;
                      });
    metrics_.gauge_fn("byparr_solver_ready",
                      "1 when the solver passed its start-up self-test and is in the chain.",
                      [this] {
                          std::vector<std::pair<Labels, double>> out;
                          for (const auto& h : self_test_.report())
                              out.push_back({{{"solver", h.id}}, h.ready ? 1.0 : 0.0});
                          return out;
                      });
    metrics_.gauge_fn("byparr_plugin_state", "1 for the state each component is in.", [this] {
        std::vector<std::pair<Labels, double>> out;
        for (const auto& s : registry_.status())
            for (const char* st : {"enabled", "disabled", "faulted"})
                out.push_back(
                    {{{"plugin", s.id}, {"state", st}}, std::string(s.state()) == st ? 1.0 : 0.0});
        return out;
    });
}

HttpReply V1Service::error_reply(int http_status, const std::string& message) const {
    return envelope_error(message, now_epoch_ms(), http_status);
}

HttpReply V1Service::envelope_error(const std::string& message, int64_t start_ms,
                                    int http_status) const {
    JsonWriter w;
    w.begin_object().field("status", "error").field("message", "Error: " + message);
    write_tail(w, start_ms);
    w.end_object();
    return HttpReply{http_status, w.take(), "application/json", {}};
}

HttpReply V1Service::index() {
    std::string ua;
    {
        std::lock_guard<std::mutex> lock(ua_mu_);
        ua = cached_ua_;
    }
    if (ua.empty()) {
        ua = dispatcher_.user_agent();
        std::lock_guard<std::mutex> lock(ua_mu_);
        if (!ua.empty()) cached_ua_ = ua;
    }
    JsonWriter w;
    // FlareSolverr's exact words: clients compare "msg" to tell the service is up.
    w.begin_object().field("msg", "FlareSolverr is ready!").field("version", BYPARR_VERSION);
    w.field("userAgent", ua.empty() ? kFallbackUa : ua).field("server", "Byparr").end_object();
    return HttpReply{200, w.take(), "application/json", {}};
}

HttpReply V1Service::health() {
    auto solvers = self_test_.report();
    bool any_ready = false, running = false;
    for (const auto& h : solvers) {
        any_ready |= h.ready;
        running |= h.self_test == "running";
    }
    // FlareSolverr's {"status":"ok"} when a solver can serve; otherwise why not.
    const char* status = any_ready ? "ok" : running ? "starting" : "error";
    JsonWriter w;
    w.begin_object().field("status", status);
    if (!any_ready)
        w.field("message", running           ? "The start-up self-test is still running."
                           : solvers.empty() ? "No solver is enabled."
                                             : "No solver can serve requests.");
    w.key("solvers").begin_array();
    for (const auto& h : solvers) {
        w.begin_object().field("id", h.id).field("ready", h.ready).field("selfTest", h.self_test);
        if (h.self_test_ms >= 0) w.field("selfTestMs", h.self_test_ms);
        if (!h.reason.empty()) w.field("reason", h.reason);
        w.end_object();
    }
    w.end_array().end_object();
    return HttpReply{any_ready ? 200 : 503, w.take(), "application/json", {}};
}

HttpReply V1Service::metrics() {
    std::string body = metrics_.render();
    // Solver-provided samples (browser workers, memory, restarts), grouped so each
    // family gets exactly one HELP and one TYPE line before its samples.
    struct Family {
        std::string plugin;
        byparr_metric_kind kind = BYPARR_METRIC_GAUGE;
        std::vector<std::string> lines;
    };
    std::map<std::string, Family> families;
    for (auto& m : dispatcher_.solver_metric_samples()) {
        auto end = m.sample.find_first_of("{ ");
        if (end == std::string::npos || end == 0) continue;
        std::string name = m.sample.substr(0, end);
        // A histogram's samples belong to the family named without the suffix.
        if (m.kind == BYPARR_METRIC_HISTOGRAM)
            for (std::string_view suffix : {"_bucket", "_sum", "_count"})
                if (name.ends_with(suffix)) name.resize(name.size() - suffix.size());
        auto& f = families[name];
        if (f.plugin.empty()) f.plugin = m.component, f.kind = m.kind;  // the first one's word
        f.lines.push_back(std::move(m.sample));
    }
    std::string extra;
    for (const auto& [name, f] : families) {
        auto help = solver_family_help().find(name);
        extra += "# HELP byparr_" + name + " " +
                 (help != solver_family_help().end()
                      ? help->second
                      : "Reported by the '" + f.plugin + "' solver plugin.") +
                 "\n";
        extra += "# TYPE byparr_" + name +
                 (f.kind == BYPARR_METRIC_COUNTER     ? " counter\n"
                  : f.kind == BYPARR_METRIC_HISTOGRAM ? " histogram\n"
                                                      : " gauge\n");
        for (const auto& l : f.lines)
            extra += "byparr_" + l + "\n";
    }
    return HttpReply{200, body + extra, "text/plain; version=0.0.4; charset=utf-8", {}};
}

std::string V1Service::domain_label(const std::string& domain) {
    if (domain.empty()) return "unknown";
    std::lock_guard<std::mutex> lock(domains_mu_);
    if (domains_.count(domain)) return domain;
    // A client may name any number of hosts: past the cap, new ones share a label
    // so /metrics cannot grow without bound.
    if (domains_.size() >= kMaxDomains) return "other";
    domains_[domain] = true;
    return domain;
}

void V1Service::record(const AccessRecord& a, int http_status, double seconds,
                       const std::string& rid, const RequestMeta& meta) {
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
               {{"id", rid},
                {"client", meta.client.empty() ? "-" : meta.client},
                {"cmd", a.cmd},
                {"domain", a.domain},
                {"status", status},
                {"outcome", a.outcome},
                {"duration_ms", ms},
                {"solver", a.solver},
                {"rule", a.rule},
                {"kind", a.kind},
                {"cache", a.cache}});
}

namespace {

// Compares without an early exit, so the time taken says nothing about how much
// of the key was right.
bool constant_time_equal(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
    return diff == 0;
}

// BLOCK_PRIVATE_TARGETS, answered before any browser work: the page URL, and a
// per-request proxy (a client-chosen destination too). This catches the obvious
// cases early with a clear message; the webengine plugin's egress guard enforces
// the rule again at connect time (rebinding, redirects, subresources).
std::string private_target_refusal(const V1Request& req, const Config& config) {
    TargetGuard guard(config.block_private_targets_allow);
    auto check = [&](const std::string& url, const char* what) -> std::string {
        std::string host;
        try {
            host = Poco::URI(url).getHost();
        } catch (const Poco::Exception&) {
            return {};  // validation has its own message for a bad URL
        }
        TargetCheck c = guard.check_host(host);
        // An unresolvable name is the browser's to report (as a DNS error).
        if (c.ok() || c.unresolved) return {};
        return fmt::format(
            "Refused by BLOCK_PRIVATE_TARGETS: the {} {} (exempt it with "
            "BLOCK_PRIVATE_TARGETS_ALLOW).",
            what, c.reason);
    };
    std::string why;
    if (req.cmd == Command::kRequestGet || req.cmd == Command::kRequestPost)
        why = check(req.url, "target");
    if (why.empty() && req.proxy && !req.proxy->empty() && req.proxy->url != config.proxy_url)
        why = check(req.proxy->url, "proxy");
    return why;
}

}  // namespace

namespace {

// A client's X-Request-Id is used as ours when it is short and plain (it goes
// into logs and a header): letters, digits and -_.:/+=.
bool usable_request_id(const std::string& id) {
    if (id.empty() || id.size() > 128) return false;
    for (char c : id)
        if (!std::isalnum(static_cast<unsigned char>(c)) &&
            std::string_view("-_.:/+=").find(c) == std::string_view::npos)
            return false;
    return true;
}

}  // namespace

HttpReply V1Service::handle_v1(std::string_view body, std::string_view authorization,
                               const RequestMeta& meta) {
    int64_t start_ms = now_epoch_ms();
    auto t0 = std::chrono::steady_clock::now();
    std::string rid =
        usable_request_id(meta.request_id) ? meta.request_id : fmt::format("{:06x}", next_id_++);
    AccessRecord a;
    HttpReply reply = dispatch_v1(body, authorization, rid, start_ms, a);
    record(a, reply.status,
           std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), rid, meta);
    reply.headers.emplace_back("X-Request-Id", rid);
    return reply;
}

HttpReply V1Service::dispatch_v1(std::string_view body, std::string_view authorization,
                                 const std::string& rid, int64_t start_ms, AccessRecord& a) {
    if (!accepting_) {
        a.outcome = "busy";
        a.detail = "shutting down";
        return envelope_error("Byparr is shutting down.", start_ms, 503);
    }
    struct Active {
        std::atomic<int>& a;
        explicit Active(std::atomic<int>& x) : a(x) { ++a; }
        ~Active() { --a; }
    } active(active_);

    ParseLimits limits;
    // The body to send is capped as the request that carries it is (MAX_BODY_BYTES).
    limits.max_post_bytes = config_.max_body_bytes;
    auto parsed = parse_v1_request(body, limits);
    if (auto* err = std::get_if<RequestError>(&parsed)) {
        a.detail = err->message;
        log::info("v1", "request {} rejected: {}", rid, err->message);
        return envelope_error(err->message, start_ms, err->http_status);
    }
    const V1Request& req = std::get<V1Request>(parsed);
    a.cmd = to_string(req.cmd);
    a.domain = domain_of(req.url);
    if (!config_.api_key.empty()) {
        std::string_view given = req.api_key;
        if (given.empty() && authorization.substr(0, 7) == "Bearer ")
            given = authorization.substr(7);
        if (!constant_time_equal(given, config_.api_key)) {
            a.outcome = "invalid";
            log::warning("v1", "request {} refused: missing or wrong API key", rid);
            auto r = envelope_error(
                "Missing or invalid API key: send 'Authorization: Bearer <key>' "
                "or an 'apiKey' field.",
                start_ms, 401);
            r.headers.emplace_back("WWW-Authenticate", "Bearer");
            return r;
        }
    }
    for (const auto& f : req.deprecated_fields) {
        // Prowlarr sends some of these on every request: say it once, then only at
        // debug, so the log is not a wall of the same warning.
        bool first = false;
        {
            std::lock_guard<std::mutex> lock(open_sites_mu_);
            first = warned_fields_.insert(f).second;
        }
        if (first)
            log::info("v1",
                      "request parameter '{}' was removed in FlareSolverr v2 and is ignored "
                      "(said once; later requests log it at debug)",
                      f);
        else
            log::debug("v1", "request {}: ignoring removed parameter '{}'", rid, f);
    }
    if (config_.block_private_targets) {
        if (std::string why = private_target_refusal(req, config_); !why.empty()) {
            a.outcome = "error";
            a.detail = why;
            log::warning("v1", "request {} refused: {}", rid, why);
            return envelope_error(why, start_ms);
        }
    }
    if (req.cmd == Command::kRequestGet || req.cmd == Command::kRequestPost)
        return run_request(req, start_ms, rid, a);
    return run_session_cmd(req, start_ms, a);
}

std::string V1Service::timeout_message(uint32_t timeout_ms, int64_t asked_ms) const {
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

std::string V1Service::error_message(const SolveOutcome& o, uint32_t timeout_ms,
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

HttpReply V1Service::run_request(const V1Request& req, int64_t start_ms, const std::string& rid,
                                 AccessRecord& a) {
    auto t0 = std::chrono::steady_clock::now();
    uint32_t timeout_ms = static_cast<uint32_t>(
        std::min<int64_t>(req.max_timeout_ms, int64_t(config_.solver_timeout_s) * 1000));
    auto deadline = t0 + std::chrono::milliseconds(timeout_ms);
    const int64_t asked_ms = req.max_timeout_ms;

    SolveRequest sr;
    sr.cmd = req.cmd;
    sr.request_id = rid;
    sr.url = req.url;
    sr.post_data = req.post_data;
    sr.session = req.session;
    sr.solver = req.solver;
    sr.cookies = req.cookies;
    sr.ext = req.ext;
    if (req.return_only_cookies) sr.flags |= BYPARR_REQ_RETURN_ONLY_COOKIES;
    if (req.return_screenshot) sr.flags |= BYPARR_REQ_RETURN_SCREENSHOT;
    if (req.disable_media_set.value_or(config_.disable_media)) sr.flags |= BYPARR_REQ_DISABLE_MEDIA;
    sr.wait_ms = static_cast<uint32_t>(req.wait_seconds * 1000);
    sr.session_ttl_ms =
        static_cast<uint32_t>(std::min<int64_t>(req.session_ttl_minutes, 100000) * 60000);
    // A session keeps the proxy it was created with (contract). `{}` means "none
    // given", so PROXY_URL applies, as in FlareSolverr.
    if (req.session.empty()) {
        if (req.proxy && !req.proxy->empty())
            sr.proxy = *req.proxy;
        else if (!config_.proxy_url.empty())
            sr.proxy = ProxySpec{config_.proxy_url, config_.proxy_username, config_.proxy_password};
        // A zone without a URL ({"timezone": ...}) is for PROXY_URL's exit, or none.
        if (req.proxy) sr.proxy.timezone = req.proxy->timezone;
    }

    // Clearance cache and single flight. Sessions keep their own cookie jar, so
    // they neither read nor feed the cache.
    bool cacheable = cache_.enabled() && sr.session.empty();
    ClearanceKey key;
    std::optional<ClearanceEntry> hit;
    std::optional<SingleFlight::Ticket> ticket;
    auto lookup = [&] {
        return sr.user_agent.empty() ? cache_.get_any_agent(key) : cache_.get(key);
    };
    auto publish = [&](const SolveOutcome& o) {
        if (ticket && ticket->leader()) ticket->publish(o);
        ticket.reset();
    };
    if (cacheable) {
        key = make_clearance_key(sr.url, sr.user_agent, sr.proxy);
        hit = lookup();
        bool open_site = false;
        {
            std::lock_guard<std::mutex> lock(open_sites_mu_);
            auto it = open_sites_.find(key.site_proxy());
            open_site = it != open_sites_.end() && it->second > std::chrono::steady_clock::now();
        }
        if (!hit && !open_site) {
            // Another request is solving this site right now: wait for it (before
            // taking a gate slot) rather than starting a second browser.
            ticket.emplace(flights_.join_or_lead(key.site_proxy()));
            if (ticket->leader()) {
                // A flight may have landed between the lookup and joining: then
                // its clearance is in the cache and there is nothing to lead.
                hit = lookup();
                if (hit) {
                    SolveOutcome landed;
                    landed.ok = true;
                    publish(landed);
                }
            } else {
                auto leader = ticket->wait(deadline);
                ticket.reset();
                if (!leader) {
                    a.outcome = "timeout";
                    a.cache = "wait";
                    a.detail = "timed out waiting for another request solving the same site";
                    return envelope_error(timeout_message(timeout_ms, asked_ms), start_ms);
                }
                if (!leader->ok && leader->error_kind != BYPARR_ERROR_TIMEOUT) {
                    a.outcome = outcome_name(*leader);
                    a.solver = leader->solver_id;
                    a.rule = leader->solution.challenge_rule;
                    a.kind = leader->solution.challenge_kind;
                    a.cache = "wait";
                    a.detail = leader->error;
                    return envelope_error(error_message(*leader, timeout_ms, asked_ms), start_ms);
                }
                hit = lookup();  // the leader's clearance, if its page had a challenge
            }
        }
        metrics_.inc(hit ? "byparr_cache_hits_total" : "byparr_cache_misses_total");
    }
    if (hit) {
        if (req.return_only_cookies && req.cmd == Command::kRequestGet) {
            // Answered from the cache without a page load: the cookies and the UA
            // they are bound to are all the client will use.
            Solution s;
            s.url = req.url;
            s.status = 200;
            s.cookies = hit->cookies;
            s.user_agent = hit->user_agent;
            s.challenge = true;
            a.outcome = "cached";
            a.solver = "cache";
            a.cache = "hit";
            return solution_reply(req, s, start_ms);
        }
        // Start with the clearance; cookies the client sent win on the same name.
        add_missing_cookies(sr.cookies, hit->cookies);
        sr.user_agent = hit->user_agent;
    }

    auto admit = gate_.acquire(deadline);
    a.cache = hit ? "hit" : cacheable ? "miss" : "off";
    if (admit == ConcurrencyGate::Admit::kQueueFull) {
        a.outcome = "busy";
        a.detail = "queue full";
        log::warning("v1", "request {} refused: queue full", rid);
        std::string msg = fmt::format(
            "Byparr is busy: {} solves are running and {} are queued "
            "(MAX_CONCURRENT={}, MAX_QUEUE={}). Retry later.",
            gate_.in_flight(), gate_.queued(), config_.max_concurrent, config_.max_queue);
        SolveOutcome busy;
        busy.error_kind = BYPARR_ERROR_INVALID_REQUEST;
        busy.error = msg;
        publish(busy);
        auto r = envelope_error(msg, start_ms, 503);
        r.headers.emplace_back("Retry-After", "5");
        return r;
    }
    if (admit != ConcurrencyGate::Admit::kAdmitted) {
        SolveOutcome late;
        late.error_kind = BYPARR_ERROR_TIMEOUT;
        publish(late);
        if (admit == ConcurrencyGate::Admit::kClosed) {
            a.outcome = "busy";
            a.detail = "shutting down";
            return envelope_error("Byparr is shutting down.", start_ms, 503);
        }
        a.outcome = "timeout";
        a.detail = "timed out in the queue";
        return envelope_error(timeout_message(timeout_ms, asked_ms), start_ms);
    }
    GateSlot slot(&gate_);
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    sr.timeout_ms = static_cast<uint32_t>(std::max<int64_t>(0, left.count()));

    SolveOutcome o = dispatcher_.solve(sr);
    if (cacheable && o.ok && o.solution.challenge) {
        // A challenge despite cached cookies means the clearance is dead.
        if (hit) cache_.invalidate(ClearanceKey{key.site, hit->user_agent, key.proxy});
        std::string ua = o.solution.user_agent.empty() ? sr.user_agent : o.solution.user_agent;
        cache_.put(make_clearance_key(sr.url, ua, sr.proxy), o.solution.cookies);
    }
    if (cacheable && o.ok) {
        std::lock_guard<std::mutex> lock(open_sites_mu_);
        if (o.solution.challenge) {
            open_sites_.erase(key.site_proxy());
        } else {
            if (open_sites_.size() > 10000) open_sites_.clear();  // bound it; it is only a hint
            open_sites_[key.site_proxy()] =
                std::chrono::steady_clock::now() + std::chrono::seconds(60);
        }
    }
    publish(o);  // after the cache is filled, so followers find it there
    a.outcome = outcome_name(o);
    a.solver = o.solver_id;
    a.rule = o.solution.challenge_rule;
    a.kind = o.solution.challenge_kind;
    if (o.solution.challenge || o.error_kind == BYPARR_ERROR_BLOCKED ||
        o.error_kind == BYPARR_ERROR_CAPTCHA ||
        (o.error_kind == BYPARR_ERROR_TIMEOUT && !a.rule.empty())) {
        metrics_.inc("byparr_challenges_total", {{"rule", a.rule.empty() ? "unknown" : a.rule},
                                                 {"kind", a.kind.empty() ? "unknown" : a.kind},
                                                 {"outcome", a.outcome}});
    }
    if (!o.ok) {
        a.detail = o.error;
        if (o.error_kind != BYPARR_ERROR_TIMEOUT)
            log::info("v1", "request {} failed: {}", rid, o.error);
        return envelope_error(error_message(o, timeout_ms, asked_ms), start_ms);
    }
    if (config_.log_html && log::enabled(log::Level::kDebug))
        log::debug("v1", "request {} html: {}", rid, o.solution.response);
    if (!o.solution.user_agent.empty()) {
        std::lock_guard<std::mutex> lock(ua_mu_);
        cached_ua_ = o.solution.user_agent;
    }
    return solution_reply(req, o.solution, start_ms);
}

HttpReply V1Service::solution_reply(const V1Request& req, const Solution& s, int64_t start_ms) {
    JsonWriter w;
    // A binary answer grows by a third in base64.
    w.reserve(s.response.size() * (s.response_binary ? 4 : 3) / 3 + s.screenshot.size() + 2048);
    w.begin_object().field("status", "ok").field("message", solution_message(s));
    ResponseCut cut =
        write_solution(w, s, {req.url, req.return_only_cookies, config_.max_response_bytes});
    if (cut.cut())
        log::warning("v1", "a response was cut from {} to {} bytes (MAX_RESPONSE_BYTES)", cut.from,
                     cut.to);
    write_tail(w, start_ms);
    w.end_object();
    return HttpReply{200, w.take(), "application/json", {}};
}

HttpReply V1Service::run_session_cmd(const V1Request& req, int64_t start_ms, AccessRecord& a) {
    auto done = [&](const char* result) { a.outcome = result; };
    JsonWriter w;
    if (req.cmd == Command::kSessionsCreate) {
        std::string id = req.session.empty()
                             ? Poco::UUIDGenerator::defaultGenerator().createRandom().toString()
                             : req.session;
        ProxySpec proxy;
        if (req.proxy && !req.proxy->empty())
            proxy = *req.proxy;
        else if (!config_.proxy_url.empty())
            proxy = ProxySpec{config_.proxy_url, config_.proxy_username, config_.proxy_password};
        if (req.proxy) proxy.timezone = req.proxy->timezone;  // the session keeps it
        auto o = dispatcher_.session_create(id, proxy, req.solver);
        if (!o.ok) {
            done("error");
            return envelope_error(o.error, start_ms);
        }
        done("ok");
        w.begin_object().field("status", "ok");
        w.field("message", o.existed ? "Session already exists." : "Session created successfully.");
        w.field("session", id);
    } else if (req.cmd == Command::kSessionsList) {
        auto o = dispatcher_.session_list(req.solver);
        if (!o.ok) {
            done("error");
            return envelope_error(o.error, start_ms);
        }
        done("ok");
        w.begin_object().field("status", "ok").field("message", "");
        w.key("sessions").begin_array();
        for (const auto& s : o.sessions)
            w.value(s);
        w.end_array();
    } else {
        auto o = dispatcher_.session_destroy(req.session, req.solver);
        if (!o.ok) {
            done("error");
            return envelope_error(o.error_kind == BYPARR_ERROR_UNKNOWN_SESSION || o.error.empty()
                                      ? "The session doesn't exist."
                                      : o.error,
                                  start_ms);
        }
        done("ok");
        w.begin_object().field("status", "ok").field("message", "The session has been removed.");
    }
    write_tail(w, start_ms);
    w.end_object();
    return HttpReply{200, w.take(), "application/json", {}};
}

}  // namespace byparr
