// Checks the test fixtures themselves (site, proxies, support helpers) over plain HTTP, so a
// failing browser test can be blamed on the solver and not on its fixtures.
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <regex>
#include <string>
#include <thread>

#include <Poco/DigestEngine.h>
#include <Poco/Exception.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/SHA2Engine.h>

#include "tests/support/http_client.h"
#include "tests/support/test_process.h"
#include "tests/support/test_site.h"

namespace byparr::test {
namespace {

using namespace std::chrono_literals;

constexpr const char* kUa = "Mozilla/5.0 (X11; Linux x86_64) FixtureTest/1.0";

std::string sha256_hex(const std::string& text) {
    Poco::SHA2Engine sha(Poco::SHA2Engine::SHA_256);
    sha.update(text);
    return Poco::DigestEngine::digestToHex(sha.digest());
}

std::string find_nonce(const std::string& page) {
    std::smatch m;
    if (!std::regex_search(page, m, std::regex("nonce: '([0-9a-f]+)'"))) return "";
    return m[1].str();
}

// What the challenge page's script computes, done natively.
std::string solve_pow(const std::string& nonce, int zeros, bool want_valid = true) {
    const std::string prefix(static_cast<std::size_t>(zeros), '0');
    for (long counter = 0;; ++counter) {
        const bool valid = sha256_hex(nonce + std::to_string(counter)).rfind(prefix, 0) == 0;
        if (valid == want_valid) return std::to_string(counter);
    }
}

// "name=value" of the first Set-Cookie named `name`, for replaying in a Cookie header.
std::string cookie_pair(const HttpResult& r, const std::string& name) {
    for (const auto& c : r.set_cookies) {
        if (c.rfind(name + "=", 0) == 0) return c.substr(0, c.find(';'));
    }
    return "";
}

std::string raw_exchange(Poco::Net::StreamSocket& s, const std::string& send_text) {
    s.sendBytes(send_text.data(), static_cast<int>(send_text.size()));
    std::string out;
    char buf[4096];
    int n;
    while ((n = s.receiveBytes(buf, sizeof buf)) > 0)
        out.append(buf, static_cast<std::size_t>(n));
    return out;
}

std::string read_n(Poco::Net::StreamSocket& s, std::size_t n) {
    std::string out(n, '\0');
    std::size_t got = 0;
    while (got < n) {
        int r = s.receiveBytes(out.data() + got, static_cast<int>(n - got));
        if (r <= 0) break;
        got += static_cast<std::size_t>(r);
    }
    out.resize(got);
    return out;
}

class FixturesTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() { site_ = new TestSite(); }
    static void TearDownTestSuite() {
        delete site_;
        site_ = nullptr;
    }
    static TestSite* site_;
};

TestSite* FixturesTest::site_ = nullptr;

TEST_F(FixturesTest, PlainPage) {
    const auto r = http_request("GET", site_->url("/plain"));
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("<title>Plain</title>"), std::string::npos);
    EXPECT_NE(r.body.find("<h1 id=\"content\">Hello plain</h1>"), std::string::npos);
    EXPECT_EQ(r.header("content-type"), "text/html; charset=utf-8");
    EXPECT_EQ(r.header("x-test-site"), "1");
}

TEST_F(FixturesTest, StatusRouteSetsCodeAndHeader) {
    const auto r = http_request("GET", site_->url("/status/404"));
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.header("X-Custom"), "status-404");
    EXPECT_NE(r.body.find("<title>Status 404</title>"), std::string::npos);
    EXPECT_EQ(http_request("GET", site_->url("/status/503")).status, 503);
}

TEST_F(FixturesTest, RedirectAndCookies) {
    const auto r = http_request("GET", site_->url("/redirect"));
    EXPECT_EQ(r.status, 302);
    EXPECT_EQ(r.header("Location"), "/js-redirect");
    const auto c = http_request("GET", site_->url("/set-cookie"));
    ASSERT_EQ(c.set_cookies.size(), 2u);
    EXPECT_EQ(c.set_cookies[0], "sid=abc123; Path=/; HttpOnly; Max-Age=3600");
    EXPECT_EQ(c.set_cookies[1], "pathc=p1; Path=/set-cookie");
}

