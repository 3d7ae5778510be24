#include "plugins/browser/host/egress_guard.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <random>
#include <sstream>

#include <Poco/Base64Decoder.h>
#include <Poco/Base64Encoder.h>

namespace byparr::browser {
namespace {

constexpr int kHeadTimeoutMs = 30'000;
constexpr int kConnectTimeoutMs = 10'000;
constexpr int kIdleTimeoutMs = 300'000;  // an idle tunnel; Chromium closes its own sooner
constexpr size_t kMaxHead = 64 * 1024;
constexpr int kMaxConnections = 512;

bool write_all(int fd, const char* p, size_t n) {
    while (n > 0) {
        ssize_t w = ::send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return false;
        p += w;
        n -= static_cast<size_t>(w);
    }
    return true;
}
bool write_all(int fd, const std::string& s) {
    return write_all(fd, s.data(), s.size());
}

// Reads until the blank line that ends an HTTP head. `rest` gets whatever came
// after it (the start of a body, or of a TLS handshake).
bool read_head(int fd, std::string* head, std::string* rest) {
    std::string buf;
    char chunk[8192];
    for (;;) {
        auto end = buf.find("\r\n\r\n");
        if (end != std::string::npos) {
            *head = buf.substr(0, end + 4);
            *rest = buf.substr(end + 4);
            return true;
        }
        if (buf.size() > kMaxHead) return false;
        pollfd p{fd, POLLIN, 0};
        int rc = ::poll(&p, 1, kHeadTimeoutMs);
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) return false;
        ssize_t r = ::recv(fd, chunk, sizeof(chunk), 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        buf.append(chunk, static_cast<size_t>(r));
    }
}

// Copies both ways until one side closes (or nothing moves for a long while).
void splice(int a, int b) {
    char buf[32 * 1024];
    pollfd p[2] = {{a, POLLIN, 0}, {b, POLLIN, 0}};
    for (;;) {
        int rc = ::poll(p, 2, kIdleTimeoutMs);
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) return;
        for (int i = 0; i < 2; ++i) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t r = ::recv(p[i].fd, buf, sizeof(buf), 0);
            if (r < 0 && errno == EINTR) continue;
            if (r <= 0 || !write_all(p[1 - i].fd, buf, static_cast<size_t>(r))) return;
        }
    }
}

// Copies one way until the source closes (a plain-HTTP response).
void copy_until_eof(int from, int to) {
    char buf[32 * 1024];
    for (;;) {
        pollfd p{from, POLLIN, 0};
        int rc = ::poll(&p, 1, kIdleTimeoutMs);
        if (rc < 0 && errno == EINTR) continue;
        if (rc <= 0) return;
        ssize_t r = ::recv(from, buf, sizeof(buf), 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0 || !write_all(to, buf, static_cast<size_t>(r))) return;
    }
}

