// libFuzzer target: the cookie-import plugin's file parsers
// (plugins/cookie-import/cookie_parsers.cpp): Netscape cookies.txt, the JSON export, the
// auto-detecting entry point, and the RFC 6265 matchers on whatever cookies come out.
#include <cstdint>
#include <string>

#include "fuzz/fuzz_common.h"
#include "plugins/cookie-import/cookie_parsers.h"

namespace ci = byparr::cookie_import;

namespace {

void exercise(const ci::ParseResult& result) {
    if (!result.ok()) byparr::fuzz::consume(result.error_text());
    static const auto https = ci::split_url("https://www.example.com/path/page?q=1");
    static const auto http = ci::split_url("http://example.com/");
    if (!https || !http) __builtin_trap();
    size_t n = 0;
    for (const auto& c : result.cookies) {
        if (++n > 64) break;  // the matchers are per cookie; a few are enough
        byparr::fuzz::consume(c.reported_domain());
        byparr::fuzz::consume(c.expired(1700000000));
        byparr::fuzz::consume(ci::cookie_applies(c, *https, 1700000000));
        byparr::fuzz::consume(ci::cookie_applies(c, *http, 1700000000));
        byparr::fuzz::consume(ci::domain_matches(c, c.domain));
        byparr::fuzz::consume(ci::path_matches(c.path, "/"));
        byparr::fuzz::consume(ci::path_matches(c.path, c.path + "/x"));
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (byparr::fuzz::too_large(size)) return -1;
    const auto text = byparr::fuzz::as_view(data, size);

    exercise(ci::parse_netscape(text));
    exercise(ci::parse_json(text));
    exercise(ci::parse_cookie_file(text));

    // The URL splitter and matchers on raw input too (byparrctl passes user URLs to them).
    if (auto url = ci::split_url(text)) {
        ci::ImportedCookie probe;
        probe.domain = url->host;
        byparr::fuzz::consume(ci::cookie_applies(probe, *url, 0));
    }
    byparr::fuzz::consume(ci::path_matches(text, "/a/b"));
    byparr::fuzz::consume(ci::path_matches("/a", text));
    return 0;
}
