// libFuzzer target: the POST /v1 body parser and validator (core/v1_request.cpp).
// Any input must yield either a V1Request or a RequestError: no crash, leak, UB or exception.
#include <cstdint>
#include <string>
#include <variant>

#include "core/v1_request.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (byparr::fuzz::too_large(size)) return -1;  // -1: not added to the corpus
    const auto body = byparr::fuzz::as_view(data, size);

    auto parsed = byparr::parse_v1_request(body);
    if (auto* req = std::get_if<byparr::V1Request>(&parsed)) {
        byparr::fuzz::consume(std::string(byparr::to_string(req->cmd)));
        byparr::fuzz::consume(byparr::python_seconds(req->max_timeout_ms));
        if (!req->url.empty()) byparr::fuzz::consume(byparr::check_target_url(req->url));
        if (req->proxy && !req->proxy->empty()) {
            byparr::fuzz::consume(byparr::check_proxy_url(req->proxy->url));
        }
    } else {
        const auto& err = std::get<byparr::RequestError>(parsed);
        if (err.message.empty() || err.http_status < 400 || err.http_status > 599) __builtin_trap();
    }

    // Tight limits reach the depth/count/size checks with small inputs.
    byparr::ParseLimits tight;
    tight.max_depth = 3;
    tight.max_cookies = 2;
    tight.max_url_bytes = 64;
    tight.max_post_bytes = 64;
    byparr::fuzz::consume(byparr::parse_v1_request(body, tight));

    // The URL checkers on the raw input as well (they are called on untrusted strings).
    byparr::fuzz::consume(byparr::check_target_url(body));
    byparr::fuzz::consume(byparr::check_proxy_url(body));
    return 0;
}
