#include "core/public_suffix.h"

#include <arpa/inet.h>

#include <algorithm>
#include <fstream>
#include <sstream>
#include <vector>

#include "core/log.h"

namespace byparr {

namespace {

// Used when Debian's list is missing (minimal containers): the generic TLDs are
// covered by the implicit "*" rule, so only second-level suffixes and the big
// shared-hosting suffixes matter here.
// clang-format off
constexpr const char* kBuiltinRules[] = {
    "com", "net", "org", "edu", "gov", "mil", "int", "info", "biz", "io", "co", "me", "tv",
    "app", "dev", "uk", "co.uk", "org.uk", "ac.uk", "gov.uk", "ltd.uk", "plc.uk", "me.uk",
    "net.uk", "sch.uk", "nhs.uk", "au", "com.au", "net.au", "org.au", "edu.au", "gov.au", "nz",
    "co.nz", "org.nz", "net.nz", "jp", "co.jp", "ne.jp", "or.jp", "ac.jp", "go.jp", "kr",
    "co.kr", "or.kr", "cn", "com.cn", "net.cn", "org.cn", "gov.cn", "hk", "com.hk", "tw",
    "com.tw", "sg", "com.sg", "in", "co.in", "net.in", "org.in", "br", "com.br", "net.br",
    "org.br", "ar", "com.ar", "mx", "com.mx", "za", "co.za", "il", "co.il", "tr", "com.tr",
    "ua", "com.ua", "ru", "de", "fr", "it", "es", "nl", "be", "ch", "at", "eu", "pl", "se",
    "no", "dk", "fi", "cz", "gr", "pt", "ie", "ca", "us", "github.io", "gitlab.io",
    "blogspot.com", "herokuapp.com", "appspot.com", "cloudfront.net", "azurewebsites.net",
    "pages.dev", "workers.dev", "vercel.app", "netlify.app", "web.app", "firebaseapp.com",
};
// clang-format on

char lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Splits "a.b.c" into views of its labels; empty labels are kept (and then
// simply match no rule).
std::vector<std::string_view> split_labels(std::string_view host) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
        size_t dot = host.find('.', start);
        if (dot == std::string_view::npos) {
            out.push_back(host.substr(start));
            return out;
        }
        out.push_back(host.substr(start, dot - start));
        start = dot + 1;
    }
}

bool is_ascii(std::string_view s) {
    return std::all_of(s.begin(), s.end(),
                       [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Strict enough for rule text: returns false on malformed sequences.
bool decode_utf8(std::string_view s, std::u32string& out) {
    for (size_t i = 0; i < s.size();) {
        auto b = static_cast<unsigned char>(s[i]);
        char32_t cp;
        size_t n;
        if (b < 0x80)
            cp = b, n = 1;
        else if ((b & 0xE0) == 0xC0)
            cp = b & 0x1F, n = 2;
        else if ((b & 0xF0) == 0xE0)
            cp = b & 0x0F, n = 3;
        else if ((b & 0xF8) == 0xF0)
            cp = b & 0x07, n = 4;
        else
            return false;
        if (i + n > s.size()) return false;
        for (size_t k = 1; k < n; ++k) {
            auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xC0) != 0x80) return false;
            cp = (cp << 6) | (c & 0x3F);
        }
        out.push_back(cp);
        i += n;
    }
    return true;
}

}  // namespace

std::string punycode_label(std::string_view label) {
    if (is_ascii(label)) return std::string(label);
    std::u32string cps;
    if (!decode_utf8(label, cps)) return "";
    constexpr uint32_t kBase = 36, kTMin = 1, kTMax = 26, kSkew = 38, kDamp = 700;
    auto digit = [](uint32_t d) { return static_cast<char>(d < 26 ? 'a' + d : '0' + d - 26); };
    auto adapt = [&](uint32_t delta, uint32_t points, bool first) {
        delta = first ? delta / kDamp : delta / 2;
        delta += delta / points;
        uint32_t k = 0;
        while (delta > ((kBase - kTMin) * kTMax) / 2) {
            delta /= kBase - kTMin;
            k += kBase;
        }
        return k + (kBase - kTMin + 1) * delta / (delta + kSkew);
    };

    std::string out;
    for (char32_t c : cps)
        if (c < 0x80) out += lower(static_cast<char>(c));
    const uint32_t basic = static_cast<uint32_t>(out.size());
    if (basic > 0) out += '-';
    uint32_t n = 0x80, delta = 0, bias = 72, handled = basic;
    while (handled < cps.size()) {
        uint32_t m = UINT32_MAX;
        for (char32_t c : cps)
            if (c >= n && c < m) m = c;
        delta += (m - n) * (handled + 1);
        n = m;
        for (char32_t c : cps) {
            if (c < n) ++delta;
            if (c != n) continue;
            uint32_t q = delta;
            for (uint32_t k = kBase;; k += kBase) {
                uint32_t t = k <= bias ? kTMin : k >= bias + kTMax ? kTMax : k - bias;
                if (q < t) break;
                out += digit(t + (q - t) % (kBase - t));
                q = (q - t) / (kBase - t);
            }
            out += digit(q);
            bias = adapt(delta, handled + 1, handled == basic);
            delta = 0;
            ++handled;
        }
        ++delta;
        ++n;
    }
    return "xn--" + out;
}

std::string normalize_host(std::string_view host) {
    if (!host.empty() && host.front() == '[') {
        size_t close = host.find(']');
        host = host.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
    } else if (std::count(host.begin(), host.end(), ':') == 1) {
        host = host.substr(0, host.find(':'));  // "example.com:8080"; bare IPv6 has several
    }
    while (!host.empty() && host.back() == '.')
        host.remove_suffix(1);
    std::string out(host);
    for (char& c : out)
        c = lower(c);
    return out;
}

bool is_ip_literal(std::string_view host) {
    std::string h = normalize_host(host);
    unsigned char buf[16];
    return inet_pton(AF_INET, h.c_str(), buf) == 1 || inet_pton(AF_INET6, h.c_str(), buf) == 1;
}

void PublicSuffixList::add_rule(std::string_view rule) {
    RuleSet* set = &normal_;
    if (rule.substr(0, 1) == "!") {
        set = &exception_;
        rule.remove_prefix(1);
    } else if (rule.substr(0, 2) == "*.") {
        set = &wildcard_;
        rule.remove_prefix(2);
    }
    if (rule.empty()) return;
    std::string text(rule);
    for (char& c : text)
        c = lower(c);
    if (!is_ascii(text)) {
        std::string puny;
        for (std::string_view label : split_labels(text)) {
            std::string p = punycode_label(label);
            if (p.empty()) return;  // not UTF-8: ignore the rule rather than mangle it
            if (!puny.empty()) puny += '.';
            puny += p;
        }
        set->insert(std::move(puny));
    }
    set->insert(std::move(text));
}

PublicSuffixList PublicSuffixList::parse(std::string_view text) {
    PublicSuffixList list;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t eol = text.find('\n', pos);
        if (eol == std::string_view::npos) eol = text.size();
        std::string_view line = text.substr(pos, eol - pos);
        pos = eol + 1;
        // A rule is the first whitespace-delimited token of its line.
        size_t b = line.find_first_not_of(" \t\r");
        if (b == std::string_view::npos) continue;
        line.remove_prefix(b);
        line = line.substr(0, line.find_first_of(" \t\r"));
        if (line.substr(0, 2) == "//") continue;
        list.add_rule(line);
    }
    return list;
}

