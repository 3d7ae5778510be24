// The browser solvers' supervisor, end to end, for each engine: the real server, the real
// worker process (Qt WebEngine, or Debian's Chromium under its own Xvfb) and the test site,
// over HTTP.
#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <Poco/JSON/Array.h>
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

std::string comm_of(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/comm");
    std::string s;
    std::getline(f, s);
    return s;
}

bool alive(pid_t pid) {
    std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
    std::string line;
    if (!std::getline(f, line)) return false;
    auto close = line.rfind(')');
    return close != std::string::npos && close + 2 < line.size() && line[close + 2] != 'Z';
}

// The engine under test (set by the fixture): its SOLVERS value and worker executable.
std::string g_engine = "webengine";

std::string worker_comm() {
    return worker_comm_of(g_engine);
}
std::string worker_env() {  // the setting that points the plugin at another worker
    return g_engine == "webengine" ? "BYPARR_WORKER" : "BYPARR_CHROMIUM_WORKER";
}

Env with_engine(Env env) {
    env.emplace("SOLVERS", g_engine);
    return env;
}

// The byparr server with the in-tree plugins and a private state dir, answering in JSON.
class Server : public ByparrServer {
  public:
    explicit Server(const Env& extra_env = {}, bool capture_log = false)
        : ByparrServer({.env = with_engine(extra_env), .capture_log = capture_log}) {}

    Json v1(const std::string& body, int timeout_ms = 40000) { return v1_json(body, timeout_ms); }
    Json get(const std::string& url, int max_timeout_ms = 20000) {
        return v1(get_body(url, max_timeout_ms));
    }

    // Worker processes of the engine under test.
    std::vector<pid_t> workers() { return named(worker_comm()); }
    // Live descendants with this comm (Xvfb, chromium, ...).
    std::vector<pid_t> named(const std::string& comm) {
        std::vector<pid_t> out;
        for (pid_t p : descendants(process().pid()))
            if (comm_of(p) == comm && alive(p)) out.push_back(p);
        return out;
    }
};

std::string status_of(const Json& j) {
    return j->optValue<std::string>("status", "");
}
std::string message_of(const Json& j) {
    return j->optValue<std::string>("message", "");
}
Json solution_of(const Json& j) {
    return j->getObject("solution");
}

class WebEngineSupervisorTest : public ::testing::TestWithParam<std::string> {
  protected:
    void SetUp() override {
        if (!engine_available(GetParam())) GTEST_SKIP() << GetParam() << " is not available here";
        g_engine = GetParam();
    }
};

INSTANTIATE_TEST_SUITE_P(Engines, WebEngineSupervisorTest, ::testing::ValuesIn(browser_engines()),
                         [](const auto& info) { return info.param; });

TEST_P(WebEngineSupervisorTest, LoadsAPlainPageWithABrowserUserAgent) {
    TestSite site;
    Server server;
    Json r = server.get(site.url("/plain"));
    ASSERT_EQ(status_of(r), "ok") << r->optValue<std::string>("message", "");
    Json s = solution_of(r);
    ASSERT_TRUE(s);
    EXPECT_EQ(s->getValue<int>("status"), 200);
    EXPECT_NE(s->getValue<std::string>("response").find("Hello plain"), std::string::npos);
    std::string ua = s->getValue<std::string>("userAgent");
    EXPECT_FALSE(ua.empty());
    EXPECT_EQ(ua.find("QtWebEngine"), std::string::npos) << ua;
    EXPECT_EQ(server.workers().size(), 1u);
}

TEST_P(WebEngineSupervisorTest, ReportsTheRealStatusAndHttpOnlyCookies) {
    TestSite site;
    Server server;
    Json r = server.get(site.url("/status/404"));
    ASSERT_EQ(status_of(r), "ok") << r->optValue<std::string>("message", "");
    EXPECT_EQ(solution_of(r)->getValue<int>("status"), 404);

    r = server.get(site.url("/set-cookie"));
    ASSERT_EQ(status_of(r), "ok") << r->optValue<std::string>("message", "");
    auto cookies = solution_of(r)->getArray("cookies");
    ASSERT_TRUE(cookies);
    bool found = false;
    for (size_t i = 0; i < cookies->size(); ++i) {
        auto c = cookies->getObject(static_cast<unsigned>(i));
        if (c->getValue<std::string>("name") != "sid") continue;
        found = true;
        EXPECT_EQ(c->getValue<std::string>("value"), "abc123");
        EXPECT_TRUE(c->getValue<bool>("httpOnly"));
    }
    EXPECT_TRUE(found);
}