std::string lower(std::string s) {
    for (auto& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

struct Target {
    std::string host;  // without brackets
    int port = 0;
    std::string path;  // origin-form, plain HTTP only
};

// "host:port", "[v6]:port" (CONNECT) or "http://host[:port]/path" (plain HTTP).
bool parse_target(const std::string& t, bool connect, Target* out) {
    std::string authority = t;
    if (!connect) {
        if (lower(t.substr(0, 7)) != "http://") return false;
        auto slash = t.find_first_of("/?#", 7);
        authority = t.substr(7, slash == std::string::npos ? std::string::npos : slash - 7);
        out->path = slash == std::string::npos ? "/" : t.substr(slash);
        if (out->path[0] != '/') out->path = "/" + out->path;
        if (auto hash = out->path.find('#'); hash != std::string::npos) out->path.resize(hash);
        if (auto at = authority.rfind('@'); at != std::string::npos) authority.erase(0, at + 1);
        out->port = 80;
    }
    std::string port;
    if (!authority.empty() && authority[0] == '[') {
        auto close = authority.find(']');
        if (close == std::string::npos) return false;
        out->host = authority.substr(1, close - 1);
        if (close + 1 < authority.size()) {
            if (authority[close + 1] != ':') return false;
            port = authority.substr(close + 2);
        }
    } else {
        auto colon = authority.rfind(':');
        out->host = authority.substr(0, colon);
        if (colon != std::string::npos) port = authority.substr(colon + 1);
    }
    if (!port.empty()) {
        if (port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
            return false;
        out->port = std::stoi(port);
    } else if (connect) {
        return false;
    }
    return !out->host.empty() && out->port > 0 && out->port < 65536;
}

std::string host_port(const IpAddress& ip, int port) {
    std::string h = to_string(ip);
    return (ip.v6 ? "[" + h + "]" : h) + ":" + std::to_string(port);
}

// A non-blocking connect bounded by kConnectTimeoutMs; -1 on failure.
int dial(const IpAddress& ip, int port, const std::atomic<bool>& stopping, std::string* error) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (ip.v6) {
        auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
        a->sin6_family = AF_INET6;
        a->sin6_port = htons(static_cast<uint16_t>(port));
        std::memcpy(&a->sin6_addr, ip.bytes.data(), 16);
        len = sizeof(*a);
    } else {
        auto* a = reinterpret_cast<sockaddr_in*>(&ss);
        a->sin_family = AF_INET;
        a->sin_port = htons(static_cast<uint16_t>(port));
        std::memcpy(&a->sin_addr, ip.bytes.data(), 4);
        len = sizeof(*a);
    }
    int fd = ::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0) return -1;
    int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&ss), len);
    if (rc != 0 && errno == EINPROGRESS) {
        // In slices, so stop() never waits a whole connect timeout for this thread.
        pollfd p{fd, POLLOUT, 0};
        for (int waited = 0; waited < kConnectTimeoutMs && !stopping; waited += 100) {
            rc = ::poll(&p, 1, 100);
            if (rc != 0 && !(rc < 0 && errno == EINTR)) break;
        }
        int err = ETIMEDOUT;
        socklen_t el = sizeof(err);
        if (rc == 1) ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el);
        rc = err == 0 ? 0 : -1;
        errno = err;
    }
    if (rc != 0) {
        *error = "cannot connect to " + host_port(ip, port) + ": " + std::strerror(errno);
        ::close(fd);
        return -1;
    }
    ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) & ~O_NONBLOCK);
    int one = 1;
    ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    return fd;
}

// "Basic <base64 of user:pass>" -> {user, pass}; anything else -> nullopt.
std::optional<std::pair<std::string, std::string>> parse_basic(const std::string& value) {
    if (value.size() < 6 || lower(value.substr(0, 6)) != "basic ") return std::nullopt;
    std::istringstream in(value.substr(6));
    Poco::Base64Decoder dec(in);
    std::string plain;
    try {
        plain.assign(std::istreambuf_iterator<char>(dec), std::istreambuf_iterator<char>());
    } catch (const std::exception&) {
        return std::nullopt;
    }
    const auto colon = plain.find(':');
    if (colon == std::string::npos) return std::nullopt;
    return std::make_pair(plain.substr(0, colon), plain.substr(colon + 1));
}

// A request head's first value of header `name` (lower case), trimmed; "" if absent.
std::string header_value(const std::string& head, const std::string& name) {
    for (size_t pos = head.find("\r\n"); pos != std::string::npos;) {
        pos += 2;
        const size_t end = head.find("\r\n", pos);
        const std::string h = head.substr(pos, end == std::string::npos ? end : end - pos);
        const auto colon = h.find(':');
        if (colon != std::string::npos && lower(h.substr(0, colon)) == name) {
            const auto b = h.find_first_not_of(" \t", colon + 1);
            const auto e = h.find_last_not_of(" \t");
            return b == std::string::npos ? std::string() : h.substr(b, e - b + 1);
        }
        pos = end;
    }
    return {};
}

std::string header_safe(std::string s) {
    for (auto& c : s)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = ' ';
    return s;
}

// Reasons quote host names from the request: never let one become markup.
std::string html_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '&':
                out += "&amp;";
                break;
            case '"':
                out += "&quot;";
                break;
            default:
                out += c;
        }
    }
    return out;
}

std::string simple_reply(int status, const char* text, const std::string& extra_headers,
                         const std::string& body) {
    return "HTTP/1.1 " + std::to_string(status) + " " + text + "\r\n" + extra_headers +
           "Content-Type: text/html; charset=utf-8\r\nContent-Length: " +
           std::to_string(body.size()) + "\r\nConnection: close\r\n\r\n" + body;
}

