#include "core/config.h"
#include "core/strings.h"

#include <byparr/settings.hpp>

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <initializer_list>
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

namespace {

// Reads the host's variables from the environment map, one group per step; a step returns
// false with *error set at the first bad value, and an absent or empty variable keeps the
// default.
class EnvReader {
  public:
    EnvReader(const std::map<std::string, std::string>& env, std::string* error)
        : env_(env), error_(error) {}

    const std::string* get(const char* k) const {
        auto it = env_.find(k);
        return it == env_.end() ? nullptr : &it->second;
    }
    bool fail(const char* k, const std::string& v, const std::string& what) {
        if (error_) *error_ = std::string(k) + "='" + v + "' " + what;
        return false;
    }
    // An unsigned number in [min, max].
    template <class T>
    bool uint_var(const char* k, uint64_t min, uint64_t max, T* field, const char* what) {
        const std::string* v = get(k);
        if (!v || v->empty()) return true;
        uint64_t n = 0;
        if (!parse_uint(*v, max, &n) || n < min) return fail(k, *v, what);
        *field = static_cast<T>(n);
        return true;
    }
    bool bool_var(const char* k, bool* field) {
        const std::string* v = get(k);
        return !v || parse_bool(*v, field) || fail(k, *v, "is not a boolean");
    }
    // One of `allowed` (lower-case exact), into *field.
    bool choice_var(const char* k, std::initializer_list<const char*> allowed, std::string* field,
                    const char* what) {
        const std::string* v = get(k);
        if (!v || v->empty()) return true;
        for (const char* a : allowed)
            if (*v == a) {
                *field = *v;
                return true;
            }
        return fail(k, *v, what);
    }

  private:
    const std::map<std::string, std::string>& env_;
    std::string* error_;
};

// Where it listens and how it logs.
bool read_server(EnvReader& r, Config& c) {
    if (auto v = r.get("HOST"); v && !v->empty()) c.host = *v;
    if (!r.uint_var("PORT", 0, 65535, &c.port, "is not a port number (0-65535)")) return false;
    if (auto v = r.get("LOG_LEVEL"); v && !v->empty()) {
        std::string l = ascii_lower(*v);
        if (l == "warn") l = "warning";
        if (l != "debug" && l != "info" && l != "warning" && l != "error")
            return r.fail("LOG_LEVEL", *v, "is not one of debug, info, warning, error");
        c.log_level = l;
    }
    return r.choice_var("LOG_FORMAT", {"text", "json"}, &c.log_format, "is not text or json") &&
           r.bool_var("LOG_HTML", &c.log_html) && r.bool_var("DISABLE_MEDIA", &c.disable_media) &&
           r.bool_var("PROMETHEUS_ENABLED", &c.prometheus_enabled) &&
           r.uint_var("PROMETHEUS_PORT", 1, 65535, &c.prometheus_port,
                      "is not a port number (1-65535)");
}

// Time, concurrency and size limits.
bool read_limits(EnvReader& r, Config& c) {
    return r.uint_var("SOLVER_TIMEOUT", 1, 3600, &c.solver_timeout_s,
                      "is not a number of seconds (1-3600)") &&
           r.uint_var("MAX_CONCURRENT", 1, 256, &c.max_concurrent, "is not a number (1-256)") &&
           r.uint_var("MAX_QUEUE", 0, 100000, &c.max_queue, "is not a number (0-100000)") &&
           r.uint_var("CACHE_DURATION", 0, 365u * 86400u, &c.cache_duration_s,
                      "is not a number of seconds") &&
           r.uint_var("ESCALATE_AFTER", 0, 3600, &c.escalate_after_s,
                      "is not a number of seconds (0-3600; 0: no escalation)") &&
           r.uint_var("SHUTDOWN_GRACE", 0, 600, &c.shutdown_grace_s,
                      "is not a number of seconds (0-600)") &&
           r.uint_var("MAX_BODY_BYTES", 1024, 64u << 20, &c.max_body_bytes,
                      "is not a size (1024-67108864)") &&
           // Above 48 MiB an answer would not fit the browser worker's 64 MiB reply frame.
           r.uint_var("MAX_RESPONSE_BYTES", 1024, 48u << 20, &c.max_response_bytes,
                      "is not a size (1024-50331648)");
}

// What the browser solvers read (the egress guard, the sandbox, the page pool).
bool read_browser(EnvReader& r, Config& c) {
    if (!r.bool_var("BLOCK_PRIVATE_TARGETS", &c.block_private_targets)) return false;
    if (auto v = r.get("BLOCK_PRIVATE_TARGETS_ALLOW"); v && !v->empty()) {
        std::string why;
        if (!parse_cidr_list(*v, &c.block_private_targets_allow, &why))
            return r.fail("BLOCK_PRIVATE_TARGETS_ALLOW", *v,
                          "is not a comma-separated list of CIDR ranges: " + why);
    }
    if (!r.choice_var("BROWSER_SANDBOX", {"auto", "on", "off"}, &c.browser_sandbox,
                      "is not one of auto, on, off"))
        return false;
    // Read by the browser worker from its environment; checked here so a bad value
    // refuses to start like any other.
    uint32_t pool_idle = 30;
    return r.uint_var("BROWSER_POOL_IDLE_TIMEOUT", 1, 86400, &pool_idle,
                      "is not a number of seconds (1-86400)");
}

// The default proxy, language, key, cache backend, directories and the solver chain.
bool read_identity(EnvReader& r, Config& c) {
    if (auto v = r.get("PROXY_URL")) c.proxy.url = *v;
    if (auto v = r.get("PROXY_USERNAME")) c.proxy.username = *v;
    if (auto v = r.get("PROXY_PASSWORD")) c.proxy.password = *v;
    if (auto v = r.get("LANG")) c.lang = *v;
    if (auto v = r.get("API_KEY")) c.api_key = *v;
    if (auto v = r.get("CACHE_BACKEND"); v && !v->empty()) {
        if (v->rfind("redis://", 0) != 0)
            return r.fail("CACHE_BACKEND", *v, "is not a redis://host:port[/db] URL");
        c.cache_backend = *v;
    }
    if (auto v = r.get("BYPARR_STATE_DIR"); v && !v->empty())
        c.state_dir = *v;
    else
        c.state_dir = default_state_dir();
    if (auto v = r.get("BYPARR_PLUGIN_PATH")) c.plugin_path = *v;
    if (auto v = r.get("SOLVERS"); v && !v->empty()) {
        std::stringstream ss(*v);
        std::string item;
        while (std::getline(ss, item, ',')) {
            // " webengine" from "webengine, cookie-import" is the same id.
            auto b = item.find_first_not_of(" \t"), e = item.find_last_not_of(" \t");
            if (b != std::string::npos) c.solvers.push_back(item.substr(b, e - b + 1));
        }
    }
    return true;
}

}  // namespace

std::optional<Config> Config::from_map(const std::map<std::string, std::string>& env,
                                       std::string* error) {
    Config c;
    c.raw = env;
    c.raw.erase("API_KEY");  // plugins have no business reading it
    EnvReader r(env, error);
    if (!read_server(r, c) || !read_limits(r, c) || !read_browser(r, c) || !read_identity(r, c))
        return std::nullopt;
    return c;
}

}  // namespace byparr
