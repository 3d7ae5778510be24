// BLOCK_PRIVATE_TARGETS end to end (issue #8): the real host, the browser plugin's egress
// guard and worker, on each engine (webengine: a worker's Chromium behind one guard;
// chromium: every browser context behind it, each request's own proxy routed through it), and
// test sites on two loopback addresses. 127.0.0.5 is allow-listed (the "LAN indexer");
// 127.0.0.1 stands for everything private.
#include <gtest/gtest.h>

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "tests/support/byparr_server.h"
#include "tests/support/http_client.h"
#include "tests/support/proc_stats.h"
#include "tests/support/test_process.h"
#include "tests/support/test_site.h"

namespace byparr::test {
namespace {

using namespace std::chrono_literals;
using Json = Poco::JSON::Object::Ptr;
using Env = std::map<std::string, std::string>;

// The server with no clearance cache: every request must really load.
class Server : public ByparrServer {
  public:
    Server(Env extra_env, const std::string& engine)
        : ByparrServer({.env = with(std::move(extra_env), engine)}) {}
    // The reply's HTTP status and body.
    std::pair<int, Json> get(const std::string& url, const std::string& extra = "") {
        std::string members = extra;
        if (!members.empty() && members[0] == ',') members.erase(0, 1);
        HttpResult r = v1(get_body(url, 20000, members), 40000);
        Poco::JSON::Parser parser;
        return {r.status, parser.parse(r.body).extract<Json>()};
    }

  private:
    static Env with(Env env, const std::string& engine) {
        env.emplace("CACHE_DURATION", "0");
        env.emplace("SOLVERS", engine);
        return env;
    }
};

// The guarded settings every test here starts from.
Env guarded(Env more = {}) {
    more.emplace("BLOCK_PRIVATE_TARGETS", "true");
    more.emplace("BLOCK_PRIVATE_TARGETS_ALLOW", "127.0.0.5/32");
    return more;
}

std::string message(const Json& j) {
    return j->optValue<std::string>("message", "");
}
std::string status(const Json& j) {
    return j->optValue<std::string>("status", "");
}

long probe_hits(const TestSite& site) {
    HttpResult r = http_request("GET", site.url("/guard/hits"));
    Poco::JSON::Parser parser;
    return parser.parse(r.body).extract<Json>()->getValue<long>("probe");
}

// One guarded server per engine, kept for the suite (starting one costs a browser start).
class TargetGuardTest : public ::testing::TestWithParam<std::string> {
  protected:
    static void SetUpTestSuite() {
        lan_ = new TestSite("127.0.0.5");
        private_ = new TestSite("127.0.0.1");
    }
    static void TearDownTestSuite() {
        for (auto& [engine, server] : servers_)
            delete server;
        servers_.clear();
        delete private_;
        delete lan_;
        private_ = lan_ = nullptr;
    }
    void SetUp() override {
        if (!engine_available(GetParam())) GTEST_SKIP() << GetParam() << " is not available here";
        Server*& server = servers_[GetParam()];
        if (!server) server = new Server(guarded(), GetParam());
        guarded_ = server;
    }
    static inline TestSite* lan_ = nullptr;
    static inline TestSite* private_ = nullptr;
    static inline std::map<std::string, Server*> servers_;
    Server* guarded_ = nullptr;
};

INSTANTIATE_TEST_SUITE_P(Engines, TargetGuardTest, ::testing::ValuesIn(browser_engines()),
                         [](const auto& info) { return info.param; });

TEST_P(TargetGuardTest, AnAllowListedSiteLoads) {
    auto [code, r] = guarded_->get(lan_->url("/plain"));
    EXPECT_EQ(code, 200);
    ASSERT_EQ(status(r), "ok") << message(r);
    EXPECT_NE(r->getObject("solution")->optValue<std::string>("response", "").find("Hello plain"),
              std::string::npos);
}

TEST_P(TargetGuardTest, ALoopbackTargetIsRefusedAtOnceWithTheReason) {
    auto t0 = std::chrono::steady_clock::now();
    auto [code, r] = guarded_->get(private_->url("/plain"));
    EXPECT_EQ(code, 500);
    EXPECT_EQ(status(r), "error");
    EXPECT_EQ(message(r),
              "Error: Refused by BLOCK_PRIVATE_TARGETS: the target 127.0.0.1 is loopback (exempt "
              "it with BLOCK_PRIVATE_TARGETS_ALLOW).");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);  // no browser involved
}

TEST_P(TargetGuardTest, LocalhostIsRefusedByItsResolvedAddress) {
    auto [code, r] =
        guarded_->get("http://localhost:" + std::to_string(private_->port()) + "/plain");
    EXPECT_EQ(code, 500);
    EXPECT_NE(
        message(r).find("Refused by BLOCK_PRIVATE_TARGETS: the target localhost resolves to "),
        std::string::npos)
        << message(r);
    EXPECT_NE(message(r).find("loopback"), std::string::npos) << message(r);
}

TEST_P(TargetGuardTest, ARequestProxyOnAPrivateAddressIsRefused) {
    auto [code, r] =
        guarded_->get(lan_->url("/plain"), R"(,"proxy":{"url":"http://169.254.169.254:80"})");
    EXPECT_EQ(code, 500);
    EXPECT_NE(message(r).find("the proxy 169.254.169.254 is a cloud metadata address"),
              std::string::npos)
        << message(r);
}

TEST_P(TargetGuardTest, ARedirectToAPrivateAddressIsRefusedAtConnectTime) {
    long before = probe_hits(*private_);
    auto [code, r] =
        guarded_->get(lan_->url("/guard/redirect?to=") + private_->url("/guard/probe"));
    EXPECT_EQ(code, 500);
    EXPECT_EQ(status(r), "error");
    EXPECT_NE(message(r).find("Refused by BLOCK_PRIVATE_TARGETS at connect time: 127.0.0.1 is "
                              "loopback"),
              std::string::npos)
        << message(r);
    EXPECT_EQ(probe_hits(*private_), before);
}

TEST_P(TargetGuardTest, PrivateSubresourcesNeverLeaveTheBrowser) {
    long before = probe_hits(*private_);
    auto [code, r] = guarded_->get(lan_->url("/guard/page?target=") + private_->url(""));
    EXPECT_EQ(code, 200);
    ASSERT_EQ(status(r), "ok") << message(r);
    EXPECT_NE(r->getObject("solution")->optValue<std::string>("response", "").find("Guard page"),
              std::string::npos);
    std::this_thread::sleep_for(1s);  // a late fetch would have arrived by now
    EXPECT_EQ(probe_hits(*private_), before);
}

class TargetGuardEngine : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        if (!engine_available(GetParam())) GTEST_SKIP() << GetParam() << " is not available here";
    }
};