// An fd that closes itself, so every early return in serve() cleans up.
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

// The request's headers to pass on (hop-by-hop and proxy ones are ours, not the target's),
// and how its body is framed. `from`: where the headers start in `head`.
struct PassedHeaders {
    std::string text;
    size_t content_length = 0;
    bool chunked = false;
};

PassedHeaders passed_headers(const std::string& head, size_t from) {
    PassedHeaders out;
    for (size_t pos = from; pos < head.size();) {
        size_t e = head.find("\r\n", pos);
        if (e == std::string::npos || e == pos) break;
        std::string h = head.substr(pos, e - pos);
        pos = e + 2;
        std::string name = lower(h.substr(0, h.find(':')));
        std::string value = h.find(':') == std::string::npos ? "" : h.substr(h.find(':') + 1);
        if (name == "content-length")
            out.content_length = std::strtoull(value.c_str(), nullptr, 10);
        if (name == "transfer-encoding" && lower(value).find("chunked") != std::string::npos)
            out.chunked = true;
        if (name == "proxy-connection" || name == "proxy-authorization" || name == "connection" ||
            name == "keep-alive")
            continue;
        out.text += h + "\r\n";
    }
    return out;
}

// CONNECT: through the upstream when there is one (asked for the pinned address, with its
// credentials), then bytes both ways. `rest`: what the client sent after its head.
void tunnel(int client, int server, const std::string& pinned, bool via_upstream,
            const std::string& proxy_auth, const std::string& rest) {
    std::string rest_from_server;
    if (via_upstream) {
        std::string req =
            "CONNECT " + pinned + " HTTP/1.1\r\nHost: " + pinned + "\r\n" + proxy_auth + "\r\n";
        std::string up_head, up_rest;
        if (!write_all(server, req) || !read_head(server, &up_head, &up_rest)) {
            write_all(client, simple_reply(502, "Bad Gateway", "", "upstream proxy failed"));
            return;
        }
        if (up_head.size() < 12 || up_head[9] != '2') {
            // The upstream's refusal (407, 502…) as it is, minus any body.
            std::string status = up_head.substr(0, up_head.find("\r\n"));
            write_all(client, status + "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
            return;
        }
        // Bytes the target sent right behind the upstream's 200 belong to the tunnel.
        rest_from_server = std::move(up_rest);
    }
    if (!write_all(client, "HTTP/1.1 200 Connection established\r\n\r\n")) return;
    if (!rest_from_server.empty() && !write_all(client, rest_from_server)) return;
    if (!rest.empty() && !write_all(server, rest)) return;
    splice(client, server);
}

// Plain HTTP: one request (`out`, its head as it goes to the server), its body of
// `content_length` bytes (`rest` holds the start of it), then the response until the server
// closes. Nothing more is read from the client, so a second request on this connection can
// never reach this (checked) server in the name of another host.
void forward(int client, int server, const std::string& out, std::string rest,
             size_t content_length) {
    if (rest.size() > content_length) rest.resize(content_length);
    if (!write_all(server, out) || !write_all(server, rest)) return;
    size_t left = content_length - rest.size();
    char buf[32 * 1024];
    while (left > 0) {
        pollfd p{client, POLLIN, 0};
        if (::poll(&p, 1, kHeadTimeoutMs) <= 0) return;
        ssize_t r = ::recv(client, buf, std::min(left, sizeof(buf)), 0);
        if (r <= 0 || !write_all(server, buf, static_cast<size_t>(r))) return;
        left -= static_cast<size_t>(r);
    }
    copy_until_eof(server, client);
}

}  // namespace

std::string basic_auth(const std::string& user, const std::string& pass) {
    std::ostringstream out;
    Poco::Base64Encoder enc(out);
    enc.rdbuf()->setLineLength(0);
    enc << user << ':' << pass;
    enc.close();
    return "Basic " + out.str();
}

std::optional<Proxy> upstream_http_proxy(const Proxy& proxy) {
    if (proxy.scheme() != ProxyScheme::kHttp || proxy.host().empty() || proxy.port() == 0)
        return std::nullopt;
    return proxy;
}

