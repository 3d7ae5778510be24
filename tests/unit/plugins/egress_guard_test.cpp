// The browser plugins' egress guard (BLOCK_PRIVATE_TARGETS at connect time), over
// real loopback sockets with a scripted resolver: refusals, forwarding, tunnels,
// DNS rebinding between the host's pre-check and the connection, chaining, and routes.
#include "plugins/browser/host/egress_guard.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <thread>
#include <vector>

namespace byparr::browser {
namespace {

IpAddress ip(const char* text) {
    return parse_ip(text).value();
}

// A one-answer HTTP server on a given loopback address that counts connections
// and keeps the request heads it saw.
class Site {
  public:
    Site(const char* addr, int port = 0) {
        fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        ::setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        sockaddr_in a{};
        a.sin_family = AF_INET;
        a.sin_port = htons(static_cast<uint16_t>(port));
        ::inet_pton(AF_INET, addr, &a.sin_addr);
        socklen_t len = sizeof(a);
        ok_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&a), len) == 0 && ::listen(fd_, 16) == 0 &&
              ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0;
        port_ = ntohs(a.sin_port);
        if (ok_) thread_ = std::thread([this] { loop(); });
    }
    ~Site() {
        ::shutdown(fd_, SHUT_RDWR);
        if (thread_.joinable()) thread_.join();
        ::close(fd_);
    }
    bool ok() const { return ok_; }
    int port() const { return port_; }
    int connections() const { return connections_.load(); }
    std::vector<std::string> heads() {
        std::lock_guard<std::mutex> lock(mu_);
        return heads_;
    }
    std::string reply = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";

  private:
    void loop() {
        for (;;) {
            int c = ::accept(fd_, nullptr, nullptr);
            if (c < 0) return;
            ++connections_;
            std::string head;
            char buf[4096];
            while (head.find("\r\n\r\n") == std::string::npos) {
                pollfd p{c, POLLIN, 0};
                if (::poll(&p, 1, 5000) <= 0) break;
                ssize_t r = ::recv(c, buf, sizeof(buf), 0);
                if (r <= 0) break;
                head.append(buf, static_cast<size_t>(r));
            }
            {
                std::lock_guard<std::mutex> lock(mu_);
                heads_.push_back(head);
            }
            ::send(c, reply.data(), reply.size(), MSG_NOSIGNAL);
            ::close(c);
        }
    }
    int fd_ = -1;
    int port_ = 0;
    bool ok_ = false;
    std::atomic<int> connections_{0};
    std::mutex mu_;
    std::vector<std::string> heads_;
    std::thread thread_;
};

// Sends `request` to the guard and reads until it closes (bounded).
std::string exchange(int port, const std::string& request, const std::string& then = "") {
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) {
        ::close(fd);
        return "connect failed";
    }
    ::send(fd, request.data(), request.size(), MSG_NOSIGNAL);
    std::string out;
    char buf[4096];
    bool sent_then = then.empty();
    for (;;) {
        pollfd p{fd, POLLIN, 0};
        if (::poll(&p, 1, 5000) <= 0) break;
        ssize_t r = ::recv(fd, buf, sizeof(buf), 0);
        if (r <= 0) break;
        out.append(buf, static_cast<size_t>(r));
        if (!sent_then && out.find("\r\n\r\n") != std::string::npos) {
            // A tunnel is up: speak through it.
            ::send(fd, then.data(), then.size(), MSG_NOSIGNAL);
            sent_then = true;
        }
    }
    ::close(fd);
    return out;
}

class ScriptedResolver : public Resolver {
  public:
    explicit ScriptedResolver(std::vector<std::vector<IpAddress>> answers)
        : answers_(std::move(answers)) {}
    std::vector<IpAddress> resolve(const std::string&, std::string*) override {
        std::lock_guard<std::mutex> lock(mu_);
        auto a = answers_[std::min(calls_, answers_.size() - 1)];
        ++calls_;
        return a;
    }
    size_t calls() {
        std::lock_guard<std::mutex> lock(mu_);
        return calls_;
    }

