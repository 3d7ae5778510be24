// Test fixtures as objects: the challenge-imitating site and the HTTP/SOCKS5 proxy. Each owns
// its process; destroying the object stops it.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "tests/support/test_process.h"

namespace byparr::test {

// Absolute path of a test executable built into <build>/tests/bin.
std::string test_binary(std::string_view name);

class TestSite {
  public:
    // bind: a 127.0.0.0/8 address. Sites on different addresses get separate cookie jars in a
    // browser (cookies are per host, not per port), e.g. "127.0.0.2".
    explicit TestSite(std::string bind = "127.0.0.1");
    // With extra command-line arguments, e.g. {"--corpus", dir}.
    TestSite(std::string bind, const std::vector<std::string>& extra_args);

    // "http://<bind>:<port><path>"; path should start with '/'.
    std::string url(std::string_view path = "/") const;
    const std::string& host() const { return bind_; }
    int port() const { return port_; }
    ChildProcess& process() { return process_; }

  private:
    std::string bind_;
    ChildProcess process_;
    int port_ = 0;
};

struct TestProxyOptions {
    std::string mode = "http";  // "http" or "socks5"
    std::string bind = "127.0.0.1";
    std::string user{};  // empty: no authentication
    std::string pass{};
    std::string fail{};  // "", "refuse", "502" or "close"
    // Made-up host name -> IP; Chromium never proxies 127.0.0.1/localhost, so tests that must
    // go through the proxy address the site by such a name.
    std::map<std::string, std::string> host_map{};
};

class TestProxy {
  public:
    explicit TestProxy(TestProxyOptions options = {});

    // "http://127.0.0.1:<port>" or "socks5://127.0.0.1:<port>" (no credentials).
    std::string url() const;
    const std::string& host() const { return options_.bind; }
    int port() const { return port_; }
    // Parsed counters from GET /__stats: connections, requests, auth_failures, tunnels, errors.
    std::map<std::string, long> stats() const;
    ChildProcess& process() { return process_; }

  private:
    TestProxyOptions options_;
    ChildProcess process_;
    int port_ = 0;
};

}  // namespace byparr::test
