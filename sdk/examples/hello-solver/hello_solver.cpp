// The smallest useful Byparr plugin: a solver that answers every request with a
// fixed page, without a browser. Copy this folder to start your own.
#include <byparr/plugin.hpp>

namespace {

class HelloSolver : public byparr::sdk::Solver {
  public:
    // Settings are read once, here, from the names declared in CMakeLists.txt (SETTINGS).
    // A typed getter that meets a bad value throws, and the server shows why the
    // component is faulted.
    explicit HelloSolver(const byparr::sdk::Config& config)
        : greeting_(config.get("HELLO_GREETING", "Hello from a plugin")),
          status_(static_cast<int>(config.get_int("HELLO_STATUS", 200, 100, 599))) {}

    byparr_outcome solve(const byparr::sdk::Request& request, byparr::sdk::Result& out) override {
        // Only answer what we are asked for by name: in a chain behind the browser
        // solver, "not applicable" lets the next solver take the request.
        if (request.url.find("hello") == std::string::npos) return BYPARR_OUTCOME_NOT_APPLICABLE;
        out.set_url(request.url);
        out.set_status(status_);
        out.set_user_agent("Mozilla/5.0 (X11; Linux x86_64) HelloSolver/1.0");
        out.set_response("<html><body>" + greeting_ + "</body></html>");
        out.add_cookie({"hello", "world", "", "/", "Lax", -1, false, false});
        return BYPARR_OUTCOME_OK;
    }

  private:
    std::string greeting_;
    int status_;
};

void register_components(byparr::sdk::Registrar& r) {
    r.add<HelloSolver>("hello", "Answers URLs containing 'hello' with a fixed page");
}

}  // namespace

BYPARR_PLUGIN(register_components)
