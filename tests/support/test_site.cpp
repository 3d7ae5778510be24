#include "tests/support/test_site.h"

#include <stdexcept>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "byparr/build_paths.h"
#include "tests/support/http_client.h"

namespace byparr::test {

namespace {

int wait_for_port(ChildProcess& process, const std::string& what) {
    auto port = process.read_port(std::chrono::seconds(10));
    if (!port) {
        process.stop();
        throw std::runtime_error(what + " did not print its port; output: " + process.output());
    }
    return *port;
}

}  // namespace

std::string test_binary(std::string_view name) {
    return std::string(byparr::build_paths::kTestBinDir) + "/" + std::string(name);
}

TestSite::TestSite(std::string bind) : TestSite(std::move(bind), {}) {}

TestSite::TestSite(std::string bind, const std::vector<std::string>& extra_args)
    : bind_(std::move(bind)) {
    std::vector<std::string> args{"--bind", bind_, "--port", "0"};
    args.insert(args.end(), extra_args.begin(), extra_args.end());
    process_.start(test_binary("byparr-test-site"), args);
    port_ = wait_for_port(process_, "byparr-test-site");
}

std::string TestSite::url(std::string_view path) const {
    return "http://" + bind_ + ":" + std::to_string(port_) + std::string(path);
}

TestProxy::TestProxy(TestProxyOptions options) : options_(std::move(options)) {
    std::vector<std::string> args{"--mode", options_.mode, "--bind", options_.bind, "--port", "0"};
    if (!options_.user.empty()) {
        args.insert(args.end(), {"--user", options_.user, "--pass", options_.pass});
    }
    if (!options_.fail.empty()) args.insert(args.end(), {"--fail", options_.fail});
    for (const auto& [name, ip] : options_.host_map) {
        args.insert(args.end(), {"--map", name + "=" + ip});
    }
    process_.start(test_binary("byparr-test-proxy"), args);
    port_ = wait_for_port(process_, "byparr-test-proxy");
}

std::string TestProxy::url() const {
    const std::string scheme = options_.mode == "socks5" ? "socks5" : "http";
    return scheme + "://" + options_.bind + ":" + std::to_string(port_);
}

std::map<std::string, long> TestProxy::stats() const {
    const HttpResult r =
        http_request("GET", "http://" + options_.bind + ":" + std::to_string(port_) + "/__stats");
    if (r.status != 200)
        throw std::runtime_error("proxy /__stats: HTTP " + std::to_string(r.status));
    Poco::JSON::Parser parser;
    auto obj = parser.parse(r.body).extract<Poco::JSON::Object::Ptr>();
    std::map<std::string, long> out;
    for (const char* key : {"connections", "requests", "auth_failures", "tunnels", "errors"}) {
        out[key] = obj->optValue<long>(key, 0);
    }
    return out;
}

}  // namespace byparr::test
