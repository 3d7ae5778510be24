// BLOCK_PRIVATE_TARGETS (issue #8): which addresses a page load may reach. It
// judges resolved addresses, never names, so a name that resolves (or later
// re-resolves) to loopback, a LAN or a cloud metadata service is refused.
// Dependency-free (libc only) so the webengine plugin compiles it in too.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace byparr {

struct IpAddress {
    bool v6 = false;
    std::array<uint8_t, 16> bytes{};  // IPv4 uses the first four

    static IpAddress v4(uint8_t a, uint8_t b, uint8_t c, uint8_t d);
    bool operator==(const IpAddress&) const = default;
};

/// Parses a literal "1.2.3.4", "::1" or "[::1]" (strict dotted quad, no zone id).
std::optional<IpAddress> parse_ip(std::string_view text);
std::string to_string(const IpAddress& ip);

struct Cidr {
    IpAddress base;
    int prefix_len = 0;
    bool contains(const IpAddress& ip) const;
};

/// "192.168.1.20/32, 10.0.0.0/8, fd00::/8" (a bare address means /32 or /128).
/// On a bad item returns false and says which one in *error.
bool parse_cidr_list(std::string_view text, std::vector<Cidr>* out, std::string* error);

/// Why an address is not a public destination ("loopback", "a private address
/// (RFC 1918)"...), or empty when it is public. Mapped/NAT64/6to4 IPv6 forms are
/// judged by the IPv4 address they carry.
std::string forbidden_reason(const IpAddress& ip);

/// Name resolution, injectable so tests can answer differently on each call
/// (DNS rebinding) without touching the system resolver.
class Resolver {
  public:
    virtual ~Resolver() = default;
    /// Every address `host` resolves to; empty with *error set on failure.
    virtual std::vector<IpAddress> resolve(const std::string& host, std::string* error) = 0;
};

/// getaddrinfo(3): /etc/hosts, DNS, and literals in every form libc accepts.
class SystemResolver : public Resolver {
  public:
    std::vector<IpAddress> resolve(const std::string& host, std::string* error) override;
};

struct TargetCheck {
    std::vector<IpAddress> allowed;  // connect to these and nothing else
    std::string reason;              // why none is allowed (empty when some is)
    bool unresolved = false;         // the name did not resolve (not a policy refusal)
    bool ok() const { return !allowed.empty(); }
};

class TargetGuard {
  public:
    explicit TargetGuard(std::vector<Cidr> allow = {},
                         std::shared_ptr<Resolver> resolver = std::make_shared<SystemResolver>());

    /// Empty when `ip` may be reached, else "127.0.0.1 is loopback".
    std::string check_address(const IpAddress& ip) const;
    /// Resolves `host` (a name or a literal, brackets allowed) once and keeps the
    /// allowed addresses. A name with both public and private addresses keeps only
    /// the public ones: the caller connects to exactly what was checked.
    TargetCheck check_host(const std::string& host) const;

    const std::vector<Cidr>& allow_list() const { return allow_; }

  private:
    std::string why_forbidden(const IpAddress& ip) const;  // without the address

    std::vector<Cidr> allow_;
    std::shared_ptr<Resolver> resolver_;
};

}  // namespace byparr
