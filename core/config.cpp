#include "core/config.h"
#include "core/strings.h"

#include <byparr/settings.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <sstream>
#include <string_view>

extern char** environ;

namespace byparr {
namespace {

// The rule plugins' typed getters use too (byparr/settings.hpp); an empty value is false
// here, as it always was for the host's own booleans.
bool parse_bool(const std::string& v, bool* out) {
    if (settings::trim(v).empty()) {
        *out = false;
        return true;
    }
    return settings::parse_bool(v, out);
}

bool parse_uint(const std::string& v, uint64_t max, uint64_t* out) {
    if (v.empty() || v.size() > 12) return false;
    uint64_t n = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + static_cast<uint64_t>(c - '0');
    }
    if (n > max) return false;
    *out = n;
    return true;
}

}  // namespace

std::string default_state_dir() {
    if (const char* x = std::getenv("XDG_STATE_HOME"); x && *x) return std::string(x) + "/byparr";
    if (geteuid() == 0) return "/var/lib/byparr";
    if (const char* h = std::getenv("HOME"); h && *h)
        return std::string(h) + "/.local/state/byparr";
    return "/tmp/byparr-state";
}

std::string executable_dir() {
    std::error_code ec;
    auto p = std::filesystem::read_symlink("/proc/self/exe", ec);
    if (ec) return ".";
    return p.parent_path().string();
}

std::optional<Config> Config::from_env(std::string* error) {
    // The whole environment: the host reads its own names from it, and each plugin gets
    // the names its manifest declares (Registry), so a plugin's settings need no list here.
    std::map<std::string, std::string> env;
    for (char** e = environ; e && *e; ++e) {
        std::string_view kv(*e);
        auto eq = kv.find('=');
        if (eq != std::string_view::npos && eq > 0)
            env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
    }
    return from_map(env, error);
}

