// byparrctl: the admin CLI. Talks to a running byparr over its admin socket
// (<state dir>/admin.sock); `plugins list` also works with the server stopped
// (from manifests and the saved state, running no plugin code), `cookies import`
// only writes into the cookie-import plugin's watched folder, and `solve` uses
// the public API.
//
// Exit status: 0 ok, 1 failure (byparr not running included), 2 usage error.
#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "cookie_parsers.h"
#include "core/config.h"
#include "core/json_writer.h"
#include "core/plugin_loader.h"
#include "core/registry.h"
#include "tools/admin_client.h"
#include "tools/text_table.h"

namespace fs = std::filesystem;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace byparr::ctl {
namespace {

constexpr int kOk = 0;
constexpr int kFail = 1;
constexpr int kUsage = 2;

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

constexpr const char* kPluginsHelp = R"(Usage: byparrctl [--json] plugins list
       byparrctl [--json] plugins info ID
       byparrctl [--json] plugins enable ID
       byparrctl [--json] plugins disable ID
       byparrctl [--json] plugins order ID...

  list      every plugin and component with its state (enabled, disabled, faulted and why),
            solver order, calls and faults. With the server stopped, lists the installed
            plugins from their manifests and the saved state, without loading them.
  info      one plugin (by plugin or component id): manifest, files, components.
  enable    put a component back into service. Saved in <state dir>/plugins.json.
  disable   take a component out of service; requests naming it get an error.
  order     the solver chain order; solvers not named keep their place after these.
)";

constexpr const char* kStatsHelp = R"(Usage: byparrctl [--json] stats

Counts since the server started. --json prints the same figures (JSON names in brackets).

  page requests     request.get/request.post that passed validation [pageRequests]
  answered          page requests answered with a page or cookies: solved + no challenge
                    + cached [answered, solved, notDetected, cached]
  failed            page requests that got an error, by reason: timeout, blocked,
                    captcha, proxy, error, busy (refused, queue full) [failed, failedByReason]
  solve rate        answered / page requests [solveRate, 0..1]. Session commands and
                    invalid requests are not page requests and are counted apart
                    [sessionCommands, invalidRequests]
  p50, p95          response time of page requests, seconds (estimated from the
                    histogram buckets) [p50Seconds, p95Seconds]
  cache hit rate    page requests that found a fresh clearance / those that looked
                    [cacheHitRate, cacheHits, cacheMisses]
  memory            proportional set size (PSS) of the whole process tree: the server,
                    browser workers and every Chromium process [memoryBytes]; the
                    server alone, resident [hostResidentBytes]
  workers           browser worker processes running [solver.browser_workers]
  in flight, queued solves running now, and waiting for a slot [inFlight, queued]
  solver outcomes   per solver, how its calls ended: solved, not_detected (no challenge),
                    timeout, blocked, captcha, proxy, invalid, error, not_applicable; a
                    request that escalated counts once for each solver it reached
                    [solverOutcomes: {solver: {outcome: count}}]
  escalations       requests handed from one solver to the next, by source and target:
                    the first could not get past a challenge within ESCALATE_AFTER (or
                    failed on its own account) [escalations: [{from, to, count}]]
  solver metrics    what each solver plugin reports [solver]
)";

constexpr const char* kCacheHelp = R"(Usage: byparrctl [--json] cache list
       byparrctl [--json] cache flush [SITE]

  list      cached clearances (site, user agent, proxy, expiry), and the solver
            tried first for a site after it passed there (escalation memory).
  flush     drop every cached clearance and remembered solver, or only SITE's
            (a host name).
)";

constexpr const char* kSessionsHelp = R"(Usage: byparrctl [--json] sessions list
       byparrctl [--json] sessions destroy ID

  list      the ids of the live browser sessions.
  destroy   close one session and free its browser context.
)";

constexpr const char* kCookiesHelp =
    R"(Usage: byparrctl [--json] cookies import FILE [--user-agent UA]

Imports cookies exported from a browser into the cookie-import plugin's folder
(<state dir>/cookies/), where a running server picks them up on its next request; files
there persist across restarts. Importing a file with the same name again replaces it.

FILE is a Netscape cookies.txt (tab-separated, "#HttpOnly_" lines included) or the JSON
array a browser extension exports (name, value, domain, path, expirationDate, httpOnly,
secure, sameSite, hostOnly, session), optionally wrapped as {"userAgent": "...",
"cookies": [...]}. The file is checked first; a malformed one is refused with its line.

  --user-agent UA   the User-Agent of the browser the cookies came from (clearance cookies
                    only work with it). Also read from a "# User-Agent: ..." line of a
                    cookies.txt or the JSON wrapper's "userAgent".
)";

constexpr const char* kSolveHelp =
    R"(Usage: byparrctl [--json] solve URL [--post DATA] [--proxy URL] [--timeout S]
                                 [--solver ID] [--cookies-only] [--url API]

