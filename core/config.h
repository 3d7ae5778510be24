// Settings from the environment, parsed once at start-up. Names and defaults are
// FlareSolverr's where a FlareSolverr user already sets them (api-contract.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <byparr/proxy.hpp>

#include "core/target_guard.h"

namespace byparr {

struct Config {
    std::string host = "0.0.0.0";
    uint16_t port = 8191;
    std::string log_level = "info";   // debug, info, warning, error
    std::string log_format = "text";  // text, json
    bool log_html = false;
    uint32_t solver_timeout_s = 60;  // cap on any solve
    uint32_t max_concurrent = 5;
    uint32_t max_queue = 50;
    uint32_t cache_duration_s = 3600;
    // ESCALATE_AFTER: seconds a solver gets on a challenge before the rest of the
    // request's time goes to the next solver of the chain; 0: no escalation.
    uint32_t escalate_after_s = 15;
    std::string cache_backend;  // CACHE_BACKEND: "" or redis://host:port[/db]
    Proxy proxy;                // PROXY_URL, PROXY_USERNAME, PROXY_PASSWORD
    bool disable_media = false;
    std::string lang;                  // LANG, passed to the browser
    std::string state_dir;             // BYPARR_STATE_DIR
    std::string plugin_path;           // BYPARR_PLUGIN_PATH (colon-separated), empty = next to exe
    std::vector<std::string> solvers;  // SOLVERS order, empty = default
    uint32_t shutdown_grace_s = 10;
    size_t max_body_bytes = 1 << 20;
    // MAX_RESPONSE_BYTES: the page HTML returned in solution.response is cut to this
    // (at a UTF-8 boundary) and solution.responseTruncated says so.
    size_t max_response_bytes = 20u << 20;
    // BLOCK_PRIVATE_TARGETS: refuse loopback/LAN/metadata targets (core/target_guard.h);
    // BLOCK_PRIVATE_TARGETS_ALLOW: ranges exempted from it (e.g. a LAN indexer).
    bool block_private_targets = false;
    std::vector<Cidr> block_private_targets_allow;
    // BROWSER_SANDBOX: auto (sandbox when Chromium can start it, else without it
    // and one warning), on (refuse to run without), off. Read by the webengine plugin.
    std::string browser_sandbox = "auto";
    // PROMETHEUS_ENABLED/PROMETHEUS_PORT: FlareSolverr's second listener for
    // /metrics (its dashboards scrape that port). /metrics on PORT is always served.
    bool prometheus_enabled = false;
    uint16_t prometheus_port = 8192;
    std::string api_key;  // API_KEY: when set, /v1 requires it (Bearer header or apiKey field)

    /// The environment as read (API_KEY removed). A plugin's components see only the names
    /// its manifest declares ("settings"), through byparr_config::get (Registry).
    std::map<std::string, std::string> raw;

    /// Reads the environment. On an invalid value returns nullopt and sets *error
    /// (e.g. "PORT='abc' is not a port number").
    static std::optional<Config> from_env(std::string* error);
    /// Same, from a given map (tests).
    static std::optional<Config> from_map(const std::map<std::string, std::string>& env,
                                          std::string* error);
};

/// The default state directory: $XDG_STATE_HOME/byparr, ~/.local/state/byparr,
/// or /var/lib/byparr for root without HOME.
std::string default_state_dir();

/// Directory of the running executable (from /proc/self/exe).
std::string executable_dir();

}  // namespace byparr
