// How byparrctl reaches the server: HTTP over the admin Unix socket, and plain
// HTTP to the public port for `solve`.
#pragma once

#include <stdexcept>
#include <string>

namespace byparr::ctl {

struct Reply {
    int status = 0;
    std::string body;
};

/// The server cannot be reached at all (socket missing, refused, not allowed).
class Unreachable : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

/// One request over the admin socket. Throws Unreachable when nothing answers
/// there, std::runtime_error on a broken exchange.
Reply admin_request(const std::string& socket_path, const std::string& method,
                    const std::string& path, const std::string& body = "", int timeout_s = 30);

/// POST application/json to base_url + path (http:// only). Throws Unreachable
/// when nothing listens there.
Reply http_post_json(const std::string& base_url, const std::string& path, const std::string& body,
                     int timeout_s);

/// Percent-encodes one path segment.
std::string encode_segment(const std::string& s);

}  // namespace byparr::ctl