TEST_F(FixturesTest, EchoReflectsRequest) {
    const auto r = http_request("POST", site_->url("/echo?a=1"), "x=<y>",
                                {{"Content-Type", "application/x-www-form-urlencoded"},
                                 {"Cookie", "k=v"},
                                 {"User-Agent", kUa}});
    EXPECT_EQ(r.status, 200);
    EXPECT_NE(r.body.find("<pre id=\"echo\">"), std::string::npos);
    EXPECT_NE(r.body.find("&quot;body&quot;:&quot;x=&lt;y&gt;&quot;"), std::string::npos);
    EXPECT_NE(r.body.find("&quot;cookies&quot;:&quot;k=v&quot;"), std::string::npos);
    EXPECT_NE(r.body.find("&quot;query&quot;:&quot;a=1&quot;"), std::string::npos);
    EXPECT_NE(r.body.find("FixtureTest/1.0"), std::string::npos);
}

TEST_F(FixturesTest, LargeSlowAndNever) {
    const auto large = http_request("GET", site_->url("/large?mb=2"));
    EXPECT_EQ(large.status, 200);
    EXPECT_GT(large.body.size(), (2u << 20) - 2048);
    EXPECT_LE(large.body.size(), 2u << 20);
    EXPECT_NE(large.body.find("</html>"), std::string::npos);

    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(http_request("GET", site_->url("/slow?ms=300")).status, 200);
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 290ms);

    EXPECT_THROW(http_request("GET", site_->url("/never"), "", {}, 500), Poco::Exception);
    EXPECT_EQ(http_request("GET", site_->url("/plain")).status, 200);
}

TEST_F(FixturesTest, MediaCounters) {
    http_request("GET", site_->url("/counters/reset"));
    EXPECT_EQ(http_request("GET", site_->url("/asset/img.png")).header("content-type"),
              "image/png");
    http_request("GET", site_->url("/asset/v.mp4"));
    const auto c = http_request("GET", site_->url("/counters"));
    EXPECT_EQ(c.body, R"({"cached":0,"css":0,"font":0,"img":1,"media":1})");
}

TEST_F(FixturesTest, CfChallengeHeadersAndPow) {
    const auto page = http_request("GET", site_->url("/cf/?delay_ms=0"), "", {{"User-Agent", kUa}});
    EXPECT_EQ(page.status, 503);
    EXPECT_EQ(page.header("Server"), "cloudflare");
    EXPECT_EQ(page.header("cf-mitigated"), "challenge");
    EXPECT_NE(page.body.find("<title>Just a moment...</title>"), std::string::npos);
    EXPECT_NE(page.body.find("id=\"cf-please-wait\""), std::string::npos);
    EXPECT_NE(page.body.find("class=\"ray_id\""), std::string::npos);
    const std::string nonce = find_nonce(page.body);
    ASSERT_FALSE(nonce.empty());

    const std::string verify = site_->url("/cdn-cgi/challenge-platform/verify");
    const std::map<std::string, std::string> ua{{"User-Agent", kUa},
                                                {"Content-Type", "application/json"}};
    auto wrong = http_request(
        "POST", verify,
        R"({"nonce":")" + nonce + R"(","counter":")" + solve_pow(nonce, 3, false) + R"("})", ua);
    EXPECT_EQ(wrong.status, 403);
    EXPECT_TRUE(wrong.set_cookies.empty());

    auto right = http_request(
        "POST", verify,
        R"({"nonce":")" + nonce + R"(","counter":")" + solve_pow(nonce, 3) + R"("})", ua);
    ASSERT_EQ(right.status, 200) << right.body;
    const std::string clearance = cookie_pair(right, "cf_clearance");
    ASSERT_FALSE(clearance.empty());
    EXPECT_NE(right.set_cookies[0].find("Max-Age=1800; SameSite=Lax"), std::string::npos);

    const auto ok =
        http_request("GET", site_->url("/cf/"), "", {{"User-Agent", kUa}, {"Cookie", clearance}});
    EXPECT_EQ(ok.status, 200);
    EXPECT_NE(ok.body.find("PROTECTED-CONTENT"), std::string::npos);
    // The clearance is bound to the User-Agent that earned it.
    const auto other_ua = http_request("GET", site_->url("/cf/"), "",
                                       {{"User-Agent", "Other/1"}, {"Cookie", clearance}});
    EXPECT_EQ(other_ua.status, 503);
    // A used nonce cannot be replayed.
    EXPECT_EQ(http_request(
                  "POST", verify,
                  R"({"nonce":")" + nonce + R"(","counter":")" + solve_pow(nonce, 3) + R"("})", ua)
                  .status,
              403);
}

