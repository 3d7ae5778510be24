#include "plugins/browser/host/browser_solver.h"

#include <sys/stat.h>

#include <cstdlib>
#include <iterator>
#include <sstream>

#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

namespace byparr::browser {
namespace {

using sdk::Config;
using sdk::Log;

constexpr auto kSessionCallTimeout = std::chrono::seconds(30);

bool file_exists(const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

uint64_t number_setting(const Config& c, const char* key, uint64_t fallback) {
    std::string v = c.get(key, "");
    if (v.empty()) return fallback;
    char* end = nullptr;
    unsigned long long n = std::strtoull(v.c_str(), &end, 10);
    if (end == v.c_str() || *end != '\0' || v[0] == '-') {
        Log::warning(std::string(key) + "='" + v + "' is not a number; using " +
                     std::to_string(fallback));
        return fallback;
    }
    return n;
}

Settings read_settings(const Config& c, const BrowserEngine& engine) {
    Settings s;
    std::string dir = c.plugin_dir();
    s.state_dir = c.state_dir();
    const std::string worker_name = engine.worker_name;
    // Tests and diagnostics point the plugin at another worker executable.
    s.worker_path = c.get(engine.worker_setting, dir + "/" + worker_name);
    std::string rules = c.get("BYPARR_RULES", "");
    if (!rules.empty()) {
        std::stringstream in(rules);
        std::string item;
        while (std::getline(in, item, ':'))
            if (!item.empty()) s.rules.push_back(item);
    } else {
        // The shipped rules, then the operator's overrides in the host state dir.
        for (const std::string& f : {dir + "/../../../../share/byparr/challenges.json",
                                     s.state_dir + "/../../challenges.json"}) {
            if (file_exists(f)) s.rules.push_back(f);
        }
    }
    std::string lang = c.get("LANG", "");
    // "C"/"POSIX" say nothing about a language: let the worker use en-US.
    if (!lang.empty() && lang != "C" && lang != "POSIX" && lang.rfind("C.", 0) != 0) s.lang = lang;
    // Pages get the zone of TZ (Emulation.setTimezoneOverride), so Date and Intl can match
    // the exit IP's country; unset, the system's zone.
    s.timezone = c.get("TZ", "");
    const std::string display = c.get(engine.display_setting, engine.default_display);
    if (display == "offscreen" || display == "xvfb" ||
        (engine.headless_display && display == "headless")) {
        s.display = display;
    } else {
        Log::warning(std::string(engine.display_setting) + "='" + display +
                     "' is not a display mode; using " + engine.default_display);
        s.display = engine.default_display;
    }
    s.idle_timeout = std::chrono::seconds(number_setting(c, "BROWSER_IDLE_TIMEOUT", 300));
    s.memory_limit_bytes = number_setting(c, "BROWSER_MEMORY_LIMIT", 1024) << 20;
    s.max_pages = number_setting(c, "BROWSER_MAX_PAGES", 500);
    s.max_workers = std::max<uint64_t>(1, number_setting(c, "BROWSER_MAX_WORKERS", 4));
    s.max_sessions = number_setting(c, "MAX_SESSIONS", 20);
    s.session_idle_timeout = std::chrono::seconds(number_setting(c, "SESSION_IDLE_TIMEOUT", 1800));
    std::string block = c.get("BLOCK_PRIVATE_TARGETS", "");
    if (block == "1" || block == "true" || block == "TRUE" || block == "True" || block == "yes" ||
        block == "on") {
        std::vector<Cidr> allow;
        std::string why;  // the host refused to start on a bad list already
        if (!parse_cidr_list(c.get("BLOCK_PRIVATE_TARGETS_ALLOW", ""), &allow, &why))
            Log::warning("BLOCK_PRIVATE_TARGETS_ALLOW: " + why);
        s.target_guard = std::make_shared<const TargetGuard>(std::move(allow));
        s.on_target_refused = [](const std::string& reason) {
            Log::info("egress guard refused a connection: " + reason + " (BLOCK_PRIVATE_TARGETS)");
        };
        if (c.get("PROXY_URL", "").rfind("socks", 0) == 0)
            Log::warning(
                "BLOCK_PRIVATE_TARGETS with a SOCKS PROXY_URL: only the page URL is "
                "checked; redirects and subresources are not (use an http:// proxy)");
    }
    // With BLOCK_PRIVATE_TARGETS too: each context's proxy is then routed through the worker's
    // egress guard (WorkerLaunch::routed_proxies).
    s.proxy_per_context = engine.proxy_per_context;
    s.sandbox = c.get("BROWSER_SANDBOX", "auto");  // the host refused other values
    if (s.sandbox.empty()) s.sandbox = "auto";
    s.warn = [](const std::string& m) { Log::warning(m); };
    s.worker_output = [own = worker_name + ": "](std::string_view line) {
        // The worker's own complaints matter; Chromium's lines are noise at any level
        // but debug, and one of them is the DevTools URL (a control endpoint). The
        // worker marks its solve steps "debug: " (PROTOCOL.md, "Worker output"): they
        // go out at debug, where the host's request lines with the same id are too.
        const std::string_view kOwn = own;
        if (line.substr(0, kOwn.size()) == kOwn) {
            std::string_view rest = line.substr(kOwn.size());
            if (rest.substr(0, 7) == "debug: ")
                Log::debug(line);
            else if (rest.substr(0, 6) == "info: ")
                Log::info(line);
            else
                Log::warning(line);
        } else {
            Log::debug(line);
        }
    };
    return s;
}

template <typename T>
T get_or(const Poco::JSON::Object::Ptr& o, const std::string& key, T fallback) {
    if (!o || !o->has(key) || o->isNull(key)) return fallback;
    try {
        return o->get(key).convert<T>();
    } catch (const Poco::Exception&) {
        return fallback;
    }
}

Poco::JSON::Object::Ptr to_protocol(const sdk::Request& r) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("url", r.url);
    o->set("method", r.method == BYPARR_METHOD_POST ? "POST" : "GET");
    if (r.method == BYPARR_METHOD_POST) {
        o->set("postData", r.post_data);
        if (!r.content_type.empty()) o->set("contentType", r.content_type);
    }
    if (!r.headers.empty()) {
        Poco::JSON::Array::Ptr headers = new Poco::JSON::Array;  // an array: order matters
        for (const auto& h : r.headers) {
            Poco::JSON::Object::Ptr e = new Poco::JSON::Object;
            e->set("name", h.name);
            e->set("value", h.value);
            headers->add(e);
        }
        o->set("headers", headers);
        o->set("headersScope", r.header_scope == BYPARR_HEADERS_SITE ? "site" : "document");
    }
    if (r.tabs_till_verify > 0)
        o->set("tabsTillVerify", static_cast<Poco::Int64>(r.tabs_till_verify));
    Poco::JSON::Array::Ptr cookies = new Poco::JSON::Array;
    for (const auto& c : r.cookies) {
        Poco::JSON::Object::Ptr k = new Poco::JSON::Object;
        k->set("name", c.name);
        k->set("value", c.value);
        if (!c.domain.empty()) k->set("domain", c.domain);
        k->set("path", c.path.empty() ? std::string("/") : c.path);
        k->set("secure", c.secure);
        k->set("httpOnly", c.http_only);
        if (!c.same_site.empty()) k->set("sameSite", c.same_site);
        if (c.expires_s > 0) k->set("expiry", static_cast<Poco::Int64>(c.expires_s));
        cookies->add(k);
    }
    o->set("cookies", cookies);
    o->set("returnOnlyCookies", r.return_only_cookies());
    o->set("returnScreenshot", r.return_screenshot());
    o->set("disableMedia", r.disable_media());
    o->set("waitMs", static_cast<Poco::Int64>(r.wait_after_ms));
    if (r.may_hand_over()) o->set("handOver", true);
    // The host's request id, so the worker's debug lines name the request they belong to.
    if (!r.request_id.empty()) o->set("requestId", r.request_id);
    // The zone the request's proxy named (the supervisor puts a session's own in its place).
    if (!r.proxy.timezone.empty()) o->set("timezone", r.proxy.timezone);
    return o;
}

sdk::Cookie to_cookie(const Poco::JSON::Object::Ptr& k) {
    sdk::Cookie c;
    c.name = get_or<std::string>(k, "name", "");
    c.value = get_or<std::string>(k, "value", "");
    c.domain = get_or<std::string>(k, "domain", "");
    c.path = get_or<std::string>(k, "path", "/");
    c.same_site = get_or<std::string>(k, "sameSite", "");
    double expires = get_or<double>(k, "expires", -1);
    bool session = get_or<bool>(k, "session", expires <= 0);
    c.expires_s = session || expires <= 0 ? -1 : static_cast<int64_t>(expires);
    c.http_only = get_or<bool>(k, "httpOnly", false);
    c.secure = get_or<bool>(k, "secure", false);
    return c;
}

void write_solution(const Poco::JSON::Object::Ptr& res, const sdk::Request& r,
                    const std::string& fallback_ua, sdk::Result& out) {
    out.set_url(get_or<std::string>(res, "url", r.url));
    out.set_status(get_or<int>(res, "status", 200));
    if (auto headers = res->getObject("headers")) {
        for (const auto& [name, value] : *headers) {
            try {
                out.add_header(name, value.convert<std::string>());
            } catch (const Poco::Exception&) {
            }
        }
    }
    if (!r.return_only_cookies() && res->has("bodyBase64")) {
        // A document that is not HTML or text: its bytes, base64 over the frame protocol.
        std::istringstream in(get_or<std::string>(res, "bodyBase64", ""));
        Poco::Base64Decoder decoder(in);
        std::string bytes{std::istreambuf_iterator<char>(decoder),
                          std::istreambuf_iterator<char>()};
        out.set_response_bytes(bytes);
    } else if (!r.return_only_cookies() && res->has("html")) {
        out.set_response(get_or<std::string>(res, "html", ""));
    }
    if (auto cookies = res->getArray("cookies")) {
        for (size_t i = 0; i < cookies->size(); ++i)
            if (auto k = cookies->getObject(static_cast<unsigned>(i))) out.add_cookie(to_cookie(k));
    }
    std::string ua = get_or<std::string>(res, "userAgent", "");
    out.set_user_agent(ua.empty() ? fallback_ua : ua);
    std::string shot = get_or<std::string>(res, "screenshot", "");
    if (!shot.empty()) out.set_screenshot_png_base64(shot);
    std::string token = get_or<std::string>(res, "turnstileToken", "");
    if (!token.empty()) out.set_turnstile_token(token);
    if (auto ch = res->getObject("challenge")) {
        if (get_or<bool>(ch, "detected", false))
            out.set_challenge(get_or<std::string>(ch, "rule", ""),
                              get_or<std::string>(ch, "kind", ""));
    }
}

}  // namespace

BrowserSolver::BrowserSolver(const Config& config, const BrowserEngine& engine)
    : supervisor_(read_settings(config, engine)),
      max_response_bytes_(number_setting(config, "MAX_RESPONSE_BYTES", 20u << 20)) {}

byparr_outcome BrowserSolver::solve(const sdk::Request& r, sdk::Result& out) {
    Poco::JSON::Object::Ptr request = to_protocol(r);
    // The host cuts the answer to MAX_RESPONSE_BYTES; the worker cuts a huge page
    // near that already, so it never has to frame and copy 100 MB.
    request->set("maxResponseBytes", static_cast<Poco::UInt64>(max_response_bytes_));
    Outcome o =
        supervisor_.solve(request, r.session_id, proxy_of(r.proxy), r.session_ttl_ms, r.deadline());
    if (o.ok && o.result) {
        write_solution(o.result, r, supervisor_.user_agent(), out);
        return BYPARR_OUTCOME_OK;
    }
    if (o.ok) return out.fail(BYPARR_ERROR_INTERNAL, "the browser worker sent no result");
    if (o.kind == BYPARR_ERROR_CAPTCHA || o.kind == BYPARR_ERROR_BLOCKED) {
        // Lets the host name the rule, and hand the captcha kind to a captcha solver.
        std::string rule = get_or<std::string>(o.error, "rule", "");
        std::string kind = o.kind == BYPARR_ERROR_CAPTCHA ? o.message : "blocked";
        out.set_challenge(rule, kind);
    } else if (o.result) {
        // A timeout's partial result names the challenge still on the page, so
        // the host can count and log timeouts by rule.
        if (auto ch = o.result->getObject("challenge"); ch && get_or<bool>(ch, "detected", false))
            out.set_challenge(get_or<std::string>(ch, "rule", ""),
                              get_or<std::string>(ch, "kind", ""));
    }
    return out.fail(o.kind, o.message);
}

byparr_outcome BrowserSolver::session_create(const std::string& id, const sdk::Proxy& proxy,
                                             bool& existed, sdk::Error& error) {
    Outcome o = supervisor_.session_create(id, proxy_of(proxy), &existed,
                                           Clock::now() + kSessionCallTimeout);
    return finish(o, error);
}

byparr_outcome BrowserSolver::session_list(std::vector<std::string>& ids, sdk::Error&) {
    ids = supervisor_.session_list();
    return BYPARR_OUTCOME_OK;
}

byparr_outcome BrowserSolver::session_destroy(const std::string& id, sdk::Error& error) {
    return finish(supervisor_.session_destroy(id, Clock::now() + kSessionCallTimeout), error);
}

void BrowserSolver::shutdown(uint32_t deadline_ms) {
    supervisor_.shutdown(std::chrono::milliseconds(deadline_ms));
}
void BrowserSolver::metrics(std::vector<std::string>& lines) {
    supervisor_.metrics(lines);
}
std::string BrowserSolver::user_agent() {
    return supervisor_.user_agent();
}

// Credentials never go on the worker's command line: move userinfo out of the URL.
Proxy BrowserSolver::proxy_of(const Proxy& p) {
    Proxy spec = p;
    auto scheme = spec.url.find("://");
    if (scheme == std::string::npos) return spec;
    auto host = scheme + 3;
    auto at = spec.url.find('@', host);
    if (at == std::string::npos || at > spec.url.find('/', host)) return spec;
    std::string userinfo = spec.url.substr(host, at - host);
    spec.url.erase(host, at + 1 - host);
    if (spec.username.empty()) {
        auto colon = userinfo.find(':');
        spec.username = userinfo.substr(0, colon);
        if (colon != std::string::npos) spec.password = userinfo.substr(colon + 1);
    }
    return spec;
}
byparr_outcome BrowserSolver::finish(const Outcome& o, sdk::Error& error) {
    if (o.ok) return BYPARR_OUTCOME_OK;
    error.kind = o.kind;
    error.message = o.message;
    return BYPARR_OUTCOME_FAILED;
}

}  // namespace byparr::browser
