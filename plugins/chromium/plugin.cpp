// The `chromium` solver: pages load in Debian's current Chromium, driven over its DevTools
// pipe by byparr-chromium-worker. For sites that reject Qt WebEngine's Chromium 102; the
// rest (supervisor, protocol, solve loop, rules) is shared with `webengine`.
#include <unistd.h>

#include <stdexcept>

#include "plugins/browser/host/browser_solver.h"

namespace {

using byparr::browser::BrowserEngine;
using byparr::browser::BrowserSolver;

// A window under a private Xvfb by default, as a person's browser is. CHROMIUM_DISPLAY=headless
// passes the same fingerprint checks with less memory and no Xvfb, but its WebGL renderer is
// SwiftShader, a known mark of headless Chrome (Xvfb's is Mesa's llvmpipe), and it has not
// been tried on real sites here.
const BrowserEngine kEngine{
    "byparr-chromium-worker", "BYPARR_CHROMIUM_WORKER", "CHROMIUM_DISPLAY", "xvfb", true, true};

std::string chromium_path(const byparr::sdk::Config& c) {
    std::string p = c.get("CHROMIUM_PATH", "");
    return p.empty() ? "/usr/bin/chromium" : p;
}

class ChromiumSolver : public BrowserSolver {
  public:
    explicit ChromiumSolver(const byparr::sdk::Config& config)
        : BrowserSolver(config, checked(config)) {}

  private:
    // Without the browser the solver is unavailable, with the reason the plugin list shows;
    // the rest of Byparr works on.
    static const BrowserEngine& checked(const byparr::sdk::Config& config) {
        const std::string path = chromium_path(config);
        if (::access(path.c_str(), X_OK) != 0)
            throw std::runtime_error("Chromium not found at " + path +
                                     " (install the chromium package or set CHROMIUM_PATH)");
        const std::string display = config.get("CHROMIUM_DISPLAY", "xvfb");
        if (display != "headless" && ::access("/usr/bin/Xvfb", X_OK) != 0)
            throw std::runtime_error(
                "Xvfb not found (install the xvfb package, or set CHROMIUM_DISPLAY=headless)");
        return kEngine;
    }
};

void register_components(byparr::sdk::Registrar& r) {
    r.add_solver<ChromiumSolver>("chromium", "Loads pages in the system's Chromium over DevTools");
}

}  // namespace

BYPARR_PLUGIN(register_components)
