// Every plugin entry point is guarded (core/guarded_call.h), with the real
// loader, registry and dispatcher and the "hang-entries" fixture
// (tests/fixtures/plugins/hanging_entries.cpp): a cookie source, a proxy
// provider and a captcha solver that never return, and a solver that answers
// solve() but hangs in metrics, user_agent and session calls.
#include "core/guarded_call.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <string>
#include <thread>

#include "byparr/build_paths.h"
#include "core/dispatcher.h"
#include "core/registry.h"

namespace byparr {
namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

Config hang_config() {
    static int n = 0;
    auto state = fs::temp_directory_path() /
                 ("byparr-guard-" + std::to_string(getpid()) + "-" + std::to_string(++n));
    fs::remove_all(state);
    std::string err;
    auto c =
        Config::from_map({{"BYPARR_PLUGIN_PATH",
                           std::string(byparr::build_paths::kFixturePluginDir) + "/hang-entries"},
                          {"BYPARR_STATE_DIR", state.string()},
                          {"SOLVERS", "steady"}},
                         &err);
    EXPECT_TRUE(c) << err;
    return *c;
}

struct Hung {
    Hung() : registry(hang_config()), dispatcher(registry) {
        registry.load_all();
        dispatcher.call_budgets.quick = milliseconds(200);
        dispatcher.call_budgets.report = milliseconds(200);
        dispatcher.call_budgets.metrics = milliseconds(200);
        dispatcher.call_budgets.session = milliseconds(200);
    }
    std::string state_of(const std::string& id) {
        for (const auto& s : registry.status())
            if (s.id == id) return std::string(s.state()) + ": " + s.reason;
        return "missing";
    }
    Registry registry;
    Dispatcher dispatcher;
};

long ms_since(Clock::time_point t0) {
    return static_cast<long>(std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count());
}

TEST(GuardedCall, ReturnsWhatTheBodyDidInTime) {
    Hung h;
    auto c = h.registry.find("steady");
    ASSERT_TRUE(c);
    int ran = 0;
    EXPECT_EQ(guarded_call(c, "test", Clock::now() + milliseconds(1000), [&] { ran = 1; }),
              CallEnd::kReturned);
    EXPECT_EQ(ran, 1);
    EXPECT_EQ(h.state_of("steady").rfind("enabled", 0), 0u) << h.state_of("steady");
}

// Calls run on reused threads (starting one per call cost more than a browserless request's
// own work), but never behind another call: one that hangs keeps its thread, and the next
// call gets another at once.
TEST(GuardedCall, ThreadsAreReusedButACallNeverWaitsForAnother) {
    Hung h;
    auto c = h.registry.find("steady");
    ASSERT_TRUE(c);
    // Kernel thread ids: a new thread gets a new one (a std::thread::id can be reused at once).
    std::set<pid_t> threads;
    for (int i = 0; i < 20; ++i) {
        pid_t ran_on = 0;
        ASSERT_EQ(guarded_call(c, "test", Clock::now() + milliseconds(2000),
                               [&] { ran_on = ::gettid(); }),
                  CallEnd::kReturned);
        threads.insert(ran_on);
        // A caller wakes as the call ends; the thread waits for the next one a moment later.
        std::this_thread::sleep_for(milliseconds(10));
    }
    // A loaded (or sanitized) machine can still be slower than that now and then: a few.
    EXPECT_LE(threads.size(), 5u) << "a thread per call";
    EXPECT_EQ(threads.count(::gettid()), 0u);

    std::mutex mu;
    std::condition_variable cv;
    bool release = false;
    auto hung = std::async(std::launch::async, [&] {
        return guarded_call(c, "test", Clock::now() + milliseconds(3000), [&] {
            std::unique_lock<std::mutex> lock(mu);
            cv.wait(lock, [&] { return release; });
        });
    });
    std::this_thread::sleep_for(milliseconds(50));  // the hung call holds its thread
    const auto t0 = Clock::now();
    int ran = 0;
    EXPECT_EQ(guarded_call(c, "test", Clock::now() + milliseconds(1000), [&] { ran = 1; }),
              CallEnd::kReturned);
    EXPECT_EQ(ran, 1);
    EXPECT_LT(ms_since(t0), 500) << "waited behind the hung call";
    {
        std::lock_guard<std::mutex> lock(mu);
        release = true;
    }
    cv.notify_all();
    EXPECT_EQ(hung.get(), CallEnd::kReturned);
}

TEST(GuardedCall, HungCookieSourceAndProxyPickDoNotHoldTheRequest) {
    Hung h;
    SolveRequest r;
    r.url = "http://127.0.0.1:9/";
    r.timeout_ms = 5000;
    auto t0 = Clock::now();
    auto o = h.dispatcher.solve(r);
    long ms = ms_since(t0);
    EXPECT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.solver_id, "steady");
    EXPECT_LT(ms, 1500);  // two abandoned 200 ms calls, not the request's 5 s
    EXPECT_EQ(h.state_of("hang-lookup").rfind("faulted: circuit open", 0), 0u)
        << h.state_of("hang-lookup");
    EXPECT_NE(h.state_of("hang-lookup").find("lookup() did not return"), std::string::npos);
    EXPECT_EQ(h.state_of("hang-pick").rfind("faulted: circuit open", 0), 0u)
        << h.state_of("hang-pick");
    // Out of the way now: the next request pays nothing for them.
    t0 = Clock::now();
    EXPECT_TRUE(h.dispatcher.solve(r).ok);
    EXPECT_LT(ms_since(t0), 150);
}

