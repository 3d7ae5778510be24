// The real byparr executable as a child process for integration tests: a private
// state dir, the in-tree plugins (or the fixture plugins), a port chosen by the
// kernel, and POST /v1 helpers. One definition for every test that needs a server.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

#include <Poco/JSON/Object.h>

#include "tests/support/http_client.h"
#include "tests/support/test_process.h"

namespace byparr::test {

struct ServerOptions {
    // Added to (or overriding) the defaults: PORT=0, HOST=127.0.0.1, the in-tree
    // plugin dir, a fresh state dir, LOG_LEVEL=info.
    std::map<std::string, std::string> env{};
    // When set, the server's stderr (its log) goes to this file instead of ours.
    std::string stderr_path{};
    // Use this state dir (kept afterwards) instead of a fresh temporary one.
    std::string state_dir{};
    // Shell commands run in the child right before exec (e.g. "ulimit -f 0; ").
    std::string shell_prefix{};
    // Merge the server's stderr into the stdout the test reads (log()).
    bool capture_log = false;
    std::chrono::milliseconds start_timeout{std::chrono::seconds(20)};
    // Wait until /health says the start-up self-test is over (a browser solver has
    // started its browser by then), so tests begin from a settled server.
    bool wait_self_test = true;
};

class ByparrServer {
  public:
    // Starts and waits for the port; throws std::runtime_error if it does not come up.
    explicit ByparrServer(ServerOptions options = {});
    ~ByparrServer();  // SIGTERM, up to 15 s, then SIGKILL; removes a temporary state dir

    ByparrServer(const ByparrServer&) = delete;
    ByparrServer& operator=(const ByparrServer&) = delete;

    std::string base() const { return "http://127.0.0.1:" + std::to_string(port_); }
    int port() const { return port_; }
    const std::string& state_dir() const { return state_dir_; }
    ChildProcess& process() { return process_; }
    const ChildProcess& process() const { return process_; }
    // What the server printed (its log, with capture_log).
    std::string log() const { return process_.output(); }
    // Every live process started by this server, found by a unique environment entry
    // they all inherit (BYPARR_TEST_TOKEN): also those that left its process group.
    std::vector<pid_t> token_processes() const;
    const std::string& token() const { return token_; }

    // POST /v1 with a JSON body.
    HttpResult v1(const std::string& body, int timeout_ms = 90000) const;
    // The same, parsed (throws on a body that is not a JSON object).
    Poco::JSON::Object::Ptr v1_json(const std::string& body, int timeout_ms = 90000) const;

    // Paths of the build tree, for tests that start something themselves.
    static std::string bin_dir();
    static std::string plugin_dir();
    static std::string fixture_plugin_dir();

  private:
    std::string state_dir_;
    bool own_state_dir_ = false;
    std::string token_;  // "BYPARR_TEST_TOKEN=..."
    ChildProcess process_;
    int port_ = 0;
};

// The browser solvers, for tests that run on each: "webengine" and "chromium". The list is
// fixed so test names are too; engine_available() says whether one can run here (built, and
// for chromium Debian's Chromium and Xvfb installed). BYPARR_REQUIRE_CHROMIUM=1 (CI) makes a
// missing Chromium count as available, so its tests fail instead of skipping.
std::vector<std::string> browser_engines();
bool engine_available(const std::string& engine);
// The /proc comm of an engine's worker process ("byparr-<engine>-worker", cut at 15).
std::string worker_comm_of(const std::string& engine);

// {"cmd":"request.get","url":url,"maxTimeout":max_timeout_ms} plus extra members
// given as raw JSON (e.g. R"("returnOnlyCookies":true)").
std::string get_body(const std::string& url, int max_timeout_ms = 60000,
                     const std::string& extra_members = "");

}  // namespace byparr::test
