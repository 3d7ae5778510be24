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

namespace fs = std::filesystem;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace byparr::ctl {

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

Object::Ptr parse_object(const std::string& body) {
    Poco::JSON::Parser p;
    auto v = p.parse(body);
    auto obj = v.extract<Object::Ptr>();
    if (!obj) throw std::runtime_error("the server answered with something other than an object");
    return obj;
}

std::string str(const Object::Ptr& o, const std::string& key, const std::string& fallback) {
    if (!o || !o->has(key) || o->get(key).isEmpty()) return fallback;
    return o->get(key).convert<std::string>();
}

double num(const Object::Ptr& o, const std::string& key, double fallback) {
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
            const std::string& body) {
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

}  // namespace byparr::ctl
