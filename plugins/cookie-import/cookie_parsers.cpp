#include "cookie_parsers.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <cstdlib>
#include <utility>

namespace byparr::cookie_import {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front())))
        s.remove_prefix(1);
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back())))
        s.remove_suffix(1);
    return s;
}

bool iequals_prefix(std::string_view s, std::string_view prefix) {
    return s.size() >= prefix.size() && lower(s.substr(0, prefix.size())) == lower(prefix);
}

ParseResult fail(int line, std::string message) {
    ParseResult r;
    r.error = std::move(message);
    r.error_line = line;
    return r;
}

// ---- A small JSON reader. Poco's parser does not say where an error is, and a
// person fixing an exported file needs the line.

struct JValue {
    enum class Type { kNull, kBool, kNumber, kString, kArray, kObject } type = Type::kNull;
    bool b = false;
    double n = 0;
    std::string s;
    std::vector<JValue> items;
    std::vector<std::pair<std::string, JValue>> members;
    int line = 0;

    // Declared here, defined after the struct: clang instantiates the members'
    // destructors at this point otherwise, while JValue is still incomplete.
    ~JValue();
    JValue() = default;
    JValue(const JValue&) = default;
    JValue(JValue&&) noexcept = default;
    JValue& operator=(const JValue&) = default;
    JValue& operator=(JValue&&) noexcept = default;

    const JValue* get(std::string_view key) const {
        for (const auto& [k, v] : members)
            if (k == key) return &v;
        return nullptr;
    }
};

JValue::~JValue() = default;

// Expiry in epoch seconds from a number a file gave: a session cookie for zero or
// less, and clamped rather than cast when huge or not finite (1e300, inf), which
// would be undefined behaviour (found by the cookie_parsers fuzzer).
int64_t epoch_seconds(double v) {
    if (!(v > 0)) return -1;
    if (!std::isfinite(v) || v >= 9.2e18) return std::numeric_limits<int64_t>::max();
    return static_cast<int64_t>(v);
}

class JsonReader {
  public:
    explicit JsonReader(std::string_view text) : t_(text) {}

    bool parse(JValue& out) {
        skip_ws();
        if (!value(out, 0)) return false;
        skip_ws();
        if (pos_ < t_.size()) return error("unexpected text after the JSON document");
        return true;
    }

    std::string error_message;
    int error_line = 0;

  private:
    static constexpr int kMaxDepth = 64;

    bool error(std::string message) {
        if (error_message.empty()) {
            error_message = std::move(message);
            error_line = line_;
        }
        return false;
    }

    void skip_ws() {
        while (pos_ < t_.size()) {
            char c = t_[pos_];
            if (c == '\n') {
                ++line_;
            } else if (c != ' ' && c != '\t' && c != '\r') {
                break;
            }
            ++pos_;
        }
    }

    bool value(JValue& out, int depth) {
        if (depth > kMaxDepth) return error("JSON nested too deeply");
        if (pos_ >= t_.size()) return error("unexpected end of file");
        out.line = line_;
        char c = t_[pos_];
        if (c == '{') return object(out, depth);
        if (c == '[') return array(out, depth);
        if (c == '"') {
            out.type = JValue::Type::kString;
            return string(out.s);
        }
        if (c == '-' || (c >= '0' && c <= '9')) return number(out);
        if (literal("true")) {
            out.type = JValue::Type::kBool;
            out.b = true;
            return true;
        }
        if (literal("false")) {
            out.type = JValue::Type::kBool;
            return true;
        }
        if (literal("null")) return true;
        return error(std::string("unexpected character '") + c + "'");
    }

    bool literal(std::string_view word) {
        if (t_.substr(pos_, word.size()) != word) return false;
        pos_ += word.size();
        return true;
    }

