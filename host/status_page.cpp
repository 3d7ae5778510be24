#include "host/status_page.h"

#include <unistd.h>

#include "core/json_writer.h"
#include "core/proc_tree.h"
#include "host/api_key.h"

namespace byparr {

// Generated from share/byparr/status/ (build dir: host/status_assets.cpp).
struct StatusAsset {
    const char* name;
    const char* content_type;
    std::string_view body;
};
extern const StatusAsset kStatusAssets[];
extern const size_t kStatusAssetCount;

namespace {

// The page allows nothing from elsewhere: no CDN, fonts or frames, even if a
// reverse proxy injected a reference to one. data: only for the empty favicon
// (without one the browser asks for /favicon.ico and logs the 404).
constexpr const char* kPagePolicy =
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

void write_summary(JsonWriter& w, V1Service& service, const StatusBoard::Snapshot& snap) {
    SolvePipeline& p = service.pipeline();
    const Config& config = p.config();
    double sum_ms = 0;
    for (const auto& m : snap.minutes)
        sum_ms += m.sum_ms;
    w.key("summary").begin_object();
    w.key("solveRate");
    if (snap.requests_hour > 0)
        w.value(double(snap.answered_hour) / double(snap.requests_hour));
    else
        w.null();
    w.field("requestsHour", static_cast<int64_t>(snap.requests_hour));
    w.field("answeredHour", static_cast<int64_t>(snap.answered_hour));
    w.field("failedHour", static_cast<int64_t>(snap.failed_hour));
    w.key("averageMs");
    if (snap.requests_hour > 0)
        w.value(sum_ms / double(snap.requests_hour));
    else
        w.null();
    w.field("memoryBytes", static_cast<int64_t>(process_tree_pss_bytes(::getpid())));
    w.field("queueDepth", static_cast<int64_t>(p.gate().queued()));
    w.field("queueLimit", static_cast<int64_t>(config.max_queue));
    w.field("inFlight", static_cast<int64_t>(p.gate().in_flight()));
    w.field("concurrencyLimit", static_cast<int64_t>(config.max_concurrent));
    w.field("cacheEntries", static_cast<int64_t>(p.cache().size()));
    w.end_object();
}

void write_latency(JsonWriter& w, const StatusBoard::Snapshot& snap) {
    w.key("latency").begin_array();
    for (const auto& m : snap.minutes) {
        w.begin_object().field("start", m.start_ms);
        w.field("requests", static_cast<int64_t>(m.requests));
        w.field("failed", static_cast<int64_t>(m.failed));
        w.field("averageMs", m.requests ? m.sum_ms / m.requests : 0.0).field("maxMs", m.max_ms);
        w.end_object();
    }
    w.end_array();
}

// Each component with its state; a solver also with its self-test; plugins that
// were refused at load as "unavailable" with the loader's reason.
void write_plugins(JsonWriter& w, V1Service& service) {
    Registry& registry = service.pipeline().registry();
    std::map<std::string, SolverHealth> health;
    for (auto& h : service.self_test().report())
        health[h.id] = h;
    w.key("plugins").begin_array();
    for (const auto& s : registry.status()) {
        w.begin_object().field("id", s.id).field("plugin", s.plugin_id);
        w.field("kind", to_string(s.kind)).field("state", s.state()).field("enabled", s.enabled);
        w.field("breakerOpen", s.faulted);
        std::string reason = s.reason;
        if (auto h = health.find(s.id); h != health.end()) {
            w.field("ready", h->second.ready).field("selfTest", h->second.self_test);
            if (reason.empty()) reason = h->second.reason;
        }
        w.field("reason", reason).end_object();
    }
    for (const auto& p : registry.plugins()) {
        if (p.loaded()) continue;
        w.begin_object().field("id", p.manifest.id).field("plugin", p.manifest.id);
        w.field("kind", "plugin").field("state", "unavailable").field("enabled", false);
        w.field("breakerOpen", false);
        w.field("reason", std::string(to_string(p.refusal)) + ": " + p.detail).end_object();
    }
    w.end_array();
}

void write_requests(JsonWriter& w, const StatusBoard::Snapshot& snap) {
    w.key("requests").begin_array();
    for (const auto& r : snap.recent) {
        w.begin_object().field("time", r.time_ms).field("id", r.id).field("cmd", r.cmd);
        w.field("domain", r.domain).field("outcome", r.outcome).field("rule", r.rule);
        w.field("solver", r.solver).field("durationMs", r.duration_ms).field("cache", r.cache);
        w.field("status", static_cast<int64_t>(r.http_status)).end_object();
    }
    w.end_array();
}

void write_sites(JsonWriter& w, const StatusBoard::Snapshot& snap) {
    w.key("sites").begin_array();
    for (const auto& s : snap.sites) {
        w.begin_object().field("domain", s.domain).key("outcomes").begin_object();
        for (const auto& [outcome, n] : s.outcomes)
            w.field(outcome, static_cast<int64_t>(n));
        w.end_object().field("lastPassedBy", s.last_passed_by).field("lastMs", s.last_ms);
        w.field("lastPassedMs", s.last_passed_ms).end_object();
    }
    w.end_array();
}

}  // namespace

std::optional<HttpReply> status_asset(std::string_view path) {
    std::string_view name = path == "/status" ? "status.html" : path.substr(1);
    for (size_t i = 0; i < kStatusAssetCount; ++i) {
        if (name != kStatusAssets[i].name) continue;
        HttpReply r{200, std::string(kStatusAssets[i].body), kStatusAssets[i].content_type, {}};
        r.headers.emplace_back("Content-Security-Policy", kPagePolicy);
        r.headers.emplace_back("X-Content-Type-Options", "nosniff");
        r.headers.emplace_back("Cache-Control", "no-cache");
        return r;
    }
    return std::nullopt;
}

HttpReply status_json(V1Service& service) {
    int64_t now = now_epoch_ms();
    auto snap = service.pipeline().status_board().snapshot(now);
    JsonWriter w;
    w.begin_object().field("version", BYPARR_VERSION).field("now", now);
    write_summary(w, service, snap);
    write_latency(w, snap);
    write_plugins(w, service);
    write_requests(w, snap);
    write_sites(w, snap);
    w.end_object();
    HttpReply r{200, w.take(), "application/json", {}};
    r.headers.emplace_back("Cache-Control", "no-store");
    return r;
}

bool status_authorized(const Config& config, std::string_view authorization) {
    if (config.api_key.empty()) return true;
    return constant_time_equal(key_from_authorization(authorization, true), config.api_key);
}

HttpReply status_unauthorized() {
    JsonWriter w;
    w.begin_object().field("status", "error");
    w.field("message",
            "Error: Missing or invalid API key: send 'Authorization: Bearer <key>', "
            "or log in with the key as the password.");
    w.end_object();
    HttpReply r{401, w.take(), "application/json", {}};
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"Byparr\", charset=\"UTF-8\"");
    return r;
}

}  // namespace byparr
