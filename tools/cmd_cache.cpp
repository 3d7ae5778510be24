// byparrctl cache: list and flush the clearance cache.
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
#include "core/strings.h"
#include "tools/text_table.h"

namespace fs = std::filesystem;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace byparr::ctl {

namespace {

constexpr const char* kCacheHelp = R"(Usage: byparrctl [--json] cache list
       byparrctl [--json] cache flush [SITE]

  list      cached clearances (site, user agent, proxy, expiry), and the solver
            tried first for a site after it passed there (escalation memory).
  flush     drop every cached clearance and remembered solver, or only SITE's
            (a host name).
)";

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
            h += ascii_upper(ch);
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

}  // namespace

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

}  // namespace byparr::ctl