Sends request.get (request.post with --post) for URL to the public API and prints the
outcome, message, HTTP status, cookies and the time it took.

  --post DATA       form-encoded body: sends request.post
  --proxy URL       proxy for this request (http://, socks4://, socks5://)
  --timeout S       maxTimeout in seconds (default 60)
  --solver ID       ask for one solver by id
  --cookies-only    returnOnlyCookies: no page body
  --url API         the server's public URL (default $BYPARR_URL, else http://127.0.0.1:8191)
)";

// ---- Command line -------------------------------------------------------------------------

struct Options {
    bool json = false;
    bool help = false;
    std::string socket, state_dir, url;
    std::string user_agent, post, proxy, solver;
    bool has_user_agent = false, has_post = false, has_proxy = false, has_solver = false;
    bool cookies_only = false;
    int timeout_s = 60;
    bool has_timeout = false;
    std::vector<std::string> args;
};

class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

Options parse_args(int argc, char** argv) {
    Options o;
    bool options_done = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (options_done || a.size() < 2 || a[0] != '-') {
            o.args.push_back(a);
            continue;
        }
        if (a == "--") {
            options_done = true;
            continue;
        }
        std::string name = a, inline_value;
        bool has_inline = false;
        if (auto eq = a.find('='); a.rfind("--", 0) == 0 && eq != std::string::npos) {
            name = a.substr(0, eq);
            inline_value = a.substr(eq + 1);
            has_inline = true;
        }
        auto value = [&]() -> std::string {
            if (has_inline) return inline_value;
            if (i + 1 >= argc) throw UsageError("option " + name + " needs a value");
            return argv[++i];
        };
        auto flag = [&](bool& field) {
            if (has_inline) throw UsageError("option " + name + " takes no value");
            field = true;
        };
        if (name == "--json")
            flag(o.json);
        else if (name == "-h" || name == "--help")
            flag(o.help);
        else if (name == "--cookies-only")
            flag(o.cookies_only);
        else if (name == "--socket")
            o.socket = value();
        else if (name == "--state-dir")
            o.state_dir = value();
        else if (name == "--url")
            o.url = value();
        else if (name == "--user-agent")
            o.user_agent = value(), o.has_user_agent = true;
        else if (name == "--post")
            o.post = value(), o.has_post = true;
        else if (name == "--proxy")
            o.proxy = value(), o.has_proxy = true;
        else if (name == "--solver")
            o.solver = value(), o.has_solver = true;
        else if (name == "--timeout") {
            std::string v = value();
            char* end = nullptr;
            long t = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || t < 1 || t > 3600)
                throw UsageError("--timeout wants seconds (1-3600), not '" + v + "'");
            o.timeout_s = static_cast<int>(t);
            o.has_timeout = true;
        } else {
            throw UsageError("unknown option '" + a + "'");
        }
    }
    return o;
}

// Options that only make sense for one command are refused elsewhere, so a typo'd
// command line fails loudly instead of silently ignoring a setting.
void check_options(const Options& o, const std::string& command) {
    auto only = [&](bool present, const char* option, const char* where) {
        if (present && command != where)
            throw UsageError(std::string(option) + " only applies to '" + where + "'");
    };
    only(o.has_user_agent, "--user-agent", "cookies");
    only(o.has_post, "--post", "solve");
    only(o.has_proxy, "--proxy", "solve");
    only(o.has_solver, "--solver", "solve");
    only(o.has_timeout, "--timeout", "solve");
    only(o.cookies_only, "--cookies-only", "solve");
    only(!o.url.empty(), "--url", "solve");
}

// ---- Shared helpers -----------------------------------------------------------------------

struct Context {
    Options opt;
    std::string state_dir, socket;
};

Object::Ptr parse_object(const std::string& body) {
    Poco::JSON::Parser p;
    auto v = p.parse(body);
    auto obj = v.extract<Object::Ptr>();
    if (!obj) throw std::runtime_error("the server answered with something other than an object");
    return obj;
}

std::string str(const Object::Ptr& o, const std::string& key, const std::string& fallback = "") {
    if (!o || !o->has(key) || o->get(key).isEmpty()) return fallback;
    return o->get(key).convert<std::string>();
}

double num(const Object::Ptr& o, const std::string& key, double fallback = 0) {
    if (!o || !o->has(key) || o->get(key).isEmpty()) return fallback;
    try {
        return o->get(key).convert<double>();
    } catch (const Poco::Exception&) {
        return fallback;
    }
}

bool boolean(const Object::Ptr& o, const std::string& key) {
    if (!o || !o->has(key) || o->get(key).isEmpty()) return false;
    try {
        return o->get(key).convert<bool>();
    } catch (const Poco::Exception&) {
        return false;
    }
}

std::string fixed(double v, int digits) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.*f", digits, v);
    return buf;
}

std::string integer(double v) {
    return std::to_string(static_cast<long long>(std::llround(v)));
}

std::string bytes(double b) {
    if (b <= 0) return "-";
    const char* units[] = {"B", "KiB", "MiB", "GiB"};
    int u = 0;
    while (b >= 1024 && u < 3) {
        b /= 1024;
        ++u;
    }
    return fixed(b, u == 0 ? 0 : 1) + " " + units[u];
}

