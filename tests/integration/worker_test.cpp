// byparr-webengine-worker as a black box: spawned over a socketpair like the
// supervisor does, driven through PROTOCOL.md, against the local test site.
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include <Poco/JSON/Array.h>

#include "byparr/build_paths.h"
#include "tests/integration/worker_client.h"
#include "tests/support/test_process.h"
#include "tests/support/test_site.h"

namespace byparr::test {
namespace {

const std::string kWorkerPath =
    std::string(build_paths::kPluginDir) + "/webengine/byparr-webengine-worker";
const std::string kRulesPath =
    std::string(build_paths::kSourceDir) + "/share/byparr/challenges.json";

using Json = Poco::JSON::Object::Ptr;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

long ms_since(Clock::time_point t0) {
    return static_cast<long>(std::chrono::duration_cast<milliseconds>(Clock::now() - t0).count());
}

Json result_of(const Json& reply) {
    if (!reply) return nullptr;
    return reply->getObject("result");
}

std::string error_kind(const Json& reply) {
    if (!reply || !reply->has("error")) return "";
    return reply->getObject("error")->optValue<std::string>("kind", "");
}

std::string error_message(const Json& reply) {
    if (!reply || !reply->has("error")) return "";
    return reply->getObject("error")->optValue<std::string>("message", "");
}

Json find_cookie(const Json& result, const std::string& name) {
    auto cookies = result->getArray("cookies");
    for (size_t i = 0; cookies && i < cookies->size(); ++i) {
        auto c = cookies->getObject(static_cast<unsigned>(i));
        if (c->getValue<std::string>("name") == name) return c;
    }
    return nullptr;
}

class WorkerTest : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        site_ = new TestSite();
        auto t0 = Clock::now();
        worker_ = new WorkerClient(kWorkerPath, {"--lang", "de_DE.UTF-8", "--rules", kRulesPath});
        ready_ = worker_->wait_ready(std::chrono::seconds(30));
        std::fprintf(stderr, "[ measure  ] worker ready after %ld ms\n", ms_since(t0));
    }
    static void TearDownTestSuite() {
        delete worker_;
        worker_ = nullptr;
        delete site_;
        site_ = nullptr;
    }
    void SetUp() override { ASSERT_TRUE(ready_) << "worker never sent ready"; }

    static Json solve(const std::string& path, Json extra = nullptr, int timeout_ms = 15000) {
        Json req = json_object({{"url", site_->url(path)}, {"timeoutMs", timeout_ms}});
        if (extra) {
            for (const auto& [k, v] : *extra)
                req->set(k, v);
        }
        return worker_->solve(req, milliseconds(timeout_ms + 5000));
    }

    static TestSite* site_;
    static WorkerClient* worker_;
    static Json ready_;
};

TestSite* WorkerTest::site_ = nullptr;
WorkerClient* WorkerTest::worker_ = nullptr;
Json WorkerTest::ready_ = nullptr;

TEST_F(WorkerTest, ReadyAnnouncesPidAndPlainChromeUserAgent) {
    EXPECT_EQ(ready_->getValue<int>("pid"), worker_->pid());
    const auto ua = ready_->getValue<std::string>("userAgent");
    EXPECT_NE(ua.find("Chrome/102."), std::string::npos) << ua;
    EXPECT_EQ(ua.find("QtWebEngine"), std::string::npos) << ua;
    EXPECT_EQ(ua.find("Headless"), std::string::npos) << ua;
}