INSTANTIATE_TEST_SUITE_P(Engines, TargetGuardEngine, ::testing::ValuesIn(browser_engines()),
                         [](const auto& info) { return info.param; });

// With an HTTP upstream proxy (PROXY_URL with credentials) the guard chains to it:
// allowed targets go through the proxy, refused ones never reach it.
TEST_P(TargetGuardEngine, ChainsToAnHttpProxyAndStillRefuses) {
    TestSite lan("127.0.0.5");
    TestSite priv("127.0.0.1");
    TestProxy proxy(TestProxyOptions{"http", "127.0.0.1", "u", "p"});
    Server server(
        guarded({{"PROXY_URL", proxy.url()}, {"PROXY_USERNAME", "u"}, {"PROXY_PASSWORD", "p"}}),
        GetParam());
    {
        auto [code, r] = server.get(lan.url("/plain"));
        ASSERT_EQ(status(r), "ok") << message(r);
    }
    auto stats = proxy.stats();
    EXPECT_GT(stats["requests"], 0);
    EXPECT_EQ(stats["auth_failures"], 0);
    long before = stats["requests"] + stats["tunnels"];
    {
        auto [code, r] = server.get(lan.url("/guard/page?target=") + priv.url(""));
        ASSERT_EQ(status(r), "ok") << message(r);
    }
    std::this_thread::sleep_for(1s);
    // The page went through the proxy; its 127.0.0.1 subresources went nowhere (the
    // proxy dials loopback, so one forwarded to it would have reached the site).
    stats = proxy.stats();
    EXPECT_GT(stats["requests"] + stats["tunnels"], before);
    EXPECT_EQ(probe_hits(priv), 0);
}

