// Public-suffix rules (publicsuffix.org) and the registrable domain ("eTLD+1")
// of a host: the unit under which the clearance cache shares cookies, since a
// clearance for www.example.co.uk also clears shop.example.co.uk but says nothing
// about other.co.uk.
//
// Read from Debian's /usr/share/publicsuffix/public_suffix_list.dat (package
// "publicsuffix") with a small built-in list as fallback, so there is no
// dependency on libpsl. Both the ICANN and the PRIVATE sections apply, as in
// browsers: user1.github.io and user2.github.io are different sites.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_set>

namespace byparr {

class PublicSuffixList {
public:
    static constexpr const char* kDefaultPath = "/usr/share/publicsuffix/public_suffix_list.dat";

    /// Parses the list format: one rule per line, "//" comments, normal rules
    /// ("co.uk"), wildcards ("*.ck") and exceptions ("!www.ck"). Non-ASCII rules
    /// are also stored in their punycode form, since URL hosts arrive as "xn--".
    static PublicSuffixList parse(std::string_view text);

    /// Loads path; nullptr when it cannot be read or holds no rules.
    static std::unique_ptr<PublicSuffixList> load(const std::string& path);

    /// A small list of the most common suffixes, for systems without the file.
    static PublicSuffixList builtin();

    /// The process-wide list: kDefaultPath if readable, otherwise builtin().
    /// Loaded once, on first use (thread-safe); a warning is logged on fallback.
    static const PublicSuffixList& instance();

    /// The public suffix of a normalised host ("a.example.co.uk" → "co.uk"). A
    /// host no rule covers falls back to the implicit "*" rule (its last label).
    std::string public_suffix(std::string_view host) const;

    /// The public suffix plus one label ("a.b.example.co.uk" → "example.co.uk").
    /// The host is lower-cased and a trailing dot, brackets and a port are
    /// removed. IP addresses, single-label hosts ("localhost") and hosts that
    /// are themselves a public suffix ("co.uk") are returned as they are: they
    /// still name exactly one site.
    std::string registrable_domain(std::string_view host) const;

    size_t rule_count() const { return normal_.size() + wildcard_.size() + exception_.size(); }

private:
    void add_rule(std::string_view rule);

    // Transparent hashing: lookups take string_views into the host, so a
    // lookup allocates nothing (it runs on every cached request).
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const noexcept {
            return std::hash<std::string_view>{}(s);
        }
    };
    using RuleSet = std::unordered_set<std::string, Hash, std::equal_to<>>;

    RuleSet normal_;     // "co.uk"
    RuleSet wildcard_;   // "*.ck" stored as "ck"
    RuleSet exception_;  // "!www.ck" stored as "www.ck"
};

/// PublicSuffixList::instance().registrable_domain(host).
std::string registrable_domain(std::string_view host);

/// Lower-cases host and strips brackets, a port and a trailing dot; used by
/// registrable_domain and by the cache key derivation.
std::string normalize_host(std::string_view host);

/// True for dotted-quad IPv4 and for IPv6 literals (with or without brackets).
bool is_ip_literal(std::string_view host);

/// RFC 3492 punycode of one UTF-8 label, with the "xn--" prefix; the label
/// itself when it is ASCII; empty when it is not valid UTF-8.
std::string punycode_label(std::string_view utf8_label);

}  // namespace byparr
