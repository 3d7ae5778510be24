// Escalation between solvers and the per-site engine memory, with the real loader,
// registry and dispatcher and the browserless "engines" fixture plugin
// (tests/fixtures/plugins/engine_solvers.cpp): engine-stuck never gets past a
// challenge, engine-pass always does, engine-na takes no page requests.
//
// Timing: the only lower bounds asserted are ones the fixture guarantees (a stuck
// engine waits out the deadline it was given); upper bounds are the request's own
// budget, which the dispatcher promises.
#include "core/dispatcher.h"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "byparr/build_paths.h"
#include "core/clearance_cache.h"
#include "core/registry.h"

namespace byparr {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

Config engines_config(const std::string& solvers, const std::string& escalate_after) {
    static int n = 0;
    auto state = fs::temp_directory_path() /
                 ("byparr-dispatch-" + std::to_string(getpid()) + "-" + std::to_string(++n));
    fs::remove_all(state);
    std::string err;
    auto c = Config::from_map(
        {{"BYPARR_PLUGIN_PATH", std::string(byparr::build_paths::kFixturePluginDir) + "/engines"},
         {"BYPARR_STATE_DIR", state.string()},
         {"SOLVERS", solvers},
         {"ESCALATE_AFTER", escalate_after}},
        &err);
    EXPECT_TRUE(c) << err;
    return *c;
}

// A registry and a dispatcher over the engines fixture, with every solver call
// and escalation recorded.
struct Engines {
    explicit Engines(const std::string& solvers, const std::string& escalate_after = "1")
        : registry(engines_config(solvers, escalate_after)), dispatcher(registry) {
        registry.load_all();
        dispatcher.on_solver_outcome = [this](const std::string& solver, const char* outcome) {
            std::lock_guard<std::mutex> lock(mu);
            calls.emplace_back(solver, outcome);
        };
        dispatcher.on_escalation = [this](const std::string& from, const std::string& to) {
            std::lock_guard<std::mutex> lock(mu);
            escalations.emplace_back(from, to);
        };
    }
    ~Engines() { fs::remove_all(registry.config().state_dir); }

    SolveOutcome solve(const std::string& url, uint32_t timeout_ms, std::string solver = "") {
        {
            std::lock_guard<std::mutex> lock(mu);
            calls.clear();
            escalations.clear();
        }
        SolveRequest r;
        r.request_id = "t1";
        r.url = url;
        r.timeout_ms = timeout_ms;
        r.solver = std::move(solver);
        auto t0 = Clock::now();
        SolveOutcome o = dispatcher.solve(r);
        elapsed_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
        return o;
    }

    Registry registry;
    Dispatcher dispatcher;
    std::mutex mu;
    std::vector<std::pair<std::string, std::string>> calls;        // solver, outcome
    std::vector<std::pair<std::string, std::string>> escalations;  // from, to
    int64_t elapsed_ms = 0;
};

using Calls = std::vector<std::pair<std::string, std::string>>;

// A solver is told its budget in whole milliseconds, rounded down, so one that
// waits out its deadline may return up to a millisecond before the dispatcher's.
constexpr int64_t kRoundingMs = 5;

size_t calls_to(const Calls& calls, const std::string& solver) {
    size_t n = 0;
    for (const auto& [s, o] : calls)
        n += s == solver ? 1 : 0;
    return n;
}

// The budget the answering engine was given, from its page.
int64_t budget_ms_of(const SolveOutcome& o) {
    Poco::JSON::Parser p;
    return p.parse(o.solution.response)
        .extract<Poco::JSON::Object::Ptr>()
        ->getValue<Poco::Int64>("timeoutMs");
}

ClearanceCache::Options memory_only_cache() {
    ClearanceCache::Options o;
    o.duration_s = 600;
    return o;
}

TEST(Dispatcher, EscalatesAfterEscalateAfterWithTheRemainingBudget) {
    Engines e("engine-stuck,engine-pass", "1");
    auto o = e.solve("https://www.example.test/challenge", 5000);
    ASSERT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.solver_id, "engine-pass");
    EXPECT_TRUE(o.solution.challenge);
    // engine-stuck had its ESCALATE_AFTER (it waits out the deadline it is given)...
    EXPECT_GE(e.elapsed_ms, 1000 - kRoundingMs);
    // ...and engine-pass got what was left of the 5 s, not a fresh budget...
    EXPECT_LE(budget_ms_of(o), 4000);
    EXPECT_GT(budget_ms_of(o), 2000);
    // ...and answered within the request's budget.
    EXPECT_LT(e.elapsed_ms, 5000);
    EXPECT_EQ(e.calls, (Calls{{"engine-stuck", "timeout"}, {"engine-pass", "solved"}}));
    EXPECT_EQ(e.escalations, (Calls{{"engine-stuck", "engine-pass"}}));
}

