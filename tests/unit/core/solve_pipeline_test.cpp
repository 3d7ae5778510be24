// The solve pipeline on its own, with the echo-solver fixture: defaults, cache,
// the one failure path, and finish() as the one place that accounts a request.
#include "core/solve_pipeline.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>

#include "byparr/build_paths.h"
#include "core/log.h"

namespace byparr {
namespace {

namespace fs = std::filesystem;

class SolvePipelineTest : public ::testing::Test {
  protected:
    void SetUp() override {
        log::configure("error", "text");
        static int n = 0;
        state_ = fs::temp_directory_path() /
                 ("byparr-pipeline-" + std::to_string(getpid()) + "-" + std::to_string(++n));
        fs::remove_all(state_);
        std::string err;
        auto c = Config::from_map(
            {{"BYPARR_PLUGIN_PATH", std::string(byparr::build_paths::kFixturePluginDir) + "/good"},
             {"BYPARR_STATE_DIR", state_.string()},
             {"SOLVERS", "echo-solver"},
             {"SOLVER_TIMEOUT", "20"},
             {"PROXY_URL", "http://default-proxy:3128"}},
            &err);
        ASSERT_TRUE(c) << err;
        config_ = *c;
        registry_ = std::make_unique<Registry>(config_);
        registry_->load_all();
        pipeline_ = std::make_unique<SolvePipeline>(config_, *registry_);
    }
    void TearDown() override {
        pipeline_.reset();
        registry_.reset();
        fs::remove_all(state_);
    }
    static V1Request request(const std::string& body) {
        auto parsed = parse_v1_request(body);
        EXPECT_TRUE(std::holds_alternative<V1Request>(parsed));
        return std::get<V1Request>(parsed);
    }

    fs::path state_;
    Config config_;
    std::unique_ptr<Registry> registry_;
    std::unique_ptr<SolvePipeline> pipeline_;
};

TEST_F(SolvePipelineTest, ProxyUrlAppliesOnlyWhenTheRequestNamesNoProxy) {
    EXPECT_EQ(pipeline_->proxy_for(std::nullopt).url, "http://default-proxy:3128");
    EXPECT_EQ(pipeline_->proxy_for(Proxy{}).url, "http://default-proxy:3128");
    EXPECT_EQ(pipeline_->proxy_for(Proxy{"socks5://own:1080"}).url, "socks5://own:1080");
    // A zone without a URL is for PROXY_URL's exit.
    auto zoned = pipeline_->proxy_for(Proxy{"", "", "", "Europe/Berlin"});
    EXPECT_EQ(zoned.url, "http://default-proxy:3128");
    EXPECT_EQ(zoned.timezone, "Europe/Berlin");
}

TEST_F(SolvePipelineTest, ASolvedChallengeIsThenAnsweredFromTheCache) {
    AccessRecord first;
    auto a = pipeline_->solve_page(
        request(R"({"cmd":"request.get","url":"http://site.example/challenge"})"), "r1", first);
    ASSERT_TRUE(a.ok) << a.message;
    EXPECT_EQ(first.outcome, "solved");
    EXPECT_EQ(first.cache, "miss");
    EXPECT_EQ(first.rule, "cf-just-a-moment");
    AccessRecord second;
    auto b = pipeline_->solve_page(request(R"({"cmd":"request.get","returnOnlyCookies":true,
                                              "url":"http://site.example/challenge"})"),
                                   "r2", second);
    ASSERT_TRUE(b.ok);
    EXPECT_EQ(second.outcome, "cached");
    EXPECT_EQ(second.solver, "cache");
    EXPECT_FALSE(b.solution.cookies.empty());
    EXPECT_EQ(pipeline_->metrics().value("byparr_cache_hits_total"), 1);
}

TEST_F(SolvePipelineTest, FailuresCarryTheEnvelopeMessageAndOutcome) {
    AccessRecord rec;
    auto a = pipeline_->solve_page(
        request(R"({"cmd":"request.get","url":"http://site.example/block"})"), "r1", rec);
    EXPECT_FALSE(a.ok);
    EXPECT_EQ(a.http_status, 500);
    EXPECT_EQ(rec.outcome, "blocked");
    EXPECT_EQ(rec.rule, "cf-1020");
    EXPECT_NE(a.message.find("Cloudflare has blocked this request"), std::string::npos);
}

TEST_F(SolvePipelineTest, TheTimeoutMessageSaysWhenSolverTimeoutCappedTheRequest) {
    EXPECT_EQ(pipeline_->timeout_message(20000, 60000),
              "Error solving the challenge. Timeout after 20.0 seconds. The request's maxTimeout "
              "of 60000 ms was capped by SOLVER_TIMEOUT=20.");
    EXPECT_EQ(pipeline_->timeout_message(5000, 5000),
              "Error solving the challenge. Timeout after 5.0 seconds.");
}

TEST_F(SolvePipelineTest, FinishAccountsARequestInTheMetricsAndTheStatusBoard) {
    AccessRecord rec;
    rec.cmd = "request.get";
    rec.domain = "site.example";
    rec.outcome = "timeout";
    rec.rule = "cf-just-a-moment";
    pipeline_->finish(rec, 500, 1.5, "r9", "127.0.0.1:1");
    EXPECT_EQ(pipeline_->metrics().value("byparr_requests_total",
                                         {{"cmd", "request.get"}, {"result", "timeout"}}),
              1);
    auto snap =
        pipeline_->status_board().snapshot(std::chrono::duration_cast<std::chrono::milliseconds>(
                                               std::chrono::system_clock::now().time_since_epoch())
                                               .count());
    ASSERT_EQ(snap.recent.size(), 1u);
    EXPECT_EQ(snap.recent[0].id, "r9");
    EXPECT_EQ(snap.recent[0].outcome, "timeout");
    EXPECT_DOUBLE_EQ(snap.recent[0].duration_ms, 1500);
    EXPECT_EQ(snap.requests_hour, 1u);
}

}  // namespace
}  // namespace byparr