// request.post with the request's cookies, returnScreenshot and disableMedia: what the page
// underneath must do the same on both engines (Qt's request API, DevTools' Fetch and Page).
TEST_P(WebEngineSupervisorTest, PostsWithCookiesTakesScreenshotsAndLeavesMediaOut) {
    TestSite site;
    Server server;
    Json r = server.v1(R"({"cmd":"request.post","maxTimeout":20000,"url":")" + site.url("/echo") +
                       R"(","postData":"a=1&b=two","cookies":[{"name":"k","value":"v1"}],)"
                       R"("returnScreenshot":true})");
    ASSERT_EQ(status_of(r), "ok") << r->optValue<std::string>("message", "");
    Json s = solution_of(r);
    const std::string html = s->getValue<std::string>("response");
    EXPECT_NE(html.find(R"("method":"POST")"), std::string::npos) << html;
    EXPECT_NE(html.find("a=1&amp;b=two"), std::string::npos) << html;
    EXPECT_NE(html.find("application/x-www-form-urlencoded"), std::string::npos) << html;
    EXPECT_NE(html.find("k=v1"), std::string::npos) << "the request's cookie was not sent";
    const std::string shot = s->optValue<std::string>("screenshot", "");
    EXPECT_EQ(shot.rfind("iVBORw0KGgo", 0), 0u) << "not a base64 PNG: " << shot.substr(0, 20);
    EXPECT_GT(shot.size(), 1000u);

    http_request("GET", site.url("/counters/reset"));
    r = server.v1(get_body(site.url("/media"), 20000, R"("disableMedia":true)"));
    ASSERT_EQ(status_of(r), "ok") << r->optValue<std::string>("message", "");
    const std::string counters = http_request("GET", site.url("/counters")).body;
    for (const char* kind : {"\"img\":0", "\"css\":0", "\"font\":0"})
        EXPECT_NE(counters.find(kind), std::string::npos) << counters;
}

// Sessionless requests reuse wiped pages, with their renderers: nothing a site leaves
// behind (cookies, localStorage, sessionStorage, the HTTP cache) may reach the next request,
// whichever page it gets. The worker's trace shows that pages really were reused, so the
// assertions covered reuse and not only fresh pages.
TEST_P(WebEngineSupervisorTest, ReusedPagesCarryNothingOfTheLastRequest) {
    TestSite site;
    Server server({{"LOG_LEVEL", "debug"}, {"BYPARR_WORKER_TRACE", "1"}}, /*capture_log=*/true);
    auto response_of = [&](const std::string& path) {
        Json r = server.get(site.url(path));
        EXPECT_EQ(status_of(r), "ok") << path << ": " << r->optValue<std::string>("message", "");
        return status_of(r) == "ok" ? solution_of(r) : Json();
    };
    for (int round = 0; round < 3; ++round) {
        SCOPED_TRACE(round);
        ASSERT_TRUE(response_of("/set-cookie"));
        Json s = response_of("/storage");
        ASSERT_TRUE(s);
        EXPECT_NE(s->getValue<std::string>("response").find(R"({"local":null,"session":null})"),
                  std::string::npos)
            << "storage of an earlier request is still there";
        auto cookies = s->getArray("cookies");
        for (size_t i = 0; cookies && i < cookies->size(); ++i)
            EXPECT_NE(cookies->getObject(static_cast<unsigned>(i))->getValue<std::string>("name"),
                      "sid");
        s = response_of("/echo");
        ASSERT_TRUE(s);
        EXPECT_NE(s->getValue<std::string>("response").find(R"("cookies":"")"), std::string::npos)
            << "a cookie of an earlier request was sent";
    }
    // The HTTP cache goes too: each load fetches the cacheable script again.
    auto cached_fetches = [&] {
        const std::string body = http_request("GET", site.url("/counters")).body;
        const size_t at = body.find(R"("cached":)");
        return at == std::string::npos ? -1 : std::atoi(body.c_str() + at + 9);
    };
    const int before = cached_fetches();
    ASSERT_GE(before, 0);
    for (int i = 0; i < 3; ++i)
        ASSERT_TRUE(response_of("/cached"));
    EXPECT_EQ(cached_fetches(), before + 3);
    EXPECT_NE(server.log().find("begin on a wiped page"), std::string::npos)
        << "no request was served by a reused page";
}