TEST_F(FixturesTest, CfChallengeEnforcesDelay) {
    const auto page =
        http_request("GET", site_->url("/cf/?delay_ms=3000&zeros=1"), "", {{"User-Agent", kUa}});
    const std::string nonce = find_nonce(page.body);
    const auto early =
        post_json(site_->url("/cdn-cgi/challenge-platform/verify"),
                  R"({"nonce":")" + nonce + R"(","counter":")" + solve_pow(nonce, 1) + R"("})");
    EXPECT_EQ(early.status, 403);
    EXPECT_NE(early.body.find("delay"), std::string::npos);
}

TEST_F(FixturesTest, ManagedChallengeReportsTells) {
    const std::map<std::string, std::string> ua{{"User-Agent", kUa},
                                                {"Content-Type", "application/json"}};
    auto report = [&](const std::string& nonce, bool webdriver) {
        return R"({"nonce":")" + nonce + R"(","counter":")" + solve_pow(nonce, 3) +
               R"(","userAgent":")" + kUa + R"(","webdriver":)" + (webdriver ? "true" : "false") +
               R"(,"languages":["en-US"],"brands":["Chromium"],"screenWidth":1920,)"
               R"("screenHeight":1080,"outerWidth":1280,"outerHeight":800,"hasFocus":true,)"
               R"("visibilityState":"visible","timer100":101.5})";
    };
    const std::string verify = site_->url("/cdn-cgi/challenge-platform/managed");

    auto page = http_request("GET", site_->url("/managed/?delay_ms=0"), "", ua);
    EXPECT_EQ(page.status, 503);
    std::string nonce = find_nonce(page.body);
    auto refused = http_request("POST", verify, report(nonce, true), ua);
    EXPECT_EQ(refused.status, 403);
    EXPECT_EQ(refused.body, R"({"ok":false,"tells":["webdriver"]})");

    auto qt_ua = ua;
    qt_ua["User-Agent"] = "Mozilla/5.0 QtWebEngine/6.4.2 Chrome/102.0.5005.177";
    auto mismatch = http_request("POST", verify, report(nonce, false), qt_ua);
    EXPECT_NE(mismatch.body.find("qtwebengine-ua"), std::string::npos);
    EXPECT_NE(mismatch.body.find("ua-mismatch"), std::string::npos);

    auto passed = http_request("POST", verify, report(nonce, false), ua);
    ASSERT_EQ(passed.status, 200) << passed.body;
    const auto ok =
        http_request("GET", site_->url("/managed/"), "",
                     {{"User-Agent", kUa}, {"Cookie", cookie_pair(passed, "cf_clearance")}});
    EXPECT_NE(ok.body.find("PROTECTED-CONTENT"), std::string::npos);
}