TEST_F(WorkerTest, PlainPageReturnsStatusHtmlHeadersAndUserAgent) {
    auto t0 = Clock::now();
    auto reply = solve("/plain");
    std::fprintf(stderr, "[ measure  ] plain solve %ld ms\n", ms_since(t0));
    ASSERT_TRUE(reply);
    ASSERT_TRUE(reply->getValue<bool>("ok")) << error_kind(reply);
    auto r = result_of(reply);
    EXPECT_EQ(r->getValue<int>("status"), 200);
    EXPECT_EQ(r->getValue<std::string>("url"), site_->url("/plain"));
    EXPECT_NE(r->getValue<std::string>("html").find("Hello plain"), std::string::npos);
    EXPECT_EQ(r->getValue<std::string>("userAgent"), ready_->getValue<std::string>("userAgent"));
    EXPECT_EQ(r->getValue<std::string>("message"), "Challenge not detected!");
    EXPECT_FALSE(r->getObject("challenge")->getValue<bool>("detected"));
    auto headers = r->getObject("headers");
    ASSERT_TRUE(headers);
    EXPECT_NE(headers->optValue<std::string>("content-type", "").find("text/html"),
              std::string::npos);

    t0 = Clock::now();
    reply = solve("/plain");
    std::fprintf(stderr, "[ measure  ] second plain solve %ld ms\n", ms_since(t0));
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
}

TEST_F(WorkerTest, RedirectChainEndsAtFinalUrl) {
    auto reply = solve("/redirect");  // 302 -> /js-redirect -> location.replace -> /final
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
    auto r = result_of(reply);
    EXPECT_EQ(r->getValue<std::string>("url"), site_->url("/final"));
    EXPECT_EQ(r->getValue<int>("status"), 200);
    EXPECT_NE(r->getValue<std::string>("html").find("Final page"), std::string::npos);
}

TEST_F(WorkerTest, NotFoundKeepsRealStatusAndHeaders) {
    auto reply = solve("/status/404");
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
    auto r = result_of(reply);
    EXPECT_EQ(r->getValue<int>("status"), 404);
    EXPECT_EQ(r->getObject("headers")->optValue<std::string>("x-custom", ""), "status-404");
}

TEST_F(WorkerTest, HttpOnlyAndScriptCookiesAreReturnedInContractShape) {
    auto reply = solve("/set-cookie");
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
    auto r = result_of(reply);
    auto sid = find_cookie(r, "sid");
    ASSERT_TRUE(sid);
    EXPECT_EQ(sid->getValue<std::string>("value"), "abc123");
    EXPECT_TRUE(sid->getValue<bool>("httpOnly"));
    EXPECT_FALSE(sid->getValue<bool>("session"));
    EXPECT_EQ(sid->getValue<std::string>("domain"), site_->host());
    EXPECT_EQ(sid->getValue<std::string>("path"), "/");
    EXPECT_EQ(sid->getValue<int>("size"), 9);
    EXPECT_EQ(sid->getValue<std::string>("sameSite"), "Lax");
    EXPECT_FALSE(sid->getValue<bool>("secure"));
    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    EXPECT_NEAR(sid->getValue<double>("expiry"), now + 3600, 120);
    EXPECT_EQ(sid->getValue<double>("expires"), sid->getValue<double>("expiry"));
    auto jsc = find_cookie(r, "jsc");
    ASSERT_TRUE(jsc);
    EXPECT_TRUE(jsc->getValue<bool>("session"));
    EXPECT_EQ(jsc->getValue<double>("expires"), -1);
    EXPECT_FALSE(jsc->has("expiry"));
}

TEST_F(WorkerTest, RequestCookiesReachTheFirstRequest) {
    auto cookies = Poco::JSON::Array::Ptr(new Poco::JSON::Array);
    cookies->add(json_object({{"name", "reqc"}, {"value", "v1"}}));
    cookies->add(json_object({{"name", "reqd"},
                              {"value", "v2"},
                              {"domain", site_->host()},
                              {"path", "/"},
                              {"httpOnly", true},
                              {"expiry", 1900000000}}));
    auto reply = solve("/echo", json_object({{"cookies", cookies}}));
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
    auto r = result_of(reply);
    auto echo = parse_object(pre_text(r->getValue<std::string>("html"), "echo"));
    ASSERT_TRUE(echo);
    const auto sent = echo->getValue<std::string>("cookies");
    EXPECT_NE(sent.find("reqc=v1"), std::string::npos) << sent;
    EXPECT_NE(sent.find("reqd=v2"), std::string::npos) << sent;
    EXPECT_EQ(echo->getValue<std::string>("userAgent"), ready_->getValue<std::string>("userAgent"));
    EXPECT_EQ(echo->getValue<std::string>("acceptLanguage").rfind("de-DE,de", 0), 0u)
        << echo->getValue<std::string>("acceptLanguage");
    auto reqd = find_cookie(r, "reqd");
    ASSERT_TRUE(reqd);
    EXPECT_TRUE(reqd->getValue<bool>("httpOnly"));
    EXPECT_EQ(reqd->getValue<double>("expiry"), 1900000000);
}

