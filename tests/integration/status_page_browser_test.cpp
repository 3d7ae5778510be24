// GET /status in a real browser (Debian's Chromium, headless, driven over
// --remote-debugging-pipe with the browser plugins' pipe transport) after a mixed
// workload: the request rows render, the latency chart has points, the console
// stays clean, and a screenshot lands in the build tree (build/status-page.png).
#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "devtools_transport.h"
#include "tests/support/byparr_server.h"

namespace byparr {
namespace {

using Poco::JSON::Object;
using Clock = std::chrono::steady_clock;

constexpr const char* kChromium = "/usr/bin/chromium";
constexpr const char* kKey = "browser-test-key";

// Headless Chromium with the DevTools pipe on its fds 3 (commands in) and 4 (out).
class Chromium {
  public:
    Chromium() {
        char tmpl[] = "/tmp/byparr-status-chromium-XXXXXX";
        if (!::mkdtemp(tmpl)) throw std::runtime_error("mkdtemp");
        profile_ = tmpl;
        int to[2], from[2];
        if (::pipe2(to, O_CLOEXEC) != 0 || ::pipe2(from, O_CLOEXEC) != 0)
            throw std::runtime_error("pipe");
        std::vector<std::string> args = {kChromium,
                                         "--headless=new",
                                         "--remote-debugging-pipe",
                                         "--user-data-dir=" + profile_,
                                         "--no-first-run",
                                         "--no-default-browser-check",
                                         "--disable-gpu",
                                         "--disable-background-networking",
                                         "--disable-sync",
                                         "--disable-component-update",
                                         "--disable-extensions",
                                         "--hide-scrollbars",
                                         "--window-size=1280,1500",
                                         "about:blank"};
        if (::geteuid() == 0) args.insert(args.begin() + 1, "--no-sandbox");
        std::vector<char*> argv;
        for (auto& a : args)
            argv.push_back(a.data());
        argv.push_back(nullptr);
        pid_ = ::fork();
        if (pid_ == 0) {
            ::prctl(PR_SET_PDEATHSIG, SIGKILL);
            ::setpgid(0, 0);  // its renderers go with it on kill(-pid)
            int in = ::fcntl(to[0], F_DUPFD, 10), out = ::fcntl(from[1], F_DUPFD, 10);
            if (in < 0 || out < 0 || ::dup2(in, 3) < 0 || ::dup2(out, 4) < 0) ::_exit(126);
            ::execv(argv[0], argv.data());
            ::_exit(127);
        }
        ::close(to[0]);
        ::close(from[1]);
        pipe_ = browser::make_devtools_pipe(from[0], to[1]);
    }
    ~Chromium() {
        pipe_.reset();
        if (pid_ > 0) {
            ::kill(-pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        std::error_code ec;
        std::filesystem::remove_all(profile_, ec);
    }

    // One command; waits for its answer, keeping every event that arrives meanwhile.
    Object::Ptr call(const std::string& method, Object::Ptr params = new Object,
                     const std::string& session = "", int timeout_ms = 15000) {
        Object msg;
        int id = ++next_id_;
        msg.set("id", id);
        msg.set("method", method);
        msg.set("params", params);
        if (!session.empty()) msg.set("sessionId", session);
        std::ostringstream out;
        Poco::JSON::Stringifier::stringify(msg, out);
        pipe_->send(out.str());
        auto until = Clock::now() + std::chrono::milliseconds(timeout_ms);
        while (Clock::now() < until) {
            auto m = next(until);
            if (!m) continue;
            if (m->has("id") && m->getValue<int>("id") == id) {
                if (m->has("error"))
                    throw std::runtime_error(
                        method + ": " + m->getObject("error")->getValue<std::string>("message"));
                return m->getObject("result");
            }
            events_.push_back(m);
        }
        throw std::runtime_error(method + ": no answer in time");
    }
    // Reads what has arrived (events) for up to `ms`.
    void drain(int ms) {
        auto until = Clock::now() + std::chrono::milliseconds(ms);
        while (Clock::now() < until)
            if (auto m = next(until)) events_.push_back(m);
    }
    const std::vector<Object::Ptr>& events() const { return events_; }

  private:
    Object::Ptr next(Clock::time_point until) {
        std::string text, error;
        if (!pipe_->buffered()) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
            pollfd p{pipe_->fd(), POLLIN, 0};
            if (::poll(&p, 1, static_cast<int>(std::max<int64_t>(0, left.count()))) <= 0)
                return nullptr;
        }
        auto r = pipe_->read(&text, &error);
        if (r == browser::DevToolsTransport::Read::kClosed)
            throw std::runtime_error("chromium: " + error);
        if (r != browser::DevToolsTransport::Read::kMessage) return nullptr;
        Poco::JSON::Parser parser;
        return parser.parse(text).extract<Object::Ptr>();
    }

    pid_t pid_ = -1;
    std::string profile_;
    std::unique_ptr<browser::DevToolsTransport> pipe_;
    std::vector<Object::Ptr> events_;
    int next_id_ = 0;
};

Object::Ptr params(std::initializer_list<std::pair<std::string, Poco::Dynamic::Var>> kv) {
    Object::Ptr o = new Object;
    for (const auto& [k, v] : kv)
        o->set(k, v);
    return o;
}

// The console errors, uncaught exceptions and error log entries among the events.
std::vector<std::string> console_errors(const std::vector<Object::Ptr>& events) {
    std::vector<std::string> out;
    for (const auto& e : events) {
        if (!e->has("method")) continue;
        std::string method = e->getValue<std::string>("method");
        auto p = e->getObject("params");
        std::ostringstream text;
        Poco::JSON::Stringifier::stringify(p, text);
        if (method == "Runtime.exceptionThrown") out.push_back(text.str());
        if (method == "Runtime.consoleAPICalled" && p->getValue<std::string>("type") == "error")
            out.push_back(text.str());
        if (method == "Log.entryAdded" &&
            p->getObject("entry")->getValue<std::string>("level") == "error")
            out.push_back(text.str());
    }
    return out;
}

TEST(StatusPageBrowser, RendersRowsAndAChartWithoutConsoleErrors) {
    if (::access(kChromium, X_OK) != 0) GTEST_SKIP() << "no " << kChromium;
    test::ByparrServer server(
        {.env = {{"BYPARR_PLUGIN_PATH", test::ByparrServer::fixture_plugin_dir() + "/good"},
                 {"SOLVERS", "echo-solver"},
                 {"API_KEY", kKey},
                 {"LOG_LEVEL", "warning"}}});
    // Pass, no challenge, cached, blocked, error: one of each outcome the page colours.
    auto v1 = [&](const std::string& url, bool cookies_only = false) {
        server.v1(std::string(R"({"cmd":"request.get","apiKey":")") + kKey + R"(","url":")" + url +
                  "\"" + (cookies_only ? R"(,"returnOnlyCookies":true)" : "") + "}");
    };
    v1("http://pass.example/challenge?token=SECRET");
    v1("http://plain.example/page?q=1");
    v1("http://pass.example/challenge", true);
    v1("http://blocked.example/block");
    v1("http://broken.example/fail");

    Chromium chrome;
    auto target = chrome.call("Target.createTarget", params({{"url", "about:blank"}}));
    auto attached = chrome.call(
        "Target.attachToTarget",
        params({{"targetId", target->getValue<std::string>("targetId")}, {"flatten", true}}));
    std::string session = attached->getValue<std::string>("sessionId");
    for (const char* domain : {"Runtime.enable", "Log.enable", "Page.enable", "Network.enable"})
        chrome.call(domain, new Object, session);
    // The key the way an API client sends it, on the page and on its fetch of status.json.
    Object::Ptr headers = new Object;
    headers->set("Authorization", std::string("Bearer ") + kKey);
    chrome.call("Network.setExtraHTTPHeaders", params({{"headers", headers}}), session);
    chrome.call(
        "Emulation.setDeviceMetricsOverride",
        params({{"width", 1280}, {"height", 1500}, {"deviceScaleFactor", 1}, {"mobile", false}}),
        session);
    chrome.call("Page.navigate", params({{"url", server.base() + "/status"}}), session);

    auto eval = [&](const std::string& js) {
        auto r = chrome.call("Runtime.evaluate",
                             params({{"expression", js}, {"returnByValue", true}}), session);
        return r->getObject("result")->get("value");
    };
    // The page fetches status.json once on load: wait for its rows (at most 15 s).
    int rows = 0;
    for (auto until = Clock::now() + std::chrono::seconds(15); Clock::now() < until;) {
        rows = eval(
                   "[...document.querySelectorAll('#requests tbody tr')]"
                   ".filter(r => !r.querySelector('.empty')).length")
                   .convert<int>();
        if (rows >= 5) break;
        chrome.drain(200);
    }
    EXPECT_EQ(rows, 5);
    std::string table = eval("document.querySelector('#requests').innerText").toString();
    for (const char* want :
         {"pass.example", "plain.example", "blocked.example", "broken.example", "solved",
          "not_detected", "cached", "blocked", "error", "cf-1020", "echo-solver"})
        EXPECT_NE(table.find(want), std::string::npos) << want << " not in\n" << table;
    EXPECT_EQ(table.find("SECRET"), std::string::npos);
    EXPECT_GE(eval("document.querySelectorAll('#chart svg circle.point').length").convert<int>(),
              1);
    EXPECT_FALSE(eval("document.querySelector('#chart polyline.avg')?.getAttribute('points') || ''")
                     .toString()
                     .empty());
    EXPECT_NE(eval("document.querySelector('#plugins').innerText").toString().find("echo-solver"),
              std::string::npos);
    EXPECT_NE(eval("document.querySelector('#sites').innerText").toString().find("pass.example"),
              std::string::npos);
    EXPECT_EQ(eval("document.getElementById('updated').className").toString(), "muted");

    chrome.drain(300);  // late console messages
    auto errors = console_errors(chrome.events());
    EXPECT_TRUE(errors.empty()) << errors.size() << " console error(s), first: " << errors.front();

    auto shot = chrome.call("Page.captureScreenshot",
                            params({{"format", "png"}, {"captureBeyondViewport", true}}), session);
    std::istringstream b64(shot->getValue<std::string>("data"));
    Poco::Base64Decoder dec(b64);
    std::string png((std::istreambuf_iterator<char>(dec)), {});
    std::string path = test::ByparrServer::bin_dir() + "/../status-page.png";
    std::ofstream(path, std::ios::binary) << png;
    EXPECT_GT(png.size(), 10000u) << path;
    std::cout << "screenshot: " << std::filesystem::weakly_canonical(path) << "\n";
}

}  // namespace
}  // namespace byparr