  private:
    std::mutex mu_;
    std::vector<std::vector<IpAddress>> answers_;
    size_t calls_ = 0;
};

std::vector<Cidr> allow_127_0_0_5() {
    std::vector<Cidr> allow;
    std::string error;
    parse_cidr_list("127.0.0.5/32", &allow, &error);
    return allow;
}

// An allowed site on 127.0.0.5 and a forbidden one on 127.0.0.1, same port, so a
// connection that went to the wrong address would be counted by `forbidden`.
struct TwoSites {
    TwoSites() : allowed("127.0.0.5"), forbidden("127.0.0.1", allowed.port()) {}
    Site allowed;
    Site forbidden;
};

class EgressGuardTest : public ::testing::Test {
  protected:
    void SetUp() override {
        if (!sites_.allowed.ok() || !sites_.forbidden.ok())
            GTEST_SKIP() << "cannot bind the same port on 127.0.0.5 and 127.0.0.1";
    }
    std::string port() const { return std::to_string(sites_.allowed.port()); }
    TwoSites sites_;
};

TEST_F(EgressGuardTest, RefusesAForbiddenTargetWithAReasonHeader) {
    std::vector<std::string> logged;
    EgressGuard guard(TargetGuard(allow_127_0_0_5()), std::nullopt,
                      [&](const std::string& r) { logged.push_back(r); });
    std::string error;
    ASSERT_TRUE(guard.start(&error)) << error;
    std::string reply =
        exchange(guard.port(), "GET http://127.0.0.1:" + port() + "/x HTTP/1.1\r\nHost: a\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 403", 0), 0u) << reply;
    EXPECT_NE(reply.find("X-Byparr-Blocked: 127.0.0.1 is loopback\r\n"), std::string::npos)
        << reply;
    reply = exchange(guard.port(), "CONNECT 169.254.169.254:80 HTTP/1.1\r\n\r\n");
    EXPECT_NE(reply.find("X-Byparr-Blocked: 169.254.169.254 is a cloud metadata address"),
              std::string::npos)
        << reply;
    EXPECT_EQ(sites_.forbidden.connections(), 0);
    EXPECT_EQ(guard.refused(), 2u);
    EXPECT_EQ(logged.size(), 2u);
}

TEST_F(EgressGuardTest, ForwardsAllowedPlainHttpInOriginForm) {
    EgressGuard guard{TargetGuard(allow_127_0_0_5())};
    std::string error;
    ASSERT_TRUE(guard.start(&error)) << error;
    std::string reply = exchange(guard.port(), "GET http://127.0.0.5:" + port() +
                                                   "/page?q=1 HTTP/1.1\r\nHost: 127.0.0.5\r\n"
                                                   "Proxy-Connection: keep-alive\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
    EXPECT_NE(reply.find("hello"), std::string::npos);
    auto heads = sites_.allowed.heads();
    ASSERT_EQ(heads.size(), 1u);
    EXPECT_EQ(heads[0].rfind("GET /page?q=1 HTTP/1.1\r\n", 0), 0u) << heads[0];
    EXPECT_EQ(heads[0].find("Proxy-Connection"), std::string::npos);
    EXPECT_NE(heads[0].find("Connection: close"), std::string::npos);
}

TEST_F(EgressGuardTest, TunnelsAllowedConnectTargets) {
    EgressGuard guard{TargetGuard(allow_127_0_0_5())};
    std::string error;
    ASSERT_TRUE(guard.start(&error)) << error;
    std::string reply = exchange(guard.port(), "CONNECT 127.0.0.5:" + port() + " HTTP/1.1\r\n\r\n",
                                 "GET /in-tunnel HTTP/1.1\r\nHost: x\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 200 Connection established\r\n\r\n", 0), 0u) << reply;
    EXPECT_NE(reply.find("hello"), std::string::npos) << reply;
    ASSERT_EQ(sites_.allowed.heads().size(), 1u);
    EXPECT_EQ(sites_.allowed.heads()[0].rfind("GET /in-tunnel", 0), 0u);
}