TEST(Dispatcher, TheLastSolverGetsTheWholeBudget) {
    Engines e("engine-stuck,engine-pass", "1");
    auto o = e.solve("https://example.test/", 5000);
    ASSERT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.solver_id, "engine-stuck");  // a plain page: no escalation needed
    // The first solver's budget is capped while a later one can take over...
    EXPECT_LE(budget_ms_of(o), 1000);
    // ...the last one's is not.
    o = e.solve("https://example.test/", 5000, "engine-pass");
    ASSERT_TRUE(o.ok) << o.error;
    EXPECT_GT(budget_ms_of(o), 4000);
}

TEST(Dispatcher, NextRequestForTheSiteGoesStraightToTheSolverThatPassed) {
    ClearanceCache cache(memory_only_cache());
    Engines e("engine-stuck,engine-pass", "1");
    e.dispatcher.set_site_memory(&cache);
    ASSERT_TRUE(e.solve("https://www.example.test/challenge", 5000).ok);
    EXPECT_EQ(cache.site_solver("example.test"), "engine-pass");

    auto o = e.solve("https://cdn.example.test/challenge?again", 5000);
    ASSERT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.solver_id, "engine-pass");
    EXPECT_EQ(e.calls, (Calls{{"engine-pass", "solved"}}));
    EXPECT_TRUE(e.escalations.empty());

    // Another site keeps the configured order.
    o = e.solve("https://other.test/", 5000);
    EXPECT_EQ(e.calls, (Calls{{"engine-stuck", "not_detected"}}));

    // A remembered solver that is disabled leaves the normal chain in charge.
    ASSERT_FALSE(e.registry.set_enabled("engine-pass", false));
    o = e.solve("https://example.test/", 5000);
    EXPECT_EQ(o.solver_id, "engine-stuck");
}

TEST(Dispatcher, ABlockVerdictDoesNotEscalate) {
    Engines e("engine-stuck,engine-pass", "1");
    auto o = e.solve("https://example.test/block", 5000);
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.error_kind, BYPARR_ERROR_BLOCKED);
    EXPECT_EQ(o.solver_id, "engine-stuck");
    EXPECT_EQ(e.calls, (Calls{{"engine-stuck", "blocked"}}));
    EXPECT_TRUE(e.escalations.empty());
}

TEST(Dispatcher, ANamedSolverDoesNotEscalate) {
    Engines e("engine-stuck,engine-pass", "1");
    auto o = e.solve("https://example.test/challenge", 2500, "engine-stuck");
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.error_kind, BYPARR_ERROR_TIMEOUT);
    EXPECT_EQ(o.solution.challenge_rule, "cf-just-a-moment");
    EXPECT_GE(e.elapsed_ms, 2500 - kRoundingMs);  // the whole budget, not ESCALATE_AFTER
    EXPECT_EQ(e.calls, (Calls{{"engine-stuck", "timeout"}}));
    EXPECT_TRUE(e.escalations.empty());
}

TEST(Dispatcher, ZeroEscalateAfterDisablesEscalation) {
    Engines e("engine-stuck,engine-pass", "0");
    auto o = e.solve("https://example.test/challenge", 2000);
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.error_kind, BYPARR_ERROR_TIMEOUT);
    EXPECT_GE(e.elapsed_ms, 2000 - kRoundingMs);
    EXPECT_EQ(e.calls, (Calls{{"engine-stuck", "timeout"}}));
    EXPECT_TRUE(e.escalations.empty());
}