TEST_F(WorkerTest, PostBodyIsSentAsForm) {
    auto reply = solve("/echo", json_object({{"method", "POST"}, {"postData", "a=1&b=two"}}));
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
    auto echo = parse_object(pre_text(result_of(reply)->getValue<std::string>("html"), "echo"));
    ASSERT_TRUE(echo);
    EXPECT_EQ(echo->getValue<std::string>("method"), "POST");
    EXPECT_EQ(echo->getValue<std::string>("body"), "a=1&b=two");
    EXPECT_EQ(echo->getValue<std::string>("contentType"), "application/x-www-form-urlencoded");
}

TEST_F(WorkerTest, FingerprintLooksLikeAShownFocusedBrowser) {
    auto reply = solve("/fingerprint");
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
    auto fp = parse_object(pre_text(result_of(reply)->getValue<std::string>("html"), "fp"));
    ASSERT_TRUE(fp) << result_of(reply)->getValue<std::string>("html");
    EXPECT_GT(fp->getValue<int>("screenWidth"), 0);
    EXPECT_GT(fp->getValue<int>("screenHeight"), 0);
    EXPECT_GT(fp->getValue<int>("outerWidth"), 0);
    EXPECT_GT(fp->getValue<int>("innerHeight"), 0);
    EXPECT_TRUE(fp->getValue<bool>("hasFocus"));
    EXPECT_EQ(fp->getValue<std::string>("visibilityState"), "visible");
    EXPECT_FALSE(fp->getValue<bool>("webdriver"));
    EXPECT_LT(fp->getValue<double>("timer50"), 300);  // not throttled to ~1 s
    auto langs = fp->getArray("languages");
    ASSERT_TRUE(langs && langs->size() > 0);
    EXPECT_EQ(langs->getElement<std::string>(0), "de-DE");
    EXPECT_EQ(fp->getValue<std::string>("userAgent").find("QtWebEngine"), std::string::npos);
}

TEST_F(WorkerTest, NeverAnsweringPageTimesOutWithinBudget) {
    auto t0 = Clock::now();
    auto reply = solve("/never", nullptr, 1500);
    const long took = ms_since(t0);
    ASSERT_TRUE(reply);
    EXPECT_FALSE(reply->getValue<bool>("ok"));
    EXPECT_EQ(error_kind(reply), "timeout");
    EXPECT_EQ(reply->getObject("error")->getValue<std::string>("message"), "Timeout");
    EXPECT_LT(took, 1500 + 500);
    EXPECT_GE(took, 1400);
}

TEST_F(WorkerTest, UnreachableServerIsANetworkErrorNotATimeout) {
    auto t0 = Clock::now();
    // A port nobody listens on (the site's own port + 1 is not guaranteed; use a closed one).
    Json req = json_object({{"url", "http://127.0.0.1:9/"}, {"timeoutMs", 10000}});
    auto reply = worker_->solve(req, milliseconds(15000));
    ASSERT_TRUE(reply);
    EXPECT_FALSE(reply->getValue<bool>("ok"));
    EXPECT_EQ(error_kind(reply), "network");
    EXPECT_LT(ms_since(t0), 5000);
}

TEST_F(WorkerTest, InvalidUrlIsRejected) {
    for (const char* url : {"file:///etc/passwd", "javascript:alert(1)", "chrome://version", ""}) {
        auto reply = worker_->solve(json_object({{"url", url}, {"timeoutMs", 5000}}));
        ASSERT_TRUE(reply) << url;
        EXPECT_EQ(error_kind(reply), "invalid") << url;
    }
}