    bool object(JValue& out, int depth) {
        out.type = JValue::Type::kObject;
        ++pos_;  // '{'
        skip_ws();
        if (pos_ < t_.size() && t_[pos_] == '}') {
            ++pos_;
            return true;
        }
        while (true) {
            skip_ws();
            if (pos_ >= t_.size() || t_[pos_] != '"') return error("expected a quoted member name");
            std::string key;
            if (!string(key)) return false;
            skip_ws();
            if (pos_ >= t_.size() || t_[pos_] != ':')
                return error("expected ':' after \"" + key + "\"");
            ++pos_;
            skip_ws();
            JValue v;
            if (!value(v, depth + 1)) return false;
            out.members.emplace_back(std::move(key), std::move(v));
            skip_ws();
            if (pos_ < t_.size() && t_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < t_.size() && t_[pos_] == '}') {
                ++pos_;
                return true;
            }
            return error("expected ',' or '}' in an object");
        }
    }

    bool array(JValue& out, int depth) {
        out.type = JValue::Type::kArray;
        ++pos_;  // '['
        skip_ws();
        if (pos_ < t_.size() && t_[pos_] == ']') {
            ++pos_;
            return true;
        }
        while (true) {
            skip_ws();
            JValue v;
            if (!value(v, depth + 1)) return false;
            out.items.push_back(std::move(v));
            skip_ws();
            if (pos_ < t_.size() && t_[pos_] == ',') {
                ++pos_;
                continue;
            }
            if (pos_ < t_.size() && t_[pos_] == ']') {
                ++pos_;
                return true;
            }
            return error("expected ',' or ']' in an array");
        }
    }

