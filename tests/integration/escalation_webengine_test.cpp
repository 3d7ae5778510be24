// Escalation from the real webengine solver: its timeout's partial result (the
// challenge still on the page) reaches the host, which hands the rest of the request's
// time to the next solver of the chain (the browserless engine-pass fixture). A block
// page is final. Chain: SOLVERS=webengine,engine-pass, ESCALATE_AFTER=2.
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <memory>
#include <string>

#include "tests/support/byparr_server.h"
#include "tests/support/http_client.h"
#include "tests/support/test_site.h"

namespace byparr::test {
namespace {

using Clock = std::chrono::steady_clock;

const char* const kEscalations = R"(byparr_escalations_total{from="webengine",to="engine-pass"})";

class EscalationWebEngine : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        site_ = new TestSite();
        server_ = new ByparrServer(
            {.env = {{"BYPARR_PLUGIN_PATH", ByparrServer::plugin_dir() + ":" +
                                                ByparrServer::fixture_plugin_dir() + "/engines"},
                     {"SOLVERS", "webengine,engine-pass"},
                     {"ESCALATE_AFTER", "2"},
                     {"LOG_LEVEL", "debug"}},
             .capture_log = true});
    }
    static void TearDownTestSuite() {
        delete server_;
        delete site_;
    }
    static double escalations() {
        std::string m = http_request("GET", server_->base() + "/metrics").body;
        auto at = m.find(std::string("\n") + kEscalations + " ");
        return at == std::string::npos ? -1
                                       : std::stod(m.substr(at + std::strlen(kEscalations) + 2));
    }

    static inline TestSite* site_ = nullptr;
    static inline ByparrServer* server_ = nullptr;
};

TEST_F(EscalationWebEngine, AChallengeWebEngineCannotPassGoesToTheNextSolverAndStaysThere) {
    // Warm the browser, so ESCALATE_AFTER is spent on the challenge, not a cold start.
    ASSERT_EQ(server_->v1(get_body(site_->url("/plain"), 20000)).status, 200);
    EXPECT_EQ(escalations(), 0);

    // A proof of work that takes a minute: the challenge is still there after 2 s.
    auto t0 = Clock::now();
    auto r = server_->v1(get_body(site_->url("/cf/?delay_ms=60000"), 15000));
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t0).count();
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(R"(\"solver\":\"engine-pass\")"), std::string::npos) << r.body;
    EXPECT_GE(ms, 2000 - 150);  // webengine had its ESCALATE_AFTER (its deadline sits a bit early)
    EXPECT_LT(ms, 15000);
    EXPECT_EQ(escalations(), 1);
    EXPECT_NE(server_->log().find("did not get past challenge '"), std::string::npos);

    // The next request for the site goes straight to engine-pass.
    t0 = Clock::now();
    r = server_->v1(get_body(site_->url("/cf/?delay_ms=60000&again=1"), 15000));
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_NE(r.body.find(R"(\"solver\":\"engine-pass\")"), std::string::npos) << r.body;
    EXPECT_EQ(escalations(), 1);
    EXPECT_NE(server_->log().find("trying 'engine-pass' first for " + site_->host()),
              std::string::npos);
}

TEST_F(EscalationWebEngine, ABlockPageIsFinal) {
    TestSite other("127.0.0.2");  // another site: no memory of engine-pass there
    double before = escalations();
    auto r = server_->v1(get_body(other.url("/block1020"), 15000));
    EXPECT_EQ(r.status, 500) << r.body;
    EXPECT_NE(r.body.find("has blocked this request"), std::string::npos) << r.body;
    EXPECT_EQ(escalations(), before);
}

}  // namespace
}  // namespace byparr::test