TEST_F(WorkerTest, FiveConcurrentSolvesEachGetTheirPage) {
    auto t0 = Clock::now();
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 5; ++i) {
        Json req = json_object(
            {{"url", site_->url("/slow?ms=300&n=" + std::to_string(i))}, {"timeoutMs", 20000}});
        ids.push_back(worker_->send("solve", json_object({{"request", req}})));
    }
    for (int i = 0; i < 5; ++i) {
        auto reply = worker_->wait_reply(ids[i], std::chrono::seconds(25));
        ASSERT_TRUE(reply) << i;
        ASSERT_TRUE(reply->getValue<bool>("ok")) << i << " " << error_kind(reply);
        auto r = result_of(reply);
        EXPECT_EQ(r->getValue<std::string>("url"),
                  site_->url("/slow?ms=300&n=" + std::to_string(i)));
        EXPECT_NE(r->getValue<std::string>("html").find("Slow after 300 ms"), std::string::npos);
    }
    const long took = ms_since(t0);
    std::fprintf(stderr, "[ measure  ] 5 concurrent /slow?ms=300 solves %ld ms, PSS %ld MiB\n",
                 took, worker_->pss_kib() / 1024);
    EXPECT_LT(took, 10000);
}

TEST_F(WorkerTest, DisableMediaBlocksImagesCssFontsAndMedia) {
    auto counters = [] {
        auto reply = solve("/counters");
        EXPECT_TRUE(reply && reply->getValue<bool>("ok"));
        std::string html = result_of(reply)->getValue<std::string>("html");
        auto start = html.find('{');
        auto end = html.rfind('}');
        return parse_object(html.substr(start, end - start + 1));
    };
    ASSERT_TRUE(solve("/counters/reset"));
    auto reply = solve("/media", json_object({{"disableMedia", true}, {"waitMs", 200}}));
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
    auto c = counters();
    ASSERT_TRUE(c);
    for (const char* k : {"img", "css", "font", "media"})
        EXPECT_EQ(c->getValue<int>(k), 0) << k;

    // Control: the same page without the flag does load its assets.
    reply = solve("/media", json_object({{"waitMs", 200}}));
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
    c = counters();
    ASSERT_TRUE(c);
    EXPECT_GT(c->getValue<int>("img"), 0);
    EXPECT_GT(c->getValue<int>("css"), 0);
}

TEST_F(WorkerTest, ScreenshotIsAPng) {
    auto reply = solve("/plain", json_object({{"returnScreenshot", true}}));
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
    auto png = base64_decode(result_of(reply)->getValue<std::string>("screenshot"));
    ASSERT_GT(png.size(), 100u);
    EXPECT_EQ(png.substr(0, 8), std::string("\x89PNG\r\n\x1a\n", 8));
}

TEST_F(WorkerTest, ReturnOnlyCookiesOmitsHtml) {
    auto reply = solve("/set-cookie", json_object({{"returnOnlyCookies", true}}));
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
    auto r = result_of(reply);
    EXPECT_FALSE(r->has("html"));
    EXPECT_TRUE(find_cookie(r, "sid"));
}

