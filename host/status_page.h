// GET /status (an HTML page for a person), its script and style, and GET
// /status.json (what the page polls). The page's sources live readable in
// share/byparr/status/ and are embedded into the binary at build time
// (host/embed_status_assets.cmake), so every install (.deb, Docker, a build
// tree) serves the same page without a data directory.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "host/v1_service.h"

namespace byparr {

/// The page or one of its assets by request path ("/status", "/status.js",
/// "/status.css"); nullopt for any other path.
std::optional<HttpReply> status_asset(std::string_view path);

/// The figures the page shows: summary, latency per minute, plugins, the last
/// requests and the per-site table. No URL, query string, cookie or header.
HttpReply status_json(V1Service& service);

/// With API_KEY set: whether the request may see the status page (Bearer, or
/// Basic with the key as the password, so a browser's own prompt works).
bool status_authorized(const Config& config, std::string_view authorization);

/// 401 that makes a browser ask for the key (user name: anything).
HttpReply status_unauthorized();

}  // namespace byparr