    static void append_utf8(std::string& out, uint32_t cp) {
        if (cp < 0x80) {
            out += static_cast<char>(cp);
        } else if (cp < 0x800) {
            out += static_cast<char>(0xC0 | (cp >> 6));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else if (cp < 0x10000) {
            out += static_cast<char>(0xE0 | (cp >> 12));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        } else {
            out += static_cast<char>(0xF0 | (cp >> 18));
            out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
            out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
            out += static_cast<char>(0x80 | (cp & 0x3F));
        }
    }

    bool hex4(uint32_t& out) {
        if (pos_ + 4 > t_.size()) return error("truncated \\u escape");
        out = 0;
        for (int i = 0; i < 4; ++i) {
            char c = t_[pos_++];
            out <<= 4;
            if (c >= '0' && c <= '9')
                out |= static_cast<uint32_t>(c - '0');
            else if (c >= 'a' && c <= 'f')
                out |= static_cast<uint32_t>(c - 'a' + 10);
            else if (c >= 'A' && c <= 'F')
                out |= static_cast<uint32_t>(c - 'A' + 10);
            else
                return error("invalid \\u escape");
        }
        return true;
    }

    bool string(std::string& out) {
        ++pos_;  // '"'
        while (pos_ < t_.size()) {
            char c = t_[pos_++];
            if (c == '"') return true;
            if (c == '\n') return error("unterminated string");
            if (c != '\\') {
                out += c;
                continue;
            }
            if (pos_ >= t_.size()) break;
            char e = t_[pos_++];
            switch (e) {
                case '"':
                    out += '"';
                    break;
                case '\\':
                    out += '\\';
                    break;
                case '/':
                    out += '/';
                    break;
                case 'b':
                    out += '\b';
                    break;
                case 'f':
                    out += '\f';
                    break;
                case 'n':
                    out += '\n';
                    break;
                case 'r':
                    out += '\r';
                    break;
                case 't':
                    out += '\t';
                    break;
                case 'u': {
                    uint32_t cp = 0;
                    if (!hex4(cp)) return false;
                    if (cp >= 0xD800 && cp < 0xDC00 && t_.substr(pos_, 2) == "\\u") {
                        pos_ += 2;
                        uint32_t lo = 0;
                        if (!hex4(lo)) return false;
                        if (lo >= 0xDC00 && lo < 0xE000)
                            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    }
                    append_utf8(out, cp);
                    break;
                }
                default:
                    return error(std::string("invalid escape '\\") + e + "'");
            }
        }
        return error("unterminated string");
    }

    bool number(JValue& out) {
        size_t start = pos_;
        if (t_[pos_] == '-') ++pos_;
        while (pos_ < t_.size() &&
               (std::isdigit(static_cast<unsigned char>(t_[pos_])) || t_[pos_] == '.' ||
                t_[pos_] == 'e' || t_[pos_] == 'E' || t_[pos_] == '+' || t_[pos_] == '-'))
            ++pos_;
        std::string text(t_.substr(start, pos_ - start));
        char* end = nullptr;
        out.type = JValue::Type::kNumber;
        out.n = std::strtod(text.c_str(), &end);
        if (end == text.c_str() || *end != '\0') return error("invalid number '" + text + "'");
        return true;
    }

    std::string_view t_;
    size_t pos_ = 0;
    int line_ = 1;
};

std::string normalise_same_site(std::string_view v) {
    std::string l = lower(trim(v));
    if (l == "no_restriction" || l == "none") return "None";
    if (l == "lax") return "Lax";
    if (l == "strict") return "Strict";
    return "";  // "unspecified", empty or unknown: the browser default
}

// One cookie object of a JSON export. Returns an error message or "".
std::string json_cookie(const JValue& o, ImportedCookie& c) {
    using T = JValue::Type;
    if (o.type != T::kObject) return "expected a cookie object";
    auto str_field = [&](const char* key, std::string& out, bool required) -> std::string {
        const JValue* v = o.get(key);
        if (v == nullptr || v->type == T::kNull) {
            return required ? std::string("cookie has no \"") + key + "\"" : "";
        }
        if (v->type != T::kString) return std::string("\"") + key + "\" must be a string";
        out = v->s;
        return "";
    };
    auto bool_field = [&](const char* key, bool& out) -> std::string {
        const JValue* v = o.get(key);
        if (v == nullptr || v->type == T::kNull) return "";
        if (v->type != T::kBool) return std::string("\"") + key + "\" must be true or false";
        out = v->b;
        return "";
    };
    std::string domain, err;
    if (!(err = str_field("name", c.name, true)).empty()) return err;
    if (c.name.empty()) return "cookie has an empty \"name\"";
    if (!(err = str_field("value", c.value, false)).empty()) return err;
    if (!(err = str_field("domain", domain, true)).empty()) return err;
    domain = lower(trim(domain));
    bool dotted = !domain.empty() && domain.front() == '.';
    if (dotted) domain.erase(0, 1);
    if (domain.empty()) return "cookie \"" + c.name + "\" has an empty \"domain\"";
    c.domain = domain;
    c.host_only = !dotted;  // without hostOnly, the leading dot is the only hint
    if (!(err = bool_field("hostOnly", c.host_only)).empty()) return err;
    if (!(err = str_field("path", c.path, false)).empty()) return err;
    if (c.path.empty() || c.path.front() != '/') c.path = "/";
    if (!(err = bool_field("httpOnly", c.http_only)).empty()) return err;
    if (!(err = bool_field("secure", c.secure)).empty()) return err;
    std::string same_site;
    if (!(err = str_field("sameSite", same_site, false)).empty()) return err;
    c.same_site = normalise_same_site(same_site);
    c.expires_s = -1;
    // Extensions say expirationDate; Playwright says expires; Selenium says expiry.
    for (const char* key : {"expirationDate", "expires", "expiry"}) {
        const JValue* v = o.get(key);
        if (v == nullptr || v->type == T::kNull) continue;
        if (v->type != T::kNumber) return std::string("\"") + key + "\" must be a number";
        c.expires_s = epoch_seconds(v->n);
        break;
    }
    bool session = false;
    if (!(err = bool_field("session", session)).empty()) return err;
    if (session) c.expires_s = -1;
    return "";
}

bool parse_flag(std::string_view v, bool* out) {
    std::string l = lower(trim(v));
    if (l == "true") {
        *out = true;
        return true;
    }
    if (l == "false") {
        *out = false;
        return true;
    }
    return false;
}

std::vector<std::string_view> split_fields(std::string_view line) {
    std::vector<std::string_view> fields;
    if (line.find('\t') != std::string_view::npos) {
        size_t start = 0;
        while (true) {
            size_t tab = line.find('\t', start);
            fields.push_back(line.substr(start, tab == std::string_view::npos ? tab : tab - start));
            if (tab == std::string_view::npos) break;
            start = tab + 1;
        }
        return fields;
    }
    // Tabs turned into spaces by a copy-paste: split on runs of blanks instead.
    size_t i = 0;
    while (i < line.size()) {
        while (i < line.size() && (line[i] == ' '))
            ++i;
        size_t start = i;
        while (i < line.size() && line[i] != ' ')
            ++i;
        if (i > start) fields.push_back(line.substr(start, i - start));
    }
    return fields;
}

bool is_ip_literal(std::string_view host) {
    if (host.find(':') != std::string_view::npos) return true;  // IPv6
    return !host.empty() && std::all_of(host.begin(), host.end(),
                                        [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

bool is_loopback(std::string_view host) {
    return host == "localhost" || host == "::1" || host == "[::1]" ||
           (host.rfind("127.", 0) == 0 && is_ip_literal(host));
}

}  // namespace

std::string ParseResult::error_text() const {
    if (error.empty()) return "";
    return error_line > 0 ? "line " + std::to_string(error_line) + ": " + error : error;
}

ParseResult parse_netscape(std::string_view text) {
    ParseResult r;
    int line_no = 0;
    size_t pos = 0;
    if (text.substr(0, 3) == "\xEF\xBB\xBF") pos = 3;  // a BOM from Windows editors
    while (pos <= text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view line =
            text.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
        pos = nl == std::string_view::npos ? text.size() + 1 : nl + 1;
        ++line_no;
        if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
        if (trim(line).empty()) continue;

        ImportedCookie c;
        if (iequals_prefix(line, "#HttpOnly_")) {
            c.http_only = true;
            line.remove_prefix(10);
        } else if (line.front() == '#') {
            std::string_view comment = trim(line.substr(1));
            if (iequals_prefix(comment, "User-Agent:"))
                r.user_agent = std::string(trim(comment.substr(11)));
            continue;
        }

        auto f = split_fields(line);
        if (f.size() < 6 || f.size() > 7)
            return fail(line_no,
                        "expected 7 tab-separated fields (domain, subdomains, path, "
                        "secure, expiry, name, value), found " +
                            std::to_string(f.size()));
        std::string domain = lower(trim(f[0]));
        bool dotted = !domain.empty() && domain.front() == '.';
        if (dotted) domain.erase(0, 1);
        if (domain.empty()) return fail(line_no, "empty domain");
        bool subdomains = false;
        if (!parse_flag(f[1], &subdomains))
            return fail(line_no, "include-subdomains must be TRUE or FALSE, not '" +
                                     std::string(f[1]) + "'");
        c.domain = domain;
        c.host_only = !subdomains && !dotted;
        c.path = std::string(trim(f[2]));
        if (c.path.empty()) c.path = "/";
        if (c.path.front() != '/')
            return fail(line_no, "path must start with '/', not '" + c.path + "'");
        if (!parse_flag(f[3], &c.secure))
            return fail(line_no, "secure must be TRUE or FALSE, not '" + std::string(f[3]) + "'");
        std::string expiry(trim(f[4]));
        char* end = nullptr;
        double e = std::strtod(expiry.c_str(), &end);
        if (expiry.empty() || *end != '\0')
            return fail(line_no, "expiry must be epoch seconds, not '" + expiry + "'");
        c.expires_s = epoch_seconds(e);
        c.name = std::string(f[5]);
        if (c.name.empty()) return fail(line_no, "empty cookie name");
        c.value = f.size() == 7 ? std::string(f[6]) : std::string();
        r.cookies.push_back(std::move(c));
    }
    return r;
}

ParseResult parse_json(std::string_view text) {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    JsonReader reader(text);
    JValue doc;
    if (!reader.parse(doc)) return fail(reader.error_line, reader.error_message);

    ParseResult r;
    const JValue* list = &doc;
    if (doc.type == JValue::Type::kObject) {
        for (const char* key : {"userAgent", "user_agent", "user-agent"}) {
            const JValue* ua = doc.get(key);
            if (ua == nullptr || ua->type == JValue::Type::kNull) continue;
            if (ua->type != JValue::Type::kString)
                return fail(ua->line, std::string("\"") + key + "\" must be a string");
            r.user_agent = ua->s;
        }
        list = doc.get("cookies");
        if (list == nullptr) return fail(doc.line, "expected a \"cookies\" array");
    }
    if (list->type != JValue::Type::kArray) return fail(list->line, "expected an array of cookies");
    for (const auto& item : list->items) {
        ImportedCookie c;
        std::string err = json_cookie(item, c);
        if (!err.empty()) return fail(item.line, err);
        r.cookies.push_back(std::move(c));
    }
    return r;
}

ParseResult parse_cookie_file(std::string_view text) {
    std::string_view t = text;
    if (t.substr(0, 3) == "\xEF\xBB\xBF") t.remove_prefix(3);
    t = trim(t);
    if (!t.empty() && (t.front() == '[' || t.front() == '{')) return parse_json(text);
    return parse_netscape(text);
}

std::optional<UrlParts> split_url(std::string_view url) {
    auto sep = url.find("://");
    if (sep == std::string_view::npos || sep == 0) return std::nullopt;
    UrlParts u;
    u.scheme = lower(url.substr(0, sep));
    std::string_view rest = url.substr(sep + 3);
    size_t end = rest.find_first_of("/?#");
    std::string_view authority = rest.substr(0, end);
    if (auto at = authority.rfind('@'); at != std::string_view::npos)
        authority.remove_prefix(at + 1);
    if (!authority.empty() && authority.front() == '[') {
        auto close = authority.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        authority = authority.substr(1, close - 1);
    } else if (auto colon = authority.find(':'); colon != std::string_view::npos) {
        authority = authority.substr(0, colon);
    }
    if (authority.empty()) return std::nullopt;
    u.host = lower(authority);
    if (!u.host.empty() && u.host.back() == '.') u.host.pop_back();  // FQDN form
    std::string_view path = end == std::string_view::npos ? "" : rest.substr(end);
    path = path.substr(0, path.find_first_of("?#"));
    u.path = path.empty() ? "/" : std::string(path);
    return u;
}

bool domain_matches(const ImportedCookie& cookie, std::string_view host) {
    if (host == cookie.domain) return true;
    if (cookie.host_only || is_ip_literal(host)) return false;
    return host.size() > cookie.domain.size() &&
           host.substr(host.size() - cookie.domain.size()) == cookie.domain &&
           host[host.size() - cookie.domain.size() - 1] == '.';
}

bool path_matches(std::string_view cookie_path, std::string_view request_path) {
    if (cookie_path.empty()) cookie_path = "/";  // no Path attribute: the whole site
    if (cookie_path == request_path) return true;
    if (request_path.rfind(cookie_path, 0) != 0) return false;
    return cookie_path.back() == '/' || request_path[cookie_path.size()] == '/';
}

bool cookie_applies(const ImportedCookie& cookie, const UrlParts& url, int64_t now_s) {
    if (cookie.expired(now_s)) return false;
    // Browsers treat loopback as a secure context, so local tests see Secure cookies.
    if (cookie.secure && url.scheme != "https" && url.scheme != "wss" && !is_loopback(url.host))
        return false;
    return domain_matches(cookie, url.host) && path_matches(cookie.path, url.path);
}

}  // namespace byparr::cookie_import