// Each request's own proxy under the guard: the request goes through that proxy (and no
// other), and the page's private subresources still go nowhere. Chromium routes each browser
// context through its worker's guard (one worker for every proxy); webengine starts a worker,
// and a guard, per proxy.
TEST_P(TargetGuardEngine, EachRequestsOwnProxyIsGuardedToo) {
    TestSite lan("127.0.0.5");
    TestSite priv("127.0.0.1");
    // On the allow-listed address: the host checks a request's proxy as a destination too.
    TestProxy open_proxy(TestProxyOptions{"http", "127.0.0.5"});
    TestProxy auth_proxy(TestProxyOptions{"http", "127.0.0.5", "u", "p"});
    Server server(guarded(), GetParam());
    const auto through = [](TestProxy& p) {
        auto st = p.stats();
        return st["requests"] + st["tunnels"];
    };
    const std::string page = lan.url("/guard/page?target=") + priv.url("");
    const std::string open_member = R"(,"proxy":{"url":")" + open_proxy.url() + R"("})";
    const std::string auth_member =
        R"(,"proxy":{"url":")" + auth_proxy.url() + R"(","username":"u","password":"p"})";
    {
        auto [code, r] = server.get(page, open_member);
        ASSERT_EQ(status(r), "ok") << message(r);
    }
    EXPECT_GT(through(open_proxy), 0);
    EXPECT_EQ(through(auth_proxy), 0);
    const long open_before = through(open_proxy);
    {
        auto [code, r] = server.get(page, auth_member);
        ASSERT_EQ(status(r), "ok") << message(r);
    }
    EXPECT_GT(through(auth_proxy), 0);
    EXPECT_EQ(auth_proxy.stats()["auth_failures"], 0);
    const long auth_before = through(auth_proxy);
    // A direct request goes through neither.
    {
        auto [code, r] = server.get(lan.url("/plain"));
        ASSERT_EQ(status(r), "ok") << message(r);
    }
    EXPECT_EQ(through(auth_proxy), auth_before);
    // A session keeps its proxy, behind the guard as well.
    {
        HttpResult c = server.v1(R"({"cmd":"sessions.create","session":"s")" + auth_member + "}");
        ASSERT_EQ(c.status, 200) << c.body;
        auto [code, r] = server.get(page, R"(,"session":"s")");
        ASSERT_EQ(status(r), "ok") << message(r);
    }
    EXPECT_GT(through(auth_proxy), auth_before);
    std::this_thread::sleep_for(1s);  // a late fetch would have arrived by now
    EXPECT_EQ(through(open_proxy), open_before) << "another request went through this proxy";
    EXPECT_EQ(probe_hits(priv), 0);
    int workers = 0;
    for (pid_t p : descendants(server.process().pid()))
        workers += comm_of(p) == worker_comm_of(GetParam()) ? 1 : 0;
    // webengine: the start-up self-test's worker (no proxy) and one per proxy.
    EXPECT_EQ(workers, GetParam() == "chromium" ? 1 : 3);
}

// The control: with the setting off, the same requests all reach 127.0.0.1, so the
// tests above prove the guard and not a broken fixture.
TEST_P(TargetGuardEngine, EverythingLoadsWhenTheSettingIsOff) {
    TestSite lan("127.0.0.5");
    TestSite priv("127.0.0.1");
    Server server({}, GetParam());
    const std::string base = priv.url("");  // "http://127.0.0.1:<port>"
    {
        auto [code, r] = server.get(priv.url("/plain"));
        EXPECT_EQ(status(r), "ok") << message(r);
    }
    {
        auto [code, r] = server.get("http://localhost:" + std::to_string(priv.port()) + "/plain");
        EXPECT_EQ(status(r), "ok") << message(r);
    }
    {
        auto [code, r] = server.get(lan.url("/guard/redirect?to=") + priv.url("/guard/probe"));
        EXPECT_EQ(status(r), "ok") << message(r);
    }
    EXPECT_EQ(probe_hits(priv), 1);
    {
        auto [code, r] = server.get(lan.url("/guard/page?target=") + base);
        EXPECT_EQ(status(r), "ok") << message(r);
    }
    auto deadline = std::chrono::steady_clock::now() + 5s;
    while (probe_hits(priv) < 4 && std::chrono::steady_clock::now() < deadline)
        std::this_thread::sleep_for(100ms);
    EXPECT_EQ(probe_hits(priv), 4);  // the redirect, then script, img and fetch
}

}  // namespace
}  // namespace byparr::test
