// byparrctl stats: the server's counters, as a table or JSON.
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

#include "core/strings.h"
#include "tools/text_table.h"

namespace fs = std::filesystem;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace byparr::ctl {

namespace {

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
            std::string h = ascii_upper(k);
            std::replace(h.begin(), h.end(), '_', ' ');
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

}  // namespace

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

}  // namespace byparr::ctl
