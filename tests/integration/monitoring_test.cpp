// packaging/monitoring/ and /metrics checked with promtool (Debian's `prometheus`
// package, installed by packaging/install-deps.sh): a real scrape after a mixed
// workload passes `promtool check metrics` without a single warning; the alert
// rules pass `promtool check rules` and their unit tests, one per alert; every
// Grafana expression parses and names only metrics Byparr exports.
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/Net/ServerSocket.h>
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "byparr/build_paths.h"
#include "tests/support/byparr_server.h"
#include "tests/support/http_client.h"

namespace byparr {
namespace {

using namespace std::chrono_literals;
using test::ByparrServer;
using test::http_request;

const std::string kMonitoring =
    std::string(byparr::build_paths::kSourceDir) + "/packaging/monitoring";

struct Shell {
    int code = -1;
    std::string output;
};

Shell sh(const std::string& command) {
    Shell r;
    FILE* p = ::popen((command + " 2>&1").c_str(), "r");
    if (p == nullptr) return r;
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0)
        r.output.append(buf, n);
    int st = ::pclose(p);
    r.code = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

std::string promtool() {
    Shell r = sh("command -v promtool");
    std::string path = r.output.substr(0, r.output.find('\n'));
    return r.code == 0 ? path : "";
}

std::string read_file(const std::string& path) {
    std::ifstream in(path);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
}

std::string write_temp(const std::string& name, const std::string& content) {
    auto p = std::filesystem::temp_directory_path() /
             ("byparr-monitoring-" + std::to_string(::getpid()) + "-" + name);
    std::ofstream(p) << content;
    return p.string();
}

class Monitoring : public ::testing::Test {
  protected:
    void SetUp() override {
        ASSERT_FALSE(promtool().empty())
            << "promtool not found: run packaging/install-deps.sh (Debian package prometheus)";
    }

    // Every outcome the host can count, through the browserless echo solver.
    static std::string scrape_after_mixed_workload() {
        ByparrServer s(
            {.env = {{"BYPARR_PLUGIN_PATH", ByparrServer::fixture_plugin_dir() + "/good"},
                     {"SOLVERS", "echo-solver"},
                     {"MAX_CONCURRENT", "1"},
                     {"MAX_QUEUE", "0"},
                     {"LOG_LEVEL", "warning"}}});
        auto get = [&](const std::string& url, const std::string& extra = "") {
            return s.v1(test::get_body(url, 2000, extra)).status;
        };
        EXPECT_EQ(get("http://plain.test/"), 200);          // not_detected
        EXPECT_EQ(get("http://site.test/challenge"), 200);  // solved
        EXPECT_EQ(get("http://site.test/challenge", R"("returnOnlyCookies":true)"), 200);  // cached
        EXPECT_EQ(get("http://blocked.test/block"), 500);    // blocked, rule cf-1020
        EXPECT_EQ(get("http://captcha.test/captcha"), 500);  // captcha
        EXPECT_EQ(get("http://broken.test/fail"), 500);      // error
        EXPECT_EQ(s.v1(test::get_body("http://slow.test/timeout", 200)).status, 500);  // timeout
        EXPECT_EQ(s.v1("{not json").status, 500);                                      // invalid
        EXPECT_EQ(s.v1(R"({"cmd":"sessions.create","session":"m1"})").status, 200);
        EXPECT_EQ(s.v1(R"({"cmd":"sessions.list"})").status, 200);
        EXPECT_EQ(s.v1(R"({"cmd":"sessions.destroy","session":"nope"})").status, 500);
        // busy: one slot, no queue, a second request while the first sleeps.
        std::thread slow([&] { get("http://busy.test/sleep300"); });
        std::this_thread::sleep_for(100ms);
        EXPECT_EQ(get("http://busy2.test/"), 503);
        slow.join();
        auto m = http_request("GET", s.base() + "/metrics");
        EXPECT_EQ(m.status, 200);
        return m.body;
    }

