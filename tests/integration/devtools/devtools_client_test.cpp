// Integration test: DevToolsClient against the Chromium inside Qt WebEngine, in this process.
//
// Everything on the Qt thread runs through the Qt event loop (QEventLoop + QTimer waits), never a
// blocking wait: Chromium serves DevTools on this very thread, so a blocking wait here would be a
// deadlock, and the test would catch it as a timeout. Client callbacks arrive on the client's own
// thread and are marshalled back with QMetaObject::invokeMethod, as the worker will do.

#include "devtools_client.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <QApplication>
#include <QDir>
#include <QElapsedTimer>
#include <QEventLoop>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QThread>
#include <QTimer>
#include <QWebEngineHttpRequest>
#include <QWebEnginePage>
#include <QWebEngineProfile>
#include <QWebEngineView>

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>

#include <dirent.h>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <vector>

namespace {

using byparr::browser::DevToolsClient;
using byparr::browser::DevToolsSession;
using byparr::browser::DocumentResponse;
using byparr::browser::UaOverride;
using Clock = std::chrono::steady_clock;

int g_debug_port = 0;
const char* const kUserAgent =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/102.0.5005.177 Safari/537.36";
const char* const kMarker = "about:blank#byparr-marker";

int free_port() {
    Poco::Net::ServerSocket s(Poco::Net::SocketAddress("127.0.0.1", 0));
    return s.address().port();
}

double ms_since(Clock::time_point t0) {
    return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

// Runs the Qt event loop until pred() holds or timeout_ms passes. The Qt thread keeps serving
// Chromium meanwhile.
template <typename Pred>
bool wait_until(Pred pred, int timeout_ms) {
    QElapsedTimer t;
    t.start();
    while (!pred()) {
        if (t.elapsed() > timeout_ms) return false;
        QEventLoop loop;
        QTimer::singleShot(5, &loop, &QEventLoop::quit);
        loop.exec();
    }
    return true;
}

void spin_for(int ms) {
    QEventLoop loop;
    QTimer::singleShot(ms, &loop, &QEventLoop::quit);
    loop.exec();
}

// Hands a functor from the client's thread to the Qt thread.
template <typename F>
void on_qt(F fn) {
    QMetaObject::invokeMethod(qApp, std::move(fn), Qt::QueuedConnection);
}

// ---- local site ---------------------------------------------------------------------------------

class Site {
  public:
    Site() : socket_(Poco::Net::SocketAddress("127.0.0.1", 0)) {
        auto params = new Poco::Net::HTTPServerParams;
        params->setKeepAlive(true);
        params->setMaxThreads(8);
        server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(this), socket_, params);
        server_->start();
    }
    ~Site() { server_->stopAll(true); }

    int port() const { return socket_.address().port(); }
    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(port()) + path;
    }
    // Request headers (lower-case names) of the last request for path.
    std::map<std::string, std::string> headers(const std::string& path) {
        std::lock_guard lock(mu_);
        return seen_[path];
    }

  private:
    class Handler : public Poco::Net::HTTPRequestHandler {
      public:
        explicit Handler(Site* site) : site_(site) {}
        void handleRequest(Poco::Net::HTTPServerRequest& req,
                           Poco::Net::HTTPServerResponse& resp) override {
            std::map<std::string, std::string> h;
            for (const auto& [k, v] : req) {
                std::string key = k;
                for (char& c : key)
                    c = static_cast<char>(std::tolower(c));
                h[key] = v;
            }
            const std::string path = req.getURI();
            std::string request_body;
            if (req.getMethod() == "POST") {
                request_body.assign(std::istreambuf_iterator<char>(req.stream()), {});
                h[":body"] = request_body;
            }
            {
                std::lock_guard lock(site_->mu_);
                site_->seen_[path] = h;
            }
            std::string body = "<!doctype html><title>t</title><p>" + path;
            resp.setContentType("text/html");
            if (path == "/notfound") {
                resp.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
                resp.set("X-Custom", "yes");
            } else if (path == "/redirect") {
                resp.setStatus(Poco::Net::HTTPResponse::HTTP_FOUND);
                resp.set("Location", site_->url("/final"));
            } else if (path == "/withframe") {
                resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
                body += "<iframe src='/notfound?frame'></iframe>";
            } else if (path == "/post") {
                resp.setStatus(Poco::Net::HTTPResponse::HTTP_CREATED);
                body += " got " + request_body;
            } else if (path == "/final") {
                resp.setStatus(Poco::Net::HTTPResponse::HTTP_OK);
                resp.set("Set-Cookie", "sid=abc123; Path=/; HttpOnly");
            } else {
                resp.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
            }
            resp.setContentLength(static_cast<std::streamsize>(body.size()));
            resp.send() << body;
        }

