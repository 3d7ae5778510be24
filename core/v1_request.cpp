#include "core/v1_request.h"

#include <Poco/JSON/Parser.h>
#include <Poco/URI.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>

#include "core/json_writer.h"
#include "core/time_zones.h"

namespace byparr {

const char* to_string(Command c) {
    switch (c) {
        case Command::kRequestGet: return "request.get";
        case Command::kRequestPost: return "request.post";
        case Command::kSessionsCreate: return "sessions.create";
        case Command::kSessionsList: return "sessions.list";
        case Command::kSessionsDestroy: return "sessions.destroy";
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
    while (f.size() > 1 && f.back() == '0') f.pop_back();
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
            if (esc) esc = false;
            else if (c == '\\') esc = true;
            else if (c == '"') in_str = false;
            continue;
        }
        if (c == '"') in_str = true;
        else if (c == '{' || c == '[') {
            max_depth = std::max(max_depth, ++depth);
            if (max_depth > stop_at) return max_depth;
        } else if ((c == '}' || c == ']') && depth > 0) --depth;
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
            if (!error) error = RequestError{"Request parameter '" + display + "' is out of range."};
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
        std::string scheme = colon == std::string::npos || colon > 32 ? "" : trimmed.substr(0, colon);
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
        return std::string("Request parameter 'proxy.url' must start with http://, socks4:// or socks5://.");
    try {
        Poco::URI uri(u);
        if (uri.getHost().empty()) return std::string("Request parameter 'proxy.url' has no host.");
    } catch (const Poco::Exception& e) {
        return "Request parameter 'proxy.url' is not a valid URL: " + e.message();
    }
    return std::nullopt;
}

std::variant<V1Request, RequestError> parse_v1_request(std::string_view body,
                                                       const ParseLimits& limits) {
    if (body.empty()) return RequestError{"Request body is empty; expected a JSON object."};
    if (!is_valid_utf8(body)) return RequestError{"Request body is not valid UTF-8."};
    if (nesting_depth(body, limits.max_depth) > limits.max_depth)
        return RequestError{"Request body is nested too deeply (limit " +
                            std::to_string(limits.max_depth) + " levels)."};
    Var root;
    try {
        Poco::JSON::Parser parser;
        root = parser.parse(std::string(body));
    } catch (const Poco::Exception& e) {
        return RequestError{"Request body is not valid JSON: " + e.message()};
    } catch (const std::exception& e) {
        return RequestError{std::string("Request body is not valid JSON: ") + e.what()};
    }
    if (root.type() != typeid(Object::Ptr) || root.extract<Object::Ptr>().isNull())
        return RequestError{std::string("Request body must be a JSON object, got ") +
                            type_name(root) + "."};
    const Object& obj = *root.extract<Object::Ptr>();
    Reader r{obj, std::nullopt};
    V1Request req;

    auto cmd = r.string("cmd");
    if (r.error) return *r.error;
    if (!cmd || cmd->empty()) return RequestError{"Request parameter 'cmd' is mandatory."};
    req.cmd_text = *cmd;
    if (*cmd == "request.get") req.cmd = Command::kRequestGet;
    else if (*cmd == "request.post") req.cmd = Command::kRequestPost;
    else if (*cmd == "sessions.create") req.cmd = Command::kSessionsCreate;
    else if (*cmd == "sessions.list") req.cmd = Command::kSessionsList;
    else if (*cmd == "sessions.destroy") req.cmd = Command::kSessionsDestroy;
    else {
        std::string shown = cmd->size() > 64 ? cmd->substr(0, 64) + "..." : *cmd;
        return RequestError{"Request parameter 'cmd' = '" + shown + "' is invalid."};
    }

    // Fields removed in FlareSolverr v2: accepted, warned about, ignored.
    for (const char* k : {"headers", "userAgent", "download", "returnRawHtml"})
        if (obj.has(k)) req.deprecated_fields.emplace_back(k);

    if (auto v = r.integer("maxTimeout")) req.max_timeout_ms = *v < 1 ? 60000 : *v;
    if (auto v = r.string("session")) req.session = *v;
    if (auto v = r.integer("session_ttl_minutes")) req.session_ttl_minutes = std::max<int64_t>(0, *v);
    if (auto v = r.boolean("returnOnlyCookies")) req.return_only_cookies = *v;
    if (auto v = r.boolean("returnScreenshot")) req.return_screenshot = *v;
    if (auto v = r.boolean("disableMedia")) {
        req.disable_media = *v;
        req.disable_media_set = *v;
    }
    if (auto v = r.integer("waitInSeconds")) req.wait_seconds = std::clamp<int64_t>(*v, 0, 3600);
    if (auto v = r.string("solver")) req.solver = *v;
    if (auto v = r.string("apiKey")) req.api_key = *v;
    if (r.error) return *r.error;
    if (req.session.size() > 128)
        return RequestError{"Request parameter 'session' is too long (limit 128 characters)."};

    if (obj.has("proxy") && !obj.get("proxy").isEmpty()) {
        Var pv = obj.get("proxy");
        if (pv.type() != typeid(Object::Ptr)) {
            r.type_error("proxy", "an object", pv);
            return *r.error;
        }
        const Object& po = *pv.extract<Object::Ptr>();
        ProxySpec p;
        if (auto u = r.string(po, "url", "proxy.url")) p.url = *u;
        if (auto u = r.string(po, "username", "proxy.username")) p.username = *u;
        if (auto u = r.string(po, "password", "proxy.password")) p.password = *u;
        // Beyond FlareSolverr: the zone pages present, as the proxy's exit country has it.
        std::string tz, country;
        if (auto u = r.string(po, "timezone", "proxy.timezone")) tz = *u;
        if (auto u = r.string(po, "country", "proxy.country")) country = *u;
        if (r.error) return *r.error;
        std::string why;
        if (auto zone = proxy_zone(tz, country, "Request parameter 'proxy.", &why))
            p.timezone = *zone;
        else
            return RequestError{why};
        if (!p.url.empty()) {
            if (auto why = check_proxy_url(p.url)) return RequestError{*why};
        } else if (!p.username.empty() || !p.password.empty()) {
            return RequestError{"Request parameter 'proxy' has credentials but no 'url'."};
        }
        req.proxy = p;
    }

    if (obj.has("cookies") && !obj.get("cookies").isEmpty()) {
        Var cv = obj.get("cookies");
        if (cv.type() != typeid(Poco::JSON::Array::Ptr)) {
            r.type_error("cookies", "an array", cv);
            return *r.error;
        }
        const auto& arr = *cv.extract<Poco::JSON::Array::Ptr>();
        if (arr.size() > limits.max_cookies)
            return RequestError{"Request parameter 'cookies' has " + std::to_string(arr.size()) +
                                " cookies (limit " + std::to_string(limits.max_cookies) + ")."};
        for (size_t i = 0; i < arr.size(); ++i) {
            std::string at = "cookies[" + std::to_string(i) + "]";
            Var item = arr.get(static_cast<unsigned>(i));
            if (item.type() != typeid(Object::Ptr)) {
                r.type_error(at, "an object", item);
                return *r.error;
            }
            const Object& co = *item.extract<Object::Ptr>();
            RequestCookie c;
            auto name = r.string(co, "name", at + ".name");
            auto value = r.string(co, "value", at + ".value");
            if (r.error) return *r.error;
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
            if (auto v = r.integer(co, "expiry", at + ".expiry")) c.expiry_s = *v;
            else if (co.has("expires") && !r.error) {
                Var ev = co.get("expires");
                if (ev.isNumeric() && ev.type() != typeid(bool))
                    c.expiry_s = static_cast<int64_t>(ev.convert<double>());
            }
            if (r.error) return *r.error;
            req.cookies.push_back(std::move(c));
        }
    }

    bool is_request = req.cmd == Command::kRequestGet || req.cmd == Command::kRequestPost;
    if (is_request) {
        auto url = r.string("url");
        if (r.error) return *r.error;
        if (!url || url->empty())
            return RequestError{"Request parameter 'url' is mandatory in '" + req.cmd_text +
                                "' command."};
        if (auto why = check_target_url(*url, limits.max_url_bytes)) return RequestError{*why};
        req.url = *url;
        bool has_post = obj.has("postData") && !obj.get("postData").isEmpty();
        if (req.cmd == Command::kRequestGet && has_post)
            return RequestError{"Cannot use 'postBody' when sending a GET request."};
        if (req.cmd == Command::kRequestPost) {
            auto pd = r.string("postData");
            if (r.error) return *r.error;
            if (!pd)
                return RequestError{
                    "Request parameter 'postData' is mandatory in 'request.post' command."};
            if (pd->size() > limits.max_post_bytes)
                return RequestError{"Request parameter 'postData' is too large (limit " +
                                    std::to_string(limits.max_post_bytes) + " bytes)."};
            req.post_data = *pd;
        }
    }
    if (req.cmd == Command::kSessionsDestroy && req.session.empty())
        return RequestError{"Request parameter 'session' is mandatory in 'sessions.destroy' command."};
    return req;
}

}  // namespace byparr
