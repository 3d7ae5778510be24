// Public-suffix rules (publicsuffix.org) and the registrable domain ("eTLD+1")
// of a host: the unit under which the clearance cache shares cookies, since a
// clearance for www.example.co.uk also clears shop.example.co.uk but says nothing
// about other.co.uk.
//
// libpsl does the work (Debian's libpsl5: the list compiled in, and the newer
// of that and /usr/share/publicsuffix when the package is installed; IDNA
// through libidn2, so "公司.cn" and "xn--55qx5d.cn" are the same suffix). Both
// the ICANN and the PRIVATE sections apply, as in browsers: user1.github.io and
// user2.github.io are different sites. This file only adds what libpsl leaves
// to its caller: host normalisation, and the answer for hosts that have no
// registrable domain (IPs, "localhost", a bare suffix), which name one site.
#pragma once

#include <memory>
#include <string>
#include <string_view>

struct psl_ctx_st;

namespace byparr {

class PublicSuffixList {
  public:
    static constexpr const char* kDefaultPath = "/usr/share/publicsuffix/public_suffix_list.dat";

    /// A list in the publicsuffix.org format (tests: lists independent of the
    /// system's); an empty list when the text has no rule.
    static PublicSuffixList parse(std::string_view text);

    /// Loads path; nullptr when it cannot be read.
    static std::unique_ptr<PublicSuffixList> load(const std::string& path);

    /// The process-wide list: the newer of libpsl's built-in list and the
    /// system file. Loaded once, on first use (thread-safe).
    static const PublicSuffixList& instance();

    /// The public suffix of a host ("a.example.co.uk" → "co.uk"). A host no
    /// rule covers falls back to the implicit "*" rule (its last label).
    std::string public_suffix(std::string_view host) const;

    /// The public suffix plus one label ("a.b.example.co.uk" → "example.co.uk").
    /// The host is lower-cased and a trailing dot, brackets and a port are
    /// removed. IP addresses, single-label hosts ("localhost") and hosts that
    /// are themselves a public suffix ("co.uk") are returned as they are: they
    /// still name exactly one site.
    std::string registrable_domain(std::string_view host) const;

    /// Rules in the list; -1 when libpsl cannot tell (a compiled DAFSA list).
    int rule_count() const;

    PublicSuffixList(PublicSuffixList&&) noexcept;
    PublicSuffixList& operator=(PublicSuffixList&&) noexcept;
    ~PublicSuffixList();

  private:
    PublicSuffixList(psl_ctx_st* ctx, bool owned) : ctx_(ctx), owned_(owned) {}
    psl_ctx_st* ctx_ = nullptr;
    bool owned_ = false;  // psl_builtin() is static and must not be freed
};

/// PublicSuffixList::instance().registrable_domain(host).
std::string registrable_domain(std::string_view host);

/// Lower-cases host and strips brackets, a port and a trailing dot; used by
/// registrable_domain and by the cache key derivation.
std::string normalize_host(std::string_view host);

/// True for dotted-quad IPv4 and for IPv6 literals (with or without brackets).
bool is_ip_literal(std::string_view host);

}  // namespace byparr