// The server's error message, or the raw body when it is not our JSON.
std::string error_message(const Reply& r) {
    try {
        auto o = parse_object(r.body);
        std::string m = str(o, "message");
        if (!m.empty()) return m;
    } catch (const std::exception&) {
    }
    return "HTTP " + std::to_string(r.status) + ": " + r.body;
}

int fail(const std::string& message) {
    std::cerr << "byparrctl: " << message << "\n";
    return kFail;
}

Reply admin(const Context& c, const std::string& method, const std::string& path,
            const std::string& body = "") {
    return admin_request(c.socket, method, path, body);
}

// Prints a simple {"status","message"} answer; non-2xx is a failure.
int print_result(const Context& c, const Reply& r, const std::string& fallback) {
    if (r.status >= 300) return fail(error_message(r));
    if (c.opt.json) {
        std::cout << r.body << "\n";
    } else {
        std::string m;
        try {
            m = str(parse_object(r.body), "message");
        } catch (const std::exception&) {
        }
        std::cout << (m.empty() ? fallback : m) << "\n";
    }
    return kOk;
}

// ---- plugins --------------------------------------------------------------------------------

void print_components(const Array::Ptr& comps) {
    TextTable t(
        {"COMPONENT", "PLUGIN", "KIND", "STATE", "ORDER", "CALLS", "FAULTS", "DESCRIPTION"});
    std::vector<std::string> reasons;
    for (size_t i = 0; comps && i < comps->size(); ++i) {
        auto o = comps->getObject(static_cast<unsigned>(i));
        std::string order = o->has("order") ? integer(num(o, "order") + 1) : "-";
        t.add({str(o, "id"), str(o, "plugin"), str(o, "kind"), str(o, "state"), order,
               integer(num(o, "calls")), integer(num(o, "faults")),
               ellipsize(str(o, "description"), 60)});
        if (!str(o, "reason").empty()) reasons.push_back(str(o, "id") + ": " + str(o, "reason"));
    }
    if (t.empty()) {
        std::cout << "no components loaded\n";
    } else {
        t.print(std::cout);
    }
    for (const auto& r : reasons)
        std::cout << "  " << r << "\n";
}

int plugins_list_online(const Context& c, const Reply& r) {
    if (r.status != 200) return fail(error_message(r));
    if (c.opt.json) {
        // Same shape as the offline listing's, which says running:false.
        std::string body = r.body;
        if (body.size() > 1 && body.front() == '{') body.insert(1, "\"running\":true,");
        std::cout << body << "\n";
        return kOk;
    }
    auto o = parse_object(r.body);
    print_components(o->getArray("components"));
    auto plugins = o->getArray("plugins");
    TextTable refused({"PLUGIN", "VERSION", "STATUS", "REASON"});
    for (size_t i = 0; plugins && i < plugins->size(); ++i) {
        auto p = plugins->getObject(static_cast<unsigned>(i));
        if (str(p, "status") != "loaded")
            refused.add({str(p, "id"), str(p, "version"), str(p, "status"), str(p, "reason")});
    }
    if (!refused.empty()) {
        std::cout << "\nrefused plugins:\n";
        refused.print(std::cout);
    }
    return kOk;
}

