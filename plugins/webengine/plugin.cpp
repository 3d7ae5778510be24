// The `webengine` solver, the default: pages load in Qt WebEngine (Chromium 102) worker
// processes. Everything but the engine is shared with `chromium` (plugins/browser).
#include "plugins/browser/host/browser_solver.h"

namespace {

class WebEngineSolver : public byparr::browser::BrowserSolver {
  public:
    explicit WebEngineSolver(const byparr::sdk::Config& config)
        : BrowserSolver(config, byparr::browser::BrowserEngine{"byparr-webengine-worker"}) {}
};

void register_components(byparr::sdk::Registrar& r) {
    r.add_solver<WebEngineSolver>("webengine",
                                  "Loads pages in Qt WebEngine (Chromium) worker processes");
}

}  // namespace

BYPARR_PLUGIN(register_components)
