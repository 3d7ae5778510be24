#include "core/target_guard.h"
#include "core/strings.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace byparr {
namespace {

struct Range {
    const char* cidr;
    const char* what;
};

// IPv4 ranges that are not public destinations (RFC 6890 and friends). The most
// specific entry comes first so the metadata address gets its own message.
constexpr Range kV4Ranges[] = {
    {"169.254.169.254/32", "a cloud metadata address"},
    {"0.0.0.0/8", "unspecified (\"this network\")"},
    {"10.0.0.0/8", "a private address (RFC 1918)"},
    {"100.64.0.0/10", "shared address space (RFC 6598, carrier-grade NAT)"},
    {"127.0.0.0/8", "loopback"},
    {"169.254.0.0/16", "link-local"},
    {"172.16.0.0/12", "a private address (RFC 1918)"},
    {"192.0.0.0/24", "an IETF protocol assignment (192.0.0.0/24)"},
    {"192.168.0.0/16", "a private address (RFC 1918)"},
    {"198.18.0.0/15", "a benchmarking address (RFC 2544)"},
    {"224.0.0.0/4", "multicast"},
    {"255.255.255.255/32", "the broadcast address"},
    {"240.0.0.0/4", "reserved (240.0.0.0/4)"},
};

constexpr Range kV6Ranges[] = {
    {"::/128", "unspecified"},
    {"::1/128", "loopback"},
    {"fd00:ec2::254/128", "a cloud metadata address"},
    {"fc00::/7", "a unique-local address (fc00::/7)"},
    {"fe80::/10", "link-local"},
    {"fec0::/10", "site-local (deprecated)"},
    {"ff00::/8", "multicast"},
    // IPv4-compatible addresses are deprecated and never routed: nothing public there.
    {"::/96", "an IPv4-compatible address (deprecated)"},
};

// IPv6 forms that carry an IPv4 address which is what really gets reached.
struct Embedding {
    const char* cidr;
    int v4_offset;  // byte offset of the IPv4 address
};
constexpr Embedding kEmbeddings[] = {
    {"::ffff:0:0/96", 12},   // IPv4-mapped
    {"64:ff9b::/96", 12},    // NAT64 well-known prefix (RFC 6052)
    {"64:ff9b:1::/48", 12},  // NAT64 local-use prefix (RFC 8215)
    {"2002::/16", 2},        // 6to4
};

Cidr must_parse(const char* text) {
    std::vector<Cidr> out;
    std::string error;
    parse_cidr_list(text, &out, &error);
    return out.at(0);  // constant tables: a typo fails every test at once
}

}  // namespace

IpAddress IpAddress::v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
    IpAddress ip;
    ip.bytes[0] = a;
    ip.bytes[1] = b;
    ip.bytes[2] = c;
    ip.bytes[3] = d;
    return ip;
}

std::optional<IpAddress> parse_ip(std::string_view text) {
    std::string s(text);
    if (s.size() >= 2 && s.front() == '[' && s.back() == ']') s = s.substr(1, s.size() - 2);
    IpAddress ip;
    // inet_pton(AF_INET) takes only the strict dotted quad, unlike inet_aton.
    if (::inet_pton(AF_INET, s.c_str(), ip.bytes.data()) == 1) return ip;
    if (::inet_pton(AF_INET6, s.c_str(), ip.bytes.data()) == 1) {
        ip.v6 = true;
        return ip;
    }
    return std::nullopt;
}

std::string to_string(const IpAddress& ip) {
    char buf[INET6_ADDRSTRLEN] = {};
    ::inet_ntop(ip.v6 ? AF_INET6 : AF_INET, ip.bytes.data(), buf, sizeof(buf));
    return buf;
}

bool Cidr::contains(const IpAddress& ip) const {
    if (ip.v6 != base.v6) return false;
    int full = prefix_len / 8, rest = prefix_len % 8;
    if (std::memcmp(ip.bytes.data(), base.bytes.data(), static_cast<size_t>(full)) != 0)
        return false;
    if (rest == 0) return true;
    auto mask = static_cast<uint8_t>(0xff << (8 - rest));
    return (ip.bytes[static_cast<size_t>(full)] & mask) ==
           (base.bytes[static_cast<size_t>(full)] & mask);
}

bool parse_cidr_list(std::string_view text, std::vector<Cidr>* out, std::string* error) {
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        if (comma == std::string_view::npos) comma = text.size();
        std::string item(trim(text.substr(start, comma - start)));
        start = comma + 1;
        if (item.empty()) continue;
        std::string addr = item;
        int len = -1;
        if (auto slash = item.find('/'); slash != std::string::npos) {
            addr = item.substr(0, slash);
            std::string digits = item.substr(slash + 1);
            if (digits.empty() || digits.size() > 3 ||
                digits.find_first_not_of("0123456789") != std::string::npos) {
                if (error) *error = "'" + item + "' has no valid prefix length";
                return false;
            }
            len = std::stoi(digits);
        }
        auto ip = parse_ip(addr);
        if (!ip) {
            if (error) *error = "'" + item + "' is not an IP address or CIDR range";
            return false;
        }
        int max = ip->v6 ? 128 : 32;
        if (len < 0) len = max;
        if (len > max) {
            if (error) *error = "'" + item + "' has a prefix longer than " + std::to_string(max);
            return false;
        }
        out->push_back(Cidr{*ip, len});
    }
    return true;
}

