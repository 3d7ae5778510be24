#include "tests/support/byparr_server.h"

#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <stdexcept>

#include <Poco/JSON/Parser.h>

#include "byparr/build_paths.h"
#include "tests/support/proc_stats.h"

namespace byparr::test {

std::string ByparrServer::bin_dir() {
    return byparr::build_paths::kBinDir;
}
std::string ByparrServer::plugin_dir() {
    return byparr::build_paths::kPluginDir;
}
std::string ByparrServer::fixture_plugin_dir() {
    return byparr::build_paths::kFixturePluginDir;
}

std::vector<std::string> browser_engines() {
    return {"webengine", "chromium"};
}

std::string worker_comm_of(const std::string& engine) {
    return ("byparr-" + engine + "-worker").substr(0, 15);
}

bool engine_available(const std::string& engine) {
    const std::string worker =
        ByparrServer::plugin_dir() + "/" + engine + "/byparr-" + engine + "-worker";
    if (::access(worker.c_str(), X_OK) != 0) return false;
    if (engine != "chromium") return true;
    if (const char* req = std::getenv("BYPARR_REQUIRE_CHROMIUM"); req && std::string(req) == "1")
        return true;
    const char* path = std::getenv("CHROMIUM_PATH");
    return ::access(path && *path ? path : "/usr/bin/chromium", X_OK) == 0 &&
           ::access("/usr/bin/Xvfb", X_OK) == 0;
}

ByparrServer::ByparrServer(ServerOptions options) {
    if (options.state_dir.empty()) {
        char tmpl[] = "/tmp/byparr-test-server-XXXXXX";
        const char* dir = ::mkdtemp(tmpl);
        if (dir == nullptr) throw std::runtime_error("mkdtemp failed");
        state_dir_ = dir;
        own_state_dir_ = true;
    } else {
        state_dir_ = options.state_dir;
    }
    static std::atomic<int> serial{0};
    const std::string token_value =
        std::to_string(::getpid()) + "-" + std::to_string(++serial) + "-" +
        std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
    token_ = "BYPARR_TEST_TOKEN=" + token_value;
    std::map<std::string, std::string> env{{"BYPARR_TEST_TOKEN", token_value},
                                           {"PORT", "0"},
                                           {"HOST", "127.0.0.1"},
                                           {"BYPARR_ANNOUNCE_PORT", "1"},
                                           {"BYPARR_PLUGIN_PATH", plugin_dir()},
                                           {"BYPARR_STATE_DIR", state_dir_},
                                           {"LOG_LEVEL", "info"}};
    for (const auto& [k, v] : options.env)
        env[k] = v;
    if (options.stderr_path.empty() && options.shell_prefix.empty() && !options.capture_log) {
        process_.start(bin_dir() + "/byparr", {}, env);
    } else {
        // exec keeps the pid (and process group) of the shell: signals reach byparr.
        std::string redirect = !options.stderr_path.empty() ? " 2>>\"$1\""
                               : options.capture_log        ? " 2>&1"
                                                            : "";
        process_.start("/bin/sh",
                       {"-c", options.shell_prefix + "exec \"$0\"" + redirect,
                        bin_dir() + "/byparr", options.stderr_path},
                       env);
    }
    auto port = process_.read_port(options.start_timeout);
    if (!port) throw std::runtime_error("byparr did not announce its port:\n" + log());
    port_ = *port;
    if (options.wait_self_test) {
        bool settled = wait_until(
            [&] {
                try {
                    auto h = http_request("GET", base() + "/health", "", {}, 5000);
                    return h.status != 0 && h.body.find("\"starting\"") == std::string::npos;
                } catch (const std::exception&) {
                    return false;
                }
            },
            options.start_timeout + std::chrono::seconds(30));
        if (!settled) throw std::runtime_error("byparr's self-test did not finish:\n" + log());
    }
}

ByparrServer::~ByparrServer() {
    process_.stop(std::chrono::seconds(15));
    if (own_state_dir_) {
        std::error_code ec;
        std::filesystem::remove_all(state_dir_, ec);
    }
}

std::vector<pid_t> ByparrServer::token_processes() const {
    return processes_with_env(token_);
}

HttpResult ByparrServer::v1(const std::string& body, int timeout_ms) const {
    return http_request("POST", base() + "/v1", body, {{"Content-Type", "application/json"}},
                        timeout_ms);
}

Poco::JSON::Object::Ptr ByparrServer::v1_json(const std::string& body, int timeout_ms) const {
    HttpResult r = v1(body, timeout_ms);
    Poco::JSON::Parser p;
    auto o = p.parse(r.body).extract<Poco::JSON::Object::Ptr>();
    if (!o) throw std::runtime_error("not a JSON object: " + r.body.substr(0, 200));
    return o;
}

std::string get_body(const std::string& url, int max_timeout_ms, const std::string& extra) {
    std::string body = R"({"cmd":"request.get","url":")" + url + R"(","maxTimeout":)" +
                       std::to_string(max_timeout_ms);
    if (!extra.empty()) body += "," + extra;
    return body + "}";
}

}  // namespace byparr::test
