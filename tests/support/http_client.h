// A small blocking HTTP/1.1 client for tests (plain http only), built on Poco.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace byparr::test {

struct HttpResult {
    int status = 0;
    std::string body;
    // Lower-case header names. A repeated header's values are joined with "\n" (commas would be
    // ambiguous for Set-Cookie, whose Expires attribute contains one).
    std::map<std::string, std::string> headers;
    // Every Set-Cookie header, in order, as sent.
    std::vector<std::string> set_cookies;

    std::string header(const std::string& name) const;
};

struct HttpProxy {
    std::string host;  // empty: no proxy
    int port = 0;
    std::string username;
    std::string password;
};

// Throws Poco::Exception (e.g. Poco::TimeoutException, Poco::Net::ConnectionRefusedException)
// when no response arrives; any HTTP status, 4xx/5xx included, is a normal result.
HttpResult http_request(const std::string& method, const std::string& url,
                        const std::string& body = "",
                        const std::map<std::string, std::string>& headers = {},
                        int timeout_ms = 10000);

// The same through an HTTP proxy (absolute-URI form; Basic auth when username is set).
HttpResult http_request_via(const HttpProxy& proxy, const std::string& method,
                            const std::string& url, const std::string& body = "",
                            const std::map<std::string, std::string>& headers = {},
                            int timeout_ms = 10000);

// POST with Content-Type: application/json.
HttpResult post_json(const std::string& url, const std::string& json, int timeout_ms = 10000);

// Standard base64 decode (screenshots, binary answers).
std::string base64_decode(const std::string& text);

}  // namespace byparr::test
