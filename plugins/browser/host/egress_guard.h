// BLOCK_PRIVATE_TARGETS at connect time: a small forward proxy on 127.0.0.1 that a
// worker's Chromium sends everything through (documents, redirects, subresources,
// WebSockets). It resolves each target itself, refuses forbidden addresses with
// 403 + X-Byparr-Blocked, and connects to exactly the address it checked, so a
// name cannot re-resolve (DNS rebinding) between the check and the connection.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>

#include <byparr/proxy.hpp>

#include "core/target_guard.h"

namespace byparr::browser {

// The HTTP proxy the guard chains to (PROXY_URL or a request's proxy): "http://host:port[/]"
// -> itself; anything else (socks4/5, no port, empty) -> nullopt. The guard sends it the
// checked IP, never the name, so the upstream cannot resolve the name to something else.
std::optional<Proxy> upstream_http_proxy(const Proxy& proxy);

// A Proxy-Authorization value: "Basic " + base64("user:pass").
std::string basic_auth(const std::string& user, const std::string& pass);

class EgressGuard {
  public:
    using RefusalLog = std::function<void(const std::string& reason)>;
    // kFixed: every connection goes to `upstream` (or direct). kRouted: for Chromium's
    // browser contexts, each with a proxy of its own: a connection goes through the
    // upstream whose route credentials it presents (Proxy-Authorization), and one without
    // gets a 407, so a context's traffic can never go direct instead.
    enum class Mode { kFixed, kRouted };

    EgressGuard(TargetGuard guard, std::optional<Proxy> upstream = std::nullopt,
                RefusalLog on_refused = {}, Mode mode = Mode::kFixed);
    ~EgressGuard();  // stop()

    EgressGuard(const EgressGuard&) = delete;
    EgressGuard& operator=(const EgressGuard&) = delete;

    // Listens on 127.0.0.1:<ephemeral>. False with *error on failure.
    bool start(std::string* error);
    int port() const { return port_; }
    // Closes the listener and every open connection, and waits for their threads.
    void stop();

    // kRouted: the proxy a browser context uses to go through `upstream` (an http:// proxy,
    // credentials and all): this guard, with the route's credentials. The same upstream gets
    // the same route; the oldest of more than kMaxRoutes distinct upstreams is forgotten.
    Proxy route(const Proxy& upstream);
    static constexpr size_t kMaxRoutes = 4096;

    uint64_t refused() const { return refused_.load(); }
    uint64_t connections() const { return connections_.load(); }

    // Header on every refusal; the worker looks for it on the main document.
    static constexpr const char* kBlockedHeader = "X-Byparr-Blocked";

  private:
    void accept_loop();
    void serve(int client);
    int connect_target(const TargetCheck& check, int port, const std::optional<Proxy>& upstream,
                       std::string* error);
    std::optional<Proxy> routed_upstream(const std::string& proxy_authorization);
    void refuse(int client, const std::string& reason);
    void track(int fd, bool add);

    TargetGuard guard_;
    std::optional<Proxy> upstream_;
    RefusalLog on_refused_;
    Mode mode_;
    std::string secret_;  // kRouted: every route's password (another local program's guess)

    std::mutex routes_mutex_;
    std::map<std::string, Proxy> routes_;          // by route user name
    std::map<std::string, std::string> route_of_;  // upstream identity -> route user name
    std::deque<std::string> route_order_;          // upstream identities, oldest first
    uint64_t next_route_ = 0;
    int listen_fd_ = -1;
    int port_ = 0;
    std::thread acceptor_;
    std::atomic<bool> stopping_{false};
    std::atomic<uint64_t> refused_{0};
    std::atomic<uint64_t> connections_{0};

    std::mutex mutex_;
    std::condition_variable idle_cv_;
    std::set<int> open_fds_;  // shut down on stop() so blocked threads wake
    int active_ = 0;          // connection threads still running
};

}  // namespace byparr::browser