TEST_P(WebEngineSupervisorTest, SessionsCanBeCreatedListedUsedAndDestroyed) {
    TestSite site;
    Server server;
    Json r = server.v1(R"({"cmd":"sessions.create","session":"s1"})");
    ASSERT_EQ(status_of(r), "ok") << r->optValue<std::string>("message", "");
    r = server.v1(R"({"cmd":"sessions.list"})");
    ASSERT_EQ(status_of(r), "ok");
    auto ids = r->getArray("sessions");
    ASSERT_TRUE(ids);
    ASSERT_EQ(ids->size(), 1u);
    EXPECT_EQ(ids->getElement<std::string>(0), "s1");

    r = server.v1(R"({"cmd":"request.get","session":"s1","maxTimeout":20000,"url":")" +
                  site.url("/set-cookie") + "\"}");
    ASSERT_EQ(status_of(r), "ok") << r->optValue<std::string>("message", "");

    r = server.v1(R"({"cmd":"sessions.destroy","session":"s1"})");
    EXPECT_EQ(status_of(r), "ok") << r->optValue<std::string>("message", "");
    r = server.v1(R"({"cmd":"sessions.destroy","session":"s1"})");
    EXPECT_EQ(status_of(r), "error");
    r = server.v1(R"({"cmd":"sessions.list"})");
    EXPECT_EQ(r->getArray("sessions")->size(), 0u);
}

TEST_P(WebEngineSupervisorTest, ARequestThatNeverAnswersEndsAtItsDeadline) {
    TestSite site;
    Server server;
    auto started = std::chrono::steady_clock::now();
    Json r = server.get(site.url("/never"), 3000);
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(status_of(r), "error");
    EXPECT_NE(r->optValue<std::string>("message", "").find("Timeout"), std::string::npos)
        << r->optValue<std::string>("message", "");
    EXPECT_LT(took, 5s);
    // The worker survives a timeout and serves the next request.
    EXPECT_EQ(status_of(server.get(site.url("/plain"))), "ok");
}

TEST_P(WebEngineSupervisorTest, OneWorkerServesConcurrentRequests) {
    TestSite site;
    Server server;
    std::vector<std::future<Json>> calls;
    for (int i = 0; i < 3; ++i)
        calls.push_back(
            std::async(std::launch::async, [&] { return server.get(site.url("/slow?ms=1000")); }));
    for (auto& c : calls) {
        Json r = c.get();
        EXPECT_EQ(status_of(r), "ok") << r->optValue<std::string>("message", "");
    }
    EXPECT_EQ(server.workers().size(), 1u);
}

TEST_P(WebEngineSupervisorTest, AWorkerCrashFailsItsRequestFastAndTheNextOneGetsANewWorker) {
    TestSite site;
    Server server;
    ASSERT_EQ(status_of(server.get(site.url("/plain"))), "ok");
    auto before = server.workers();
    ASSERT_EQ(before.size(), 1u);

    auto started = std::chrono::steady_clock::now();
    auto slow =
        std::async(std::launch::async, [&] { return server.get(site.url("/slow?ms=5000")); });
    std::this_thread::sleep_for(700ms);
    ASSERT_EQ(::kill(before[0], SIGKILL), 0);
    Json r = slow.get();
    auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(status_of(r), "error");
    EXPECT_LT(took, 3s);
    EXPECT_NE(r->optValue<std::string>("message", "").find("exited unexpectedly"),
              std::string::npos)
        << r->optValue<std::string>("message", "");

    r = server.get(site.url("/plain"));
    ASSERT_EQ(status_of(r), "ok") << r->optValue<std::string>("message", "");
    auto after = server.workers();
    ASSERT_EQ(after.size(), 1u);
    EXPECT_NE(after[0], before[0]);
    EXPECT_FALSE(alive(before[0]));
}

