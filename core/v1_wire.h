// The FlareSolverr v1 wire format, both ways: parse_v1_request() (v1_request.h) turns a
// POST /v1 body into a V1Request; the functions here turn a Solution back into the
// contract's `solution` object. The host only frames these into HTTP.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/json_writer.h"
#include "core/solution.h"
#include "core/v1_request.h"

namespace byparr {

struct SolutionRender {
    std::string request_url;  // when the solver reported no final URL
    bool return_only_cookies = false;
    size_t max_response_bytes = 20u << 20;  // MAX_RESPONSE_BYTES
};

/// What write_solution() did to the response: its size before and after the cut.
struct ResponseCut {
    size_t from = 0, to = 0;
    bool cut() const { return to < from; }
};

/// Writes the `solution` object (key included) in the contract's field order. A binary
/// response goes base64-encoded with responseEncoding "base64"; either kind is cut to
/// max_response_bytes (text at a UTF-8 boundary) and flagged with responseTruncated.
ResponseCut write_solution(JsonWriter& w, const Solution& s, const SolutionRender& how);

/// The contract's `message` of a successful request.
inline const char* solution_message(const Solution& s) {
    return s.challenge ? "Challenge solved!" : "Challenge not detected!";
}

/// RFC 4648 base64 without line breaks.
std::string base64_encode(std::string_view bytes);

}  // namespace byparr
