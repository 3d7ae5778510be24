#include "host/v1_service.h"

#include <Poco/URI.h>
#include <Poco/UUIDGenerator.h>

#include <cctype>
#include <map>
#include <sstream>

#include "core/json_writer.h"
#include "core/log.h"
#include "core/target_guard.h"
#include "core/v1_wire.h"
#include "host/api_key.h"

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

}  // namespace

V1Service::V1Service(const Config& config, Registry& registry)
    : config_(config),
      registry_(registry),
      pipeline_(config, registry),
      self_test_(config, registry, pipeline_.dispatcher()) {
    register_host_gauges();
}

// The families only the host can fill: the self-test is the host's.
void V1Service::register_host_gauges() {
    auto& mx = pipeline_.metrics();
    mx.gauge_fn("byparr_solver_ready",
                "1 when the solver passed its start-up self-test and is in the chain.", [this] {
                    std::vector<std::pair<Labels, double>> out;
                    for (const auto& h : self_test_.report())
                        out.push_back({{{"solver", h.id}}, h.ready ? 1.0 : 0.0});
                    return out;
                });
    mx.gauge_fn("byparr_plugin_state", "1 for the state each component is in.", [this] {
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
    std::string ua = pipeline_.user_agent();
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
    std::string body = pipeline_.metrics().render();
    // Solver-provided samples (browser workers, memory, restarts), grouped so each
    // family gets exactly one HELP and one TYPE line before its samples.
    struct Family {
        std::string plugin;
        byparr_metric_kind kind = BYPARR_METRIC_GAUGE;
        std::vector<std::string> lines;
    };
    std::map<std::string, Family> families;
    for (auto& m : pipeline_.dispatcher().solver_metric_samples()) {
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

namespace {

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
    if (why.empty() && req.proxy && !req.proxy->empty() && req.proxy->url != config.proxy.url)
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
    pipeline_.finish(a, reply.status,
                     std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
                     rid, meta.client);
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
            std::lock_guard<std::mutex> lock(warned_mu_);
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

// HTTP <-> engine: the pipeline runs the request; this renders what it answers.
HttpReply V1Service::run_request(const V1Request& req, int64_t start_ms, const std::string& rid,
                                 AccessRecord& a) {
    PageAnswer answer = pipeline_.solve_page(req, rid, a);
    if (answer.ok) return solution_reply(req, answer.solution, start_ms);
    HttpReply r = envelope_error(answer.message, start_ms, answer.http_status);
    if (answer.retry_after_s > 0)
        r.headers.emplace_back("Retry-After", std::to_string(answer.retry_after_s));
    return r;
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
        // The session keeps this proxy (and its zone) for its life.
        auto o =
            pipeline_.dispatcher().session_create(id, pipeline_.proxy_for(req.proxy), req.solver);
        if (!o.ok) {
            done("error");
            return envelope_error(o.error, start_ms);
        }
        done("ok");
        w.begin_object().field("status", "ok");
        w.field("message", o.existed ? "Session already exists." : "Session created successfully.");
        w.field("session", id);
    } else if (req.cmd == Command::kSessionsList) {
        auto o = pipeline_.dispatcher().session_list(req.solver);
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
        auto o = pipeline_.dispatcher().session_destroy(req.session, req.solver);
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