// A stand-in worker that announces itself and then never answers: the
// supervisor's own deadline and kill paths, without Chromium.
std::string write_silent_worker(const std::string& dir) {
    std::string path = dir + "/silent-worker";
    std::ofstream f(path);
    f << "#!/bin/bash\n"
         "fd=$2\n"
         "msg='{\"op\":\"ready\",\"pid\":0,\"userAgent\":\"SilentWorker/1.0\"}'\n"
         "printf \"\\\\x00\\\\x00\\\\x00\\\\x$(printf '%02x' ${#msg})%s\" \"$msg\" >&$fd\n"
         "exec sleep 300\n";
    f.close();
    std::filesystem::permissions(path, std::filesystem::perms::owner_all);
    return path;
}

TEST_P(WebEngineSupervisorTest, AWorkerThatNeverRepliesIsCutOffAtTheDeadlineAndKilledAtStop) {
    TestSite site;
    char tmpl[] = "/tmp/byparr-we-fake-XXXXXX";
    std::string dir = ::mkdtemp(tmpl);
    auto server = std::make_unique<Server>(
        Env{{worker_env(), write_silent_worker(dir)}, {"SHUTDOWN_GRACE", "2"}});
    auto started = std::chrono::steady_clock::now();
    Json r = server->get(site.url("/plain"), 2000);
    EXPECT_EQ(status_of(r), "error");
    EXPECT_LT(std::chrono::steady_clock::now() - started, 4s);
    std::vector<pid_t> tree = descendants(server->process().pid());
    EXPECT_FALSE(tree.empty());
    server.reset();
    EXPECT_TRUE(wait_until(
        [&] {
            for (pid_t p : tree)
                if (alive(p)) return false;
            return true;
        },
        3s));
    std::filesystem::remove_all(dir);
}

TEST_P(WebEngineSupervisorTest, AMissingOrFailingWorkerIsAClearErrorNotAHang) {
    TestSite site;
    for (const char* worker : {"/nonexistent/byparr-browser-worker", "/bin/false"}) {
        Server server(Env{{worker_env(), worker}});
        auto started = std::chrono::steady_clock::now();
        Json r = server.get(site.url("/plain"), 10000);
        EXPECT_EQ(status_of(r), "error");
        EXPECT_NE(r->optValue<std::string>("message", "").find("browser worker"), std::string::npos)
            << r->optValue<std::string>("message", "");
        EXPECT_LT(std::chrono::steady_clock::now() - started, 5s);
    }
}

TEST_P(WebEngineSupervisorTest, NoProcessOutlivesTheServer) {
    TestSite site;
    Server server;
    ASSERT_EQ(status_of(server.get(site.url("/plain"))), "ok");
    std::vector<pid_t> tree = descendants(server.process().pid());
    ASSERT_FALSE(tree.empty());
    ASSERT_EQ(::kill(server.process().pid(), SIGTERM), 0);
    EXPECT_TRUE(server.process().wait_exit(15s).has_value());
    EXPECT_TRUE(wait_until(
        [&] {
            for (pid_t p : tree)
                if (alive(p)) return false;
            return true;
        },
        3s));
}

TEST_P(WebEngineSupervisorTest, AnIdleWorkerIsStopped) {
    TestSite site;
    Server server(Env{{"BROWSER_IDLE_TIMEOUT", "2"}});
    ASSERT_EQ(status_of(server.get(site.url("/plain"))), "ok");
    ASSERT_EQ(server.workers().size(), 1u);
    // Nothing at all is left: no worker, browser, renderer or X server.
    EXPECT_TRUE(wait_until([&] { return descendants(server.process().pid()).empty(); }, 5s));
    // And a new one comes on demand.
    EXPECT_EQ(status_of(server.get(site.url("/plain"))), "ok");
}