// With the server stopped: manifests plus plugins.json, estimating each plugin's
// state by the registry's default rules. No plugin code runs.
int plugins_list_offline(const Context& c, const std::string& why) {
    std::string err;
    auto cfg = Config::from_env(&err);
    if (!cfg) return fail("invalid configuration: " + err);
    auto plugins = discover_plugins(plugin_search_path(cfg->plugin_path));

    std::map<std::string, bool> explicit_state;
    std::vector<std::string> order =
        cfg->solvers.empty() ? byparr::default_solvers() : cfg->solvers;
    std::string state_file = c.state_dir + "/plugins.json";
    std::string state_note;
    if (std::ifstream in(state_file); in) {
        std::stringstream buf;
        buf << in.rdbuf();
        try {
            auto o = parse_object(buf.str());
            for (const char* key : {"enabled", "disabled"}) {
                auto arr = o->getArray(key);
                for (size_t i = 0; arr && i < arr->size(); ++i)
                    explicit_state[arr->getElement<std::string>(static_cast<unsigned>(i))] =
                        std::string(key) == "enabled";
            }
            if (auto arr = o->getArray("order"); arr && cfg->solvers.empty()) {
                order.clear();
                for (size_t i = 0; i < arr->size(); ++i)
                    order.push_back(arr->getElement<std::string>(static_cast<unsigned>(i)));
            }
        } catch (const std::exception& e) {
            state_note = "unreadable " + state_file + ": " + e.what();
        }
    }
    auto state_of = [&](const PluginRecord& p) -> std::string {
        if (!p.loaded()) return "refused";
        auto it = explicit_state.find(p.manifest.id);
        if (it != explicit_state.end()) return it->second ? "enabled" : "disabled";
        const auto& caps = p.manifest.capabilities;
        bool solver = std::find(caps.begin(), caps.end(), "solver") != caps.end();
        if (!solver) return "enabled";
        return std::find(order.begin(), order.end(), p.manifest.id) != order.end() ? "enabled"
                                                                                   : "disabled";
    };
    auto join = [](const std::vector<std::string>& v, const char* sep) {
        std::string s;
        for (const auto& x : v)
            s += (s.empty() ? "" : sep) + x;
        return s;
    };

    if (c.opt.json) {
        JsonWriter w;
        w.begin_object().field("running", false).field("socket", c.socket);
        w.field("stateFile", state_file).key("plugins").begin_array();
        for (const auto& p : plugins) {
            w.begin_object().field("id", p.manifest.id).field("name", p.manifest.name);
            w.field("version", p.manifest.version).field("dir", p.dir);
            w.field("status", p.loaded() ? "installed" : to_string(p.refusal));
            if (!p.loaded()) w.field("reason", p.detail);
            w.key("capabilities").begin_array();
            for (const auto& cap : p.manifest.capabilities)
                w.value(cap);
            w.end_array().field("description", p.manifest.description);
            w.field("state", state_of(p)).end_object();
        }
        w.end_array().key("order").begin_array();
        for (const auto& id : order)
            w.value(id);
        w.end_array().end_object();
        std::cout << w.str() << "\n";
        return kOk;
    }
    std::cout << why << "; showing installed plugins from their manifests.\n\n";
    TextTable t({"PLUGIN", "VERSION", "CAPABILITIES", "STATE", "DESCRIPTION"});
    std::vector<std::string> problems;
    for (const auto& p : plugins) {
        t.add({p.manifest.id, p.manifest.version, join(p.manifest.capabilities, ","), state_of(p),
               ellipsize(p.manifest.description, 60)});
        if (!p.loaded())
            problems.push_back(p.manifest_path + ": " + to_string(p.refusal) + ": " + p.detail);
    }
    if (t.empty()) {
        std::cout << "no plugins found on " << join(plugin_search_path(cfg->plugin_path), ":")
                  << "\n";
    } else {
        t.print(std::cout);
    }
    for (const auto& p : problems)
        std::cout << "  " << p << "\n";
    std::cout << "\nsolver order: " << join(order, ", ") << "\n";
    std::cout << "states are from " << state_file
              << " and the defaults; the server decides per component when it starts.\n";
    if (!state_note.empty()) std::cout << state_note << "\n";
    return kOk;
}

int plugins_info(const Context& c, const std::string& id) {
    auto r = admin(c, "GET", "/plugins/" + encode_segment(id));
    if (r.status != 200) return fail(error_message(r));
    if (c.opt.json) {
        std::cout << r.body << "\n";
        return kOk;
    }
    auto o = parse_object(r.body);
    auto p = o->getObject("plugin");
    std::string caps;
    if (auto arr = p->getArray("capabilities"))
        for (size_t i = 0; i < arr->size(); ++i)
            caps +=
                (caps.empty() ? "" : ", ") + arr->getElement<std::string>(static_cast<unsigned>(i));
    auto abi = p->getObject("abi");
    TextTable t({"FIELD", "VALUE"});
    t.add({"plugin", str(p, "id")});
    t.add({"name", str(p, "name")});
    t.add({"version", str(p, "version")});
    t.add({"status", str(p, "status") + (str(p, "reason").empty() ? "" : ": " + str(p, "reason"))});
    t.add({"abi", integer(num(abi, "major")) + "." + integer(num(abi, "minor"))});
    t.add({"capabilities", caps});
    // What the plugin reads from the server's environment (byparr_add_plugin SETTINGS), and
    // whether the server has it; values are never shown (they may be secrets).
    std::string settings;
    if (auto arr = p->getArray("settings"))
        for (size_t i = 0; i < arr->size(); ++i) {
            auto s = arr->getObject(static_cast<unsigned>(i));
            if (!s) continue;
            settings += (settings.empty() ? "" : ", ") + str(s, "name") +
                        (s->has("set") ? (s->getValue<bool>("set") ? " (set)" : " (unset)") : "");
        }
    t.add({"settings", settings.empty() ? "(none)" : settings});
    t.add({"description", str(p, "description")});
    t.add({"directory", str(p, "dir")});
    t.add({"library", str(p, "library")});
    t.add({"manifest", str(p, "manifest")});
    // The field/value table reads better without its header row.
    std::ostringstream buf;
    t.print(buf);
    std::string text = buf.str();
    std::cout << text.substr(text.find('\n') + 1) << "\n";
    print_components(o->getArray("components"));
    return kOk;
}