EgressGuard::EgressGuard(TargetGuard guard, std::optional<Proxy> upstream, RefusalLog on_refused,
                         Mode mode)
    : guard_(std::move(guard)),
      upstream_(std::move(upstream)),
      on_refused_(std::move(on_refused)),
      mode_(mode) {
    if (mode_ == Mode::kRouted) {
        std::random_device rd;
        char hex[33];
        for (int i = 0; i < 4; ++i)
            std::snprintf(hex + 8 * i, 9, "%08x", static_cast<unsigned>(rd()));
        secret_ = hex;
    }
}

Proxy EgressGuard::route(const Proxy& upstream) {
    const std::string identity = upstream.url + '\n' + upstream.username + '\n' + upstream.password;
    std::lock_guard<std::mutex> lock(routes_mutex_);
    std::string& user = route_of_[identity];
    if (user.empty()) {
        user = "route-" + std::to_string(++next_route_);
        routes_[user] = upstream;
        route_order_.push_back(identity);
        if (route_order_.size() > kMaxRoutes) {
            routes_.erase(route_of_[route_order_.front()]);
            route_of_.erase(route_order_.front());
            route_order_.pop_front();
        }
    }
    Proxy p;
    p.url = "http://127.0.0.1:" + std::to_string(port_);
    p.username = user;
    p.password = secret_;
    return p;
}

std::optional<Proxy> EgressGuard::routed_upstream(const std::string& proxy_authorization) {
    const auto creds = parse_basic(proxy_authorization);
    if (!creds || creds->second != secret_) return std::nullopt;
    std::lock_guard<std::mutex> lock(routes_mutex_);
    const auto it = routes_.find(creds->first);
    if (it == routes_.end()) return std::nullopt;
    return it->second;
}

EgressGuard::~EgressGuard() {
    stop();
}

bool EgressGuard::start(std::string* error) {
    listen_fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    if (listen_fd_ < 0 || ::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        ::listen(listen_fd_, 128) != 0 ||
        ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
        *error = std::string("egress guard cannot listen on 127.0.0.1: ") + std::strerror(errno);
        if (listen_fd_ >= 0) ::close(listen_fd_);
        listen_fd_ = -1;
        return false;
    }
    port_ = ntohs(addr.sin_port);
    acceptor_ = std::thread(&EgressGuard::accept_loop, this);
    return true;
}

void EgressGuard::stop() {
    if (stopping_.exchange(true)) return;
    if (listen_fd_ >= 0) ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    if (acceptor_.joinable()) acceptor_.join();
    if (listen_fd_ >= 0) ::close(listen_fd_);
    listen_fd_ = -1;
    std::unique_lock<std::mutex> lock(mutex_);
    for (int fd : open_fds_)
        ::shutdown(fd, SHUT_RDWR);  // wakes every poll/recv
    idle_cv_.wait(lock, [&] { return active_ == 0; });
}

void EgressGuard::track(int fd, bool add) {
    std::lock_guard<std::mutex> lock(mutex_);
    if (add) {
        open_fds_.insert(fd);
        if (stopping_) ::shutdown(fd, SHUT_RDWR);  // stop() already swept the set
    } else {
        open_fds_.erase(fd);
    }
}

void EgressGuard::accept_loop() {
    while (!stopping_) {
        int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE) {
                if (errno == EMFILE || errno == ENFILE) ::usleep(50'000);
                continue;
            }
            return;  // shut down
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            if (stopping_ || active_ >= kMaxConnections) {
                ::close(fd);
                continue;
            }
            ++active_;
        }
        connections_++;
        try {
            std::thread([this, fd] {
                serve(fd);
                std::lock_guard<std::mutex> lock(mutex_);
                --active_;
                idle_cv_.notify_all();  // last touch of `this`: stop() may return now
            }).detach();
        } catch (const std::system_error&) {
            ::close(fd);
            std::lock_guard<std::mutex> lock(mutex_);
            --active_;
            idle_cv_.notify_all();
        }
    }
}