      private:
        Site* site_;
    };
    class Factory : public Poco::Net::HTTPRequestHandlerFactory {
      public:
        explicit Factory(Site* site) : site_(site) {}
        Poco::Net::HTTPRequestHandler* createRequestHandler(
            const Poco::Net::HTTPServerRequest&) override {
            return new Handler(site_);
        }

      private:
        Site* site_;
    };

    Poco::Net::ServerSocket socket_;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
    std::mutex mu_;
    std::map<std::string, std::map<std::string, std::string>> seen_;
};

// ---- helpers on the engine side ---------------------------------------------------------------

QWebEngineView* make_view(QWebEngineProfile* profile, const QString& marker) {
    auto* view = new QWebEngineView;
    view->setPage(new QWebEnginePage(profile, view));
    view->resize(1366, 768);
    bool loaded = false;
    QObject::connect(view, &QWebEngineView::loadFinished, view, [&loaded] { loaded = true; });
    view->load(QUrl(marker));
    EXPECT_TRUE(wait_until([&] { return loaded; }, 5000)) << "marker page did not load";
    QObject::disconnect(view, &QWebEngineView::loadFinished, view, nullptr);
    // Shown after the first load: calling show() earlier does not un-throttle the page.
    view->show();
    return view;
}

QJsonValue run_js(QWebEngineView* view, const QString& script) {
    bool done = false;
    QVariant out;
    view->page()->runJavaScript(script, [&](const QVariant& v) {
        out = v;
        done = true;
    });
    EXPECT_TRUE(wait_until([&] { return done; }, 5000)) << "runJavaScript timed out";
    return QJsonDocument::fromJson(out.toString().toUtf8()).object();
}

// Voluntary context switches and CPU ticks of our client threads, from /proc.
struct ThreadUsage {
    long switches = 0;
    long ticks = 0;
    int threads = 0;
};
ThreadUsage client_thread_usage() {
    ThreadUsage u;
    DIR* dir = opendir("/proc/self/task");
    if (!dir) return u;
    while (dirent* e = readdir(dir)) {
        if (e->d_name[0] == '.') continue;
        const std::string base = std::string("/proc/self/task/") + e->d_name;
        std::ifstream comm(base + "/comm");
        std::string name;
        std::getline(comm, name);
        if (name != "byparr-devtools") continue;
        ++u.threads;
        std::ifstream status(base + "/status");
        std::string line;
        while (std::getline(status, line)) {
            if (line.rfind("voluntary_ctxt_switches:", 0) == 0) {
                u.switches += std::stol(line.substr(line.find(':') + 1));
            }
        }
        std::ifstream stat(base + "/stat");
        std::string all((std::istreambuf_iterator<char>(stat)), {});
        std::istringstream fields(all.substr(all.rfind(')') + 2));
        std::string f;
        long utime = 0;
        long stime = 0;
        for (int i = 3; fields >> f; ++i) {
            if (i == 14) utime = std::stol(f);
            if (i == 15) {
                stime = std::stol(f);
                break;
            }
        }
        u.ticks += utime + stime;
    }
    closedir(dir);
    return u;
}

UaOverride test_ua() {
    UaOverride ua;
    ua.user_agent = kUserAgent;
    ua.accept_language = "de-DE,de;q=0.9,en;q=0.8";  // q-values must be stripped by the client
    return ua;
}

// Attaches and waits through the Qt loop. Returns the session; latency in *ms.
std::shared_ptr<DevToolsSession> attach_via_loop(DevToolsClient& client, const std::string& marker,
                                                 int timeout_ms, std::string* error, double* ms,
                                                 bool* on_client_thread = nullptr) {
    struct Result {
        bool done = false;
        std::shared_ptr<DevToolsSession> session;
        std::string error;
        double ms = 0;
        bool off_qt_thread = false;
    };
    auto r = std::make_shared<Result>();
    QThread* qt_thread = QThread::currentThread();
    const auto t0 = Clock::now();
    client.attach(marker, test_ua(), timeout_ms,
                  [r, t0, qt_thread](std::shared_ptr<DevToolsSession> s, std::string err) {
                      const double ms = ms_since(t0);
                      const bool off = QThread::currentThread() != qt_thread;
                      on_qt([r, s, err, ms, off] {
                          r->session = s;
                          r->error = err;
                          r->ms = ms;
                          r->off_qt_thread = off;
                          r->done = true;
                      });
                  });
    EXPECT_TRUE(wait_until([&] { return r->done; }, timeout_ms + 2000)) << "no attach callback";
    if (error) *error = r->error;
    if (ms) *ms = r->ms;
    if (on_client_thread) *on_client_thread = r->off_qt_thread;
    return r->session;
}