int cmd_plugins(Context& c) {
    const auto& a = c.opt.args;
    if (c.opt.help) {
        std::cout << kPluginsHelp;
        return kOk;
    }
    if (a.size() < 2)
        throw UsageError("plugins needs a subcommand: list, info, enable, disable, order");
    const std::string& sub = a[1];
    if (sub == "list") {
        if (a.size() != 2) throw UsageError("plugins list takes no arguments");
        Reply r;
        try {
            r = admin(c, "GET", "/plugins");
        } catch (const Unreachable& e) {
            return plugins_list_offline(c, e.what());
        }
        return plugins_list_online(c, r);
    }
    if (sub == "info") {
        if (a.size() != 3) throw UsageError("plugins info takes one ID");
        return plugins_info(c, a[2]);
    }
    if (sub == "enable" || sub == "disable") {
        if (a.size() != 3) throw UsageError("plugins " + sub + " takes one ID");
        auto r = admin(c, "POST", "/plugins/" + encode_segment(a[2]) + "/" + sub);
        return print_result(c, r, a[2] + " " + sub + "d");
    }
    if (sub == "order") {
        if (a.size() < 3) throw UsageError("plugins order takes one or more solver IDs");
        JsonWriter w;
        w.begin_array();
        for (size_t i = 2; i < a.size(); ++i)
            w.value(a[i]);
        w.end_array();
        auto r = admin(c, "POST", "/plugins/order", w.str());
        if (r.status >= 300) return fail(error_message(r));
        if (c.opt.json) {
            std::cout << r.body << "\n";
            return kOk;
        }
        std::string ids;
        for (size_t i = 2; i < a.size(); ++i)
            ids += (i > 2 ? ", " : "") + a[i];
        std::cout << "solver order saved: " << ids << " (then the others)\n";
        return kOk;
    }
    throw UsageError("unknown plugins subcommand '" + sub + "'");
}

// ---- stats ----------------------------------------------------------------------------------

// Per-solver outcomes (one row per solver, one column per outcome seen) and the
// escalations between solvers, from /stats.
void print_solver_outcomes(const Object::Ptr& o) {
    auto outcomes = o->getObject("solverOutcomes");
    if (outcomes && outcomes->size() > 0) {
        std::vector<std::string> columns;
        for (const char* k : {"solved", "not_detected", "timeout", "blocked", "captcha", "proxy",
                              "invalid", "error", "not_applicable"})
            for (const auto& [solver, v] : *outcomes)
                if (auto by = outcomes->getObject(solver); by && by->has(k)) {
                    columns.push_back(k);
                    break;
                }
        std::vector<std::string> headers{"SOLVER"};
        for (const auto& k : columns) {
            std::string h;
            for (char ch : k)
                h += ch == '_' ? ' '
                               : static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            headers.push_back(h);
        }
        TextTable t(headers);
        for (const auto& [solver, v] : *outcomes) {
            auto by = outcomes->getObject(solver);
            std::vector<std::string> row{solver};
            for (const auto& k : columns)
                row.push_back(integer(num(by, k.c_str())));
            t.add(row);
        }
        std::cout << "\nsolver outcomes:\n";
        t.print(std::cout, "  ");
    }
    auto esc = o->getArray("escalations");
    if (!esc || esc->size() == 0) return;
    TextTable t({"FROM", "TO", "COUNT"});
    for (size_t i = 0; i < esc->size(); ++i)
        if (auto e = esc->getObject(static_cast<unsigned>(i)))
            t.add({e->optValue<std::string>("from", ""), e->optValue<std::string>("to", ""),
                   integer(num(e, "count"))});
    std::cout << "\nescalations:\n";
    t.print(std::cout, "  ");
}

int cmd_stats(Context& c) {
    if (c.opt.help) {
        std::cout << kStatsHelp;
        return kOk;
    }
    if (c.opt.args.size() != 1) throw UsageError("stats takes no arguments");
    auto r = admin(c, "GET", "/stats");
    if (r.status != 200) return fail(error_message(r));
    if (c.opt.json) {
        std::cout << r.body << "\n";
        return kOk;
    }
    auto o = parse_object(r.body);
    double requests = num(o, "pageRequests");
    auto solver = o->getObject("solver");
    std::string workers = "-";
    std::vector<std::pair<std::string, std::string>> extra;
    if (solver) {
        for (const auto& [k, v] : *solver) {
            std::string value = v.isEmpty() ? "" : v.convert<std::string>();
            if (k.find("workers") != std::string::npos && workers == "-") workers = value;
            extra.emplace_back(k, value);
        }
    }
    TextTable t({"", ""});
    t.add({"page requests", integer(requests)});
    t.add({"answered", integer(num(o, "answered"))});
    t.add({"  solved (challenge)", integer(num(o, "solved"))});
    t.add({"  no challenge", integer(num(o, "notDetected"))});
    t.add({"  cached", integer(num(o, "cached"))});
    t.add({"failed", integer(num(o, "failed"))});
    if (auto by = o->getObject("failedByReason"))
        for (const char* k : {"timeout", "blocked", "captcha", "proxy", "error", "busy"})
            t.add({std::string("  ") + k, integer(num(by, k))});
    t.add({"solve rate", requests > 0 ? fixed(100.0 * num(o, "solveRate"), 1) + " %" : "-"});
    t.add({"session commands", integer(num(o, "sessionCommands"))});
    t.add({"invalid requests", integer(num(o, "invalidRequests"))});
    t.add({"p50", requests > 0 ? fixed(num(o, "p50Seconds"), 3) + " s" : "-"});
    t.add({"p95", requests > 0 ? fixed(num(o, "p95Seconds"), 3) + " s" : "-"});
    double looked = num(o, "cacheHits") + num(o, "cacheMisses");
    t.add({"cache hit rate", looked > 0
                                 ? fixed(100.0 * num(o, "cacheHitRate"), 1) + " % (" +
                                       integer(num(o, "cacheHits")) + " of " + integer(looked) + ")"
                                 : "-"});
    t.add({"memory (tree PSS)", bytes(num(o, "memoryBytes"))});
    t.add({"server RSS", bytes(num(o, "hostResidentBytes"))});
    t.add({"workers", workers});
    t.add({"in flight", integer(num(o, "inFlight"))});
    t.add({"queued", integer(num(o, "queued"))});
    std::ostringstream buf;
    t.print(buf);
    std::string text = buf.str();
    std::cout << text.substr(text.find('\n') + 1);
    print_solver_outcomes(o);
    if (!extra.empty()) {
        std::cout << "\nsolver metrics:\n";
        TextTable m({"", ""});
        for (const auto& [k, v] : extra)
            m.add({k, v});
        std::ostringstream mb;
        m.print(mb, "  ");
        std::string mt = mb.str();
        std::cout << mt.substr(mt.find('\n') + 1);
    }
    return kOk;
}