TEST_F(FixturesTest, TurnstileDdgTwoStageBlockAndCaptcha) {
    const std::map<std::string, std::string> ua{{"User-Agent", kUa},
                                                {"Content-Type", "application/json"}};
    const auto ts = http_request("GET", site_->url("/turnstile/"), "", ua);
    EXPECT_EQ(ts.status, 403);
    EXPECT_EQ(ts.header("Server"), "cloudflare");
    EXPECT_NE(ts.body.find("id=\"turnstile-wrapper\" class=\"cf-turnstile\""), std::string::npos);
    EXPECT_NE(ts.body.find("id=\"cf-chk\""), std::string::npos);
    auto token = http_request("POST", site_->url("/cdn-cgi/challenge-platform/turnstile"),
                              R"({"nonce":")" + find_nonce(ts.body) + R"("})", ua);
    EXPECT_EQ(token.status, 200);
    EXPECT_NE(token.body.find("\"token\":\"0."), std::string::npos);

    const auto ddg = http_request("GET", site_->url("/ddg/?delay_ms=0"), "", ua);
    EXPECT_EQ(ddg.status, 403);
    EXPECT_EQ(ddg.header("Server"), "ddos-guard");
    EXPECT_NE(ddg.body.find("<title>DDoS-Guard</title>"), std::string::npos);
    auto mark = http_request("POST", site_->url("/.well-known/ddos-guard/mark/"),
                             R"({"nonce":")" + find_nonce(ddg.body) + R"("})", ua);
    const std::string ddg_cookie = cookie_pair(mark, "__ddg2_");
    ASSERT_FALSE(ddg_cookie.empty());
    EXPECT_EQ(
        http_request("GET", site_->url("/ddg/"), "", {{"User-Agent", kUa}, {"Cookie", ddg_cookie}})
            .status,
        200);

    // Two stages: PoW earns "stage1", then a second page earns cf_clearance.
    const auto s1 = http_request("GET", site_->url("/two-stage/?delay_ms=0"), "", ua);
    EXPECT_EQ(s1.status, 503);
    const std::string n1 = find_nonce(s1.body);
    auto v1 =
        http_request("POST", site_->url("/cdn-cgi/challenge-platform/verify"),
                     R"({"nonce":")" + n1 + R"(","counter":")" + solve_pow(n1, 3) + R"("})", ua);
    const std::string stage1 = cookie_pair(v1, "stage1");
    ASSERT_FALSE(stage1.empty());
    auto with_stage1 = ua;
    with_stage1["Cookie"] = stage1;
    const auto s2 = http_request("GET", site_->url("/two-stage/?delay_ms=0"), "", with_stage1);
    EXPECT_EQ(s2.status, 503);
    EXPECT_NE(s2.body.find("id=\"challenge-spinner\""), std::string::npos);
    auto v2 = http_request("POST", site_->url("/cdn-cgi/challenge-platform/stage2"),
                           R"({"nonce":")" + find_nonce(s2.body) + R"("})", with_stage1);
    ASSERT_EQ(v2.status, 200) << v2.body;
    with_stage1["Cookie"] = stage1 + "; " + cookie_pair(v2, "cf_clearance");
    EXPECT_NE(http_request("GET", site_->url("/two-stage/"), "", with_stage1)
                  .body.find("PROTECTED-CONTENT"),
              std::string::npos);

    const auto block = http_request("GET", site_->url("/block1020"));
    EXPECT_EQ(block.status, 403);
    EXPECT_NE(block.body.find("error code: 1020"), std::string::npos);
    EXPECT_NE(block.body.find("<span class=\"cf-code-label\">Error code <span>1020</span>"),
              std::string::npos);

    const auto captcha = http_request("GET", site_->url("/hcaptcha/"));
    EXPECT_EQ(captcha.status, 403);
    EXPECT_NE(captcha.body.find("h-captcha"), std::string::npos);

    const auto status = http_request("GET", site_->url("/cf-status"));
    Poco::JSON::Parser parser;
    auto ddg_status =
        parser.parse(status.body).extract<Poco::JSON::Object::Ptr>()->getObject("ddg");
    ASSERT_TRUE(ddg_status) << status.body;
    EXPECT_EQ(ddg_status->getValue<int>("failed"), 0);
    EXPECT_EQ(ddg_status->getValue<int>("passed"), 1);
    EXPECT_EQ(ddg_status->getValue<int>("protected"), 1);
    EXPECT_EQ(ddg_status->getValue<int>("served"), 1);
    EXPECT_GT(ddg_status->getValue<double>("protectedAtMs"), 0) << status.body;
}