std::optional<Config> Config::from_map(const std::map<std::string, std::string>& env,
                                       std::string* error) {
    Config c;
    c.raw = env;
    c.raw.erase("API_KEY");  // plugins have no business reading it
    auto get = [&](const char* k) -> const std::string* {
        auto it = env.find(k);
        return it == env.end() ? nullptr : &it->second;
    };
    auto fail = [&](const char* k, const std::string& v, const char* what) {
        if (error) *error = std::string(k) + "='" + v + "' " + what;
        return std::nullopt;
    };
    auto uint_var = [&](const char* k, uint64_t min, uint64_t max, auto* field) -> bool {
        const std::string* v = get(k);
        if (!v || v->empty()) return true;
        uint64_t n = 0;
        if (!parse_uint(*v, max, &n) || n < min) return false;
        *field = static_cast<std::remove_reference_t<decltype(*field)>>(n);
        return true;
    };

    if (auto v = get("HOST"); v && !v->empty()) c.host = *v;
    if (!uint_var("PORT", 0, 65535, &c.port))
        return fail("PORT", *get("PORT"), "is not a port number (0-65535)");
    if (auto v = get("LOG_LEVEL"); v && !v->empty()) {
        std::string l = ascii_lower(*v);
        if (l == "warn") l = "warning";
        if (l != "debug" && l != "info" && l != "warning" && l != "error")
            return fail("LOG_LEVEL", *v, "is not one of debug, info, warning, error");
        c.log_level = l;
    }
    if (auto v = get("LOG_FORMAT"); v && !v->empty()) {
        if (*v != "text" && *v != "json") return fail("LOG_FORMAT", *v, "is not text or json");
        c.log_format = *v;
    }
    if (auto v = get("LOG_HTML"); v && !parse_bool(*v, &c.log_html))
        return fail("LOG_HTML", *v, "is not a boolean");
    if (auto v = get("DISABLE_MEDIA"); v && !parse_bool(*v, &c.disable_media))
        return fail("DISABLE_MEDIA", *v, "is not a boolean");
    if (!uint_var("SOLVER_TIMEOUT", 1, 3600, &c.solver_timeout_s))
        return fail("SOLVER_TIMEOUT", *get("SOLVER_TIMEOUT"),
                    "is not a number of seconds (1-3600)");
    if (!uint_var("MAX_CONCURRENT", 1, 256, &c.max_concurrent))
        return fail("MAX_CONCURRENT", *get("MAX_CONCURRENT"), "is not a number (1-256)");
    if (!uint_var("MAX_QUEUE", 0, 100000, &c.max_queue))
        return fail("MAX_QUEUE", *get("MAX_QUEUE"), "is not a number (0-100000)");
    if (!uint_var("CACHE_DURATION", 0, 365u * 86400u, &c.cache_duration_s))
        return fail("CACHE_DURATION", *get("CACHE_DURATION"), "is not a number of seconds");
    if (!uint_var("ESCALATE_AFTER", 0, 3600, &c.escalate_after_s))
        return fail("ESCALATE_AFTER", *get("ESCALATE_AFTER"),
                    "is not a number of seconds (0-3600; 0: no escalation)");
    if (!uint_var("SHUTDOWN_GRACE", 0, 600, &c.shutdown_grace_s))
        return fail("SHUTDOWN_GRACE", *get("SHUTDOWN_GRACE"), "is not a number of seconds (0-600)");
    if (!uint_var("MAX_BODY_BYTES", 1024, 64u << 20, &c.max_body_bytes))
        return fail("MAX_BODY_BYTES", *get("MAX_BODY_BYTES"), "is not a size (1024-67108864)");
    // Above 48 MiB an answer would not fit the browser worker's 64 MiB reply frame.
    if (!uint_var("MAX_RESPONSE_BYTES", 1024, 48u << 20, &c.max_response_bytes))
        return fail("MAX_RESPONSE_BYTES", *get("MAX_RESPONSE_BYTES"),
                    "is not a size (1024-50331648)");
    if (auto v = get("BLOCK_PRIVATE_TARGETS"); v && !parse_bool(*v, &c.block_private_targets))
        return fail("BLOCK_PRIVATE_TARGETS", *v, "is not a boolean");
    if (auto v = get("BLOCK_PRIVATE_TARGETS_ALLOW"); v && !v->empty()) {
        std::string why;
        if (!parse_cidr_list(*v, &c.block_private_targets_allow, &why))
            return fail("BLOCK_PRIVATE_TARGETS_ALLOW", *v,
                        ("is not a comma-separated list of CIDR ranges: " + why).c_str());
    }
    if (auto v = get("BROWSER_SANDBOX"); v && !v->empty()) {
        if (*v != "auto" && *v != "on" && *v != "off")
            return fail("BROWSER_SANDBOX", *v, "is not one of auto, on, off");
        c.browser_sandbox = *v;
    }
    // Read by the browser worker from its environment; checked here so a bad value
    // refuses to start like any other.
    if (uint32_t pool_idle = 30; !uint_var("BROWSER_POOL_IDLE_TIMEOUT", 1, 86400, &pool_idle))
        return fail("BROWSER_POOL_IDLE_TIMEOUT", *get("BROWSER_POOL_IDLE_TIMEOUT"),
                    "is not a number of seconds (1-86400)");
    if (auto v = get("PROMETHEUS_ENABLED"); v && !parse_bool(*v, &c.prometheus_enabled))
        return fail("PROMETHEUS_ENABLED", *v, "is not a boolean");
    if (!uint_var("PROMETHEUS_PORT", 1, 65535, &c.prometheus_port))
        return fail("PROMETHEUS_PORT", *get("PROMETHEUS_PORT"), "is not a port number (1-65535)");
    if (auto v = get("PROXY_URL")) c.proxy.url = *v;
    if (auto v = get("PROXY_USERNAME")) c.proxy.username = *v;
    if (auto v = get("PROXY_PASSWORD")) c.proxy.password = *v;
    if (auto v = get("LANG")) c.lang = *v;
    if (auto v = get("API_KEY")) c.api_key = *v;
    if (auto v = get("CACHE_BACKEND"); v && !v->empty()) {
        if (v->rfind("redis://", 0) != 0)
            return fail("CACHE_BACKEND", *v, "is not a redis://host:port[/db] URL");
        c.cache_backend = *v;
    }
    if (auto v = get("BYPARR_STATE_DIR"); v && !v->empty())
        c.state_dir = *v;
    else
        c.state_dir = default_state_dir();
    if (auto v = get("BYPARR_PLUGIN_PATH")) c.plugin_path = *v;
    if (auto v = get("SOLVERS"); v && !v->empty()) {
        std::stringstream ss(*v);
        std::string item;
        while (std::getline(ss, item, ',')) {
            // " webengine" from "webengine, cookie-import" is the same id.
            auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
            if (b != std::string::npos) c.solvers.push_back(item.substr(b, e - b + 1));
        }
    }
    return c;
}

}  // namespace byparr