TEST_F(WorkerTest, SessionKeepsCookiesAcrossSolvesAndRequestsStayIsolated) {
    auto created = worker_->call("session.create", json_object({{"session", "s1"}}));
    ASSERT_TRUE(created && created->getValue<bool>("ok"));
    EXPECT_TRUE(result_of(created)->getValue<bool>("created"));
    created = worker_->call("session.create", json_object({{"session", "s1"}}));
    EXPECT_FALSE(result_of(created)->getValue<bool>("created"));

    ASSERT_TRUE(solve("/set-cookie", json_object({{"session", "s1"}}))->getValue<bool>("ok"));
    auto reply = solve("/echo", json_object({{"session", "s1"}}));
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
    auto echo = parse_object(pre_text(result_of(reply)->getValue<std::string>("html"), "echo"));
    EXPECT_NE(echo->getValue<std::string>("cookies").find("sid=abc123"), std::string::npos);

    // Without a session nothing carries over, neither from the session nor between requests.
    ASSERT_TRUE(solve("/set-cookie")->getValue<bool>("ok"));
    reply = solve("/echo");
    echo = parse_object(pre_text(result_of(reply)->getValue<std::string>("html"), "echo"));
    EXPECT_EQ(echo->getValue<std::string>("cookies"), "");

    auto stats = worker_->call("stats", nullptr);
    ASSERT_TRUE(stats && stats->getValue<bool>("ok"));
    EXPECT_EQ(result_of(stats)->getValue<int>("sessions"), 1);
    EXPECT_GT(result_of(stats)->getValue<int>("pagesServed"), 0);

    auto destroyed = worker_->call("session.destroy", json_object({{"session", "s1"}}));
    ASSERT_TRUE(destroyed && destroyed->getValue<bool>("ok"));
    EXPECT_TRUE(result_of(destroyed)->getValue<bool>("destroyed"));
    destroyed = worker_->call("session.destroy", json_object({{"session", "s1"}}));
    EXPECT_EQ(error_kind(destroyed), "unknown_session");
}

// Sessionless solves reuse pages (and their renderers) after a wipe: nothing a
// site leaves behind may reach the next request, whichever page it gets.
TEST_F(WorkerTest, ReusedPagesCarryNoCookiesOrStorage) {
    for (int round = 0; round < 3; ++round) {
        SCOPED_TRACE(round);
        ASSERT_TRUE(solve("/set-cookie")->getValue<bool>("ok"));
        auto reply = solve("/storage");
        ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
        auto seen =
            parse_object(pre_text(result_of(reply)->getValue<std::string>("html"), "storage"));
        ASSERT_TRUE(seen);
        EXPECT_TRUE(seen->isNull("local"));
        EXPECT_TRUE(seen->isNull("session"));
        EXPECT_FALSE(find_cookie(result_of(reply), "sid"));
        reply = solve("/echo");
        ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
        auto echo = parse_object(pre_text(result_of(reply)->getValue<std::string>("html"), "echo"));
        EXPECT_EQ(echo->getValue<std::string>("cookies"), "");
    }
    // The HTTP cache goes too: each sessionless load fetches the cacheable script
    // again, while a session (control) keeps it cached.
    auto cached_fetches = [this] {
        auto reply = solve("/counters");
        EXPECT_TRUE(reply && reply->getValue<bool>("ok"));
        std::string html = result_of(reply)->getValue<std::string>("html");
        auto obj = parse_object(html.substr(html.find('{'), html.rfind('}') - html.find('{') + 1));
        return obj ? obj->getValue<int>("cached") : -1;
    };
    const int before = cached_fetches();
    for (int i = 0; i < 2; ++i)
        ASSERT_TRUE(solve("/cached")->getValue<bool>("ok"));
    EXPECT_EQ(cached_fetches(), before + 2);
    for (int i = 0; i < 2; ++i)
        ASSERT_TRUE(
            solve("/cached", json_object({{"session", "cache-control"}}))->getValue<bool>("ok"));
    EXPECT_EQ(cached_fetches(), before + 3);

    auto stats = worker_->call("stats", nullptr);
    ASSERT_TRUE(stats && stats->getValue<bool>("ok"));
    // Reuse really happened, so the assertions above covered it.
    EXPECT_GE(result_of(stats)->getValue<int>("pagesReused"), 3);
}