namespace {

struct Tables {
    std::vector<std::pair<Cidr, const char*>> v4, v6;
    std::vector<std::pair<Cidr, size_t>> embedded;
};

const Tables& tables() {
    static const Tables t = [] {
        Tables p;
        for (const auto& r : kV4Ranges)
            p.v4.emplace_back(must_parse(r.cidr), r.what);
        for (const auto& r : kV6Ranges)
            p.v6.emplace_back(must_parse(r.cidr), r.what);
        for (const auto& e : kEmbeddings)
            p.embedded.emplace_back(must_parse(e.cidr), static_cast<size_t>(e.v4_offset));
        return p;
    }();
    return t;
}

// The IPv4 address an IPv6 address really reaches (mapped, NAT64, 6to4), if any.
std::optional<IpAddress> embedded_v4(const IpAddress& ip) {
    if (!ip.v6) return std::nullopt;
    for (const auto& [cidr, o] : tables().embedded)
        if (cidr.contains(ip))
            return IpAddress::v4(ip.bytes[o], ip.bytes[o + 1], ip.bytes[o + 2], ip.bytes[o + 3]);
    return std::nullopt;
}

}  // namespace

std::string forbidden_reason(const IpAddress& ip) {
    if (!ip.v6) {
        for (const auto& [cidr, what] : tables().v4)
            if (cidr.contains(ip)) return what;
        return {};
    }
    if (auto inner = embedded_v4(ip)) {
        std::string why = forbidden_reason(*inner);
        return why.empty() ? why : "a form of " + to_string(*inner) + ", which is " + why;
    }
    for (const auto& [cidr, what] : tables().v6)
        if (cidr.contains(ip)) return what;
    return {};
}

std::vector<IpAddress> SystemResolver::resolve(const std::string& host, std::string* error) {
    std::vector<IpAddress> out;
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* res = nullptr;
    int rc = ::getaddrinfo(host.c_str(), nullptr, &hints, &res);
    if (rc != 0) {
        if (error) *error = "cannot resolve '" + host + "': " + ::gai_strerror(rc);
        return out;
    }
    for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        IpAddress ip;
        if (ai->ai_family == AF_INET) {
            const auto* sin = reinterpret_cast<const sockaddr_in*>(ai->ai_addr);
            std::memcpy(ip.bytes.data(), &sin->sin_addr, 4);
        } else if (ai->ai_family == AF_INET6) {
            const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(ai->ai_addr);
            std::memcpy(ip.bytes.data(), &sin6->sin6_addr, 16);
            ip.v6 = true;
        } else {
            continue;
        }
        bool seen = false;
        for (const auto& have : out)
            seen |= have == ip;
        if (!seen) out.push_back(ip);
    }
    ::freeaddrinfo(res);
    return out;
}

TargetGuard::TargetGuard(std::vector<Cidr> allow, std::shared_ptr<Resolver> resolver)
    : allow_(std::move(allow)), resolver_(std::move(resolver)) {}

std::string TargetGuard::why_forbidden(const IpAddress& ip) const {
    auto allowed = [&](const IpAddress& a) {
        for (const auto& c : allow_)
            if (c.contains(a)) return true;
        return false;
    };
    if (allowed(ip)) return {};
    // An allow-listed IPv4 address stays allowed in its mapped/NAT64 spelling.
    if (auto inner = embedded_v4(ip); inner && allowed(*inner)) return {};
    return forbidden_reason(ip);
}

std::string TargetGuard::check_address(const IpAddress& ip) const {
    std::string why = why_forbidden(ip);
    return why.empty() ? why : to_string(ip) + " is " + why;
}

TargetCheck TargetGuard::check_host(const std::string& host) const {
    TargetCheck out;
    if (host.empty()) {
        out.reason = "the URL has no host";
        return out;
    }
    if (auto literal = parse_ip(host)) {
        out.reason = check_address(*literal);
        if (out.reason.empty()) out.allowed.push_back(*literal);
        return out;
    }
    std::string error;
    auto addrs = resolver_->resolve(host, &error);
    if (addrs.empty()) {
        out.reason = error.empty() ? "cannot resolve '" + host + "'" : error;
        out.unresolved = true;
        return out;
    }
    for (const auto& ip : addrs) {
        std::string why = why_forbidden(ip);
        if (why.empty())
            out.allowed.push_back(ip);
        else if (out.reason.empty())
            out.reason = host + " resolves to " + to_string(ip) + ", which is " + why;
    }
    if (out.ok()) out.reason.clear();
    return out;
}

}  // namespace byparr