TEST_F(EgressGuardTest, DnsRebindingAfterThePreCheckIsRefusedAtConnectTime) {
    // The host's pre-check sees an allowed address; by the time the browser
    // connects, the name points at loopback. The guard resolves again, judges that
    // answer and never dials it.
    auto resolver = std::make_shared<ScriptedResolver>(
        std::vector<std::vector<IpAddress>>{{ip("127.0.0.5")}, {ip("127.0.0.1")}});
    TargetGuard policy(allow_127_0_0_5(), resolver);
    ASSERT_TRUE(policy.check_host("rebind.test").ok());  // the API pre-check passes
    EgressGuard guard(policy);
    std::string error;
    ASSERT_TRUE(guard.start(&error)) << error;
    std::string reply =
        exchange(guard.port(), "CONNECT rebind.test:" + port() + " HTTP/1.1\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 403", 0), 0u) << reply;
    EXPECT_NE(reply.find("rebind.test resolves to 127.0.0.1, which is loopback"), std::string::npos)
        << reply;
    reply = exchange(guard.port(), "GET http://rebind.test:" + port() + "/ HTTP/1.1\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 403", 0), 0u) << reply;
    EXPECT_EQ(sites_.forbidden.connections(), 0);
    EXPECT_EQ(resolver->calls(), 3u);
}

TEST_F(EgressGuardTest, ConnectsOnlyToTheAddressItChecked) {
    // A name answering loopback first and an allowed address second: the guard
    // keeps the allowed one and dials exactly that, never letting the system
    // resolver pick again.
    auto resolver = std::make_shared<ScriptedResolver>(
        std::vector<std::vector<IpAddress>>{{ip("127.0.0.1"), ip("127.0.0.5")}});
    EgressGuard guard(TargetGuard(allow_127_0_0_5(), resolver));
    std::string error;
    ASSERT_TRUE(guard.start(&error)) << error;
    std::string reply = exchange(
        guard.port(), "GET http://mixed.test:" + port() + "/ HTTP/1.1\r\nHost: mixed.test\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
    EXPECT_EQ(sites_.allowed.connections(), 1);
    EXPECT_EQ(sites_.forbidden.connections(), 0);
    ASSERT_EQ(sites_.allowed.heads().size(), 1u);
    EXPECT_NE(sites_.allowed.heads()[0].find("Host: mixed.test"), std::string::npos);
}

TEST_F(EgressGuardTest, ChainsToAnUpstreamProxyWithThePinnedAddress) {
    Site upstream("127.0.0.1");
    ASSERT_TRUE(upstream.ok());
    upstream.reply = "HTTP/1.1 200 Connection established\r\n\r\nfrom-upstream";
    auto resolver =
        std::make_shared<ScriptedResolver>(std::vector<std::vector<IpAddress>>{{ip("127.0.0.5")}});
    auto up =
        upstream_http_proxy(Proxy("http://127.0.0.1:" + std::to_string(upstream.port()), "u", "p"));
    ASSERT_TRUE(up);
    EgressGuard guard(TargetGuard(allow_127_0_0_5(), resolver), up);
    std::string error;
    ASSERT_TRUE(guard.start(&error)) << error;
    std::string reply = exchange(guard.port(), "CONNECT site.test:443 HTTP/1.1\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 200", 0), 0u) << reply;
    ASSERT_EQ(upstream.heads().size(), 1u);
    EXPECT_EQ(upstream.heads()[0].rfind("CONNECT 127.0.0.5:443 HTTP/1.1\r\n", 0), 0u)
        << upstream.heads()[0];
    EXPECT_NE(upstream.heads()[0].find("Proxy-Authorization: Basic dTpw\r\n"), std::string::npos);
    // The upstream is dialled, but a forbidden target never reaches it.
    reply = exchange(guard.port(), "CONNECT 10.0.0.1:443 HTTP/1.1\r\n\r\n");
    EXPECT_EQ(reply.rfind("HTTP/1.1 403", 0), 0u) << reply;
    EXPECT_EQ(upstream.connections(), 1);
}

