// BLOCK_PRIVATE_TARGETS end to end (issue #8): the real host, the webengine plugin's
// egress guard and worker, and test sites on two loopback addresses. 127.0.0.5 is
// allow-listed (the "LAN indexer"); 127.0.0.1 stands for everything private.
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
    explicit Server(Env extra_env) : ByparrServer({.env = with_no_cache(std::move(extra_env))}) {}
    // The reply's HTTP status and body.
    std::pair<int, Json> get(const std::string& url, const std::string& extra = "") {
        std::string members = extra;
        if (!members.empty() && members[0] == ',') members.erase(0, 1);
        HttpResult r = v1(get_body(url, 20000, members), 40000);
        Poco::JSON::Parser parser;
        return {r.status, parser.parse(r.body).extract<Json>()};
    }

  private:
    static Env with_no_cache(Env env) {
        env.emplace("CACHE_DURATION", "0");
        return env;
    }
};

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

class TargetGuardTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        if (::access((ByparrServer::plugin_dir() + "/webengine/byparr-webengine-worker").c_str(),
                     X_OK) != 0)
            return;
        lan_ = new TestSite("127.0.0.5");
        private_ = new TestSite("127.0.0.1");
        guarded_ = new Server(
            {{"BLOCK_PRIVATE_TARGETS", "true"}, {"BLOCK_PRIVATE_TARGETS_ALLOW", "127.0.0.5/32"}});
    }
    static void TearDownTestSuite() {
        delete guarded_;
        delete private_;
        delete lan_;
        guarded_ = nullptr;
        private_ = lan_ = nullptr;
    }
    void SetUp() override {
        if (!guarded_) GTEST_SKIP() << "byparr-webengine-worker is not built";
    }
    static inline TestSite* lan_ = nullptr;
    static inline TestSite* private_ = nullptr;
    static inline Server* guarded_ = nullptr;
};

TEST_F(TargetGuardTest, AnAllowListedSiteLoads) {
    auto [code, r] = guarded_->get(lan_->url("/plain"));
    EXPECT_EQ(code, 200);
    ASSERT_EQ(status(r), "ok") << message(r);
    EXPECT_NE(r->getObject("solution")->optValue<std::string>("response", "").find("Hello plain"),
              std::string::npos);
}

TEST_F(TargetGuardTest, ALoopbackTargetIsRefusedAtOnceWithTheReason) {
    auto t0 = std::chrono::steady_clock::now();
    auto [code, r] = guarded_->get(private_->url("/plain"));
    EXPECT_EQ(code, 500);
    EXPECT_EQ(status(r), "error");
    EXPECT_EQ(message(r),
              "Error: Refused by BLOCK_PRIVATE_TARGETS: the target 127.0.0.1 is loopback (exempt "
              "it with BLOCK_PRIVATE_TARGETS_ALLOW).");
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);  // no browser involved
}

TEST_F(TargetGuardTest, LocalhostIsRefusedByItsResolvedAddress) {
    auto [code, r] =
        guarded_->get("http://localhost:" + std::to_string(private_->port()) + "/plain");
    EXPECT_EQ(code, 500);
    EXPECT_NE(
        message(r).find("Refused by BLOCK_PRIVATE_TARGETS: the target localhost resolves to "),
        std::string::npos)
        << message(r);
    EXPECT_NE(message(r).find("loopback"), std::string::npos) << message(r);
}

TEST_F(TargetGuardTest, ARequestProxyOnAPrivateAddressIsRefused) {
    auto [code, r] =
        guarded_->get(lan_->url("/plain"), R"(,"proxy":{"url":"http://169.254.169.254:80"})");
    EXPECT_EQ(code, 500);
    EXPECT_NE(message(r).find("the proxy 169.254.169.254 is a cloud metadata address"),
              std::string::npos)
        << message(r);
}

TEST_F(TargetGuardTest, ARedirectToAPrivateAddressIsRefusedAtConnectTime) {
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

TEST_F(TargetGuardTest, PrivateSubresourcesNeverLeaveTheBrowser) {
    long before = probe_hits(*private_);
    auto [code, r] = guarded_->get(lan_->url("/guard/page?target=") + private_->url(""));
    EXPECT_EQ(code, 200);
    ASSERT_EQ(status(r), "ok") << message(r);
    EXPECT_NE(r->getObject("solution")->optValue<std::string>("response", "").find("Guard page"),
              std::string::npos);
    std::this_thread::sleep_for(1s);  // a late fetch would have arrived by now
    EXPECT_EQ(probe_hits(*private_), before);
}

// With an HTTP upstream proxy (PROXY_URL with credentials) the guard chains to it:
// allowed targets go through the proxy, refused ones never reach it.
TEST(TargetGuardUpstream, ChainsToAnHttpProxyAndStillRefuses) {
    if (::access((ByparrServer::plugin_dir() + "/webengine/byparr-webengine-worker").c_str(),
                 X_OK) != 0)
        GTEST_SKIP() << "byparr-webengine-worker is not built";
    TestSite lan("127.0.0.5");
    TestSite priv("127.0.0.1");
    TestProxy proxy(TestProxyOptions{"http", "127.0.0.1", "u", "p"});
    Server server({{"BLOCK_PRIVATE_TARGETS", "true"},
                   {"BLOCK_PRIVATE_TARGETS_ALLOW", "127.0.0.5/32"},
                   {"PROXY_URL", proxy.url()},
                   {"PROXY_USERNAME", "u"},
                   {"PROXY_PASSWORD", "p"}});
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

// The control: with the setting off, the same requests all reach 127.0.0.1, so the
// tests above prove the guard and not a broken fixture.
TEST(TargetGuardOff, EverythingLoadsWhenTheSettingIsOff) {
    if (::access((ByparrServer::plugin_dir() + "/webengine/byparr-webengine-worker").c_str(),
                 X_OK) != 0)
        GTEST_SKIP() << "byparr-webengine-worker is not built";
    TestSite lan("127.0.0.5");
    TestSite priv("127.0.0.1");
    Server server({});
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