TEST_F(FixturesTest, HttpProxyRequiresAuthAndCounts) {
    TestProxy proxy(
        {.mode = "http", .user = "u", .pass = "p", .host_map = {{"site.test", "127.0.0.1"}}});
    const std::string url = "http://site.test:" + std::to_string(site_->port()) + "/plain";

    auto denied = http_request_via({"127.0.0.1", proxy.port(), "", ""}, "GET", url);
    EXPECT_EQ(denied.status, 407);
    EXPECT_EQ(denied.header("Proxy-Authenticate"), "Basic realm=\"test\"");
    auto wrong = http_request_via({"127.0.0.1", proxy.port(), "u", "bad"}, "GET", url);
    EXPECT_EQ(wrong.status, 407);

    auto ok = http_request_via({"127.0.0.1", proxy.port(), "u", "p"}, "GET", url);
    EXPECT_EQ(ok.status, 200);
    EXPECT_NE(ok.body.find("Hello plain"), std::string::npos);
    auto posted =
        http_request_via({"127.0.0.1", proxy.port(), "u", "p"}, "POST",
                         "http://site.test:" + std::to_string(site_->port()) + "/echo", "a=b");
    EXPECT_NE(posted.body.find("&quot;body&quot;:&quot;a=b&quot;"), std::string::npos);

    // CONNECT tunnel, then plain HTTP inside it.
    Poco::Net::StreamSocket s(
        Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(proxy.port())));
    s.setReceiveTimeout(Poco::Timespan(5, 0));
    const std::string target = "site.test:" + std::to_string(site_->port());
    const std::string connect = "CONNECT " + target + " HTTP/1.1\r\nHost: " + target +
                                "\r\nProxy-Authorization: Basic dTpw\r\n\r\n";
    s.sendBytes(connect.data(), static_cast<int>(connect.size()));
    const std::string established = read_n(s, 39);
    EXPECT_EQ(established, "HTTP/1.1 200 Connection Established\r\n\r\n");
    const std::string tunneled =
        raw_exchange(s, "GET /plain HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n");
    EXPECT_EQ(tunneled.rfind("HTTP/1.1 200", 0), 0u) << tunneled;

    const auto stats = proxy.stats();
    EXPECT_EQ(stats.at("requests"), 2);
    EXPECT_EQ(stats.at("auth_failures"), 2);
    EXPECT_EQ(stats.at("tunnels"), 1);
}

TEST_F(FixturesTest, Socks5ConnectWithAuth) {
    TestProxy proxy(
        {.mode = "socks5", .user = "u", .pass = "p", .host_map = {{"site.test", "127.0.0.1"}}});
    auto open = [&] {
        Poco::Net::StreamSocket s(
            Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(proxy.port())));
        s.setReceiveTimeout(Poco::Timespan(5, 0));
        s.sendBytes("\x05\x01\x02", 3);
        EXPECT_EQ(read_n(s, 2), std::string("\x05\x02", 2));
        return s;
    };
    {
        auto s = open();
        s.sendBytes(
            "\x01\x01u\x03"
            "bad",
            7);
        EXPECT_EQ(read_n(s, 2), std::string("\x01\x01", 2));
    }
    auto s = open();
    s.sendBytes("\x01\x01u\x01p", 5);
    EXPECT_EQ(read_n(s, 2), std::string("\x01\x00", 2));
    std::string req("\x05\x01\x00\x03\x09site.test", 14);
    req.push_back(static_cast<char>(site_->port() >> 8));
    req.push_back(static_cast<char>(site_->port() & 0xff));
    s.sendBytes(req.data(), static_cast<int>(req.size()));
    const std::string reply = read_n(s, 10);
    ASSERT_EQ(reply.size(), 10u);
    EXPECT_EQ(reply[1], '\x00');
    const std::string body =
        raw_exchange(s, "GET /plain HTTP/1.1\r\nHost: site.test\r\nConnection: close\r\n\r\n");
    EXPECT_NE(body.find("Hello plain"), std::string::npos);

    const auto stats = proxy.stats();
    EXPECT_EQ(stats.at("tunnels"), 1);
    EXPECT_EQ(stats.at("auth_failures"), 1);
}

