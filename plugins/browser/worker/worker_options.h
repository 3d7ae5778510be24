// Command line of byparr-webengine-worker and the values derived from it.
#pragma once

#include <string>
#include <vector>

#include <byparr/proxy.hpp>

namespace byparr::browser {

// BROWSER_DISPLAY: where the worker's windows live. Offscreen is cheap and has no GL;
// xvfb runs a private X server per worker so pages get WebGL (Mesa llvmpipe).
// headless (chromium only): Chromium's --headless=new, no display at all.
enum class DisplayMode { kOffscreen = 1, kXvfb = 2, kHeadless = 3 };

struct WorkerOptions {
    int fd = -1;
    // --proxy as scheme://host:port (scheme lower-cased); the credentials from
    // BYPARR_PROXY_USERNAME and BYPARR_PROXY_PASSWORD, never the command line.
    Proxy proxy;
    std::vector<std::string> rule_files;
    std::string lang;             // BCP 47, e.g. "de-DE"
    std::string accept_language;  // the header as Chrome sends it: "de-DE,de;q=0.9,en;q=0.8"
    std::string timezone;         // IANA zone for Date and Intl (TZ); empty: the system's
    DisplayMode display = DisplayMode::kOffscreen;
    int devtools_port = 0;  // 0 = DevTools off
    // BLOCK_PRIVATE_TARGETS: the host's egress guard on 127.0.0.1 (0 = none). All
    // traffic goes through it, loopback included; an upstream proxy is its business.
    int egress_guard_port = 0;
};

// Parses argv; on failure returns false and sets *error.
bool parse_worker_options(int argc, char** argv, WorkerOptions* out, std::string* error);

// Why a worker cannot use this proxy (the worker's own, a request's or a session's), or
// nullptr. Chromium's SOCKS client has no authentication: refused rather than sending the
// traffic without it.
const char* proxy_refusal(const Proxy& proxy);

// "de_DE.UTF-8" / "de-DE" / "de" -> "de-DE" / "de"; empty, "C" or "POSIX" -> "en-US".
std::string normalize_lang(const std::string& lang);

// "de-DE" -> "de-DE,de;q=0.9,en;q=0.8"; "en-US" -> "en-US,en;q=0.9" (Chrome's form).
std::string accept_language_for(const std::string& bcp47);

// Removes the "QtWebEngine/x.y.z " token so the UA reads as plain Chrome, and reduces
// "Chrome/102.0.5005.177" to "Chrome/102.0.0.0" as Chrome has sent it since version 101
// (the full version is only in userAgentData's high-entropy values).
std::string clean_user_agent(const std::string& ua);

// "102.0.5005.177" from a UA with "Chrome/102.0.5005.177"; empty when there is none.
std::string chrome_full_version(const std::string& ua);

// An IANA zone name as TZ gives it ("Europe/Berlin", ":Europe/Berlin", "UTC"); empty when
// it is not one (POSIX rules such as "CET-1CEST" cannot be told to DevTools).
std::string normalize_timezone(const std::string& tz);

// A free TCP port on 127.0.0.1 (bound then released), or 0.
int pick_free_loopback_port();

}  // namespace byparr::browser
