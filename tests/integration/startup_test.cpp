// Start-up refusals and the operability surface of the real byparr executable
// (issue #15): a typo in SOLVERS, a second instance on the same state directory or
// port, the admin socket of a running instance; /health with its self-test;
// X-Request-Id and the access line; bodies without Content-Length; the timeout
// message when SOLVER_TIMEOUT caps maxTimeout. Browserless (echo-solver fixture)
// except the self-test failure case, which uses a worker that cannot start.
#include <Poco/JSON/Parser.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <thread>

#include "tests/support/byparr_server.h"
#include "tests/support/http_client.h"
#include "tests/support/test_process.h"

namespace byparr {
namespace {

using namespace std::chrono_literals;
using test::ByparrServer;
using test::ChildProcess;
using test::http_request;

std::map<std::string, std::string> echo_env() {
    return {{"BYPARR_PLUGIN_PATH", ByparrServer::fixture_plugin_dir() + "/good"},
            {"SOLVERS", "echo-solver"}};
}

struct Exit {
    int code = -1;       // exit status, -1 when it did not exit in time
    std::string output;  // stdout and stderr
};

// Runs byparr to completion (it is expected to refuse to start).
Exit run_byparr(std::map<std::string, std::string> env, std::chrono::milliseconds limit = 20s) {
    env.emplace("HOST", "127.0.0.1");
    env.emplace("LOG_LEVEL", "info");
    ChildProcess p;
    p.start("/bin/sh", {"-c", "exec \"$0\" 2>&1", ByparrServer::bin_dir() + "/byparr"}, env);
    Exit e;
    auto st = p.wait_exit(limit);
    if (st && WIFEXITED(*st)) e.code = WEXITSTATUS(*st);
    if (!st) p.stop();
    e.output = p.output();
    return e;
}

Poco::JSON::Object::Ptr parse(const std::string& body) {
    Poco::JSON::Parser p;
    return p.parse(body).extract<Poco::JSON::Object::Ptr>();
}

std::string temp_dir(const std::string& name) {
    auto d = std::filesystem::temp_directory_path() /
             ("byparr-startup-" + name + "-" + std::to_string(::getpid()));
    std::filesystem::remove_all(d);
    std::filesystem::create_directories(d);
    return d.string();
}

TEST(Startup, UnknownSolverIdRefusesToStartAndListsTheKnownIds) {
    auto env = echo_env();
    env["SOLVERS"] = "echo-solver, webengin";
    env["PORT"] = "0";
    env["BYPARR_STATE_DIR"] = temp_dir("solvers");
    auto e = run_byparr(env);
    EXPECT_EQ(e.code, 78) << e.output;  // EX_CONFIG, as other bad settings
    EXPECT_NE(e.output.find("SOLVERS names 'webengin', which is not a known solver"),
              std::string::npos)
        << e.output;
    EXPECT_NE(e.output.find("known solver ids: echo-solver"), std::string::npos) << e.output;
    std::filesystem::remove_all(env["BYPARR_STATE_DIR"]);
}

TEST(Startup, SecondInstanceOnTheSameStateDirIsRefusedWithThePidOfTheFirst) {
    std::string dir = temp_dir("lock");
    {
        ByparrServer first({.env = echo_env(), .state_dir = dir});
        std::string sock = dir + "/admin.sock";
        struct stat before {};
        ASSERT_EQ(::stat(sock.c_str(), &before), 0) << "no admin socket";

        auto env = echo_env();
        env["PORT"] = "0";
        env["BYPARR_STATE_DIR"] = dir;
        auto e = run_byparr(env);
        EXPECT_EQ(e.code, 69) << e.output;
        EXPECT_NE(e.output.find("another Byparr (PID " + std::to_string(first.process().pid()) +
                                ") is running with the state directory"),
                  std::string::npos)
            << e.output;
        // The refused one neither replaced nor removed the first one's socket.
        struct stat after {};
        ASSERT_EQ(::stat(sock.c_str(), &after), 0) << "the first instance's socket was removed";
        EXPECT_EQ(after.st_ino, before.st_ino);
        EXPECT_EQ(http_request("GET", first.base() + "/health").status, 200);
    }
    // After the first stops, the directory is free again.
    ByparrServer again({.env = echo_env(), .state_dir = dir});
    EXPECT_EQ(http_request("GET", again.base() + "/health").status, 200);
    std::filesystem::remove_all(dir);
}

TEST(Startup, PortInUseIsAClearStartupError) {
    ByparrServer first({.env = echo_env()});
    auto env = echo_env();
    env["PORT"] = std::to_string(first.port());
    env["BYPARR_STATE_DIR"] = temp_dir("port");
    auto e = run_byparr(env);
    // Without SO_REUSEPORT the second bind fails; with it both would listen and
    // split the requests between them.
    EXPECT_EQ(e.code, 69) << e.output;
    EXPECT_NE(e.output.find("cannot listen on 127.0.0.1:" + std::to_string(first.port()) +
                            ": the port is already in use"),
              std::string::npos)
        << e.output;
    std::filesystem::remove_all(env["BYPARR_STATE_DIR"]);
}

TEST(Startup, HealthIs503WithTheReasonWhenTheBrowserCannotStart) {
    // The plugin only: the worker it is given cannot start anyway.
    if (!std::filesystem::exists(ByparrServer::plugin_dir() + "/webengine/libwebengine.so"))
        GTEST_SKIP() << "webengine plugin not built";
    ByparrServer s({.env = {{"SOLVERS", "webengine"}, {"BYPARR_WORKER", "/bin/false"}}});
    auto h = http_request("GET", s.base() + "/health");
    EXPECT_EQ(h.status, 503) << h.body;
    auto o = parse(h.body);
    EXPECT_EQ(o->getValue<std::string>("status"), "error");
    auto solvers = o->getArray("solvers");
    ASSERT_EQ(solvers->size(), 1u) << h.body;
    auto w = solvers->getObject(0);
    EXPECT_EQ(w->getValue<std::string>("id"), "webengine");
    EXPECT_FALSE(w->getValue<bool>("ready"));
    EXPECT_EQ(w->getValue<std::string>("selfTest"), "failed");
    EXPECT_NE(w->getValue<std::string>("reason").find("self-test page did not load"),
              std::string::npos)
        << h.body;
    // FlareSolverr's GET / still answers: the service is up, just not healthy.
    EXPECT_EQ(http_request("GET", s.base() + "/").status, 200);
}

// Without Chromium the chromium solver is unavailable with the reason, and the rest serves.
TEST(Startup, AMissingChromiumIsAnUnavailableSolverWithTheReason) {
    if (!std::filesystem::exists(ByparrServer::plugin_dir() + "/chromium/libchromium.so"))
        GTEST_SKIP() << "chromium plugin not built";
    ByparrServer s({.env = {{"SOLVERS", "chromium,cookie-import"},
                            {"CHROMIUM_PATH", "/nonexistent/chromium"}}});
    auto o = parse(http_request("GET", s.base() + "/health").body);
    auto solvers = o->getArray("solvers");
    ASSERT_TRUE(solvers);
    bool seen = false;
    for (unsigned i = 0; i < solvers->size(); ++i) {
        auto c = solvers->getObject(i);
        if (c->getValue<std::string>("id") != "chromium") continue;
        seen = true;
        EXPECT_FALSE(c->getValue<bool>("ready"));
        EXPECT_NE(
            c->getValue<std::string>("reason").find("Chromium not found at /nonexistent/chromium"),
            std::string::npos)
            << c->getValue<std::string>("reason");
    }
    EXPECT_TRUE(seen);
    // The other solver still answers what it can.
    auto r =
        parse(s.v1(R"({"cmd":"request.get","url":"http://127.0.0.1:9/","maxTimeout":5000})").body);
    EXPECT_TRUE(r->has("status"));
}

TEST(Startup, WorkerDebugLinesReachTheLogAtDebugOnly) {
    if (!std::filesystem::exists(ByparrServer::plugin_dir() + "/webengine/libwebengine.so"))
        GTEST_SKIP() << "webengine plugin not built";
    // A stand-in worker that says what a real one says about its solve steps, then fails
    // to start (the self-test reports it).
    std::string dir = temp_dir("worker-lines");
    std::string worker = dir + "/fake-worker";
    {
        std::ofstream f(worker);
        f << "#!/bin/sh\n"
             "echo 'byparr-webengine-worker: debug: req=self-test rule cf-title detected' >&2\n"
             "echo 'byparr-webengine-worker: cannot start' >&2\n"
             "exit 1\n";
    }
    std::filesystem::permissions(worker, std::filesystem::perms::owner_all);
    for (const char* level : {"debug", "info"}) {
        ByparrServer s(
            {.env = {{"SOLVERS", "webengine"}, {"BYPARR_WORKER", worker}, {"LOG_LEVEL", level}},
             .capture_log = true});
        ASSERT_TRUE(
            test::wait_until([&] { return s.log().find("cannot start") != std::string::npos; }, 5s))
            << s.log();
        std::string log = s.log();
        std::regex step(
            R"(debug +\[webengine\] byparr-webengine-worker: debug: req=self-test rule cf-title detected)");
        std::regex complaint(R"(warning +\[webengine\] byparr-webengine-worker: cannot start)");
        EXPECT_EQ(std::regex_search(log, step), std::string(level) == "debug") << level << "\n"
                                                                               << log;
        EXPECT_TRUE(std::regex_search(log, complaint)) << log;
    }
    std::filesystem::remove_all(dir);
}

class Operability : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        auto env = echo_env();
        env["SOLVER_TIMEOUT"] = "1";
        env["LOG_FORMAT"] = "json";
        server_ = new ByparrServer({.env = env, .capture_log = true});
    }
    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
    }
    static std::string raw(const std::string& request, std::chrono::milliseconds limit) {
        Poco::Net::StreamSocket sock(Poco::Net::SocketAddress("127.0.0.1", server_->port()));
        sock.setReceiveTimeout(Poco::Timespan(static_cast<long>(limit.count() / 1000),
                                              static_cast<long>(limit.count() % 1000) * 1000));
        sock.sendBytes(request.data(), static_cast<int>(request.size()));
        std::string out;
        char buf[4096];
        try {
            while (true) {
                int n = sock.receiveBytes(buf, sizeof buf);
                if (n <= 0) break;
                out.append(buf, static_cast<size_t>(n));
                if (out.find("\r\n\r\n") != std::string::npos &&
                    out.find("\"version\"") != std::string::npos)
                    break;
            }
        } catch (const Poco::TimeoutException&) {
        }
        return out;
    }
    static inline ByparrServer* server_ = nullptr;
};

TEST_F(Operability, RequestIdIsReturnedAndTheClientsOwnIsKept) {
    auto mine = http_request(
        "POST", server_->base() + "/v1", R"({"cmd":"request.get","url":"http://ids.test/"})",
        {{"Content-Type", "application/json"}, {"X-Request-Id", "prowlarr-42"}});
    EXPECT_EQ(mine.status, 200);
    EXPECT_EQ(mine.headers["x-request-id"], "prowlarr-42");
    auto made = server_->v1(R"({"cmd":"request.get","url":"http://ids.test/"})");
    EXPECT_FALSE(made.headers["x-request-id"].empty());
    EXPECT_NE(made.headers["x-request-id"], "prowlarr-42");
    // One that could break a log line or a header is replaced.
    auto bad = http_request("POST", server_->base() + "/v1",
                            R"({"cmd":"request.get","url":"http://ids.test/"})",
                            {{"X-Request-Id", "a b\"c"}});
    EXPECT_NE(bad.headers["x-request-id"], "a b\"c");
    EXPECT_FALSE(bad.headers["x-request-id"].empty());
}

TEST_F(Operability, OneAccessLinePerRequestWithNumbersAsNumbers) {
    auto r = http_request("POST", server_->base() + "/v1",
                          R"({"cmd":"request.get","url":"http://access.test/block"})",
                          {{"X-Request-Id", "access-1"}});
    EXPECT_EQ(r.status, 500);
    ASSERT_TRUE(test::wait_until(
        [&] { return server_->log().find("\"id\":\"access-1\"") != std::string::npos; }, 5s));
    std::string log = server_->log();
    size_t count = 0;
    std::string line;
    for (size_t pos = 0; (pos = log.find("\"id\":\"access-1\"", pos)) != std::string::npos; ++pos) {
        auto b = log.rfind('\n', pos);
        auto e = log.find('\n', pos);
        std::string l = log.substr(b == std::string::npos ? 0 : b + 1,
                                   e == std::string::npos ? std::string::npos : e - b - 1);
        if (l.find("\"component\":\"access\"") != std::string::npos) {
            ++count;
            line = l;
        }
    }
    ASSERT_EQ(count, 1u) << log;
    auto o = parse(line);
    EXPECT_EQ(o->getValue<std::string>("client").rfind("127.0.0.1", 0), 0u) << line;
    EXPECT_EQ(o->getValue<std::string>("cmd"), "request.get");
    EXPECT_EQ(o->getValue<std::string>("domain"), "access.test");
    EXPECT_TRUE(o->get("status").isInteger()) << line;
    EXPECT_EQ(o->getValue<int>("status"), 500);
    EXPECT_EQ(o->getValue<std::string>("outcome"), "blocked");
    EXPECT_TRUE(o->get("duration_ms").isNumeric() && !o->get("duration_ms").isString()) << line;
    EXPECT_EQ(o->getValue<std::string>("solver"), "echo-solver");
    EXPECT_EQ(o->getValue<std::string>("rule"), "cf-1020");
    EXPECT_EQ(o->getValue<std::string>("kind"), "blocked");
    EXPECT_EQ(o->getValue<std::string>("cache"), "miss");
}

TEST_F(Operability, RemovedFieldProwlarrSendsIsSaidOnceNotWarnedEveryTime) {
    for (int i = 0; i < 3; ++i)
        EXPECT_EQ(server_->v1(R"({"cmd":"request.get","url":"http://ua.test/","userAgent":"X/1"})")
                      .status,
                  200);
    std::string log = server_->log();
    size_t n = 0;
    for (size_t p = 0; (p = log.find("'userAgent' was removed", p)) != std::string::npos; ++p)
        ++n;
    EXPECT_EQ(n, 1u) << log;
    std::regex warned("\"level\":\"warning\"[^\n]*userAgent");
    EXPECT_FALSE(std::regex_search(log, warned)) << log;
}

TEST_F(Operability, PostWithoutContentLengthIsAnsweredAtOnce) {
    auto t0 = std::chrono::steady_clock::now();
    std::string out =
        raw("POST /v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\r\n", 5s);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << "left hanging";
    EXPECT_EQ(out.rfind("HTTP/1.1 ", 0), 0u) << out;
    EXPECT_NE(out.find("\"status\":\"error\""), std::string::npos) << out;
}

TEST_F(Operability, ChunkedPostIsAnswered) {
    std::string body = R"({"cmd":"request.get","url":"http://chunked.test/"})";
    char size[16];
    std::snprintf(size, sizeof size, "%zx", body.size());
    auto t0 = std::chrono::steady_clock::now();
    std::string out =
        raw("POST /v1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            "Transfer-Encoding: chunked\r\n\r\n" +
                std::string(size) + "\r\n" + body + "\r\n0\r\n\r\n",
            5s);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 3s) << "left hanging";
    EXPECT_EQ(out.rfind("HTTP/1.1 200", 0), 0u) << out;
    EXPECT_NE(out.find("Challenge not detected!"), std::string::npos) << out;
}

TEST_F(Operability, TimeoutMessageSaysWhenSolverTimeoutCappedMaxTimeout) {
    auto r = server_->v1(
        R"({"cmd":"request.get","url":"http://slow.test/timeout","maxTimeout":"60000"})");
    EXPECT_EQ(r.status, 500);
    auto m = parse(r.body)->getValue<std::string>("message");
    EXPECT_EQ(m.rfind("Error: Error solving the challenge. Timeout after 1.0 seconds.", 0), 0u)
        << m;
    EXPECT_NE(m.find("maxTimeout of 60000 ms was capped by SOLVER_TIMEOUT=1"), std::string::npos)
        << m;
    // Within the cap the message is FlareSolverr's own.
    auto own =
        server_->v1(R"({"cmd":"request.get","url":"http://slow.test/timeout","maxTimeout":300})");
    EXPECT_EQ(parse(own.body)->getValue<std::string>("message"),
              "Error: Error solving the challenge. Timeout after 0.3 seconds.");
}

// Every thread of the host, summed: times it was scheduled (schedstat's third field).
uint64_t host_wakeups(pid_t pid) {
    uint64_t n = 0;
    std::string dir = "/proc/" + std::to_string(pid) + "/task";
    for (const auto& t : std::filesystem::directory_iterator(dir)) {
        std::ifstream in(t.path() / "schedstat");
        uint64_t run_ns = 0, wait_ns = 0, slices = 0;
        if (in >> run_ns >> wait_ns >> slices) n += slices;
    }
    return n;
}

TEST_F(Operability, AnIdleHostDoesNotWakeUp) {
    // Poco's TCPServer polled each listener every 250 ms: 24 wake-ups in 3 s for the
    // public port and the admin socket. The host's accept loops sleep until a client.
#if defined(__SANITIZE_THREAD__)
    GTEST_SKIP() << "ThreadSanitizer's own background thread wakes the host every 100 ms";
#endif
    std::this_thread::sleep_for(1s);  // whatever start-up left behind settles
    uint64_t before = host_wakeups(server_->process().pid());
    std::this_thread::sleep_for(3s);
    uint64_t woke = host_wakeups(server_->process().pid()) - before;
    EXPECT_LE(woke, 6u) << "the idle host was scheduled " << woke << " times in 3 s";
}

TEST_F(Operability, HealthAnswersAtOnceWhileManySolvesWait) {
    // 20 requests that hold their connection for the whole 1 s SOLVER_TIMEOUT (5 solving,
    // 15 queued in the gate). Poco's shared default pool stopped at 16 threads, so /health
    // waited for one of them to end; the public port now has threads for all of them.
    std::vector<std::thread> ts;
    for (int i = 0; i < 20; ++i)
        ts.emplace_back([i] {
            server_->v1(R"({"cmd":"request.get","url":"http://busy)" + std::to_string(i) +
                        R"(.test/timeout","maxTimeout":1000})");
        });
    std::this_thread::sleep_for(200ms);
    auto t0 = std::chrono::steady_clock::now();
    auto h = http_request("GET", server_->base() + "/health", "", {}, 5000);
    auto took = std::chrono::steady_clock::now() - t0;
    EXPECT_EQ(h.status, 200);
    EXPECT_LT(took, 500ms) << "/health waited behind the solves";
    for (auto& t : ts)
        t.join();
}

TEST_F(Operability, HealthNamesEachSolverAndItsSelfTest) {
    auto h = http_request("GET", server_->base() + "/health");
    ASSERT_EQ(h.status, 200) << h.body;
    auto o = parse(h.body);
    EXPECT_EQ(o->getValue<std::string>("status"), "ok");
    auto solvers = o->getArray("solvers");
    ASSERT_EQ(solvers->size(), 1u);
    EXPECT_EQ(solvers->getObject(0)->getValue<std::string>("id"), "echo-solver");
    EXPECT_TRUE(solvers->getObject(0)->getValue<bool>("ready"));
    EXPECT_EQ(solvers->getObject(0)->getValue<std::string>("selfTest"), "passed");
}

}  // namespace
}  // namespace byparr
