#include "core/v1_request.h"

#include <Poco/JSON/ParseHandler.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <sstream>

#include "core/json_writer.h"
#include "core/time_zones.h"

namespace byparr {

const char* to_string(Command c) {
    switch (c) {
        case Command::kRequestGet:
            return "request.get";
        case Command::kRequestPost:
            return "request.post";
        case Command::kSessionsCreate:
            return "sessions.create";
        case Command::kSessionsList:
            return "sessions.list";
        case Command::kSessionsDestroy:
            return "sessions.destroy";
    }
    return "?";
}

std::string python_seconds(int64_t ms) {
    if (ms < 0) ms = 0;
    std::string s = std::to_string(ms / 1000) + ".";
    int64_t frac = ms % 1000;
    if (frac == 0) return s + "0";
    char buf[4] = {static_cast<char>('0' + frac / 100), static_cast<char>('0' + frac / 10 % 10),
                   static_cast<char>('0' + frac % 10), 0};
    std::string f(buf);
    while (f.size() > 1 && f.back() == '0')
        f.pop_back();
    return s + f;
}

namespace {

using Poco::Dynamic::Var;
using Poco::JSON::Object;

// Depth of bracket nesting outside strings. Checked before parsing because the
// parser recurses: a body of 100k '[' must be refused, not crash the stack.
size_t nesting_depth(std::string_view s, size_t stop_at) {
    size_t depth = 0, max_depth = 0;
    bool in_str = false, esc = false;
    for (char c : s) {
        if (in_str) {
            if (esc)
                esc = false;
            else if (c == '\\')
                esc = true;
            else if (c == '"')
                in_str = false;
            continue;
        }
        if (c == '"')
            in_str = true;
        else if (c == '{' || c == '[') {
            max_depth = std::max(max_depth, ++depth);
            if (max_depth > stop_at) return max_depth;
        } else if ((c == '}' || c == ']') && depth > 0)
            --depth;
    }
    return max_depth;
}

const char* type_name(const Var& v) {
    if (v.isEmpty()) return "null";
    if (v.type() == typeid(bool)) return "boolean";
    if (v.isString()) return "string";
    if (v.isNumeric()) return "number";
    if (v.type() == typeid(Object::Ptr)) return "object";
    if (v.type() == typeid(Poco::JSON::Array::Ptr)) return "array";
    return "value";
}

struct Reader {
    const Object& obj;
    std::optional<RequestError> error;

    bool has(const char* k) const { return obj.has(k) && !obj.get(k).isEmpty(); }

    void type_error(const std::string& name, const char* want, const Var& v) {
        if (!error)
            error = RequestError{"Request parameter '" + name + "' must be " + want + ", got " +
                                 type_name(v) + "."};
    }

    std::optional<std::string> string(const Object& o, const std::string& k,
                                      const std::string& display) {
        if (!o.has(k) || o.get(k).isEmpty()) return std::nullopt;
        Var v = o.get(k);
        if (!v.isString()) {
            type_error(display, "a string", v);
            return std::nullopt;
        }
        return v.extract<std::string>();
    }
    std::optional<std::string> string(const char* k) { return string(obj, k, k); }

    std::optional<bool> boolean(const Object& o, const std::string& k, const std::string& display) {
        if (!o.has(k) || o.get(k).isEmpty()) return std::nullopt;
        Var v = o.get(k);
        if (v.isString()) {
            // FlareSolverr (Python) takes "true"/"false" as sent by some clients and
            // form-to-JSON bridges; so do we, and nothing vaguer ("yes", "on").
            std::string t = v.extract<std::string>();
            for (auto& ch : t)
                ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
            if (t == "true" || t == "1") return true;
            if (t == "false" || t == "0" || t.empty()) return false;
        }
        if (v.type() != typeid(bool)) {
            type_error(display, "a boolean", v);
            return std::nullopt;
        }
        return v.extract<bool>();
    }
    std::optional<bool> boolean(const char* k) { return boolean(obj, k, k); }