// kRouted (chromium's browser contexts, each with its own proxy): a connection goes through
// the upstream whose route credentials it presents; without them, or with a made-up route or
// password, it gets a 407 and goes nowhere, never direct.
TEST_F(EgressGuardTest, RoutesEachConnectionToTheUpstreamItsCredentialsName) {
    Site first("127.0.0.1"), second("127.0.0.1");
    ASSERT_TRUE(first.ok() && second.ok());
    first.reply = "HTTP/1.1 200 Connection established\r\n\r\nfrom-first";
    second.reply = "HTTP/1.1 200 Connection established\r\n\r\nfrom-second";
    auto resolver =
        std::make_shared<ScriptedResolver>(std::vector<std::vector<IpAddress>>{{ip("127.0.0.5")}});
    EgressGuard guard(TargetGuard(allow_127_0_0_5(), resolver), std::nullopt, {},
                      EgressGuard::Mode::kRouted);
    std::string error;
    ASSERT_TRUE(guard.start(&error)) << error;
    const Proxy to_first =
        guard.route(Proxy("http://127.0.0.1:" + std::to_string(first.port()), "u", "p"));
    const Proxy to_second = guard.route(Proxy("http://127.0.0.1:" + std::to_string(second.port())));
    EXPECT_EQ(to_first.url, "http://127.0.0.1:" + std::to_string(guard.port()));
    EXPECT_NE(to_first.username, to_second.username);
    EXPECT_EQ(
        guard.route(Proxy("http://127.0.0.1:" + std::to_string(first.port()), "u", "p")).username,
        to_first.username);
    const auto connect_as = [&](const std::string& user, const std::string& pass) {
        return exchange(guard.port(), "CONNECT site.test:443 HTTP/1.1\r\nProxy-Authorization: " +
                                          basic_auth(user, pass) + "\r\n\r\n");
    };
    std::string reply = connect_as(to_second.username, to_second.password);
    EXPECT_NE(reply.find("from-second"), std::string::npos) << reply;
    reply = connect_as(to_first.username, to_first.password);
    EXPECT_NE(reply.find("from-first"), std::string::npos) << reply;
    ASSERT_EQ(first.heads().size(), 1u);
    EXPECT_NE(first.heads()[0].find("Proxy-Authorization: Basic dTpw\r\n"), std::string::npos)
        << "the upstream's own credentials";
    for (const std::string& r : {exchange(guard.port(), "CONNECT site.test:443 HTTP/1.1\r\n\r\n"),
                                 connect_as(to_first.username, "not-the-secret"),
                                 connect_as("route-99", to_first.password)}) {
        EXPECT_EQ(r.rfind("HTTP/1.1 407", 0), 0u) << r;
        EXPECT_NE(r.find("Proxy-Authenticate: Basic"), std::string::npos) << r;
    }
    EXPECT_EQ(first.connections() + second.connections(), 2);
    EXPECT_EQ(sites_.allowed.connections(), 0) << "nothing went direct";
}

TEST(EgressGuardProxyUrl, OnlyHttpUpstreamsAreChained) {
    auto up = upstream_http_proxy(Proxy("http://user@proxy.lan:3128/"));
    ASSERT_TRUE(up);
    EXPECT_EQ(up->host(), "proxy.lan");
    EXPECT_EQ(up->port(), 3128);
    EXPECT_TRUE(upstream_http_proxy(Proxy("http://[::1]:8080")));
    EXPECT_FALSE(upstream_http_proxy(Proxy("socks5://127.0.0.1:1080")));
    EXPECT_FALSE(upstream_http_proxy(Proxy()));
}

TEST(EgressGuardLifecycle, StopEndsOpenTunnelsPromptly) {
    Site site("127.0.0.5");
    ASSERT_TRUE(site.ok());
    auto guard = std::make_unique<EgressGuard>(TargetGuard(allow_127_0_0_5()));
    std::string error;
    ASSERT_TRUE(guard->start(&error)) << error;
    // A client that opens a connection and says nothing keeps a thread busy.
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(guard->port()));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)), 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto t0 = std::chrono::steady_clock::now();
    guard.reset();
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(2));
    ::close(fd);
}

}  // namespace
}  // namespace byparr::browser