TEST_P(WebEngineSupervisorTest, AWorkerIsRecycledAfterMaxPages) {
    TestSite site;
    // The start-up self-test loads the first page: this worker's third is its last.
    Server server(Env{{"BROWSER_MAX_PAGES", "3"}});
    ASSERT_EQ(status_of(server.get(site.url("/plain"))), "ok");
    auto first = server.workers();
    ASSERT_EQ(first.size(), 1u);
    ASSERT_EQ(status_of(server.get(site.url("/plain"))), "ok");
    Json r = server.get(site.url("/plain"));
    ASSERT_EQ(status_of(r), "ok") << r->optValue<std::string>("message", "");
    EXPECT_TRUE(wait_until(
        [&] {
            auto now = server.workers();
            return now.size() == 1 && now[0] != first[0];
        },
        5s));
    HttpResult m = http_request("GET", server.base() + "/metrics");
    EXPECT_NE(m.body.find("browser_restarts_total{reason=\"pages\"} 1"), std::string::npos)
        << m.body;
}

TEST_P(WebEngineSupervisorTest, AWorkerAboveTheMemoryLimitIsRecycledBetweenRequests) {
    TestSite site;
    Server server(Env{{"BROWSER_MEMORY_LIMIT", "1"}});  // MiB: every worker is above it
    ASSERT_EQ(status_of(server.get(site.url("/plain"))), "ok");
    EXPECT_TRUE(wait_until([&] { return server.workers().empty(); }, 5s));
    EXPECT_EQ(status_of(server.get(site.url("/plain"))), "ok");
    HttpResult m = http_request("GET", server.base() + "/metrics");
    // Three: the self-test's worker, then one per request.
    EXPECT_NE(m.body.find("browser_restarts_total{reason=\"memory\"} 3"), std::string::npos)
        << m.body;
}

TEST_P(WebEngineSupervisorTest, SessionsAreCappedAndExpireWhenIdle) {
    Server server(Env{{"MAX_SESSIONS", "1"}, {"SESSION_IDLE_TIMEOUT", "2"}});
    ASSERT_EQ(status_of(server.v1(R"({"cmd":"sessions.create","session":"a"})")), "ok");
    Json r = server.v1(R"({"cmd":"sessions.create","session":"b"})");
    EXPECT_EQ(status_of(r), "error");
    EXPECT_NE(r->optValue<std::string>("message", "").find("MAX_SESSIONS=1"), std::string::npos)
        << r->optValue<std::string>("message", "");
    EXPECT_TRUE(wait_until(
        [&] { return server.v1(R"({"cmd":"sessions.list"})")->getArray("sessions")->size() == 0; },
        5s));
}

// Qt WebEngine's proxy is the process's: a worker per proxy. Chromium gives each request's
// proxy a browser context of its own (Target.createBrowserContext proxyServer): one worker,
// one browser, for every proxy; each request still goes through its own proxy, credentials
// included, and none through another's.
TEST_P(WebEngineSupervisorTest, EachProxyGetsItsOwnWorkerOrContext) {
    TestSite site;
    TestProxy open_proxy({.host_map = {{"alpha.test", "127.0.0.1"}}});
    TestProxy auth_proxy({.user = "u", .pass = "p", .host_map = {{"beta.test", "127.0.0.1"}}});
    Server server;
    ASSERT_EQ(status_of(server.get(site.url("/plain"))), "ok");
    const std::string port = std::to_string(site.port());
    Json a = server.v1(R"({"cmd":"request.get","maxTimeout":20000,"proxy":{"url":")" +
                       open_proxy.url() + R"("},"url":"http://alpha.test:)" + port + "/plain\"}");
    EXPECT_EQ(status_of(a), "ok") << message_of(a);
    Json b = server.v1(
        R"({"cmd":"request.get","maxTimeout":20000,"proxy":{"url":")" + auth_proxy.url() +
        R"(","username":"u","password":"p"},"url":"http://beta.test:)" + port + "/plain\"}");
    EXPECT_EQ(status_of(b), "ok") << message_of(b);
    EXPECT_GT(open_proxy.stats()["requests"], 0);
    EXPECT_GT(auth_proxy.stats()["requests"], 0);
    // Without a proxy again: neither proxy sees it (alpha.test only resolves through one).
    const long before = open_proxy.stats()["requests"] + auth_proxy.stats()["requests"];
    ASSERT_EQ(status_of(server.get(site.url("/plain"))), "ok");
    EXPECT_EQ(open_proxy.stats()["requests"] + auth_proxy.stats()["requests"], before);
    EXPECT_EQ(server.workers().size(), GetParam() == "chromium" ? 1u : 3u);
    // A session keeps the proxy it was created with, credentials included.
    Json c = server.v1(R"({"cmd":"sessions.create","session":"via-beta","proxy":{"url":")" +
                       auth_proxy.url() + R"(","username":"u","password":"p"}})");
    ASSERT_EQ(status_of(c), "ok") << message_of(c);
    const long beta_before = auth_proxy.stats()["requests"];
    Json d = server.v1(R"({"cmd":"request.get","maxTimeout":20000,"session":"via-beta",)"
                       R"("url":"http://beta.test:)" +
                       port + "/plain\"}");
    EXPECT_EQ(status_of(d), "ok") << message_of(d);
    EXPECT_GT(auth_proxy.stats()["requests"], beta_before);
    EXPECT_EQ(server.workers().size(), GetParam() == "chromium" ? 1u : 3u);
    // Chromium's SOCKS client has no authentication: a session (as a request) with such a
    // proxy is refused with the reason, not created to send its traffic without it.
    Json e = server.v1(
        R"({"cmd":"sessions.create","session":"via-socks","proxy":{"url":"socks5://127.0.0.1:9",)"
        R"("username":"u","password":"p"}})");
    EXPECT_EQ(status_of(e), "error");
    EXPECT_NE(message_of(e).find("SOCKS proxies with credentials are not supported"),
              std::string::npos)
        << message_of(e);
    Json sessions = server.v1(R"({"cmd":"sessions.list"})");
    EXPECT_EQ(sessions->getArray("sessions")->size(), 1u) << "only via-beta";
}

}  // namespace
}  // namespace byparr::test