TEST_F(FixturesTest, ProxyFailureModes) {
    const std::string url = "http://127.0.0.1:" + std::to_string(site_->port()) + "/plain";
    TestProxy bad_gateway({.fail = "502"});
    EXPECT_EQ(http_request_via({"127.0.0.1", bad_gateway.port(), "", ""}, "GET", url).status, 502);
    TestProxy refusing({.fail = "refuse"});
    EXPECT_THROW(http_request_via({"127.0.0.1", refusing.port(), "", ""}, "GET", url),
                 Poco::Exception);
    TestProxy closing({.fail = "close"});
    EXPECT_THROW(http_request_via({"127.0.0.1", closing.port(), "", ""}, "GET", url),
                 Poco::Exception);
}

TEST(FixtureLifetime, StdinEofStopsFixtures) {
    TestSite site("127.0.0.2");
    TestProxy proxy({.mode = "socks5"});
    // Only this test's own processes are checked: ctest may run other fixtures in parallel.
    EXPECT_GE(count_processes_named("byparr-test-"), 2u);
    const auto kids = descendants(getpid());
    EXPECT_NE(std::find(kids.begin(), kids.end(), site.process().pid()), kids.end());
    EXPECT_NE(std::find(kids.begin(), kids.end(), proxy.process().pid()), kids.end());

    site.process().close_stdin();
    proxy.process().close_stdin();
    EXPECT_TRUE(site.process().wait_exit(3s).has_value());
    EXPECT_TRUE(proxy.process().wait_exit(3s).has_value());
    const auto after = descendants(getpid());
    EXPECT_EQ(std::find(after.begin(), after.end(), site.process().pid()), after.end());
    EXPECT_EQ(std::find(after.begin(), after.end(), proxy.process().pid()), after.end());
}

TEST(FixtureLifetime, StopIsPromptEvenWithHangingRequests) {
    TestSite site;
    std::thread hanging([&] {
        try {
            http_request("GET", site.url("/never"), "", {}, 5000);
        } catch (const Poco::Exception&) {
        }
    });
    std::this_thread::sleep_for(200ms);
    const auto t0 = std::chrono::steady_clock::now();
    const int status = site.process().stop();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
    hanging.join();
}

TEST(FixtureLifetime, ClearanceDoesNotCrossSites) {
    TestSite a("127.0.0.3");
    TestSite b("127.0.0.4");
    const std::map<std::string, std::string> ua{{"User-Agent", kUa},
                                                {"Content-Type", "application/json"}};
    const auto page = http_request("GET", a.url("/cf/?delay_ms=0"), "", ua);
    const std::string nonce = find_nonce(page.body);
    auto v = http_request(
        "POST", a.url("/cdn-cgi/challenge-platform/verify"),
        R"({"nonce":")" + nonce + R"(","counter":")" + solve_pow(nonce, 3) + R"("})", ua);
    const std::string cookie = cookie_pair(v, "cf_clearance");
    EXPECT_EQ(
        http_request("GET", a.url("/cf/"), "", {{"User-Agent", kUa}, {"Cookie", cookie}}).status,
        200);
    EXPECT_EQ(
        http_request("GET", b.url("/cf/"), "", {{"User-Agent", kUa}, {"Cookie", cookie}}).status,
        503);
}

TEST(ChildProcessTest, ReportsExecFailure) {
    ChildProcess p;
    EXPECT_THROW(p.start("/nonexistent/binary", {}), std::runtime_error);
}

TEST(ChildProcessTest, KillsTheWholeGroup) {
    // A shell that ignores SIGTERM and leaves a grandchild: stop() must still clean up all.
    ChildProcess p("/bin/sh", {"-c", "trap '' TERM; sleep 30 & echo PORT 1; wait"});
    ASSERT_EQ(p.read_port(5s), 1);
    const auto kids = descendants(p.pid());
    ASSERT_EQ(kids.size(), 1u);
    const auto t0 = std::chrono::steady_clock::now();
    p.stop(300ms);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    // The orphaned grandchild is reaped by init shortly after SIGKILL.
    bool gone = false;
    for (int i = 0; i < 100 && !gone; ++i) {
        const auto now = descendants(1);
        gone = std::find(now.begin(), now.end(), kids[0]) == now.end() || kill(kids[0], 0) != 0;
        if (!gone) std::this_thread::sleep_for(20ms);
    }
    EXPECT_TRUE(gone);
}

}  // namespace
}  // namespace byparr::test