std::unique_ptr<PublicSuffixList> PublicSuffixList::load(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return nullptr;
    std::stringstream ss;
    ss << in.rdbuf();
    auto list = std::make_unique<PublicSuffixList>(parse(ss.str()));
    if (list->rule_count() == 0) return nullptr;
    return list;
}

PublicSuffixList PublicSuffixList::builtin() {
    PublicSuffixList list;
    for (const char* r : kBuiltinRules)
        list.add_rule(r);
    return list;
}

const PublicSuffixList& PublicSuffixList::instance() {
    // A function-local static: initialised once, thread-safe, never destroyed
    // before its users (it is only read after construction).
    static const PublicSuffixList list = [] {
        if (auto loaded = load(kDefaultPath)) return std::move(*loaded);
        log::warning("psl",
                     "cannot read {}: using a built-in list of common public suffixes (install "
                     "the 'publicsuffix' package for the full list)",
                     kDefaultPath);
        return builtin();
    }();
    return list;
}

std::string PublicSuffixList::public_suffix(std::string_view host) const {
    std::vector<std::string_view> labels = split_labels(host);
    const size_t n = labels.size();
    // suffix(i) is labels[i..n) joined: a view into host.
    auto suffix = [&](size_t i) {
        return host.substr(static_cast<size_t>(labels[i].data() - host.data()));
    };
    size_t best = n - 1;  // the implicit "*" rule: the last label
    for (size_t i = 0; i < n; ++i) {
        std::string_view s = suffix(i);
        // An exception rule prevails over everything; its suffix is the rule
        // without its leftmost label.
        if (exception_.find(s) != exception_.end())
            return std::string(i + 1 < n ? suffix(i + 1) : s);
        bool match = normal_.find(s) != normal_.end() ||
                     (i + 1 < n && wildcard_.find(suffix(i + 1)) != wildcard_.end());
        // Labels are scanned left to right, so the first match is the longest.
        if (match && i < best) best = i;
    }
    return std::string(suffix(best));
}

std::string PublicSuffixList::registrable_domain(std::string_view raw_host) const {
    std::string host = normalize_host(raw_host);
    if (host.empty() || host.find('.') == std::string::npos || is_ip_literal(host)) return host;
    std::string ps = public_suffix(host);
    if (ps.size() >= host.size()) return host;
    // One more label to the left of the suffix.
    std::string_view rest(host.data(), host.size() - ps.size() - 1);
    size_t dot = rest.rfind('.');
    return host.substr(dot == std::string_view::npos ? 0 : dot + 1);
}

std::string registrable_domain(std::string_view host) {
    return PublicSuffixList::instance().registrable_domain(host);
}

}  // namespace byparr