struct Eval {
    bool done = false;
    std::string json;
    std::string error;
};
Eval evaluate_via_loop(DevToolsSession& s, const std::string& expr) {
    auto r = std::make_shared<Eval>();
    s.evaluate(expr, [r](std::string json, std::string err) {
        on_qt([r, json, err] {
            r->json = json;
            r->error = err;
            r->done = true;
        });
    });
    EXPECT_TRUE(wait_until([&] { return r->done; }, 5000)) << "no evaluate callback: " << expr;
    return *r;
}

// ---- fixture ------------------------------------------------------------------------------------

class DevTools : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        site = new Site;
        profile = new QWebEngineProfile;  // off the record
        stall_timer = new QTimer;
        stall_timer->setInterval(10);
        QObject::connect(stall_timer, &QTimer::timeout, [] {
            const auto now = Clock::now();
            if (last_tick != Clock::time_point{}) {
                max_gap_ms = std::max(
                    max_gap_ms, std::chrono::duration<double, std::milli>(now - last_tick).count());
            }
            last_tick = now;
        });
        view = make_view(profile, kMarker);
        client = new DevToolsClient(g_debug_port);
        client->start();
    }
    static void TearDownTestSuite() {
        session.reset();
        delete client;  // first: no callback may run after this
        client = nullptr;
        delete view;
        view = nullptr;
        delete stall_timer;
        delete profile;
        delete site;
    }

    // Loads url in the shared view, collecting main-document responses until pred holds.
    static void navigate(const std::string& url) {
        responses.clear();
        view->load(QUrl(QString::fromStdString(url)));
    }

    static inline Site* site = nullptr;
    static inline QWebEngineProfile* profile = nullptr;
    static inline QWebEngineView* view = nullptr;
    static inline DevToolsClient* client = nullptr;
    static inline std::shared_ptr<DevToolsSession> session;
    static inline std::vector<DocumentResponse> responses;
    static inline QTimer* stall_timer = nullptr;
    static inline Clock::time_point last_tick{};
    static inline double max_gap_ms = 0;
};

TEST_F(DevTools, AttachFindsMarkerPage) {
    std::string error;
    double ms = 0;
    bool off_qt_thread = false;
    session = attach_via_loop(*client, kMarker, 5000, &error, &ms, &off_qt_thread);
    ASSERT_TRUE(session) << error;
    EXPECT_EQ(error, "");
    EXPECT_TRUE(off_qt_thread) << "callbacks must run on the client's thread";
    EXPECT_TRUE(client->connected());
    EXPECT_EQ(client->port(), g_debug_port);
    EXPECT_FALSE(session->session_id().empty());
    // Chromium gives the main frame the target's id; the client learns it from the frame tree.
    EXPECT_EQ(session->main_frame_id(), session->target_id());
    std::printf("[ metric ] first attach (incl. connect): %.1f ms\n", ms);

    session->on_document_response(
        [](const DocumentResponse& r) { on_qt([r] { responses.push_back(r); }); });
    // From here on the Qt thread must keep ticking: measure the longest gap between 10 ms ticks.
    stall_timer->start();
}

TEST_F(DevTools, NotFoundStatusAndCustomHeader) {
    ASSERT_TRUE(session);
    navigate(site->url("/notfound"));
    ASSERT_TRUE(wait_until([] { return !responses.empty(); }, 5000)) << "no document response";
    ASSERT_EQ(responses.size(), 1u);
    const auto& r = responses[0];
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(r.url, site->url("/notfound"));
    EXPECT_FALSE(r.redirect);
    EXPECT_EQ(r.mime_type, "text/html");
    ASSERT_TRUE(r.headers.count("x-custom"));
    EXPECT_EQ(r.headers.at("x-custom"), "yes");
    EXPECT_EQ(r.frame_id, session->main_frame_id());
}

