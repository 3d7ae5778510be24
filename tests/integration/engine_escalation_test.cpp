// Escalation between the two browser engines (issue #14), end to end through POST /v1:
// /modern/ is a challenge whose script needs JavaScript that Qt WebEngine's Chromium 102
// lacks (Object.groupBy, Promise.withResolvers), so webengine can never pass it and only
// the hand-over to chromium can. Which solver did what is read from /metrics.
#include <gtest/gtest.h>

#include <chrono>
#include <sstream>
#include <string>

#include <Poco/JSON/Object.h>

#include "tests/support/byparr_server.h"
#include "tests/support/http_client.h"
#include "tests/support/test_site.h"

namespace byparr::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

constexpr int kEscalateAfterS = 4;
constexpr int kBudgetMs = 30000;

// The value of the sample of `name` whose labels include every one of `labels`
// (`key="value"` strings), or 0 when there is none.
double sample(const std::string& metrics, const std::string& name,
              std::initializer_list<std::string> labels) {
    std::istringstream in(metrics);
    std::string line;
    while (std::getline(in, line)) {
        if (line.rfind(name + "{", 0) != 0) continue;
        bool all = true;
        for (const auto& l : labels)
            all = all && line.find(l) != std::string::npos;
        if (all) return std::stod(line.substr(line.rfind(' ') + 1));
    }
    return 0;
}

struct Counts {
    double escalations = 0;      // webengine -> chromium
    double webengine_calls = 0;  // every outcome
    double chromium_calls = 0;
    double chromium_solved = 0;
};

Counts counts(const ByparrServer& server) {
    const std::string m = http_request("GET", server.base() + "/metrics").body;
    Counts c;
    c.escalations =
        sample(m, "byparr_escalations_total", {"from=\"webengine\"", "to=\"chromium\""});
    for (const char* o : {"solved", "not_detected", "timeout", "blocked", "captcha", "error"}) {
        const std::string outcome = std::string("outcome=\"") + o + "\"";
        c.webengine_calls +=
            sample(m, "byparr_solver_outcomes_total", {"solver=\"webengine\"", outcome});
        c.chromium_calls +=
            sample(m, "byparr_solver_outcomes_total", {"solver=\"chromium\"", outcome});
    }
    c.chromium_solved =
        sample(m, "byparr_solver_outcomes_total", {"solver=\"chromium\"", "outcome=\"solved\""});
    return c;
}

class EngineEscalation : public ::testing::Test {
  protected:
    void SetUp() override {
        for (const char* e : {"webengine", "chromium"})
            if (!engine_available(e)) GTEST_SKIP() << e << " is not available here";
        server_ = std::make_unique<ByparrServer>(
            ServerOptions{.env = {{"SOLVERS", "webengine,chromium"},
                                  {"ESCALATE_AFTER", std::to_string(kEscalateAfterS)}}});
    }
    TestSite site_;
    std::unique_ptr<ByparrServer> server_;
};

TEST_F(EngineEscalation, AChallengeOnlyACurrentEnginePassesIsHandedToChromiumAndRemembered) {
    const Counts before = counts(*server_);
    const auto t0 = Clock::now();
    auto o = server_->v1_json(get_body(site_.url("/modern/?delay_ms=200"), kBudgetMs), 60000);
    const auto took = Clock::now() - t0;
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << o->getValue<std::string>("message");
    EXPECT_EQ(o->getValue<std::string>("message"), "Challenge solved!");
    auto s = o->getObject("solution");
    ASSERT_TRUE(s);
    EXPECT_NE(s->getValue<std::string>("response").find("PROTECTED-CONTENT"), std::string::npos);
    // webengine had its ESCALATE_AFTER first; chromium answered within the request's budget.
    EXPECT_GE(took, std::chrono::seconds(kEscalateAfterS) - 200ms);
    EXPECT_LT(took, std::chrono::milliseconds(kBudgetMs));
    const Counts after = counts(*server_);
    EXPECT_EQ(after.escalations - before.escalations, 1);
    EXPECT_EQ(after.chromium_solved - before.chromium_solved, 1);
    EXPECT_EQ(after.webengine_calls - before.webengine_calls, 1);

    // The site's next full request goes to chromium first: no webengine call, no escalation
    // (it starts with the cached clearance, so the page is the protected one at once).
    auto again = server_->v1_json(get_body(site_.url("/modern/?delay_ms=200"), kBudgetMs), 60000);
    ASSERT_EQ(again->getValue<std::string>("status"), "ok")
        << again->getValue<std::string>("message");
    const Counts second = counts(*server_);
    EXPECT_EQ(second.webengine_calls, after.webengine_calls) << "webengine was asked again";
    EXPECT_EQ(second.escalations, after.escalations);
    EXPECT_EQ(second.chromium_calls - after.chromium_calls, 1);
}