TEST_F(WorkerTest, CancelStopsARunningSolve) {
    Json req = json_object({{"url", site_->url("/never")}, {"timeoutMs", 20000}});
    auto solve_id = worker_->send("solve", json_object({{"request", req}}));
    std::this_thread::sleep_for(milliseconds(300));
    auto t0 = Clock::now();
    auto ack = worker_->call("cancel", json_object({{"target", solve_id}}));
    ASSERT_TRUE(ack && ack->getValue<bool>("ok"));
    auto reply = worker_->wait_reply(solve_id, std::chrono::seconds(5));
    ASSERT_TRUE(reply);
    EXPECT_EQ(error_kind(reply), "cancelled");
    EXPECT_LT(ms_since(t0), 1000);
}

// Each family imitates a vendor: /cf/ and /two-stage/ solve themselves, /managed/
// also checks the fingerprint (focus, visibility, timers...), /turnstile/ needs a
// trusted click, /ddg/ sets __ddg cookies.
class ChallengeFamilyTest : public WorkerTest, public ::testing::WithParamInterface<const char*> {};

TEST_P(ChallengeFamilyTest, IsSolvedAndReturnsClearance) {
    const std::string family = GetParam();
    auto t0 = Clock::now();
    auto reply = solve("/" + family + "/", nullptr, 20000);
    std::fprintf(stderr, "[ measure  ] /%s/ solved in %ld ms\n", family.c_str(), ms_since(t0));
    ASSERT_TRUE(reply);
    ASSERT_TRUE(reply->getValue<bool>("ok")) << error_kind(reply);
    auto r = result_of(reply);
    EXPECT_TRUE(r->getObject("challenge")->getValue<bool>("detected"));
    EXPECT_FALSE(r->getObject("challenge")->getValue<std::string>("rule").empty());
    EXPECT_EQ(r->getValue<std::string>("message"), "Challenge solved!");
    EXPECT_EQ(r->getValue<int>("status"), 200);
    if (family == "ddg") {
        EXPECT_TRUE(find_cookie(r, "__ddg2_"));
    } else {
        EXPECT_TRUE(find_cookie(r, "cf_clearance"));
    }
}

INSTANTIATE_TEST_SUITE_P(Families, ChallengeFamilyTest,
                         ::testing::Values("cf", "managed", "turnstile", "ddg", "two-stage"));

TEST_F(WorkerTest, ConcurrentManagedChallengesAllKeepFocus) {
    // Several shown views share one offscreen screen; each page must still have focus.
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 3; ++i) {
        Json req = json_object(
            {{"url", site_->url("/managed/?n=" + std::to_string(i))}, {"timeoutMs", 20000}});
        ids.push_back(worker_->send("solve", json_object({{"request", req}})));
    }
    for (auto id : ids) {
        auto reply = worker_->wait_reply(id, std::chrono::seconds(25));
        ASSERT_TRUE(reply);
        std::ostringstream text;
        reply->stringify(text);
        EXPECT_TRUE(reply->getValue<bool>("ok")) << text.str().substr(0, 2000);
    }
}

TEST_F(WorkerTest, BlockPageIsReportedAtOnce) {
    auto t0 = Clock::now();
    auto reply = solve("/block1020", nullptr, 20000);
    ASSERT_TRUE(reply);
    EXPECT_EQ(error_kind(reply), "blocked");
    EXPECT_FALSE(reply->getObject("error")->optValue<std::string>("rule", "").empty());
    EXPECT_LT(ms_since(t0), 5000);
}

TEST_F(WorkerTest, CaptchaIsReportedAtOnce) {
    auto t0 = Clock::now();
    auto reply = solve("/hcaptcha/", nullptr, 20000);
    ASSERT_TRUE(reply);
    EXPECT_EQ(error_kind(reply), "captcha");
    EXPECT_FALSE(reply->getObject("error")->optValue<std::string>("captchaKind", "").empty());
    EXPECT_LT(ms_since(t0), 5000);
}

TEST_F(WorkerTest, ReportsMemory) {
    std::fprintf(stderr, "[ measure  ] worker tree PSS %ld MiB\n", worker_->pss_kib() / 1024);
}