TEST_F(DevTools, RedirectHopThenFinalInOrder) {
    ASSERT_TRUE(session);
    navigate(site->url("/redirect"));
    ASSERT_TRUE(
        wait_until([] { return !responses.empty() && responses.back().status == 200; }, 5000))
        << "no final response; got " << responses.size();
    spin_for(100);  // anything extra (e.g. a favicon) must not show up as a document response
    ASSERT_EQ(responses.size(), 2u);
    EXPECT_EQ(responses[0].status, 302);
    EXPECT_TRUE(responses[0].redirect);
    EXPECT_EQ(responses[0].url, site->url("/redirect"));
    ASSERT_TRUE(responses[0].headers.count("location"));
    EXPECT_EQ(responses[0].headers.at("location"), site->url("/final"));
    EXPECT_EQ(responses[1].status, 200);
    EXPECT_FALSE(responses[1].redirect);
    EXPECT_EQ(responses[1].url, site->url("/final"));
    ASSERT_TRUE(responses[1].headers.count("set-cookie"));
    EXPECT_NE(responses[1].headers.at("set-cookie").find("sid=abc123"), std::string::npos);
}

TEST_F(DevTools, SubframeDocumentsAreNotReported) {
    ASSERT_TRUE(session);
    navigate(site->url("/withframe"));
    ASSERT_TRUE(wait_until([] { return !site->headers("/notfound?frame").empty(); }, 5000))
        << "iframe never loaded";
    spin_for(100);
    ASSERT_EQ(responses.size(), 1u);
    EXPECT_EQ(responses[0].status, 200);
    EXPECT_EQ(responses[0].url, site->url("/withframe"));
    // Rewriting the document's headers (Fetch interception) must not lose the cookie that the
    // network stack adds later: /final set it.
    EXPECT_EQ(site->headers("/withframe")["cookie"], "sid=abc123");
}

TEST_F(DevTools, PostNavigationKeepsBodyThroughInterception) {
    ASSERT_TRUE(session);
    responses.clear();
    QWebEngineHttpRequest req(QUrl(QString::fromStdString(site->url("/post"))),
                              QWebEngineHttpRequest::Post);
    req.setHeader("Content-Type", "application/x-www-form-urlencoded");
    req.setPostData("a=1&b=two");
    view->load(req);
    ASSERT_TRUE(wait_until([] { return !responses.empty(); }, 5000));
    EXPECT_EQ(responses[0].status, 201);
    auto h = site->headers("/post");
    EXPECT_EQ(h[":body"], "a=1&b=two");
    EXPECT_EQ(h["content-type"], "application/x-www-form-urlencoded");
    EXPECT_NE(h["sec-ch-ua"].find("Google Chrome"), std::string::npos);
}

TEST_F(DevTools, TopNavigationCarriesOverriddenHeaders) {
    for (const char* path : {"/notfound", "/redirect", "/final"}) {
        auto h = site->headers(path);
        ASSERT_FALSE(h.empty()) << path << " never requested";
        EXPECT_EQ(h["user-agent"], kUserAgent) << path;
        EXPECT_EQ(h["accept-language"].rfind("de-DE", 0), 0u)
            << path << ": " << h["accept-language"];
        EXPECT_NE(h["sec-ch-ua"].find("\"Google Chrome\";v=\"102\""), std::string::npos)
            << path << ": sec-ch-ua=" << h["sec-ch-ua"];
        EXPECT_EQ(h["sec-ch-ua-mobile"], "?0") << path;
        EXPECT_EQ(h["sec-ch-ua-platform"], "\"Linux\"") << path;
    }
}

TEST_F(DevTools, NavigatorFollowsOverride) {
    ASSERT_TRUE(session);
    const auto o =
        run_js(view, QStringLiteral("JSON.stringify({brands: navigator.userAgentData.brands,"
                                    " platform: navigator.platform, ua: navigator.userAgent,"
                                    " langs: navigator.languages,"
                                    " chPlatform: navigator.userAgentData.platform})"))
            .toObject();
    const auto brands = o.value("brands").toArray();
    ASSERT_FALSE(brands.isEmpty()) << "userAgentData.brands is empty";
    bool chrome = false;
    for (const auto& b : brands) {
        chrome |= b.toObject().value("brand").toString() == "Google Chrome" &&
                  b.toObject().value("version").toString() == "102";
    }
    EXPECT_TRUE(chrome);
    EXPECT_EQ(o.value("platform").toString(), "Linux");
    EXPECT_EQ(o.value("chPlatform").toString(), "Linux");
    EXPECT_EQ(o.value("ua").toString().toStdString(), kUserAgent);
    EXPECT_EQ(QJsonDocument(o.value("langs").toArray()).toJson(QJsonDocument::Compact),
              QByteArray(R"(["de-DE","de","en"])"));
}

