// Escalation between solvers through the real host over HTTP, with the browserless
// "engines" fixture (tests/fixtures/plugins/engine_solvers.cpp): engine-stuck never
// gets past a challenge, engine-pass does. The answer comes from engine-pass within
// the request's budget, the next request for the site goes straight to it (log,
// metrics), a block does not escalate, and byparrctl stats shows both figures.
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "tests/support/byparr_server.h"
#include "tests/support/http_client.h"
#include "tests/support/test_process.h"

namespace byparr {
namespace {

using Clock = std::chrono::steady_clock;

class Escalation : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        server_ = new test::ByparrServer(
            {.env = {{"BYPARR_PLUGIN_PATH", test::ByparrServer::fixture_plugin_dir() + "/engines"},
                     {"SOLVERS", "engine-stuck,engine-pass"},
                     {"ESCALATE_AFTER", "1"},
                     {"LOG_LEVEL", "debug"}},
             .capture_log = true});
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }

    static std::string metrics() {
        return test::http_request("GET", server_->base() + "/metrics").body;
    }
    static double sample(const std::string& text, const std::string& series) {
        auto at = text.find("\n" + series + " ");
        if (at == std::string::npos) return -1;
        return std::stod(text.substr(at + series.size() + 2));
    }
    static Poco::JSON::Object::Ptr page_of(const Poco::JSON::Object::Ptr& reply) {
        Poco::JSON::Parser p;
        return p.parse(reply->getObject("solution")->getValue<std::string>("response"))
            .extract<Poco::JSON::Object::Ptr>();
    }
    static std::string request_id(const test::HttpResult& r) {
        auto it = r.headers.find("x-request-id");
        return it == r.headers.end() ? "" : it->second;
    }

    static inline test::ByparrServer* server_ = nullptr;
};

const char* const kEscalations =
    R"(byparr_escalations_total{from="engine-stuck",to="engine-pass"})";
const char* const kStuckTimeouts =
    R"(byparr_solver_outcomes_total{solver="engine-stuck",outcome="timeout"})";
const char* const kPassSolved =
    R"(byparr_solver_outcomes_total{solver="engine-pass",outcome="solved"})";

// One test, in order: each step builds on the site memory the previous one left.
TEST_F(Escalation, AnswersFromTheNextSolverThenGoesStraightToItAndNeverEscalatesABlock) {
    EXPECT_EQ(sample(metrics(), kEscalations), 0);  // exists from the start

    auto t0 = Clock::now();
    auto r = server_->v1(test::get_body("https://www.escalation.test/challenge", 10000));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    ASSERT_EQ(r.status, 200) << r.body;
    Poco::JSON::Parser p;
    auto reply = p.parse(r.body).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(reply->getValue<std::string>("message"), "Challenge solved!");
    auto page = page_of(reply);
    EXPECT_EQ(page->getValue<std::string>("solver"), "engine-pass");
    EXPECT_LE(page->getValue<int>("timeoutMs"), 9000);  // what was left, not a fresh budget
    EXPECT_LT(ms, 10000);
    std::string m = metrics();
    EXPECT_EQ(sample(m, kEscalations), 1) << m;
    EXPECT_EQ(sample(m, kStuckTimeouts), 1) << m;
    EXPECT_EQ(sample(m, kPassSolved), 1) << m;
    std::string first_id = request_id(r);
    EXPECT_NE(server_->log().find("request " + first_id +
                                  ": escalated from 'engine-stuck' to 'engine-pass'"),
              std::string::npos);

    // The next request for the site goes to engine-pass first: no escalation, and
    // engine-stuck is not asked at all.
    r = server_->v1(test::get_body("https://escalation.test/challenge?next", 10000));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(page_of(p.parse(r.body).extract<Poco::JSON::Object::Ptr>())
                  ->getValue<std::string>("solver"),
              "engine-pass");
    m = metrics();
    EXPECT_EQ(sample(m, kEscalations), 1) << m;
    EXPECT_EQ(sample(m, kStuckTimeouts), 1) << m;
    EXPECT_EQ(sample(m, kPassSolved), 2) << m;
    EXPECT_NE(server_->log().find("request " + request_id(r) +
                                  ": trying 'engine-pass' first for escalation.test"),
              std::string::npos)
        << server_->log();

    // A block is the site's final word: no escalation.
    r = server_->v1(test::get_body("https://blocking.test/block", 10000));
    EXPECT_EQ(r.status, 500);
    EXPECT_NE(r.body.find("has blocked this request"), std::string::npos) << r.body;
    m = metrics();
    EXPECT_EQ(sample(m, kEscalations), 1) << m;
    EXPECT_EQ(sample(m, R"(byparr_solver_outcomes_total{solver="engine-stuck",outcome="blocked"})"),
              1)
        << m;

    // byparrctl stats shows the per-solver outcomes and the escalations.
    test::ChildProcess ctl(test::ByparrServer::bin_dir() + "/byparrctl", {"stats"},
                           {{"BYPARR_STATE_DIR", server_->state_dir()}});
    auto status = ctl.wait_exit(std::chrono::seconds(20));
    ASSERT_TRUE(status);
    EXPECT_EQ(*status, 0);
    std::string out = ctl.output();
    EXPECT_NE(out.find("solver outcomes:"), std::string::npos) << out;
    EXPECT_NE(out.find("engine-stuck"), std::string::npos) << out;
    EXPECT_NE(out.find("escalations:"), std::string::npos) << out;
    EXPECT_NE(out.find("engine-stuck  engine-pass  1"), std::string::npos) << out;

    // byparrctl cache list shows which solver goes first for the site.
    test::ChildProcess list(test::ByparrServer::bin_dir() + "/byparrctl", {"cache", "list"},
                            {{"BYPARR_STATE_DIR", server_->state_dir()}});
    ASSERT_TRUE(list.wait_exit(std::chrono::seconds(20)));
    out = list.output();
    EXPECT_NE(out.find("solver tried first, by site:"), std::string::npos) << out;
    EXPECT_NE(out.find("escalation.test  engine-pass"), std::string::npos) << out;
}

}  // namespace
}  // namespace byparr