// ---- cache ----------------------------------------------------------------------------------

// The cache's answer format belongs to the cache: show whatever objects it lists.
void print_object_rows(const Array::Ptr& rows) {
    // Poco's objects iterate alphabetically: put the columns people look for first.
    std::vector<std::string> keys;
    for (const char* k : {"site", "proxy", "userAgent", "solver", "cookies", "expiresInSeconds"})
        for (size_t i = 0; i < rows->size(); ++i)
            if (auto o = rows->getObject(static_cast<unsigned>(i)); o && o->has(k)) {
                keys.push_back(k);
                break;
            }
    for (size_t i = 0; i < rows->size(); ++i) {
        auto o = rows->getObject(static_cast<unsigned>(i));
        if (!o) continue;
        for (const auto& [k, v] : *o)
            if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(k);
    }
    std::vector<std::string> headers;
    for (const auto& k : keys) {
        std::string h;
        for (char ch : k) {
            if (std::isupper(static_cast<unsigned char>(ch))) h += ' ';
            h += static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
        }
        headers.push_back(h);
    }
    TextTable t(headers);
    for (size_t i = 0; i < rows->size(); ++i) {
        auto o = rows->getObject(static_cast<unsigned>(i));
        std::vector<std::string> row;
        for (const auto& k : keys) {
            std::string cell;
            if (o && o->has(k)) {
                const auto& v = o->get(k);
                if (v.type() == typeid(Array::Ptr)) {
                    cell = std::to_string(v.extract<Array::Ptr>()->size());
                } else if (!v.isEmpty() && v.type() != typeid(Object::Ptr)) {
                    cell = v.convert<std::string>();
                }
            }
            row.push_back(cell.empty() ? "-" : ellipsize(cell, 48));
        }
        t.add(std::move(row));
    }
    t.print(std::cout);
}

int cmd_cache(Context& c) {
    const auto& a = c.opt.args;
    if (c.opt.help) {
        std::cout << kCacheHelp;
        return kOk;
    }
    if (a.size() < 2) throw UsageError("cache needs a subcommand: list, flush");
    const char* no_cache = "cache not available in this server";
    if (a[1] == "list") {
        if (a.size() != 2) throw UsageError("cache list takes no arguments");
        auto r = admin(c, "GET", "/cache");
        if (r.status == 404) return fail(no_cache);
        if (r.status != 200) return fail(error_message(r));
        if (c.opt.json) {
            std::cout << r.body << "\n";
            return kOk;
        }
        Poco::JSON::Parser p;
        auto v = p.parse(r.body);
        Array::Ptr rows, solvers;
        if (v.type() == typeid(Array::Ptr)) {
            rows = v.extract<Array::Ptr>();
        } else if (auto o = v.extract<Object::Ptr>()) {
            for (const char* key : {"entries", "cache", "items", "clearances"})
                if (o->has(key) && o->get(key).type() == typeid(Array::Ptr)) {
                    rows = o->getArray(key);
                    break;
                }
            solvers = o->getArray("siteSolvers");
        }
        bool no_rows = !rows || rows->size() == 0, no_solvers = !solvers || solvers->size() == 0;
        if (no_rows && no_solvers) {
            std::cout << "cache is empty\n";
            return kOk;
        }
        if (!no_rows) print_object_rows(rows);
        if (!no_solvers) {
            // The per-site engine memory: who goes first for a site next time.
            std::cout << (no_rows ? "" : "\n") << "solver tried first, by site:\n";
            print_object_rows(solvers);
        }
        return kOk;
    }
    if (a[1] == "flush") {
        if (a.size() > 3) throw UsageError("cache flush takes at most one SITE");
        JsonWriter w;
        w.begin_object();
        if (a.size() == 3) w.field("site", a[2]);
        w.end_object();
        auto r = admin(c, "POST", "/cache/flush", w.str());
        if (r.status == 404) {
            // A 404 naming the route means no cache; any other 404 is the cache's answer.
            if (error_message(r).rfind("no admin route", 0) == 0) return fail(no_cache);
            return fail(error_message(r));
        }
        return print_result(c, r, a.size() == 3 ? "cache flushed for " + a[2] : "cache flushed");
    }
    throw UsageError("unknown cache subcommand '" + a[1] + "'");
}