TEST_F(DevTools, EvaluateWithoutRuntimeEnable) {
    ASSERT_TRUE(session);
    auto r = evaluate_via_loop(*session, "1 + 2");
    EXPECT_EQ(r.error, "");
    EXPECT_EQ(r.json, "3");
    r = evaluate_via_loop(*session, "'a' + 'b'");
    EXPECT_EQ(r.json, "\"ab\"");
    r = evaluate_via_loop(*session, "new Promise(ok => setTimeout(() => ok({n: 7}), 10))");
    EXPECT_EQ(r.json, "{\"n\":7}");
    r = evaluate_via_loop(*session, "undefined");
    EXPECT_EQ(r.json, "null");
    r = evaluate_via_loop(*session, "throw new Error('boom')");
    EXPECT_EQ(r.json, "");
    EXPECT_NE(r.error.find("boom"), std::string::npos) << r.error;
    // Big result: larger than any default frame buffer.
    r = evaluate_via_loop(*session, "'x'.repeat(3 * 1024 * 1024)");
    EXPECT_EQ(r.json.size(), 3u * 1024 * 1024 + 2);
}

TEST_F(DevTools, CookiesIncludeHttpOnly) {
    ASSERT_TRUE(session);
    auto r = std::make_shared<Eval>();
    session->get_cookies({site->url("/")}, [r](std::string json, std::string err) {
        on_qt([r, json, err] {
            r->json = json;
            r->error = err;
            r->done = true;
        });
    });
    ASSERT_TRUE(wait_until([&] { return r->done; }, 5000));
    EXPECT_EQ(r->error, "");
    const auto cookies = QJsonDocument::fromJson(QByteArray::fromStdString(r->json)).array();
    bool found = false;
    for (const auto& c : cookies) {
        const auto o = c.toObject();
        if (o.value("name").toString() == "sid") {
            found = true;
            EXPECT_EQ(o.value("value").toString(), "abc123");
            EXPECT_TRUE(o.value("httpOnly").toBool());
        }
    }
    EXPECT_TRUE(found) << r->json;
}

TEST_F(DevTools, UnknownMarkerTimesOut) {
    std::string error;
    const auto t0 = Clock::now();
    auto s = attach_via_loop(*client, "about:blank#no-such-page", 300, &error, nullptr);
    const double ms = ms_since(t0);
    EXPECT_FALSE(s);
    EXPECT_NE(error.find("timed out"), std::string::npos) << error;
    EXPECT_LT(ms, 1500);
}

TEST_F(DevTools, IdleClientUsesNoCpu) {
    ASSERT_TRUE(session);
    spin_for(200);  // let any in-flight page events settle
    const auto before = client_thread_usage();
    ASSERT_GE(before.threads, 1);
    spin_for(1000);
    const auto after = client_thread_usage();
    // A 10 ms polling loop would wake ~100 times a second; a blocked one wakes only for events.
    EXPECT_LT(after.switches - before.switches, 10);
    EXPECT_LE(after.ticks - before.ticks, 1);
    std::printf("[ metric ] idle second: %ld wake-ups, %ld CPU ticks\n",
                after.switches - before.switches, after.ticks - before.ticks);
}