void EgressGuard::refuse(int client, const std::string& reason) {
    refused_++;
    if (on_refused_) on_refused_(reason);
    std::string why = header_safe(reason);
    std::string body =
        "<!DOCTYPE html><html><head><title>Blocked by Byparr</title></head><body>"
        "<h1>Blocked by BLOCK_PRIVATE_TARGETS</h1><p>" +
        html_escape(why) + "</p></body></html>";
    write_all(client, simple_reply(403, "Forbidden",
                                   std::string(kBlockedHeader) + ": " + why + "\r\n", body));
}

int EgressGuard::connect_target(const TargetCheck& check, int port,
                                const std::optional<Proxy>& upstream, std::string* error) {
    if (upstream) {
        // The upstream proxy is the operator's (PROXY_URL) or was pre-checked by
        // the host (a request's proxy): it is dialled by name, unchecked.
        std::string why;
        auto addrs = SystemResolver().resolve(upstream->host(), &why);
        for (const auto& ip : addrs)
            if (int fd = dial(ip, upstream->port(), stopping_, error); fd >= 0) return fd;
        if (addrs.empty()) *error = "proxy: " + why;
        return -1;
    }
    for (const auto& ip : check.allowed)  // exactly the addresses that were checked
        if (int fd = dial(ip, port, stopping_, error); fd >= 0) return fd;
    return -1;
}

void EgressGuard::serve(int client_fd) {
    Fd client{client_fd};
    track(client.fd, true);
    struct Untrack {
        EgressGuard* g;
        int fd;
        ~Untrack() { g->track(fd, false); }
    } untrack_client{this, client.fd};

    std::string head, rest;
    if (!read_head(client.fd, &head, &rest)) return;
    auto line_end = head.find("\r\n");
    std::string line = head.substr(0, line_end);
    auto sp1 = line.find(' '), sp2 = line.rfind(' ');
    if (sp1 == std::string::npos || sp2 == sp1) {
        write_all(client.fd, simple_reply(400, "Bad Request", "", ""));
        return;
    }
    std::string method = line.substr(0, sp1);
    std::string target_text = line.substr(sp1 + 1, sp2 - sp1 - 1);
    const bool is_connect = method == "CONNECT";
    Target target;
    if (!parse_target(target_text, is_connect, &target)) {
        write_all(client.fd, simple_reply(400, "Bad Request", "", ""));
        return;
    }
    std::optional<Proxy> upstream = upstream_;
    if (mode_ == Mode::kRouted) {
        upstream = routed_upstream(header_value(head, "proxy-authorization"));
        if (!upstream) {
            write_all(client.fd,
                      simple_reply(407, "Proxy Authentication Required",
                                   "Proxy-Authenticate: Basic realm=\"byparr\"\r\n", ""));
            return;
        }
    }
    TargetCheck check = guard_.check_host(target.host);
    if (!check.ok()) {
        if (check.unresolved)
            write_all(client.fd, simple_reply(502, "Bad Gateway", "", html_escape(check.reason)));
        else
            refuse(client.fd, check.reason);
        return;
    }

    const PassedHeaders passed = passed_headers(head, line_end + 2);
    if (!is_connect && passed.chunked) {
        // One request per connection and no body framing of our own: a chunked
        // upload is rare enough from a page load to refuse plainly.
        write_all(client.fd, simple_reply(411, "Length Required", "", ""));
        return;
    }

    std::string error;
    Fd server{connect_target(check, target.port, upstream, &error)};
    if (server.fd < 0) {
        write_all(client.fd, simple_reply(502, "Bad Gateway", "", html_escape(error)));
        return;
    }
    track(server.fd, true);
    Untrack untrack_server{this, server.fd};
    const std::string pinned = host_port(check.allowed.front(), target.port);
    std::string proxy_auth;
    if (upstream && !upstream->username.empty())
        proxy_auth =
            "Proxy-Authorization: " + basic_auth(upstream->username, upstream->password) + "\r\n";

    if (is_connect) {
        tunnel(client.fd, server.fd, pinned, upstream.has_value(), proxy_auth, rest);
        return;
    }
    std::string request_line = method + " " +
                               (upstream ? "http://" + pinned + target.path : target.path) + " " +
                               line.substr(sp2 + 1) + "\r\n";
    forward(client.fd, server.fd,
            request_line + passed.text + proxy_auth + "Connection: close\r\n\r\n", std::move(rest),
            passed.content_length);
}

}  // namespace byparr::browser