// Own worker: exit behaviour.
TEST(WorkerProcess, ExitsWhenSocketClosesAndLeavesNoChromiumBehind) {
    TestSite site;
    WorkerClient worker(kWorkerPath);
    ASSERT_TRUE(worker.wait_ready(std::chrono::seconds(30)));
    auto reply = worker.solve(json_object({{"url", site.url("/plain")}, {"timeoutMs", 10000}}));
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
    std::vector<pid_t> children = descendants(worker.pid());
    EXPECT_FALSE(children.empty());  // Chromium's helpers were running
    auto t0 = Clock::now();
    worker.close_socket();
    auto status = worker.wait_exit(std::chrono::seconds(3));
    ASSERT_TRUE(status) << "worker still running 3 s after EOF";
    std::fprintf(stderr, "[ measure  ] exit after EOF %ld ms\n", ms_since(t0));
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << *status;
    // Chromium's helpers go with it.
    auto deadline = Clock::now() + std::chrono::seconds(3);
    std::vector<pid_t> alive;
    do {
        alive.clear();
        for (pid_t p : children) {
            if (::kill(p, 0) == 0) alive.push_back(p);
        }
        if (alive.empty()) break;
        std::this_thread::sleep_for(milliseconds(50));
    } while (Clock::now() < deadline);
    EXPECT_TRUE(alive.empty()) << alive.size() << " helper processes left";
    EXPECT_NE(::kill(-worker.pid(), 0), 0) << "process group still has members";
}

TEST(WorkerProcess, WorksWithoutDevToolsWithEmptyHeaders) {
    TestSite site;
    WorkerClient worker(kWorkerPath, {}, {{"BYPARR_WORKER_NO_DEVTOOLS", "1"}});
    ASSERT_TRUE(worker.wait_ready(std::chrono::seconds(30)));
    std::vector<std::uint64_t> ids;
    for (int i = 0; i < 3; ++i) {
        Json req = json_object(
            {{"url", site.url("/status/404?n=" + std::to_string(i))}, {"timeoutMs", 10000}});
        ids.push_back(worker.send("solve", json_object({{"request", req}})));
    }
    for (auto id : ids) {
        auto reply = worker.wait_reply(id, std::chrono::seconds(15));
        ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
        auto r = result_of(reply);
        EXPECT_EQ(r->getValue<int>("status"), 404);  // from loadingChanged
        EXPECT_EQ(r->getObject("headers")->size(), 0u);
        EXPECT_NE(r->getValue<std::string>("html").find("Status 404"), std::string::npos);
    }
}

TEST(WorkerProcess, ShutdownOpRepliesAndExits) {
    WorkerClient worker(kWorkerPath);
    ASSERT_TRUE(worker.wait_ready(std::chrono::seconds(30)));
    auto stats = worker.call("stats", nullptr);
    ASSERT_TRUE(stats && stats->getValue<bool>("ok"));
    EXPECT_EQ(result_of(stats)->getValue<int>("pages"), 0);
    auto reply = worker.call("shutdown", nullptr);
    ASSERT_TRUE(reply && reply->getValue<bool>("ok"));
    EXPECT_TRUE(worker.wait_exit(std::chrono::seconds(3)));
}

TEST(WorkerProcess, OversizedFrameClosesTheConnection) {
    WorkerClient worker(kWorkerPath);
    ASSERT_TRUE(worker.wait_ready(std::chrono::seconds(30)));
    worker.send_bytes(std::string("\x7f\xff\xff\xff", 4));
    EXPECT_TRUE(worker.wait_exit(std::chrono::seconds(3)));
}

TEST(WorkerProcess, SocksProxyWithCredentialsIsRefusedClearly) {
    WorkerClient worker(kWorkerPath, {"--proxy", "socks5://127.0.0.1:9"},
                        {{"BYPARR_PROXY_USERNAME", "u"}, {"BYPARR_PROXY_PASSWORD", "p"}});
    ASSERT_TRUE(worker.wait_ready(std::chrono::seconds(30)));
    auto reply =
        worker.solve(json_object({{"url", "http://example.invalid/"}, {"timeoutMs", 5000}}));
    ASSERT_TRUE(reply);
    EXPECT_EQ(error_kind(reply), "proxy");
}

