// byparrctl solve: one request to the public API, with its answer.
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

#include "core/json_writer.h"
#include "tools/text_table.h"

namespace fs = std::filesystem;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace byparr::ctl {

namespace {

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

std::string format_expiry(const Object::Ptr& k) {
    if (boolean(k, "session") || num(k, "expires", -1) <= 0) return "session";
    std::time_t t = static_cast<std::time_t>(num(k, "expires"));
    char buf[32];
    std::tm tm{};
    gmtime_r(&t, &tm);
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M", &tm);
    return buf;
}

}  // namespace

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

}  // namespace byparr::ctl