TEST_F(DevTools, SecondClientDetachAndFastDestruction) {
    QWebEngineView* view2 = make_view(profile, "about:blank#byparr-marker-2");
    {
        auto client2 = std::make_unique<DevToolsClient>(g_debug_port);
        client2->start();
        std::string error;
        double ms = 0;
        auto s = attach_via_loop(*client2, "about:blank#byparr-marker-2", 5000, &error, &ms);
        ASSERT_TRUE(s) << error;
        std::printf("[ metric ] attach on a second client (incl. connect): %.1f ms\n", ms);

        // Already connected: the attach cost alone.
        QWebEngineView* view3 = make_view(profile, "about:blank#byparr-marker-3");
        auto s3 = attach_via_loop(*client2, "about:blank#byparr-marker-3", 5000, &error, &ms);
        ASSERT_TRUE(s3) << error;
        std::printf("[ metric ] attach on a connected client: %.1f ms\n", ms);

        // Responses that arrive before a callback is set are kept for it.
        bool loaded = false;
        QObject::connect(view3, &QWebEngineView::loadFinished, view3, [&loaded] { loaded = true; });
        view3->load(QUrl(QString::fromStdString(site->url("/notfound"))));
        ASSERT_TRUE(wait_until([&] { return loaded; }, 5000));
        spin_for(100);  // past the ExtraInfo wait, so the response is surely buffered
        auto late = std::make_shared<std::vector<int>>();
        s3->on_document_response([late](const DocumentResponse& r) {
            const int status = r.status;
            on_qt([late, status] { late->push_back(status); });
        });
        ASSERT_TRUE(wait_until([&] { return !late->empty(); }, 2000));
        EXPECT_EQ(*late, std::vector<int>{404});

        s->detach();
        s->detach();  // idempotent
        auto r = evaluate_via_loop(*s, "1");
        EXPECT_EQ(r.error, "session detached");
        r = evaluate_via_loop(*s3, "2");
        EXPECT_EQ(r.json, "2");

        // Destruction with a request in flight: bounded, and its callback never runs.
        bool called = false;
        s3->evaluate("new Promise(() => {})",
                     [&called](std::string, std::string) { called = true; });
        spin_for(20);
        const auto t0 = Clock::now();
        client2.reset();
        const double dtor_ms = ms_since(t0);
        EXPECT_LT(dtor_ms, 1000);
        EXPECT_FALSE(called);
        std::printf("[ metric ] destructor with a request in flight: %.1f ms\n", dtor_ms);
        s3.reset();
        delete view3;
    }
    delete view2;

    // The first client's session is unaffected.
    auto r = evaluate_via_loop(*session, "navigator.platform");
    EXPECT_EQ(r.json, "\"Linux\"");
}

TEST_F(DevTools, NothingListeningFailsWithConnectError) {
    const int closed_port = free_port();
    DevToolsClient c(closed_port);
    c.start();
    std::string error;
    auto s = attach_via_loop(c, kMarker, 300, &error, nullptr);
    EXPECT_FALSE(s);
    EXPECT_FALSE(c.connected());
    EXPECT_NE(error.find("connect"), std::string::npos) << error;
}

TEST_F(DevTools, DestructorDoesNotWaitForSilentEndpoint) {
    // A listener that accepts connections (kernel backlog) but never answers: the client blocks
    // reading /json/version, as it would if Chromium's UI thread were the one destroying it.
    Poco::Net::ServerSocket silent(Poco::Net::SocketAddress("127.0.0.1", 0));
    auto c = std::make_unique<DevToolsClient>(silent.address().port());
    c->start();
    bool called = false;
    c->attach(kMarker, test_ua(), 10000,
              [&called](std::shared_ptr<DevToolsSession>, std::string) { called = true; });
    spin_for(100);
    const auto t0 = Clock::now();
    c.reset();
    const double ms = ms_since(t0);
    EXPECT_LT(ms, 1000);
    EXPECT_FALSE(called);
    std::printf("[ metric ] destructor while blocked on a silent endpoint: %.1f ms\n", ms);
}

TEST_F(DevTools, QtThreadNeverStalled) {
    stall_timer->stop();
    std::printf("[ metric ] longest Qt event-loop gap after attach: %.1f ms\n", max_gap_ms);
    EXPECT_LT(max_gap_ms, 500);
}

}  // namespace

int main(int argc, char** argv) {
    // The environment must be complete before the application (and Chromium) exists.
    g_debug_port = free_port();
    qputenv("QTWEBENGINE_REMOTE_DEBUGGING",
            QByteArray("127.0.0.1:") + QByteArray::number(g_debug_port));
    qputenv("QT_QPA_PLATFORM", "offscreen");
    qunsetenv("DISPLAY");
    if (geteuid() == 0) qputenv("QTWEBENGINE_DISABLE_SANDBOX", "1");
    qputenv("QTWEBENGINE_CHROMIUM_FLAGS",
            "--disable-gpu --disable-background-networking --disable-background-timer-throttling"
            " --disable-renderer-backgrounding --disable-backgrounding-occluded-windows");
    qputenv("QT_LOGGING_RULES", "qt.webenginecontext.info=false;qt.webenginecontext.debug=false");
    std::string runtime_dir = "/tmp/devtools-test-XXXXXX";
    if (mkdtemp(runtime_dir.data())) {
        chmod(runtime_dir.c_str(), 0700);
        qputenv("XDG_RUNTIME_DIR", QByteArray::fromStdString(runtime_dir));
    }
    QCoreApplication::setAttribute(Qt::AA_ShareOpenGLContexts);
    QApplication app(argc, argv);
    ::testing::InitGoogleTest(&argc, argv);
    const int rc = RUN_ALL_TESTS();
    rmdir(runtime_dir.c_str());
    return rc;
}
