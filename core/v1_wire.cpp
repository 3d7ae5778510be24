#include "core/v1_wire.h"

namespace byparr {

std::string base64_encode(std::string_view in) {
    static constexpr char kAlphabet[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    out.reserve((in.size() + 2) / 3 * 4);
    size_t i = 0;
    auto byte = [&](size_t k) { return static_cast<unsigned char>(in[k]); };
    for (; i + 3 <= in.size(); i += 3) {
        uint32_t n = (byte(i) << 16) | (byte(i + 1) << 8) | byte(i + 2);
        for (int shift : {18, 12, 6, 0})
            out.push_back(kAlphabet[(n >> shift) & 63]);
    }
    if (size_t rest = in.size() - i; rest > 0) {
        uint32_t n = byte(i) << 16 | (rest == 2 ? byte(i + 1) << 8 : 0);
        out.push_back(kAlphabet[(n >> 18) & 63]);
        out.push_back(kAlphabet[(n >> 12) & 63]);
        out.push_back(rest == 2 ? kAlphabet[(n >> 6) & 63] : '=');
        out.push_back('=');
    }
    return out;
}

namespace {

void write_cookies(JsonWriter& w, const std::vector<Cookie>& cookies) {
    w.key("cookies").begin_array();
    for (const auto& c : cookies) {
        w.begin_object().field("name", c.name).field("value", c.value).field("domain", c.domain);
        w.field("path", c.path.empty() ? "/" : c.path);
        w.field("expires", c.session() ? int64_t(-1) : c.expires_s);
        w.field("size", static_cast<int64_t>(c.name.size() + c.value.size()));
        w.field("httpOnly", c.http_only).field("secure", c.secure).field("session", c.session());
        w.field("sameSite", c.same_site.empty() ? "Lax" : c.same_site);
        if (!c.session()) w.field("expiry", c.expires_s);
        w.end_object();
    }
    w.end_array();
}

ResponseCut write_response(JsonWriter& w, const Solution& s, size_t cap) {
    ResponseCut cut{s.response.size(), s.response.size()};
    std::string_view response = s.response;
    if (s.response_binary) {
        // Bytes: cut anywhere (a cut file is flagged, never passed off as whole).
        if (response.size() > cap) response = response.substr(0, cap);
        cut.to = response.size();
        w.field("response", base64_encode(response));
        w.field("responseEncoding", "base64");
    } else {
        if (response.size() > cap) response = utf8_prefix(response, cap);
        cut.to = response.size();
        w.field("response", response);
    }
    if (cut.cut()) w.field("responseTruncated", true);
    return cut;
}

}  // namespace

ResponseCut write_solution(JsonWriter& w, const Solution& s, const SolutionRender& how) {
    ResponseCut cut;
    w.key("solution").begin_object();
    w.field("url", s.url.empty() ? how.request_url : s.url)
        .field("status", s.status ? s.status : 200);
    if (!how.return_only_cookies) {
        w.key("headers").begin_object();
        for (const auto& [k, v] : s.headers)
            w.field(k, v);
        w.end_object();
        cut = write_response(w, s, how.max_response_bytes);
    }
    write_cookies(w, s.cookies);
    w.field("userAgent", s.user_agent);
    if (!s.screenshot.empty()) w.field("screenshot", s.screenshot);
    w.key("turnstile_token");
    if (s.turnstile_token)
        w.value(*s.turnstile_token);
    else
        w.null();
    w.end_object();
    return cut;
}

}  // namespace byparr
