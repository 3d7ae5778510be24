// byparrctl: the admin CLI. Talks to a running byparr over its admin socket
// (<state dir>/admin.sock); `plugins list` also works with the server stopped
// (from manifests and the saved state, running no plugin code), `cookies import`
// only writes into the cookie-import plugin's watched folder, and `solve` uses
// the public API.
//
// Exit status: 0 ok, 1 failure (byparr not running included), 2 usage error.
#include <cstdlib>
#include <iostream>
#include <string>

#include "core/config.h"
#include "tools/ctl.h"

namespace byparr::ctl {
namespace {

constexpr const char* kMainHelp = R"(Usage: byparrctl [OPTIONS] COMMAND [ARGS]

Administers a running byparr through its admin socket (<state dir>/admin.sock).

Commands:
  plugins list               plugins and components (also with the server stopped)
  plugins info ID            one plugin or component in detail
  plugins enable ID          enable a component (saved across restarts)
  plugins disable ID         disable a component (saved across restarts)
  plugins order ID...        set the solver chain order (saved across restarts)
  stats                      requests, solve rate, latency, cache, memory, queue
  cache list                 clearance cache entries
  cache flush [SITE]         drop cached clearances (all, or one site's)
  sessions list              browser sessions
  sessions destroy ID        destroy one session
  cookies import FILE        import browser-exported cookies (cookies.txt or JSON)
  solve URL                  send a request to the public API and show the answer

Options:
  --json             machine-readable (JSON) output
  --socket PATH      admin socket (default <state dir>/admin.sock)
  --state-dir DIR    state directory (default $BYPARR_STATE_DIR, else ~/.local/state/byparr,
                     /var/lib/byparr for root)
  -h, --help         help; also after a command (byparrctl plugins --help)

Exit status: 0 ok, 1 failure (including "byparr is not running"), 2 usage error.
)";

int run(int argc, char** argv) {
    Context c;
    try {
        c.opt = parse_args(argc, argv);
    } catch (const UsageError& e) {
        std::cerr << "byparrctl: " << e.what() << " (see byparrctl --help)\n";
        return kUsage;
    }
    const auto& a = c.opt.args;
    if (a.empty() || (a[0] == "help" && a.size() == 1)) {
        if (c.opt.help || !a.empty()) {
            std::cout << kMainHelp;
            return kOk;
        }
        std::cerr << kMainHelp;
        return kUsage;
    }
    std::string command = a[0];
    if (command == "help") {  // `byparrctl help plugins` = `byparrctl plugins --help`
        c.opt.help = true;
        c.opt.args.erase(c.opt.args.begin());
        command = c.opt.args[0];
    }

    if (!c.opt.state_dir.empty()) {
        c.state_dir = c.opt.state_dir;
    } else if (const char* s = std::getenv("BYPARR_STATE_DIR"); s && *s) {
        c.state_dir = s;
    } else {
        c.state_dir = default_state_dir();
    }
    c.socket = c.opt.socket.empty() ? c.state_dir + "/admin.sock" : c.opt.socket;

    try {
        check_options(c.opt, command);
        if (command == "plugins") return cmd_plugins(c);
        if (command == "stats") return cmd_stats(c);
        if (command == "cache") return cmd_cache(c);
        if (command == "sessions") return cmd_sessions(c);
        if (command == "cookies") return cmd_cookies(c);
        if (command == "solve") return cmd_solve(c);
        throw UsageError("unknown command '" + command + "'");
    } catch (const UsageError& e) {
        std::cerr << "byparrctl: " << e.what() << " (see byparrctl "
                  << (command == "plugins" || command == "stats" || command == "cache" ||
                              command == "sessions" || command == "cookies" || command == "solve"
                          ? command + " "
                          : "")
                  << "--help)\n";
        return kUsage;
    } catch (const Unreachable& e) {
        return fail(e.what());
    } catch (const std::exception& e) {
        return fail(e.what());
    }
}

}  // namespace
}  // namespace byparr::ctl

int main(int argc, char** argv) {
    return byparr::ctl::run(argc, argv);
}
