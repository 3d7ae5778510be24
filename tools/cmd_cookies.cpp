// byparrctl cookies import: checks a browser export and writes it into the
// cookie-import plugin's folder.
#include "tools/ctl.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
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
#include "core/json_writer.h"
#include "core/plugin_state.h"

namespace fs = std::filesystem;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace byparr::ctl {

namespace {

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

}  // namespace

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
        // Atomic (core/plugin_state.h): the plugin never sees a half-written file,
        // and it skips the temp names.
        if (auto err = write_file_atomic(sidecar.string(), c.opt.user_agent + "\n"))
            return fail(*err);
    } else {
        fs::remove(sidecar, ec);  // a UA from an earlier import of this name is stale
    }
    if (auto err = write_file_atomic(dst.string(), text)) return fail(*err);

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

}  // namespace byparr::ctl