namespace byparr::test {
namespace {

// Chromium itself (not its worker) killed in the middle of a solve: the request gets a clean
// error at once, nothing of that browser is left, and the next request gets a new one.
TEST(ChromiumBrowser, KilledMidSolveIsACleanErrorAndTheNextRequestWorks) {
    if (!engine_available("chromium")) GTEST_SKIP() << "chromium is not available here";
    g_engine = "chromium";
    TestSite site;
    Server server;
    ASSERT_EQ(status_of(server.get(site.url("/plain"))), "ok");
    const auto browsers = server.named("chromium");
    ASSERT_FALSE(browsers.empty());
    const auto xservers = server.named("Xvfb");
    ASSERT_EQ(xservers.size(), 1u);
    // The browser process is the one whose parent is the worker.
    pid_t browser = 0;
    for (pid_t p : browsers) {
        std::ifstream f("/proc/" + std::to_string(p) + "/stat");
        std::string line;
        std::getline(f, line);
        const auto close = line.rfind(')');
        const pid_t ppid = std::stoi(line.substr(close + 4));
        if (comm_of(ppid) == worker_comm()) browser = p;
    }
    ASSERT_GT(browser, 0);

    auto started = std::chrono::steady_clock::now();
    auto slow =
        std::async(std::launch::async, [&] { return server.get(site.url("/slow?ms=5000")); });
    std::this_thread::sleep_for(700ms);
    ASSERT_EQ(::kill(browser, SIGKILL), 0);
    Json r = slow.get();
    EXPECT_EQ(status_of(r), "error");
    EXPECT_LT(std::chrono::steady_clock::now() - started, 3s);
    EXPECT_TRUE(wait_until([&] { return !alive(xservers[0]); }, 5s)) << "Xvfb outlived its worker";
    // The worker ends itself with its browser. A request that races the supervisor noticing
    // that exit still reaches the dying worker and fails (as for a crashed webengine worker,
    // see FingerprintXvfb); the one after gets a new worker and browser.
    const auto gone = server.workers();
    EXPECT_TRUE(wait_until(
        [&] {
            for (pid_t p : gone)
                if (alive(p)) return false;
            return true;
        },
        5s));
    std::this_thread::sleep_for(500ms);

    r = server.get(site.url("/plain"));
    EXPECT_EQ(status_of(r), "ok") << r->optValue<std::string>("message", "");
}

}  // namespace
}  // namespace byparr::test