TEST(Dispatcher, AFailedBotCheckEscalatesAtOnceWithoutFaultingTheSolver) {
    Engines e("engine-stuck,engine-pass", "10");
    for (int i = 0; i < Component::kBreakerThreshold + 1; ++i) {
        auto o = e.solve("https://example.test/botcheck", 20000);
        ASSERT_TRUE(o.ok) << o.error;
        EXPECT_EQ(o.solver_id, "engine-pass");
        EXPECT_EQ(e.escalations, (Calls{{"engine-stuck", "engine-pass"}}));
        EXPECT_GT(budget_ms_of(o), 10000);  // not an ESCALATE_AFTER spent
    }
    // The site rejected the engine; the engine did not fail: its breaker stays shut.
    for (const auto& st : e.registry.status())
        EXPECT_FALSE(st.faulted) << st.id << ": " << st.reason;
}

TEST(Dispatcher, ATimeoutWithoutAChallengeStillGetsTheRestOfTheBudget) {
    Engines e("engine-stuck,engine-pass", "1");
    auto o = e.solve("https://example.test/slow", 5000);
    ASSERT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.solver_id, "engine-pass");
    EXPECT_EQ(e.escalations, (Calls{{"engine-stuck", "engine-pass"}}));
}

TEST(Dispatcher, ASolverThatTakesNoPageRequestsIsNoEscalationTarget) {
    Engines e("engine-stuck,engine-na", "1");
    // Before the dispatcher knows engine-na: engine-stuck is capped, engine-na
    // passes, and engine-stuck gets the rest, so the request still has all its time.
    auto o = e.solve("https://example.test/challenge", 2500);
    EXPECT_EQ(o.error_kind, BYPARR_ERROR_TIMEOUT);
    EXPECT_GE(e.elapsed_ms, 2500 - kRoundingMs);
    EXPECT_EQ(e.calls, (Calls{{"engine-stuck", "timeout"},
                              {"engine-na", "not_applicable"},
                              {"engine-stuck", "timeout"}}));
    EXPECT_TRUE(e.escalations.empty());
    // Now it knows: engine-stuck is the last solver that can take a page request
    // and gets the whole budget in one go.
    o = e.solve("https://example.test/challenge", 2500);
    EXPECT_EQ(o.error_kind, BYPARR_ERROR_TIMEOUT);
    EXPECT_GE(e.elapsed_ms, 2500 - kRoundingMs);
    EXPECT_EQ(calls_to(e.calls, "engine-stuck"), 1u);
    // (engine-na is asked only if a moment of the budget is left.)
}

TEST(Dispatcher, TheStartUpProbeTeachesWhichSolversTakeNoPageRequests) {
    Engines e("engine-stuck,engine-na", "1");
    SolveRequest plain;
    plain.url = "http://127.0.0.1:9/";
    plain.timeout_ms = 1000;
    EXPECT_FALSE(e.dispatcher.probe("engine-na", plain).ok);
    EXPECT_TRUE(e.calls.empty());  // the self-test is no client's request: not counted
    auto o = e.solve("https://example.test/challenge", 2500);
    EXPECT_EQ(o.error_kind, BYPARR_ERROR_TIMEOUT);
    EXPECT_GE(e.elapsed_ms, 2500 - kRoundingMs);
    EXPECT_EQ(calls_to(e.calls, "engine-stuck"), 1u);  // the whole budget at once
}

TEST(Dispatcher, NotApplicableIsAnExplicitValueThatKeepsTheSolverId) {
    Engines e("engine-na,engine-pass", "1");
    SolveRequest plain;
    plain.url = "http://127.0.0.1:9/";
    plain.timeout_ms = 1000;
    auto na = e.dispatcher.probe("engine-na", plain);
    EXPECT_TRUE(na.not_applicable);
    EXPECT_EQ(na.solver_id, "engine-na");  // no longer blanked to say "not applicable"
    auto ok = e.dispatcher.probe("engine-pass", plain);
    EXPECT_FALSE(ok.not_applicable);
}

TEST(Dispatcher, ASessionRequestDoesNotEscalate) {
    Engines e("engine-stuck,engine-pass", "1");
    SolveRequest r;
    r.url = "https://example.test/challenge";
    r.session = "s1";
    r.timeout_ms = 2000;
    auto o = e.dispatcher.solve(r);
    EXPECT_EQ(o.error_kind, BYPARR_ERROR_TIMEOUT);
    EXPECT_EQ(e.calls, (Calls{{"engine-stuck", "timeout"}}));
}

}  // namespace
}  // namespace byparr
