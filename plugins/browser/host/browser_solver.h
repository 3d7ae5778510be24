// The host side of a browser solver (webengine, chromium): reads the settings, turns
// requests into protocol messages (../PROTOCOL.md) for the supervisor's worker processes
// and their replies into results. The two plugins differ only in their BrowserEngine.
#pragma once

#include <byparr/plugin.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "plugins/browser/host/supervisor.h"

namespace byparr::browser {

struct BrowserEngine {
    const char* worker_name;  // executable beside the plugin module; its log-line prefix
    const char* worker_setting = "BYPARR_WORKER";  // overrides the worker's path
    // The display setting and its default ("offscreen", "xvfb"; "headless" where allowed).
    const char* display_setting = "BROWSER_DISPLAY";
    const char* default_display = "offscreen";
    bool headless_display = false;
    // The worker gives each request's proxy a browser context of its own (Chromium's
    // Target.createBrowserContext proxyServer), so one worker serves every proxy. Qt
    // WebEngine's proxy is process-wide: a worker per proxy.
    bool proxy_per_context = false;
};

class BrowserSolver : public sdk::Solver {
  public:
    BrowserSolver(const sdk::Config& config, const BrowserEngine& engine);

    byparr_outcome solve(const sdk::Request& r, sdk::Result& out) override;
    byparr_outcome session_create(const std::string& id, const sdk::Proxy& proxy, bool& existed,
                                  sdk::Error& error) override;
    byparr_outcome session_list(std::vector<std::string>& ids, sdk::Error& error) override;
    byparr_outcome session_destroy(const std::string& id, sdk::Error& error) override;
    void shutdown(uint32_t deadline_ms) override;
    void metrics(std::vector<std::string>& lines) override;
    std::string user_agent() override;

  private:
    static Proxy proxy_of(const Proxy& p);
    static byparr_outcome finish(const Outcome& o, sdk::Error& error);

    Supervisor supervisor_;
    uint64_t max_response_bytes_;
};

}  // namespace byparr::browser
