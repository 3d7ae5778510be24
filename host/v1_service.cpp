#include "host/v1_service.h"

#include <Poco/URI.h>
#include <Poco/UUIDGenerator.h>

#include <fstream>
#include <map>
#include <sstream>

#include "core/json_writer.h"
#include "core/log.h"
#include "core/target_guard.h"

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

}  // namespace

V1Service::V1Service(const Config& config, Registry& registry)
    : config_(config),
      registry_(registry),
      dispatcher_(registry),
      gate_(config.max_concurrent, config.max_queue),
      cache_(ClearanceCache::Options{static_cast<int64_t>(config.cache_duration_s),
                                     config.state_dir,
                                     config.cache_backend,
                                     {}}) {
    metrics_.counter("byparr_requests_total", "Requests to /v1 by command and result.");
    metrics_.counter("flaresolverr_request_total",
                     "FlareSolverr-compatible request counter by domain and result.");
    metrics_.histogram("byparr_request_duration_seconds", "Time to answer a /v1 request.",
                       {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120});
    metrics_.counter("byparr_challenges_total", "Challenges seen, by rule and outcome.");
    metrics_.counter("byparr_cache_hits_total", "Requests that found a fresh clearance.");
    metrics_.counter("byparr_cache_misses_total", "Requests that found no clearance.");
    metrics_.gauge_fn("byparr_cache_entries", "Clearances in the cache.", [this] {
        return std::vector<std::pair<Labels, double>>{{{}, double(cache_.size())}};
    });
    metrics_.gauge_fn("byparr_queue_depth", "Requests waiting for a solve slot.", [this] {
        return std::vector<std::pair<Labels, double>>{{{}, double(gate_.queued())}};
    });
    metrics_.gauge_fn("byparr_inflight_requests", "Solves running now.", [this] {
        return std::vector<std::pair<Labels, double>>{{{}, double(gate_.in_flight())}};
    });
    metrics_.gauge_fn("byparr_host_resident_memory_bytes", "Resident memory of the host process.",
                      [] {
                          return std::vector<std::pair<Labels, double>>{{{}, self_rss_bytes()}};
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
    w.begin_object().field("msg", "Byparr is ready!").field("version", BYPARR_VERSION);
    w.field("userAgent", ua.empty() ? kFallbackUa : ua).end_object();
    return HttpReply{200, w.take(), "application/json", {}};
}

HttpReply V1Service::health() {
    return HttpReply{200, "{\"status\":\"ok\"}", "application/json", {}};
}

HttpReply V1Service::metrics() {
    std::string body = metrics_.render();
    // Solver-provided samples (browser workers, memory, restarts), grouped so each
    // family gets exactly one TYPE line before its samples.
    std::map<std::string, std::vector<std::string>> families;
    for (const auto& line : dispatcher_.solver_metrics()) {
        auto end = line.find_first_of("{ ");
        if (end == std::string::npos || end == 0) continue;
        families[line.substr(0, end)].push_back(line);
    }
    std::string extra;
    for (const auto& [name, lines] : families) {
        extra += "# TYPE byparr_" + name + (name.ends_with("_total") ? " counter\n" : " gauge\n");
        for (const auto& l : lines)
            extra += "byparr_" + l + "\n";
    }
    return HttpReply{200, body + extra, "text/plain; version=0.0.4; charset=utf-8", {}};
}

void V1Service::count(const char* cmd, const char* result, const std::string& domain,
                      double seconds) {
    metrics_.inc("byparr_requests_total", {{"cmd", cmd}, {"result", result}});
    metrics_.observe("byparr_request_duration_seconds", {{"cmd", cmd}}, seconds);
    if (!domain.empty())
        metrics_.inc("flaresolverr_request_total",
                     {{"domain", domain},
                      {"result", std::string(result) == "error" || std::string(result) == "timeout"
                                     ? "error"
                                     : "solved"}});
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

HttpReply V1Service::handle_v1(std::string_view body, std::string_view authorization) {
    int64_t start_ms = now_epoch_ms();
    if (!accepting_) return envelope_error("Byparr is shutting down.", start_ms, 503);
    struct Active {
        std::atomic<int>& a;
        explicit Active(std::atomic<int>& x) : a(x) { ++a; }
        ~Active() { --a; }
    } active(active_);

    auto parsed = parse_v1_request(body);
    if (auto* err = std::get_if<RequestError>(&parsed)) {
        metrics_.inc("byparr_requests_total", {{"cmd", "invalid"}, {"result", "error"}});
        log::info("v1", "rejected request: {}", err->message);
        return envelope_error(err->message, start_ms, err->http_status);
    }
    const V1Request& req = std::get<V1Request>(parsed);
    if (!config_.api_key.empty()) {
        std::string_view given = req.api_key;
        if (given.empty() && authorization.substr(0, 7) == "Bearer ")
            given = authorization.substr(7);
        if (!constant_time_equal(given, config_.api_key)) {
            metrics_.inc("byparr_requests_total",
                         {{"cmd", to_string(req.cmd)}, {"result", "error"}});
            log::warning("v1", "request refused: missing or wrong API key");
            auto r = envelope_error(
                "Missing or invalid API key: send 'Authorization: Bearer <key>' "
                "or an 'apiKey' field.",
                start_ms, 401);
            r.headers.emplace_back("WWW-Authenticate", "Bearer");
            return r;
        }
    }
    for (const auto& f : req.deprecated_fields)
        log::warning("v1", "request parameter '{}' was removed in FlareSolverr v2 and is ignored",
                     f);
    if (config_.block_private_targets) {
        if (std::string why = private_target_refusal(req, config_); !why.empty()) {
            metrics_.inc("byparr_requests_total",
                         {{"cmd", to_string(req.cmd)}, {"result", "error"}});
            log::warning("v1", "request refused: {}", why);
            return envelope_error(why, start_ms);
        }
    }
    if (req.cmd == Command::kRequestGet || req.cmd == Command::kRequestPost) {
        std::string rid = fmt::format("{:06x}", next_id_++);
        return run_request(req, start_ms, rid);
    }
    return run_session_cmd(req, start_ms);
}

std::string V1Service::error_message(const SolveOutcome& o, uint32_t timeout_ms) const {
    switch (o.error_kind) {
        case BYPARR_ERROR_TIMEOUT:
            return "Error solving the challenge. Timeout after " + python_seconds(timeout_ms) +
                   " seconds.";
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

HttpReply V1Service::run_request(const V1Request& req, int64_t start_ms, const std::string& rid) {
    const char* cmd = to_string(req.cmd);
    auto t0 = std::chrono::steady_clock::now();
    std::string domain = domain_of(req.url);
    uint32_t timeout_ms = static_cast<uint32_t>(
        std::min<int64_t>(req.max_timeout_ms, int64_t(config_.solver_timeout_s) * 1000));
    auto deadline = t0 + std::chrono::milliseconds(timeout_ms);
    auto elapsed = [&] {
        return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };

    SolveRequest sr;
    sr.cmd = req.cmd;
    sr.request_id = rid;
    sr.url = req.url;
    sr.post_data = req.post_data;
    sr.session = req.session;
    sr.solver = req.solver;
    sr.cookies = req.cookies;
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
                    count(cmd, "timeout", domain, elapsed());
                    return envelope_error("Error solving the challenge. Timeout after " +
                                              python_seconds(timeout_ms) + " seconds.",
                                          start_ms);
                }
                if (!leader->ok && leader->error_kind != BYPARR_ERROR_TIMEOUT) {
                    count(cmd, "error", domain, elapsed());
                    return envelope_error(error_message(*leader, timeout_ms), start_ms);
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
            double secs = elapsed();
            count(cmd, "cached", domain, secs);
            log::write(log::Level::kInfo, "v1", "request",
                       {{"id", rid},
                        {"cmd", cmd},
                        {"domain", domain},
                        {"solver", "cache"},
                        {"outcome", "cached"},
                        {"rule", ""},
                        {"duration_ms", std::to_string(static_cast<int64_t>(secs * 1000))},
                        {"cache", "hit"}});
            return solution_reply(req, s, start_ms);
        }
        // Start with the clearance; cookies the client sent win on the same name.
        add_missing_cookies(sr.cookies, hit->cookies);
        sr.user_agent = hit->user_agent;
    }

    auto admit = gate_.acquire(deadline);
    if (admit == ConcurrencyGate::Admit::kQueueFull) {
        count(cmd, "error", domain, elapsed());
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
        count(cmd, "timeout", domain, elapsed());
        SolveOutcome late;
        late.error_kind = BYPARR_ERROR_TIMEOUT;
        publish(late);
        if (admit == ConcurrencyGate::Admit::kClosed)
            return envelope_error("Byparr is shutting down.", start_ms, 503);
        return envelope_error("Error solving the challenge. Timeout after " +
                                  python_seconds(timeout_ms) + " seconds.",
                              start_ms);
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
    double secs = elapsed();
    const char* result = o.ok ? (o.solution.challenge ? "solved" : "not_detected")
                         : o.error_kind == BYPARR_ERROR_TIMEOUT ? "timeout"
                                                                : "error";
    count(cmd, result, domain, secs);
    if (o.solution.challenge || o.error_kind == BYPARR_ERROR_BLOCKED ||
        o.error_kind == BYPARR_ERROR_CAPTCHA) {
        std::string rule =
            o.solution.challenge_rule.empty() ? "unknown" : o.solution.challenge_rule;
        metrics_.inc("byparr_challenges_total", {{"rule", rule}, {"outcome", result}});
    }
    log::write(log::Level::kInfo, "v1", "request",
               {{"id", rid},
                {"cmd", cmd},
                {"domain", domain},
                {"solver", o.solver_id},
                {"outcome", result},
                {"rule", o.solution.challenge_rule},
                {"duration_ms", std::to_string(static_cast<int64_t>(secs * 1000))},
                {"cache", hit         ? "hit"
                          : cacheable ? "miss"
                                      : "off"}});
    if (!o.ok) {
        if (o.error_kind != BYPARR_ERROR_TIMEOUT)
            log::info("v1", "request {} failed: {}", rid, o.error);
        return envelope_error(error_message(o, timeout_ms), start_ms);
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
    w.reserve(s.response.size() + s.screenshot.size() + 2048);
    w.begin_object().field("status", "ok");
    w.field("message", s.challenge ? "Challenge solved!" : "Challenge not detected!");
    w.key("solution").begin_object();
    w.field("url", s.url.empty() ? req.url : s.url).field("status", s.status ? s.status : 200);
    if (!req.return_only_cookies) {
        w.key("headers").begin_object();
        for (const auto& [k, v] : s.headers)
            w.field(k, v);
        w.end_object();
        std::string_view response = s.response;
        if (response.size() > config_.max_response_bytes) {
            response = utf8_prefix(response, config_.max_response_bytes);
            log::warning("v1", "a response was cut from {} to {} bytes (MAX_RESPONSE_BYTES)",
                         s.response.size(), response.size());
        }
        w.field("response", response);
        if (response.size() < s.response.size()) w.field("responseTruncated", true);
    }
    w.key("cookies").begin_array();
    for (const auto& c : s.cookies) {
        w.begin_object().field("name", c.name).field("value", c.value).field("domain", c.domain);
        w.field("path", c.path.empty() ? "/" : c.path);
        w.field("expires", c.session() ? int64_t(-1) : c.expires_s);
        w.field("size", static_cast<int64_t>(c.name.size() + c.value.size()));
        w.field("httpOnly", c.http_only).field("secure", c.secure).field("session", c.session());
        w.field("sameSite", c.same_site.empty() ? "Lax" : c.same_site);
        if (!c.session()) w.field("expiry", c.expires_s);
        w.end_object();
    }
    w.end_array();
    w.field("userAgent", s.user_agent);
    if (!s.screenshot.empty()) w.field("screenshot", s.screenshot);
    w.key("turnstile_token");
    if (s.turnstile_token)
        w.value(*s.turnstile_token);
    else
        w.null();
    w.end_object();
    write_tail(w, start_ms);
    w.end_object();
    return HttpReply{200, w.take(), "application/json", {}};
}

HttpReply V1Service::run_session_cmd(const V1Request& req, int64_t start_ms) {
    const char* cmd = to_string(req.cmd);
    auto t0 = std::chrono::steady_clock::now();
    auto done = [&](const char* result) {
        count(cmd, result, "",
              std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    };
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