// A check that rejects webengine and reloads itself, as Cloudflare's loop does
// (/modern/?loop=1): webengine sees the challenge come back and hands over at once, instead
// of spending its ESCALATE_AFTER turn (set long here) on the loop.
TEST(EngineEscalationOnAFailedCheck, IsHandedOverAtOnceNotAfterEscalateAfter) {
    for (const char* e : {"webengine", "chromium"})
        if (!engine_available(e)) GTEST_SKIP() << e << " is not available here";
    constexpr int kLongTurnS = 25;
    TestSite site;
    ByparrServer server(ServerOptions{.env = {{"SOLVERS", "webengine,chromium"},
                                              {"ESCALATE_AFTER", std::to_string(kLongTurnS)},
                                              {"LOG_LEVEL", "debug"}},
                                      .capture_log = true});
    const Counts before = counts(server);
    const auto t0 = Clock::now();
    auto o = server.v1_json(get_body(site.url("/modern/?loop=1&delay_ms=200"), 50000), 70000);
    const auto took = Clock::now() - t0;
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << o->getValue<std::string>("message");
    EXPECT_NE(o->getObject("solution")->getValue<std::string>("response").find("PROTECTED-CONTENT"),
              std::string::npos);
    EXPECT_LT(took, std::chrono::seconds(kLongTurnS) - 10s) << "webengine spent its whole turn";
    const Counts after = counts(server);
    EXPECT_EQ(after.escalations - before.escalations, 1);
    EXPECT_EQ(after.chromium_solved - before.chromium_solved, 1);
    EXPECT_NE(server.log().find("the bot check failed"), std::string::npos)
        << "webengine did not report the failed check";
}

// Without a later solver to take over, the same loop runs to the deadline, as before: a
// failed check is only given up on when someone else can try.
TEST(EngineEscalationOnAFailedCheck, AloneTheLoopRunsToTheDeadline) {
    if (!engine_available("webengine")) GTEST_SKIP() << "webengine is not available here";
    TestSite site;
    ByparrServer server(ServerOptions{.env = {{"SOLVERS", "webengine"}}});
    const auto t0 = Clock::now();
    auto o = server.v1_json(get_body(site.url("/modern/?loop=1"), 5000), 30000);
    const auto took = Clock::now() - t0;
    EXPECT_EQ(o->getValue<std::string>("message"),
              "Error: Error solving the challenge. Timeout after 5.0 seconds.");
    EXPECT_GE(took, 4800ms);
}

TEST_F(EngineEscalation, ABlockPageIsFinalAndDoesNotEscalate) {
    const Counts before = counts(*server_);
    auto o = server_->v1_json(get_body(site_.url("/block1020"), kBudgetMs), 60000);
    EXPECT_EQ(o->getValue<std::string>("status"), "error");
    EXPECT_NE(o->getValue<std::string>("message").find("blocked"), std::string::npos)
        << o->getValue<std::string>("message");
    const Counts after = counts(*server_);
    EXPECT_EQ(after.escalations, before.escalations);
    EXPECT_EQ(after.chromium_calls, before.chromium_calls) << "a block page went to chromium";
}

}  // namespace
}  // namespace byparr::test
