// What a solve produces, independent of JSON and of the plugin ABI.
#pragma once

#include <byparr/abi.h>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/v1_request.h"

namespace byparr {

struct Solution {
    std::string url;
    int status = 0;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string response;
    bool has_response = false;
    // response holds the bytes of a document that is not HTML or text (a PDF, an image):
    // the answer carries it base64-encoded with responseEncoding "base64".
    bool response_binary = false;
    std::vector<Cookie> cookies;
    std::string user_agent;
    std::string screenshot;
    std::optional<std::string> turnstile_token;
    bool challenge = false;  // a challenge was seen and passed
    std::string challenge_rule, challenge_kind;
};

/// A validated request as the dispatcher sees it: the v1 fields after defaults
/// (PROXY_URL, DISABLE_MEDIA) and the effective timeout were applied.
struct SolveRequest {
    Command cmd = Command::kRequestGet;
    std::string request_id;
    std::string url, post_data, session, solver, user_agent;
    Proxy proxy;
    std::vector<Cookie> cookies;
    RequestExtensions ext;  // headers, body type, tabs_till_verify
    uint32_t flags = 0;     // BYPARR_REQ_*
    uint32_t timeout_ms = 60000;
    uint32_t wait_ms = 0;
    uint32_t session_ttl_ms = 0;
};

/// Adds each cookie of `from` that `to` has no cookie of the same name for: cookies
/// the client sent win over ones Byparr found (cache, cookie sources).
inline void add_missing_cookies(std::vector<Cookie>& to, const std::vector<Cookie>& from) {
    for (const auto& c : from) {
        bool given = false;
        for (const auto& have : to)
            given |= have.name == c.name;
        if (!given) to.push_back(c);
    }
}

/// The end of a dispatch: a solution, or a typed failure.
struct SolveOutcome {
    bool ok = false;
    Solution solution;
    byparr_error_kind error_kind = BYPARR_ERROR_INTERNAL;
    std::string error;      // message without the "Error: " prefix
    std::string solver_id;  // who answered (or failed last)
    // The solver passed on the request (NOT_APPLICABLE): it was not handed to
    // it, and the chain moves on. error_kind is UNSUPPORTED then.
    bool not_applicable = false;
    // A failure on a page that still showed a challenge: the solver named it
    // (set_challenge) with its error, e.g. a timeout's partial result. What the
    // dispatcher escalates on; solution.challenge_rule/kind say which one.
    bool challenge_seen = false;
};

/// The outcome vocabulary of metrics and access lines: solved, not_detected,
/// timeout, blocked, captcha, proxy, invalid, error.
inline const char* outcome_name(const SolveOutcome& o) {
    if (o.ok) return o.solution.challenge ? "solved" : "not_detected";
    switch (o.error_kind) {
        case BYPARR_ERROR_TIMEOUT:
            return "timeout";
        case BYPARR_ERROR_BLOCKED:
            return "blocked";
        case BYPARR_ERROR_CAPTCHA:
            return "captcha";
        case BYPARR_ERROR_PROXY:
            return "proxy";
        case BYPARR_ERROR_INVALID_REQUEST:
        case BYPARR_ERROR_UNKNOWN_SESSION:
            return "invalid";
        default:
            return "error";
    }
}

}  // namespace byparr
