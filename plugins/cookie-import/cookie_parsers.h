// Parsers for the cookie files people export from their browsers, and the
// RFC 6265 matching rules to pick the cookies that belong to a URL. Pure code
// (no I/O, no plugin SDK), so byparrctl can validate a file before importing it
// and unit tests can drive every rule.
//
// Formats:
//  - Netscape cookies.txt: domain, include-subdomains, path, secure, expiry,
//    name, value, tab-separated; `#HttpOnly_` domain prefix; `#` comments; an
//    optional `# User-Agent: ...` comment line.
//  - JSON as browser extensions export it: an array of objects (name, value,
//    domain, path, expirationDate, httpOnly, secure, sameSite, hostOnly,
//    session), or the wrapper {"userAgent": "...", "cookies": [...]}.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace byparr::cookie_import {

struct ImportedCookie {
    std::string name, value;
    std::string domain;      // lower case, without a leading dot
    bool host_only = false;  // matches `domain` exactly, not its subdomains
    std::string path = "/";
    std::string same_site;   // "Strict", "Lax", "None" or empty
    int64_t expires_s = -1;  // epoch seconds; -1: session cookie
    bool http_only = false;
    bool secure = false;

    /// The domain as FlareSolverr reports it: ".example.com" for a domain
    /// cookie, "example.com" for a host-only one.
    std::string reported_domain() const { return host_only ? domain : "." + domain; }
    bool expired(int64_t now_s) const { return expires_s > 0 && expires_s <= now_s; }
};

struct ParseResult {
    std::vector<ImportedCookie> cookies;
    std::string user_agent;  // empty when the file names none
    std::string error;       // empty when the whole file parsed
    int error_line = 0;      // 1-based line of the error, 0 if none

    bool ok() const { return error.empty(); }
    /// "line 3: expected 7 tab-separated fields, found 4"
    std::string error_text() const;
};

ParseResult parse_netscape(std::string_view text);
ParseResult parse_json(std::string_view text);
/// Picks the format from the first non-blank character ('[' or '{': JSON).
ParseResult parse_cookie_file(std::string_view text);

struct UrlParts {
    std::string scheme, host, path;  // host lower case, path at least "/"
};
std::optional<UrlParts> split_url(std::string_view url);

/// RFC 6265 5.1.3 domain-match, honouring host-only cookies.
bool domain_matches(const ImportedCookie& cookie, std::string_view host);
/// RFC 6265 5.1.4 path-match.
bool path_matches(std::string_view cookie_path, std::string_view request_path);
/// Every rule at once: domain, path, secure-only-over-https, not expired.
bool cookie_applies(const ImportedCookie& cookie, const UrlParts& url, int64_t now_s);

}  // namespace byparr::cookie_import