// ---- sessions -------------------------------------------------------------------------------

int cmd_sessions(Context& c) {
    const auto& a = c.opt.args;
    if (c.opt.help) {
        std::cout << kSessionsHelp;
        return kOk;
    }
    if (a.size() < 2) throw UsageError("sessions needs a subcommand: list, destroy");
    if (a[1] == "list") {
        if (a.size() != 2) throw UsageError("sessions list takes no arguments");
        auto r = admin(c, "GET", "/sessions");
        if (r.status != 200) return fail(error_message(r));
        if (c.opt.json) {
            std::cout << r.body << "\n";
            return kOk;
        }
        auto arr = parse_object(r.body)->getArray("sessions");
        if (!arr || arr->size() == 0) {
            std::cout << "no sessions\n";
            return kOk;
        }
        TextTable t({"SESSION"});
        for (size_t i = 0; i < arr->size(); ++i)
            t.add({arr->getElement<std::string>(static_cast<unsigned>(i))});
        t.print(std::cout);
        return kOk;
    }
    if (a[1] == "destroy") {
        if (a.size() != 3) throw UsageError("sessions destroy takes one ID");
        auto r = admin(c, "DELETE", "/sessions/" + encode_segment(a[2]));
        return print_result(c, r, "session " + a[2] + " destroyed");
    }
    throw UsageError("unknown sessions subcommand '" + a[1] + "'");
}

// ---- cookies --------------------------------------------------------------------------------

// Temp file + fsync + rename: the plugin never sees a half-written file. The
// temp name is hidden, which the plugin skips.
std::string write_atomic(const fs::path& path, const std::string& content) {
    fs::path tmp =
        path.parent_path() / ("." + path.filename().string() + ".tmp" + std::to_string(getpid()));
    int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return "cannot write " + tmp.string() + ": " + std::strerror(errno);
    size_t off = 0;
    while (off < content.size()) {
        ssize_t n = ::write(fd, content.data() + off, content.size() - off);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            std::string e = std::strerror(errno);
            ::close(fd);
            ::unlink(tmp.c_str());
            return "cannot write " + tmp.string() + ": " + e;
        }
        off += static_cast<size_t>(n);
    }
    if (::fsync(fd) != 0 || ::close(fd) != 0 || ::rename(tmp.c_str(), path.c_str()) != 0) {
        std::string e = std::strerror(errno);
        ::unlink(tmp.c_str());
        return "cannot replace " + path.string() + ": " + e;
    }
    return "";
}

int cmd_cookies(Context& c) {
    const auto& a = c.opt.args;
    if (c.opt.help) {
        std::cout << kCookiesHelp;
        return kOk;
    }
    if (a.size() < 2 || a[1] != "import")
        throw UsageError(a.size() < 2 ? "cookies needs a subcommand: import"
                                      : "unknown cookies subcommand '" + a[1] + "'");
    if (a.size() != 3) throw UsageError("cookies import takes one FILE");
    const fs::path src = a[2];
    std::ifstream in(src, std::ios::binary);
    if (!in) return fail("cannot read " + src.string() + ": " + std::strerror(errno));
    std::stringstream buf;
    buf << in.rdbuf();
    const std::string text = buf.str();

    auto parsed = cookie_import::parse_cookie_file(text);
    if (!parsed.ok())
        return fail(src.string() + ": " + parsed.error_text() + " (nothing imported)");
    if (parsed.cookies.empty()) return fail(src.string() + ": no cookies in the file");
    if (c.opt.has_user_agent && c.opt.user_agent.find('\n') != std::string::npos)
        throw UsageError("--user-agent must be one line");

    int64_t now = static_cast<int64_t>(std::time(nullptr));
    size_t expired = 0;
    std::set<std::string> domains;
    for (const auto& k : parsed.cookies) {
        if (k.expired(now))
            ++expired;
        else
            domains.insert(k.reported_domain());
    }
    std::string ua = c.opt.has_user_agent ? c.opt.user_agent : parsed.user_agent;

    fs::path dir = fs::path(c.state_dir) / "cookies";
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec) return fail("cannot create " + dir.string() + ": " + ec.message());
    std::string name = src.filename().string();
    // Names the plugin skips (hidden, sidecars, temp files) get a prefix.
    if (name.empty() || name.front() == '.' || name.find(".tmp") != std::string::npos ||
        (name.size() > 3 && name.substr(name.size() - 3) == ".ua") || name.back() == '~')
        name = "imported-" + (name.front() == '.' ? name.substr(1) : name) + ".txt";
    fs::path dst = dir / name;
    fs::path sidecar = dst.string() + ".ua";

    // The sidecar first: when the plugin sees the new cookie file, its UA is there.
    if (c.opt.has_user_agent) {
        if (auto err = write_atomic(sidecar, c.opt.user_agent + "\n"); !err.empty())
            return fail(err);
    } else {
        fs::remove(sidecar, ec);  // a UA from an earlier import of this name is stale
    }
    if (auto err = write_atomic(dst, text); !err.empty()) return fail(err);

    size_t usable = parsed.cookies.size() - expired;
    if (c.opt.json) {
        JsonWriter w;
        w.begin_object().field("file", dst.string());
        w.field("cookies", static_cast<int64_t>(parsed.cookies.size()));
        w.field("expired", static_cast<int64_t>(expired));
        w.key("domains").begin_array();
        for (const auto& d : domains)
            w.value(d);
        w.end_array().field("userAgent", ua).end_object();
        std::cout << w.str() << "\n";
        return kOk;
    }
    std::string list;
    for (const auto& d : domains)
        list += (list.empty() ? "" : ", ") + d;
    std::cout << "imported " << usable << " cookie(s)" << (list.empty() ? "" : " for " + list)
              << " into " << dst.string() << "\n";
    if (expired > 0) std::cout << expired << " cookie(s) already expired are ignored\n";
    std::cout << "user agent: " << (ua.empty() ? "(none)" : ua) << "\n";
    if (ua.empty())
        std::cerr << "byparrctl: warning: no user agent given; clearance cookies usually only work "
                     "with the browser's own (use --user-agent)\n";
    return kOk;
}