    static inline std::string scrape_;
    static const std::string& scrape() {
        if (scrape_.empty()) scrape_ = scrape_after_mixed_workload();
        return scrape_;
    }
};

TEST_F(Monitoring, ScrapeAfterAMixedWorkloadPassesPromtoolWithoutWarnings) {
    std::string file = write_temp("scrape.txt", scrape());
    Shell r = sh(promtool() + " check metrics < " + file);
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_EQ(r.output, "") << "promtool warnings:\n" << r.output;
    std::filesystem::remove(file);
}

TEST_F(Monitoring, ScrapeCountsEveryOutcomeWithFlareSolverrLabels) {
    const std::string& m = scrape();
    for (const char* line : {
             "flaresolverr_request_total{domain=\"plain.test\",result=\"not_detected\"} 1",
             "flaresolverr_request_total{domain=\"site.test\",result=\"solved\"} 2",
             "flaresolverr_request_total{domain=\"blocked.test\",result=\"error\"} 1",
             "flaresolverr_request_duration_bucket{domain=\"plain.test\",le=\"10\"} 1",
             "byparr_requests_total{cmd=\"request.get\",result=\"busy\"} 1",
             "byparr_requests_total{cmd=\"request.get\",result=\"cached\"} 1",
             "byparr_requests_total{cmd=\"request.get\",result=\"timeout\"} 1",
             "byparr_requests_total{cmd=\"request.post\",result=\"solved\"} 0",  // exists at 0
             "byparr_request_failures_total{reason=\"blocked\",rule=\"cf-1020\",kind=\"blocked\"} "
             "1",
             "byparr_request_failures_total{reason=\"captcha\",rule=\"hcaptcha-widget\",kind="
             "\"hcaptcha\"} 1",
             "byparr_request_failures_total{reason=\"busy\",rule=\"none\",kind=\"none\"} 1",
             "byparr_challenges_total{rule=\"cf-1020\",kind=\"blocked\",outcome=\"blocked\"} 1",
             "byparr_solver_ready{solver=\"echo-solver\"} 1",
             "# HELP byparr_echo_sessions ",
         })
        EXPECT_NE(m.find(line), std::string::npos) << line << "\n" << m;
}

TEST_F(Monitoring, PrometheusPortServesMetricsAsFlareSolverrDoes) {
    int port = 0;
    {
        Poco::Net::ServerSocket probe(Poco::Net::SocketAddress("127.0.0.1", 0));
        port = probe.address().port();
    }
    ByparrServer s({.env = {{"BYPARR_PLUGIN_PATH", ByparrServer::fixture_plugin_dir() + "/good"},
                            {"SOLVERS", "echo-solver"},
                            {"PROMETHEUS_ENABLED", "true"},
                            {"PROMETHEUS_PORT", std::to_string(port)}}});
    auto m = http_request("GET", "http://127.0.0.1:" + std::to_string(port) + "/metrics");
    EXPECT_EQ(m.status, 200);
    EXPECT_NE(m.body.find("# TYPE flaresolverr_request_total counter"), std::string::npos);
    // Only metrics there: the API stays on PORT.
    EXPECT_EQ(http_request("POST", "http://127.0.0.1:" + std::to_string(port) + "/v1", "{}").status,
              404);
}

TEST_F(Monitoring, AlertRulesPassPromtoolCheck) {
    Shell r = sh(promtool() + " check rules " + kMonitoring + "/byparr-alerts.yml");
    EXPECT_EQ(r.code, 0) << r.output;
    EXPECT_NE(r.output.find("SUCCESS"), std::string::npos) << r.output;
}

TEST_F(Monitoring, AlertRuleUnitTestsPassAndCoverEveryAlert) {
    Shell r = sh("cd " + kMonitoring + " && " + promtool() + " test rules byparr-alerts.test.yml");
    EXPECT_EQ(r.code, 0) << r.output;
    std::string rules = read_file(kMonitoring + "/byparr-alerts.yml");
    std::string tests = read_file(kMonitoring + "/byparr-alerts.test.yml");
    std::regex alert_re(R"(- alert:\s*(\w+))");
    int alerts = 0;
    for (std::sregex_iterator it(rules.begin(), rules.end(), alert_re), end; it != end; ++it) {
        ++alerts;
        std::string name = (*it)[1];
        // A test that expects it to fire (exp_labels follows its alertname).
        std::regex fires("alertname:\\s*" + name + "\\s*\\n\\s*exp_alerts:\\s*\\n\\s*- exp_labels");
        EXPECT_TRUE(std::regex_search(tests, fires)) << "no firing unit test for " << name;
    }
    EXPECT_GE(alerts, 5);
    for (const char* must :
         {"ByparrSolveRateLow", "ByparrAllRequestsFailing", "ByparrQueueSaturated",
          "ByparrMemoryNearLimit", "ByparrBrowserRestartLoop"})
        EXPECT_NE(rules.find(std::string("- alert: ") + must), std::string::npos) << must;
}

void collect_exprs(const Poco::Dynamic::Var& v, std::vector<std::string>& out) {
    if (v.type() == typeid(Poco::JSON::Object::Ptr)) {
        auto o = v.extract<Poco::JSON::Object::Ptr>();
        for (const auto& [k, child] : *o) {
            if (k == "expr" && child.isString())
                out.push_back(child.convert<std::string>());
            else
                collect_exprs(child, out);
        }
    } else if (v.type() == typeid(Poco::JSON::Array::Ptr)) {
        auto a = v.extract<Poco::JSON::Array::Ptr>();
        for (size_t i = 0; i < a->size(); ++i)
            collect_exprs(a->get(static_cast<unsigned>(i)), out);
    }
}

TEST_F(Monitoring, EveryDashboardExpressionParsesAndUsesExportedMetrics) {
    Poco::JSON::Parser p;
    auto root = p.parse(read_file(kMonitoring + "/grafana-dashboard.json"));
    std::vector<std::string> exprs;
    collect_exprs(root, exprs);
    ASSERT_GE(exprs.size(), 10u);
    // Grafana's variables, as Grafana would fill them in.
    std::string rules = "groups:\n  - name: dashboard\n    rules:\n";
    std::set<std::string> metrics;
    std::regex metric_re(R"(\b((byparr|flaresolverr)_[a-z0-9_]+)\b)");
    for (size_t i = 0; i < exprs.size(); ++i) {
        std::string e = exprs[i];
        for (auto [var, value] : std::vector<std::pair<std::string, std::string>>{
                 {"$__rate_interval", "5m"}, {"$__range", "1h"}, {"$instance", ".*"}}) {
            for (size_t at; (at = e.find(var)) != std::string::npos;)
                e.replace(at, var.size(), value);
        }
        ASSERT_EQ(e.find('$'), std::string::npos) << "unknown variable in " << exprs[i];
        std::ostringstream quoted;
        Poco::JSON::Stringifier::stringify(Poco::Dynamic::Var(e), quoted);
        rules += "      - record: dashboard:expr_" + std::to_string(i) +
                 "\n        expr: " + quoted.str() + "\n";
        for (std::sregex_iterator it(e.begin(), e.end(), metric_re), end; it != end; ++it)
            metrics.insert((*it)[1]);
    }
    std::string file = write_temp("dashboard-rules.yml", rules);
    Shell r = sh(promtool() + " check rules " + file);
    EXPECT_EQ(r.code, 0) << r.output << "\n" << rules;
    std::filesystem::remove(file);

    // Each metric is one Byparr exports (browser ones come from the webengine
    // plugin and the memory limit only exists under a cgroup limit).
    const std::string& m = scrape();
    for (std::string name : metrics) {
        if (name.rfind("byparr_browser_", 0) == 0 || name == "byparr_memory_limit_bytes") continue;
        for (const char* suf : {"_bucket", "_sum", "_count"})
            if (name.ends_with(suf) &&
                m.find("# TYPE " + name.substr(0, name.size() - std::strlen(suf)) + " histogram") !=
                    std::string::npos)
                name = name.substr(0, name.size() - std::strlen(suf));
        EXPECT_NE(m.find("# TYPE " + name + " "), std::string::npos)
            << "the dashboard uses " << name << ", which /metrics does not export";
    }
}

}  // namespace
}  // namespace byparr
