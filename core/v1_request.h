// The FlareSolverr v1 request: parsing and validation of a POST /v1 body into a
// typed request, with the contract's exact error messages (api-contract.md). The parse half
// of the wire module; core/v1_wire.h renders the answer.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <byparr/proxy.hpp>

namespace byparr {

enum class Command {
    kRequestGet = 1,
    kRequestPost,
    kSessionsCreate,
    kSessionsList,
    kSessionsDestroy,
};

const char* to_string(Command c);

// A cookie, as a request gives it and as a solution returns it: one type through the
// wire, the cache and the dispatcher (the ABI's byparr_cookie is converted at its edge).
struct Cookie {
    std::string name, value, domain, path, same_site;
    int64_t expires_s = -1;  // epoch seconds; -1 (or 0): session cookie
    bool http_only = false;
    bool secure = false;
    bool session() const { return expires_s <= 0; }
};
using RequestCookie = Cookie;  // the name the request model used before

// A header the client asked to send (beyond FlareSolverr: the `headers` object).
struct HeaderField {
    std::string name, value;
};

// Which requests carry the client's headers (`headersScope`).
enum class HeaderScope {
    kDocument = 1,  // the main document request and its redirects (default)
    kSite,          // every request of the page to the target's site (subresources, XHR)
};

// What the page's first request carries beyond FlareSolverr's fields: the client's
// headers, and the body's media type. Kept in one struct so the request model of the
// pipeline copies it whole.
struct RequestExtensions {
    std::vector<HeaderField> headers;  // in the order the client gave them
    HeaderScope header_scope = HeaderScope::kDocument;
    // The body's media type (POST): "application/json" for a JSON postData, the
    // `contentType` field for a string one; empty: application/x-www-form-urlencoded.
    std::string content_type;
    // tabs_till_verify (FlareSolverr): press Tab this many times, then Space, to reach a
    // Turnstile widget on an ordinary page and return its token; 0: not asked.
    int tabs_till_verify = 0;
};

struct V1Request {
    Command cmd = Command::kRequestGet;
    std::string cmd_text;
    std::string url;
    int64_t max_timeout_ms = 60000;
    std::string session;
    int64_t session_ttl_minutes = 0;  // 0: none
    std::vector<Cookie> cookies;
    bool return_only_cookies = false;
    bool return_screenshot = false;
    bool disable_media = false;
    std::optional<bool> disable_media_set;  // request value, if given
    std::optional<Proxy> proxy;             // absent vs {} (explicitly no proxy) matter
    std::string post_data;                  // the body's bytes (a JSON postData serialised)
    RequestExtensions ext;
    int64_t wait_seconds = 0;
    std::string solver;                          // beyond: an explicit solver id
    std::string api_key;                         // beyond: the apiKey field
    std::vector<std::string> deprecated_fields;  // present, ignored, warned about
};

struct RequestError {
    std::string message;  // without the "Error: " prefix
    int http_status = 500;
};

struct ParseLimits {
    size_t max_depth = 32;
    size_t max_cookies = 200;
    size_t max_url_bytes = 16 * 1024;
    size_t max_post_bytes = 512 * 1024;
    size_t max_headers = 64;
    size_t max_header_bytes = 16 * 1024;  // names and values together
};

/// Parses and validates a /v1 body. The messages are the contract's where it has
/// one, and precise otherwise ("Request parameter 'maxTimeout' must be an integer").
std::variant<V1Request, RequestError> parse_v1_request(std::string_view body,
                                                       const ParseLimits& limits = {});

/// Checks that url is an absolute http(s) URL with a host; returns the reason if not.
std::optional<std::string> check_target_url(std::string_view url, size_t max_bytes = 16 * 1024);

/// Checks a proxy URL (http, https, socks4, socks5 with host and port).
std::optional<std::string> check_proxy_url(std::string_view url);

/// maxTimeout printed like a Python float, as FlareSolverr does: 60.0, 1.5, 0.01.
std::string python_seconds(int64_t ms);

}  // namespace byparr
