// Resource limits and log hygiene through the real server and browser worker
// (issue #8): the returned page is capped and flagged, screenshots are bounded
// by construction, oversized HTTP headers are refused without harm, and no
// secret a client or operator hands over reaches the log above debug.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>

#include <Poco/JSON/Object.h>

#include "tests/support/byparr_server.h"
#include "tests/support/http_client.h"
#include "tests/support/test_site.h"

namespace byparr::test {
namespace {

uint32_t be32(const std::string& s, size_t at) {
    return (uint32_t(uint8_t(s[at])) << 24) | (uint32_t(uint8_t(s[at + 1])) << 16) |
           (uint32_t(uint8_t(s[at + 2])) << 8) | uint32_t(uint8_t(s[at + 3]));
}

TEST(Limits, ResponseOverTheCapIsCutAndFlagged) {
    TestSite site;
    ByparrServer server({.env = {{"MAX_RESPONSE_BYTES", "1048576"}}});
    auto big = server.v1_json(get_body(site.url("/large?mb=3")));
    ASSERT_EQ(big->getValue<std::string>("status"), "ok") << big->getValue<std::string>("message");
    auto sol = big->getObject("solution");
    const std::string html = sol->getValue<std::string>("response");
    EXPECT_LE(html.size(), 1048576u);
    EXPECT_GT(html.size(), 1000000u);  // cut near the cap, not emptied
    EXPECT_NE(html.find("Large page"), std::string::npos);
    EXPECT_EQ(html.find("END"), std::string::npos);  // the tail is beyond the cut
    ASSERT_TRUE(sol->has("responseTruncated"));
    EXPECT_TRUE(sol->getValue<bool>("responseTruncated"));

    // Under the cap: the whole page and no flag (the FlareSolverr shape unchanged).
    auto small = server.v1_json(get_body(site.url("/plain")));
    ASSERT_EQ(small->getValue<std::string>("status"), "ok");
    EXPECT_FALSE(small->getObject("solution")->has("responseTruncated"));
}

TEST(Limits, ScreenshotIsTheViewportWhateverThePageSize) {
    TestSite site;
    ByparrServer server;
    auto o = server.v1_json(get_body(site.url("/large?mb=2"), 60000, R"("returnScreenshot":true)"));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << o->getValue<std::string>("message");
    const std::string png =
        base64_decode(o->getObject("solution")->getValue<std::string>("screenshot"));
    ASSERT_GT(png.size(), 24u);
    ASSERT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
    EXPECT_EQ(be32(png, 16), 1366u);  // IHDR width
    EXPECT_EQ(be32(png, 20), 768u);   // IHDR height: never the whole 2 MB page
    // An RGBA viewport can never encode larger than this.
    EXPECT_LT(png.size(), 1366u * 768u * 4u + 65536u);
}

TEST(Limits, OversizedHeadersAreRefusedAndTheServerKeepsServing) {
    ByparrServer server(
        {.env = {{"BYPARR_PLUGIN_PATH", ByparrServer::fixture_plugin_dir() + "/good"},
                 {"SOLVERS", "echo-solver"}}});
    std::map<std::string, std::string> many;
    for (int i = 0; i < 200; ++i)
        many["X-Flood-" + std::to_string(i)] = "1";
    auto r = http_request("POST", server.base() + "/v1", get_body("http://a.test/"), many);
    EXPECT_EQ(r.status, 400);
    r = http_request("POST", server.base() + "/v1", get_body("http://a.test/"),
                     {{"X-Huge", std::string(20000, 'a')}});
    EXPECT_EQ(r.status, 400);
    r = http_request("GET", server.base() + "/" + std::string(20000, 'a'));
    EXPECT_GE(r.status, 400);
    EXPECT_EQ(http_request("GET", server.base() + "/health").status, 200);
    auto ok = server.v1_json(get_body("http://a.test/"));
    EXPECT_EQ(ok->getValue<std::string>("status"), "ok");
}

// Every secret below is handed to the server in a way a real deployment would:
// the operator's API key and proxy password, a client's cookie values, proxy
// credentials and an indexer passkey in a URL. None may show up at LOG_LEVEL=info,
// in either log format, even when the requests that carry them fail.
class LogHygiene : public ::testing::TestWithParam<const char*> {};

TEST_P(LogHygiene, NoSecretAboveDebug) {
    const std::string api_key = "APIKEY-5ecret-71";
    const std::string proxy_pass = "PROXYPASS-5ecret-72";
    const std::string request_proxy_pass = "REQPROXY-5ecret-73";
    const std::string cookie_value = "COOKIE-5ecret-74";
    const std::string passkey = "PASSKEY-5ecret-75";
    TestSite site;
    TestProxy proxy({.mode = "http",
                     .user = "puser",
                     .pass = proxy_pass,
                     .host_map = {{"site.test", "127.0.0.1"}}});
    char tmpl[] = "/tmp/byparr-log-hygiene-XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    const std::string log_path = std::string(tmpl) + "/byparr.log";
    {
        ByparrServer server(
            {.env = {{"API_KEY", api_key},
                     {"LOG_LEVEL", "info"},
                     {"LOG_FORMAT", GetParam()},
                     {"PROXY_URL", "http://127.0.0.1:" + std::to_string(proxy.port())},
                     {"PROXY_USERNAME", "puser"},
                     {"PROXY_PASSWORD", proxy_pass}},
             .stderr_path = log_path});
        const std::string key = R"("apiKey":")" + api_key + "\"";
        const std::string site_url =
            "http://site.test:" + std::to_string(site.port()) + "/echo?passkey=" + passkey;
        // Through PROXY_URL with the operator's credentials, with a client cookie.
        auto o = server.v1_json(
            get_body(site_url, 30000,
                     key + R"(,"cookies":[{"name":"sid","value":")" + cookie_value + "\"}]"));
        EXPECT_EQ(o->getValue<std::string>("status"), "ok") << o->getValue<std::string>("message");
        // A per-request proxy with wrong credentials: fails, and the failure is logged.
        o = server.v1_json(
            get_body(site_url, 30000,
                     key + R"(,"proxy":{"url":"http://127.0.0.1:)" + std::to_string(proxy.port()) +
                         R"(","username":"other","password":")" + request_proxy_pass + "\"}"));
        EXPECT_EQ(o->getValue<std::string>("status"), "error");
        // A load that fails with the URL (and its passkey) in the error message.
        o = server.v1_json(get_body("http://127.0.0.1:9/rss?passkey=" + passkey, 30000, key));
        EXPECT_EQ(o->getValue<std::string>("status"), "error");
        // A wrong key is refused and logged, without echoing what was sent.
        auto r = server.v1(get_body(site_url, 30000, R"("apiKey":"wrong-)" + api_key + "\""));
        EXPECT_EQ(r.status, 401);
    }
    std::ifstream in(log_path);
    std::stringstream all;
    all << in.rdbuf();
    const std::string log = all.str();
    // The log says something about those requests, so the checks below mean something.
    EXPECT_NE(log.find("request"), std::string::npos) << log;
    EXPECT_NE(log.find("API key"), std::string::npos) << log;
    for (const std::string& secret :
         {api_key, proxy_pass, request_proxy_pass, cookie_value, passkey})
        EXPECT_EQ(log.find(secret), std::string::npos) << secret << " leaked into:\n" << log;
    std::remove(log_path.c_str());
    std::remove(tmpl);
}

INSTANTIATE_TEST_SUITE_P(Formats, LogHygiene, ::testing::Values("text", "json"));

}  // namespace
}  // namespace byparr::test
