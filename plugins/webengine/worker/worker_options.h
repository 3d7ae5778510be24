// Command line of byparr-webengine-worker and the values derived from it.
#pragma once

#include <string>
#include <vector>

namespace byparr::webengine {

enum class ProxyKind { kNone, kHttp, kSocks };

struct WorkerOptions {
    int fd = -1;
    std::string proxy_url;  // as given on the command line
    ProxyKind proxy_kind = ProxyKind::kNone;
    std::string proxy_host;
    int proxy_port = 0;
    std::string proxy_username;  // from BYPARR_PROXY_USERNAME
    std::string proxy_password;  // from BYPARR_PROXY_PASSWORD
    std::vector<std::string> rule_files;
    std::string lang;             // BCP 47, e.g. "de-DE"
    std::string accept_language;  // e.g. "de-DE,de,en" (no q-values: they break the header)
    int devtools_port = 0;        // 0 = DevTools off
    // BLOCK_PRIVATE_TARGETS: the host's egress guard on 127.0.0.1 (0 = none). All
    // traffic goes through it, loopback included; an upstream proxy is its business.
    int egress_guard_port = 0;
};

// Parses argv; on failure returns false and sets *error.
bool parse_worker_options(int argc, char** argv, WorkerOptions* out, std::string* error);

// "de_DE.UTF-8" / "de-DE" / "de" -> "de-DE" / "de"; empty, "C" or "POSIX" -> "en-US".
std::string normalize_lang(const std::string& lang);

// "de-DE" -> "de-DE,de,en"; "en-US" -> "en-US,en".
std::string accept_language_for(const std::string& bcp47);

// Removes the "QtWebEngine/x.y.z " token so the UA reads as plain Chrome.
std::string clean_user_agent(const std::string& ua);

// A free TCP port on 127.0.0.1 (bound then released), or 0.
int pick_free_loopback_port();

}  // namespace byparr::webengine