// ---- solve ----------------------------------------------------------------------------------

std::string format_expiry(const Object::Ptr& k) {
    if (boolean(k, "session") || num(k, "expires", -1) <= 0) return "session";
    std::time_t t = static_cast<std::time_t>(num(k, "expires"));
    char buf[32];
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

int cmd_solve(Context& c) {
    const auto& a = c.opt.args;
    if (c.opt.help) {
        std::cout << kSolveHelp;
        return kOk;
    }
    if (a.size() != 2) throw UsageError("solve takes one URL");
    std::string base = c.opt.url;
    if (base.empty()) {
        const char* env = std::getenv("BYPARR_URL");
        base = env && *env ? env : "http://127.0.0.1:8191";
    }
    JsonWriter w;
    w.begin_object().field("cmd", c.opt.has_post ? "request.post" : "request.get");
    w.field("url", a[1]).field("maxTimeout", static_cast<int64_t>(c.opt.timeout_s) * 1000);
    if (c.opt.has_post) w.field("postData", c.opt.post);
    if (c.opt.has_proxy) w.key("proxy").begin_object().field("url", c.opt.proxy).end_object();
    if (c.opt.has_solver) w.field("solver", c.opt.solver);
    if (c.opt.cookies_only) w.field("returnOnlyCookies", true);
    w.end_object();

    auto t0 = std::chrono::steady_clock::now();
    Reply r = http_post_json(base, "/v1", w.str(), c.opt.timeout_s + 15);
    double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    Object::Ptr o;
    try {
        o = parse_object(r.body);
    } catch (const std::exception&) {
        return fail("unexpected answer from " + base + " (HTTP " + std::to_string(r.status) +
                    "): " + r.body.substr(0, 200));
    }
    bool ok = str(o, "status") == "ok";
    if (c.opt.json) {
        std::cout << r.body << "\n";
        return ok ? kOk : kFail;
    }
    auto sol = o->getObject("solution");
    TextTable t({"", ""});
    t.add({"outcome", ok ? "ok" : "error"});
    t.add({"message", str(o, "message")});
    if (sol) {
        t.add({"status", str(sol, "status")});
        t.add({"url", str(sol, "url")});
        t.add({"user agent", str(sol, "userAgent")});
        if (sol->has("response") && !sol->get("response").isEmpty())
            t.add({"response", std::to_string(str(sol, "response").size()) + " bytes"});
    }
    t.add({"elapsed", fixed(elapsed, 3) + " s"});
    std::ostringstream buf;
    t.print(buf);
    std::string text = buf.str();
    std::cout << text.substr(text.find('\n') + 1);
    auto cookies = sol ? sol->getArray("cookies") : nullptr;
    if (cookies && cookies->size() > 0) {
        std::cout << "\n";
        TextTable ct({"NAME", "VALUE", "DOMAIN", "PATH", "EXPIRES", "FLAGS"});
        for (size_t i = 0; i < cookies->size(); ++i) {
            auto k = cookies->getObject(static_cast<unsigned>(i));
            std::string flags;
            if (boolean(k, "httpOnly")) flags += "httpOnly ";
            if (boolean(k, "secure")) flags += "secure ";
            if (!str(k, "sameSite").empty()) flags += "sameSite=" + str(k, "sameSite");
            while (!flags.empty() && flags.back() == ' ')
                flags.pop_back();
            ct.add({str(k, "name"), ellipsize(str(k, "value"), 40), str(k, "domain"),
                    str(k, "path"), format_expiry(k), flags});
        }
        ct.print(std::cout);
    } else if (sol) {
        std::cout << "\nno cookies\n";
    }
    return ok ? kOk : kFail;
}

// ---- main -----------------------------------------------------------------------------------

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
