// GET /status and /status.json over real HTTP, with the echo-solver fixture: the
// page is served, status.json lists a mixed workload without secrets, and both
// need API_KEY when it is set.
#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

#include <sstream>

#include "tests/support/byparr_server.h"
#include "tests/support/http_client.h"

namespace byparr {
namespace {

using test::http_request;

constexpr const char* kKey = "status-test-key";

class StatusPage : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        server_ = new test::ByparrServer(
            {.env = {{"BYPARR_PLUGIN_PATH", test::ByparrServer::fixture_plugin_dir() + "/good"},
                     {"SOLVERS", "echo-solver"},
                     {"API_KEY", kKey},
                     {"LOG_LEVEL", "warning"}}});
        // A mixed workload whose URLs and cookies carry secrets the page must not show.
        const std::string cookie = R"("cookies":[{"name":"sid","value":"COOKIE-SECRET-1"}])";
        for (const char* path : {"/challenge?token=QUERY-SECRET-1", "/plain?q=QUERY-SECRET-2",
                                 "/block?k=QUERY-SECRET-3", "/fail"}) {
            server_->v1(std::string(R"({"cmd":"request.get","apiKey":")") + kKey +
                        R"(","url":"http://status.example)" + path + "\"," + cookie + "}");
        }
        server_->v1(std::string(R"({"cmd":"request.get","apiKey":")") + kKey +
                    R"(","url":"http://status.example/challenge","returnOnlyCookies":true})");
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    static test::HttpResult get(const std::string& path, const std::string& auth = "") {
        std::map<std::string, std::string> headers;
        if (!auth.empty()) headers["Authorization"] = auth;
        return http_request("GET", server_->base() + path, "", headers);
    }
    static std::string basic(const std::string& user, const std::string& password) {
        std::ostringstream out;
        Poco::Base64Encoder enc(out);
        enc << user << ":" << password;
        enc.close();
        return "Basic " + out.str();
    }
    static inline test::ByparrServer* server_ = nullptr;
};

TEST_F(StatusPage, NeedsTheApiKeyWhenOneIsSet) {
    for (const char* path : {"/status", "/status.json", "/status.js", "/status.css"}) {
        auto r = get(path);
        EXPECT_EQ(r.status, 401) << path;
        EXPECT_EQ(r.headers["www-authenticate"].rfind("Basic", 0), 0u) << path;
        EXPECT_EQ(get(path, "Bearer wrong").status, 401) << path;
        EXPECT_EQ(get(path, basic("admin", "wrong")).status, 401) << path;
        EXPECT_EQ(get(path, std::string("Bearer ") + kKey).status, 200) << path;
        // A browser's own login prompt: any user name, the key as the password.
        EXPECT_EQ(get(path, basic("anyone", kKey)).status, 200) << path;
    }
}

TEST_F(StatusPage, ServesTheHtmlPageWhileTheIndexStaysJson) {
    auto page = get("/status", std::string("Bearer ") + kKey);
    EXPECT_EQ(page.headers["content-type"].rfind("text/html", 0), 0u);
    EXPECT_NE(page.body.find("<title>Byparr status</title>"), std::string::npos);
    // Nothing from elsewhere: no CDN, no web fonts.
    EXPECT_EQ(page.body.find("http://"), std::string::npos);
    EXPECT_EQ(page.body.find("https://"), std::string::npos);
    EXPECT_NE(page.headers["content-security-policy"].find("default-src 'none'"),
              std::string::npos);
    auto index = get("/");
    EXPECT_EQ(index.headers["content-type"].rfind("application/json", 0), 0u);
}

TEST_F(StatusPage, JsonListsTheWorkloadWithoutQueryStringsOrCookies) {
    auto r = get("/status.json", std::string("Bearer ") + kKey);
    ASSERT_EQ(r.status, 200);
    for (const char* secret : {"QUERY-SECRET", "COOKIE-SECRET", "token=", "?", kKey})
        EXPECT_EQ(r.body.find(secret), std::string::npos) << secret << " in " << r.body;
    Poco::JSON::Parser p;
    auto o = p.parse(r.body).extract<Poco::JSON::Object::Ptr>();
    auto requests = o->getArray("requests");
    ASSERT_EQ(requests->size(), 5u);
    std::vector<std::string> outcomes;
    for (size_t i = 0; i < requests->size(); ++i) {
        auto q = requests->getObject(static_cast<unsigned>(i));
        EXPECT_EQ(q->getValue<std::string>("domain"), "status.example");
        outcomes.push_back(q->getValue<std::string>("outcome"));
    }
    // Newest first.
    EXPECT_EQ(outcomes,
              (std::vector<std::string>{"cached", "error", "blocked", "not_detected", "solved"}));
    auto summary = o->getObject("summary");
    EXPECT_EQ(summary->getValue<int>("requestsHour"), 5);
    EXPECT_DOUBLE_EQ(summary->getValue<double>("solveRate"), 3.0 / 5.0);
    EXPECT_GT(summary->getValue<int64_t>("memoryBytes"), 0);
    EXPECT_EQ(summary->getValue<int>("queueDepth"), 0);
    EXPECT_EQ(o->getArray("latency")->size(), 60u);
    auto sites = o->getArray("sites");
    ASSERT_EQ(sites->size(), 1u);
    EXPECT_EQ(sites->getObject(0)->getValue<std::string>("lastPassedBy"), "echo-solver");
    auto plugins = o->getArray("plugins");
    ASSERT_GE(plugins->size(), 1u);
    EXPECT_EQ(plugins->getObject(0)->getValue<std::string>("id"), "echo-solver");
    EXPECT_EQ(plugins->getObject(0)->getValue<std::string>("state"), "enabled");
}

}  // namespace
}  // namespace byparr