    std::optional<int64_t> integer(const Object& o, const std::string& k,
                                   const std::string& display) {
        if (!o.has(k) || o.get(k).isEmpty()) return std::nullopt;
        Var v = o.get(k);
        if (v.isString()) {
            // "maxTimeout": "60000": FlareSolverr does int(req.maxTimeout). Digits
            // only (an optional minus), at most 15 of them.
            std::string t = v.extract<std::string>();
            size_t b = t.find_first_not_of(" \t"), e = t.find_last_not_of(" \t");
            t = b == std::string::npos ? "" : t.substr(b, e - b + 1);
            size_t i = !t.empty() && t[0] == '-' ? 1 : 0;
            bool digits = t.size() > i && t.size() - i <= 15;
            for (size_t j = i; digits && j < t.size(); ++j)
                digits = std::isdigit(static_cast<unsigned char>(t[j])) != 0;
            if (!digits) {
                type_error(display, "an integer", v);
                return std::nullopt;
            }
            return std::stoll(t);
        }
        if (v.type() == typeid(bool) || !v.isNumeric()) {
            type_error(display, "an integer", v);
            return std::nullopt;
        }
        // Integral doubles (60000.0) are accepted; 1e300 or 1.5 are not.
        if (!v.isInteger()) {
            double d = v.convert<double>();
            if (!std::isfinite(d) || std::floor(d) != d || std::fabs(d) > 9.0e15) {
                type_error(display, "an integer", v);
                return std::nullopt;
            }
            return static_cast<int64_t>(d);
        }
        try {
            return v.convert<int64_t>();
        } catch (const Poco::Exception&) {
            if (!error)
                error = RequestError{"Request parameter '" + display + "' is out of range."};
            return std::nullopt;
        }
    }
    std::optional<int64_t> integer(const char* k) { return integer(obj, k, k); }
};

bool iequals_prefix(std::string_view s, std::string_view p) {
    if (s.size() < p.size()) return false;
    for (size_t i = 0; i < p.size(); ++i)
        if (std::tolower(static_cast<unsigned char>(s[i])) != p[i]) return false;
    return true;
}

}  // namespace

std::optional<std::string> check_target_url(std::string_view url, size_t max_bytes) {
    if (url.size() > max_bytes)
        return "Request parameter 'url' is too long (" + std::to_string(url.size()) +
               " bytes, limit " + std::to_string(max_bytes) + ").";
    std::string trimmed(url);
    if (!iequals_prefix(trimmed, "http://") && !iequals_prefix(trimmed, "https://")) {
        auto colon = trimmed.find(':');
        std::string scheme =
            colon == std::string::npos || colon > 32 ? "" : trimmed.substr(0, colon);
        if (scheme.empty())
            return "Request parameter 'url' must be an absolute http:// or https:// URL.";
        return "Request parameter 'url' has scheme '" + scheme +
               ":'; only http:// and https:// URLs can be fetched.";
    }
    for (char c : trimmed) {
        if (static_cast<unsigned char>(c) < 0x20 || c == ' ' || c == 0x7f)
            return std::string(
                "Request parameter 'url' contains whitespace or control characters.");
    }
    try {
        Poco::URI uri(trimmed);
        if (uri.getHost().empty()) return std::string("Request parameter 'url' has no host.");
    } catch (const Poco::Exception& e) {
        return "Request parameter 'url' is not a valid URL: " + e.message();
    }
    return std::nullopt;
}

std::optional<std::string> check_proxy_url(std::string_view url) {
    std::string u(url);
    if (!iequals_prefix(u, "http://") && !iequals_prefix(u, "https://") &&
        !iequals_prefix(u, "socks4://") && !iequals_prefix(u, "socks5://"))
        return std::string(
            "Request parameter 'proxy.url' must start with http://, socks4:// or socks5://.");
    try {
        Poco::URI uri(u);
        if (uri.getHost().empty()) return std::string("Request parameter 'proxy.url' has no host.");
    } catch (const Poco::Exception& e) {
        return "Request parameter 'proxy.url' is not a valid URL: " + e.message();
    }
    return std::nullopt;
}

namespace {

using Failure = std::optional<RequestError>;

// Reads the body into a JSON object: size, encoding, depth and syntax first.
std::variant<Object::Ptr, RequestError> parse_root(std::string_view body,
                                                   const ParseLimits& limits) {
    if (body.empty()) return RequestError{"Request body is empty; expected a JSON object."};
    if (!is_valid_utf8(body)) return RequestError{"Request body is not valid UTF-8."};
    if (nesting_depth(body, limits.max_depth) > limits.max_depth)
        return RequestError{"Request body is nested too deeply (limit " +
                            std::to_string(limits.max_depth) + " levels)."};
    Var root;
    try {
        // Object order kept: the client's headers go out in the order it gave them.
        Poco::JSON::Parser parser(new Poco::JSON::ParseHandler(true));
        root = parser.parse(std::string(body));
    } catch (const Poco::Exception& e) {
        return RequestError{"Request body is not valid JSON: " + e.message()};
    } catch (const std::exception& e) {
        return RequestError{std::string("Request body is not valid JSON: ") + e.what()};
    }
    if (root.type() != typeid(Object::Ptr) || root.extract<Object::Ptr>().isNull())
        return RequestError{std::string("Request body must be a JSON object, got ") +
                            type_name(root) + "."};
    return root.extract<Object::Ptr>();
}

Failure parse_command(Reader& r, V1Request& req) {
    auto cmd = r.string("cmd");
    if (r.error) return r.error;
    if (!cmd || cmd->empty()) return RequestError{"Request parameter 'cmd' is mandatory."};
    req.cmd_text = *cmd;
    if (*cmd == "request.get")
        req.cmd = Command::kRequestGet;
    else if (*cmd == "request.post")
        req.cmd = Command::kRequestPost;
    else if (*cmd == "sessions.create")
        req.cmd = Command::kSessionsCreate;
    else if (*cmd == "sessions.list")
        req.cmd = Command::kSessionsList;
    else if (*cmd == "sessions.destroy")
        req.cmd = Command::kSessionsDestroy;
    else {
        std::string shown = cmd->size() > 64 ? cmd->substr(0, 64) + "..." : *cmd;
        return RequestError{"Request parameter 'cmd' = '" + shown + "' is invalid."};
    }
    return std::nullopt;
}

// The scalar options every command may carry.
Failure parse_options(Reader& r, V1Request& req) {
    // Fields removed in FlareSolverr v2: accepted, warned about, ignored.
    for (const char* k : {"userAgent", "download", "returnRawHtml"})
        if (r.obj.has(k)) req.deprecated_fields.emplace_back(k);
    if (auto v = r.integer("maxTimeout")) req.max_timeout_ms = *v < 1 ? 60000 : *v;
    if (auto v = r.string("session")) req.session = *v;
    if (auto v = r.integer("session_ttl_minutes"))
        req.session_ttl_minutes = std::max<int64_t>(0, *v);
    if (auto v = r.boolean("returnOnlyCookies")) req.return_only_cookies = *v;
    if (auto v = r.boolean("returnScreenshot")) req.return_screenshot = *v;
    if (auto v = r.boolean("disableMedia")) {
        req.disable_media = *v;
        req.disable_media_set = *v;
    }
    if (auto v = r.integer("waitInSeconds")) req.wait_seconds = std::clamp<int64_t>(*v, 0, 3600);
    if (auto v = r.integer("tabs_till_verify"))
        req.ext.tabs_till_verify = static_cast<int>(std::clamp<int64_t>(*v, 0, 100));
    if (auto v = r.string("solver")) req.solver = *v;
    if (auto v = r.string("apiKey")) req.api_key = *v;
    if (r.error) return r.error;
    if (req.session.size() > 128)
        return RequestError{"Request parameter 'session' is too long (limit 128 characters)."};
    return std::nullopt;
}

Failure parse_proxy(Reader& r, V1Request& req) {
    if (!r.has("proxy")) return std::nullopt;
    Var pv = r.obj.get("proxy");
    if (pv.type() != typeid(Object::Ptr)) {
        r.type_error("proxy", "an object", pv);
        return r.error;
    }
    const Object& po = *pv.extract<Object::Ptr>();
    Proxy p;
    if (auto u = r.string(po, "url", "proxy.url")) p.url = *u;
    if (auto u = r.string(po, "username", "proxy.username")) p.username = *u;
    if (auto u = r.string(po, "password", "proxy.password")) p.password = *u;
    // Beyond FlareSolverr: the zone pages present, as the proxy's exit country has it.
    std::string tz, country;
    if (auto u = r.string(po, "timezone", "proxy.timezone")) tz = *u;
    if (auto u = r.string(po, "country", "proxy.country")) country = *u;
    if (r.error) return r.error;
    std::string why;
    if (auto zone = proxy_zone(tz, country, "Request parameter 'proxy.", &why))
        p.timezone = *zone;
    else
        return RequestError{why};
    if (!p.url.empty()) {
        if (auto bad = check_proxy_url(p.url)) return RequestError{*bad};
    } else if (!p.username.empty() || !p.password.empty()) {
        return RequestError{"Request parameter 'proxy' has credentials but no 'url'."};
    }
    req.proxy = p;
    return std::nullopt;
}

Failure parse_cookie(Reader& r, const Var& item, const std::string& at, Cookie& c) {
    if (item.type() != typeid(Object::Ptr)) {
        r.type_error(at, "an object", item);
        return r.error;
    }
    const Object& co = *item.extract<Object::Ptr>();
    auto name = r.string(co, "name", at + ".name");
    auto value = r.string(co, "value", at + ".value");
    if (r.error) return r.error;
    if (!name || name->empty())
        return RequestError{"Request parameter '" + at + ".name' is mandatory."};
    if (!value) return RequestError{"Request parameter '" + at + ".value' is mandatory."};
    c.name = *name;
    c.value = *value;
    if (auto v = r.string(co, "domain", at + ".domain")) c.domain = *v;
    if (auto v = r.string(co, "path", at + ".path")) c.path = *v;
    if (auto v = r.string(co, "sameSite", at + ".sameSite")) c.same_site = *v;
    if (auto v = r.boolean(co, "secure", at + ".secure")) c.secure = *v;
    if (auto v = r.boolean(co, "httpOnly", at + ".httpOnly")) c.http_only = *v;
    // Clients send either FlareSolverr's "expiry" or CDP's "expires".
    if (auto v = r.integer(co, "expiry", at + ".expiry"))
        c.expires_s = *v;
    else if (co.has("expires") && !r.error) {
        Var ev = co.get("expires");
        if (ev.isNumeric() && ev.type() != typeid(bool))
            c.expires_s = static_cast<int64_t>(ev.convert<double>());
    }
    return r.error;
}

Failure parse_cookies(Reader& r, V1Request& req, const ParseLimits& limits) {
    if (!r.has("cookies")) return std::nullopt;
    Var cv = r.obj.get("cookies");
    if (cv.type() != typeid(Poco::JSON::Array::Ptr)) {
        r.type_error("cookies", "an array", cv);
        return r.error;
    }
    const auto& arr = *cv.extract<Poco::JSON::Array::Ptr>();
    if (arr.size() > limits.max_cookies)
        return RequestError{"Request parameter 'cookies' has " + std::to_string(arr.size()) +
                            " cookies (limit " + std::to_string(limits.max_cookies) + ")."};
    for (size_t i = 0; i < arr.size(); ++i) {
        Cookie c;
        if (auto e = parse_cookie(r, arr.get(static_cast<unsigned>(i)),
                                  "cookies[" + std::to_string(i) + "]", c))
            return e;
        req.cookies.push_back(std::move(c));
    }
    return std::nullopt;
}

std::string lower(std::string s) {
    for (auto& ch : s)
        ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    return s;
}

// RFC 9110 token characters.
bool is_token(std::string_view s) {
    if (s.empty()) return false;
    for (unsigned char c : s) {
        if (std::isalnum(c)) continue;
        if (std::string_view("!#$%&'*+-.^_`|~").find(static_cast<char>(c)) ==
            std::string_view::npos)
            return false;
    }
    return true;
}

// Why a header may not be set by the client, or empty when it may. The browser owns
// the framing and connection headers; the UA and language must match what navigator and
// the client hints say, which a header alone would contradict, so they are refused too.
std::string forbidden_header_reason(const std::string& lname) {
    static const char* kFraming[] = {
        "host", "content-length", "connection", "keep-alive", "transfer-encoding",
        "te",   "trailer",        "upgrade"};
    for (const char* f : kFraming)
        if (lname == f) return "the browser sets it";
    if (lname.rfind("proxy-", 0) == 0) return "the browser sets it (hop-by-hop)";
    if (lname == "cookie") return "send cookies in the 'cookies' field";
    if (lname == "user-agent" || lname == "accept-language" || lname.rfind("sec-ch-ua", 0) == 0)
        return "it must match navigator and the client hints the browser presents";
    return {};
}

// True for the names that stand for the body's media type: Prowlarr sends
// {"contentType": "..."} in `headers` with every POST.
bool is_content_type_key(const std::string& name) {
    return name == "contentType" || lower(name) == "content-type";
}

Failure parse_header(const std::string& name, const Var& v, V1Request& req,
                     std::string& body_type) {
    const std::string at = "headers." + name;
    if (!v.isString())
        return RequestError{"Request parameter '" + at + "' must be a string, got " + type_name(v) +
                            "."};
    std::string value = v.extract<std::string>();
    if (value.find_first_of(std::string("\r\n\0", 3)) != std::string::npos)
        return RequestError{"Request parameter '" + at + "' contains a line break or NUL."};
    if (is_content_type_key(name)) {
        body_type = value;
        return std::nullopt;
    }
    if (!is_token(name))
        return RequestError{"Request parameter 'headers' has an invalid header name '" +
                            name.substr(0, 64) + "'."};
    if (std::string why = forbidden_header_reason(lower(name)); !why.empty())
        return RequestError{"Request parameter 'headers' may not set '" + name + "': " + why + "."};
    req.ext.headers.push_back(HeaderField{name, value});
    return std::nullopt;
}

// `headers` (beyond FlareSolverr, which ignores it) and `headersScope`. A content type
// given among them (Prowlarr's "contentType") describes the body; it is returned in
// body_type rather than sent as a header of its own.
Failure parse_headers(Reader& r, V1Request& req, const ParseLimits& limits,
                      std::string& body_type) {
    if (r.has("headers")) {
        Var hv = r.obj.get("headers");
        if (hv.type() != typeid(Object::Ptr)) {
            r.type_error("headers", "an object", hv);
            return r.error;
        }
        const Object& ho = *hv.extract<Object::Ptr>();
        if (ho.size() > limits.max_headers)
            return RequestError{"Request parameter 'headers' has " + std::to_string(ho.size()) +
                                " headers (limit " + std::to_string(limits.max_headers) + ")."};
        for (const auto& name : ho.getNames())  // insertion order (parse_root)
            if (auto e = parse_header(name, ho.get(name), req, body_type)) return e;
        size_t bytes = 0;
        for (const auto& h : req.ext.headers)
            bytes += h.name.size() + h.value.size();
        if (bytes > limits.max_header_bytes)
            return RequestError{"Request parameter 'headers' is too large (limit " +
                                std::to_string(limits.max_header_bytes) + " bytes)."};
    }
    auto scope = r.string("headersScope");
    if (r.error) return r.error;
    if (!scope || *scope == "document")
        req.ext.header_scope = HeaderScope::kDocument;
    else if (*scope == "site")
        req.ext.header_scope = HeaderScope::kSite;
    else
        return RequestError{"Request parameter 'headersScope' must be 'document' or 'site'."};
    return std::nullopt;
}

// postData: a string (sent as `contentType`, form-urlencoded without one), or a JSON
// object or array (sent as application/json).
Failure parse_body(Reader& r, V1Request& req, const ParseLimits& limits,
                   const std::string& header_type) {
    bool has_post = r.has("postData");
    if (req.cmd == Command::kRequestGet) {
        if (has_post) return RequestError{"Cannot use 'postBody' when sending a GET request."};
        if (r.has("contentType"))
            return RequestError{"Request parameter 'contentType' needs a 'request.post' command."};
        return std::nullopt;
    }
    if (!has_post)
        return RequestError{"Request parameter 'postData' is mandatory in 'request.post' command."};
    auto type = r.string("contentType");
    if (r.error) return r.error;
    Var pv = r.obj.get("postData");
    if (pv.type() == typeid(Object::Ptr) || pv.type() == typeid(Poco::JSON::Array::Ptr)) {
        if (type && lower(*type).find("json") == std::string::npos)
            return RequestError{"Request parameter 'postData' is JSON, which cannot be sent as '" +
                                *type + "'; send it as a string for that type."};
        std::ostringstream out;  // compact, keys in the client's order
        Poco::JSON::Stringifier::condense(pv, out,
                                          Poco::JSON_WRAP_STRINGS | Poco::JSON_PRESERVE_KEY_ORDER);
        req.post_data = out.str();
        req.ext.content_type = type ? *type : "application/json";
    } else if (pv.isString()) {
        req.post_data = pv.extract<std::string>();
        req.ext.content_type = type ? *type : header_type;
    } else {
        r.type_error("postData", "a string, an object or an array", pv);
        return r.error;
    }
    if (req.ext.content_type.find_first_of(std::string("\r\n\0", 3)) != std::string::npos ||
        (type && type->empty()))
        return RequestError{"Request parameter 'contentType' is not a media type."};
    if (lower(req.ext.content_type) == "application/x-www-form-urlencoded")
        req.ext.content_type.clear();  // the default, as before
    if (req.post_data.size() > limits.max_post_bytes)
        return RequestError{"Request parameter 'postData' is too large (limit " +
                            std::to_string(limits.max_post_bytes) + " bytes)."};
    return std::nullopt;
}

Failure parse_target(Reader& r, V1Request& req, const ParseLimits& limits) {
    std::string header_type;
    if (auto e = parse_headers(r, req, limits, header_type)) return e;
    if (req.cmd != Command::kRequestGet && req.cmd != Command::kRequestPost) {
        // Session commands never load a page: their headers were never used.
        if (r.has("headers")) req.deprecated_fields.emplace_back("headers");
        req.ext = RequestExtensions{};
        return std::nullopt;
    }
    auto url = r.string("url");
    if (r.error) return r.error;
    if (!url || url->empty())
        return RequestError{"Request parameter 'url' is mandatory in '" + req.cmd_text +
                            "' command."};
    if (auto why = check_target_url(*url, limits.max_url_bytes)) return RequestError{*why};
    req.url = *url;
    return parse_body(r, req, limits, header_type);
}

}  // namespace

std::variant<V1Request, RequestError> parse_v1_request(std::string_view body,
                                                       const ParseLimits& limits) {
    auto root = parse_root(body, limits);
    if (auto* e = std::get_if<RequestError>(&root)) return *e;
    const Object& obj = *std::get<Object::Ptr>(root);
    Reader r{obj, std::nullopt};
    V1Request req;
    if (auto e = parse_command(r, req)) return *e;
    if (auto e = parse_options(r, req)) return *e;
    if (auto e = parse_proxy(r, req)) return *e;
    if (auto e = parse_cookies(r, req, limits)) return *e;
    if (auto e = parse_target(r, req, limits)) return *e;
    if (req.cmd == Command::kSessionsDestroy && req.session.empty())
        return RequestError{
            "Request parameter 'session' is mandatory in 'sessions.destroy' command."};
    return req;
}

}  // namespace byparr