// Proxies: one per worker process. Chromium never proxies 127.0.0.1, so the site is
// addressed by a made-up name that the test proxy maps to it.
class WorkerProxyTest : public ::testing::Test {
  protected:
    static std::string site_url(const TestSite& site, const std::string& path) {
        return "http://site.test:" + std::to_string(site.port()) + path;
    }
    TestSite site_;
};

TEST_F(WorkerProxyTest, HttpProxyWithCredentialsCarriesTheRequest) {
    TestProxyOptions o;
    o.user = "alice";
    o.pass = "s3cret";
    o.host_map = {{"site.test", "127.0.0.1"}};
    TestProxy proxy(o);
    WorkerClient worker(kWorkerPath, {"--proxy", proxy.url()},
                        {{"BYPARR_PROXY_USERNAME", "alice"}, {"BYPARR_PROXY_PASSWORD", "s3cret"}});
    ASSERT_TRUE(worker.wait_ready(std::chrono::seconds(30)));
    auto reply =
        worker.solve(json_object({{"url", site_url(site_, "/set-cookie")}, {"timeoutMs", 15000}}));
    ASSERT_TRUE(reply);
    ASSERT_TRUE(reply->getValue<bool>("ok")) << error_kind(reply);
    auto r = result_of(reply);
    EXPECT_EQ(r->getValue<int>("status"), 200);
    EXPECT_TRUE(find_cookie(r, "sid"));
    EXPECT_GT(proxy.stats()["requests"], 0);
}

TEST_F(WorkerProxyTest, HttpProxyWithWrongCredentialsIsAProxyError) {
    TestProxyOptions o;
    o.user = "alice";
    o.pass = "s3cret";
    o.host_map = {{"site.test", "127.0.0.1"}};
    TestProxy proxy(o);
    WorkerClient worker(kWorkerPath, {"--proxy", proxy.url()},
                        {{"BYPARR_PROXY_USERNAME", "alice"}, {"BYPARR_PROXY_PASSWORD", "wrong"}});
    ASSERT_TRUE(worker.wait_ready(std::chrono::seconds(30)));
    auto t0 = Clock::now();
    auto reply =
        worker.solve(json_object({{"url", site_url(site_, "/plain")}, {"timeoutMs", 15000}}));
    ASSERT_TRUE(reply);
    EXPECT_EQ(error_kind(reply), "proxy") << error_message(reply);
    EXPECT_LT(ms_since(t0), 5000);
}

TEST_F(WorkerProxyTest, UnreachableProxyFailsFastWithAProxyError) {
    WorkerClient worker(kWorkerPath, {"--proxy", "http://127.0.0.1:9"});
    ASSERT_TRUE(worker.wait_ready(std::chrono::seconds(30)));
    auto t0 = Clock::now();
    auto reply =
        worker.solve(json_object({{"url", site_url(site_, "/plain")}, {"timeoutMs", 15000}}));
    ASSERT_TRUE(reply);
    EXPECT_EQ(error_kind(reply), "proxy") << error_message(reply);
    EXPECT_LT(ms_since(t0), 5000);
}

TEST_F(WorkerProxyTest, Socks5ProxyCarriesTheRequest) {
    TestProxyOptions o;
    o.mode = "socks5";
    o.host_map = {{"site.test", "127.0.0.1"}};
    TestProxy proxy(o);
    WorkerClient worker(kWorkerPath, {"--proxy", proxy.url()});
    ASSERT_TRUE(worker.wait_ready(std::chrono::seconds(30)));
    auto reply =
        worker.solve(json_object({{"url", site_url(site_, "/plain")}, {"timeoutMs", 15000}}));
    ASSERT_TRUE(reply);
    ASSERT_TRUE(reply->getValue<bool>("ok")) << error_kind(reply);
    EXPECT_EQ(result_of(reply)->getValue<int>("status"), 200);
}

}  // namespace
}  // namespace byparr::test