TEST(GuardedCall, HungCaptchaHookEndsAtTheRequestDeadline) {
    Hung h;
    SolveRequest r;
    r.url = "http://127.0.0.1:9/captcha";
    r.timeout_ms = 2500;
    auto t0 = Clock::now();
    auto o = h.dispatcher.solve(r);
    long ms = ms_since(t0);
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.error_kind, BYPARR_ERROR_CAPTCHA) << o.error;
    EXPECT_LT(ms, 2500 + 500);
    EXPECT_EQ(h.state_of("hang-captcha").rfind("faulted: circuit open", 0), 0u)
        << h.state_of("hang-captcha");
}

TEST(GuardedCall, HungMetricsDoNotHangAScrape) {
    Hung h;
    auto t0 = Clock::now();
    auto lines = h.dispatcher.solver_metrics_by_component();
    EXPECT_LT(ms_since(t0), 1000);
    EXPECT_TRUE(lines.empty());
    EXPECT_EQ(h.state_of("steady").rfind("faulted: circuit open", 0), 0u) << h.state_of("steady");
    // The next scrape skips the faulted solver at once.
    t0 = Clock::now();
    h.dispatcher.solver_metrics_by_component();
    EXPECT_LT(ms_since(t0), 100);
}

TEST(GuardedCall, HungUserAgentIsAbandoned) {
    Hung h;
    auto t0 = Clock::now();
    EXPECT_EQ(h.dispatcher.user_agent(), "");
    EXPECT_LT(ms_since(t0), 1000);
}

TEST(GuardedCall, HungSessionCallsAnswerWithATimeout) {
    Hung h;
    auto t0 = Clock::now();
    auto created = h.dispatcher.session_create("s1", {}, "steady");
    EXPECT_FALSE(created.ok);
    EXPECT_EQ(created.error_kind, BYPARR_ERROR_TIMEOUT);
    EXPECT_NE(created.error.find("session_open"), std::string::npos) << created.error;
    auto listed = h.dispatcher.session_list("steady");
    EXPECT_FALSE(listed.ok);
    auto destroyed = h.dispatcher.session_destroy("s1", "steady");
    EXPECT_FALSE(destroyed.ok);
    EXPECT_LT(ms_since(t0), 1500);
}

}  // namespace
}  // namespace byparr
