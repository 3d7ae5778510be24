#include "proxy_pool.h"

#include <algorithm>
#include <cctype>

namespace byparr::proxy_rotation {
namespace {

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

bool is_ip_literal(std::string_view host) {
    if (host.find(':') != std::string_view::npos) return true;
    return !host.empty() && std::all_of(host.begin(), host.end(),
                                        [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

std::string host_of(std::string_view url) {
    auto sep = url.find("://");
    std::string_view rest = sep == std::string_view::npos ? url : url.substr(sep + 3);
    rest = rest.substr(0, rest.find_first_of("/?#"));
    if (auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
    if (!rest.empty() && rest.front() == '[') return lower(rest.substr(1, rest.find(']') - 1));
    return lower(rest.substr(0, rest.find(':')));
}

}  // namespace

std::optional<Strategy> parse_strategy(std::string_view name) {
    std::string n = lower(name);
    if (n.empty() || n == "round-robin") return Strategy::kRoundRobin;
    if (n == "sticky-per-site") return Strategy::kStickyPerSite;
    if (n == "rotate-on-block") return Strategy::kRotateOnBlock;
    return std::nullopt;
}

const char* to_string(Strategy s) {
    switch (s) {
        case Strategy::kRoundRobin:
            return "round-robin";
        case Strategy::kStickyPerSite:
            return "sticky-per-site";
        case Strategy::kRotateOnBlock:
            return "rotate-on-block";
    }
    return "?";
}

std::string_view without_annotation(std::string_view entry) {
    return entry.substr(0, entry.find('#'));
}

std::optional<std::string> normalise_proxy_url(std::string_view entry, std::string* error) {
    auto fail = [&](const std::string& why) -> std::optional<std::string> {
        if (error) *error = "'" + redact(entry) + "': " + why;
        return std::nullopt;
    };
    // "#country=DE" / "#tz=Europe/Berlin": the exit's zone, for the host (core/time_zones.h,
    // which also resolves the country). Only its shape is checked here.
    std::string annotation;
    if (auto hash = entry.find('#'); hash != std::string_view::npos) {
        annotation = std::string(entry.substr(hash));
        entry = entry.substr(0, hash);
        std::string_view rest = std::string_view(annotation).substr(1);
        while (true) {
            auto amp = rest.find('&');
            std::string_view item = rest.substr(0, amp);
            auto eq = item.find('=');
            std::string_view key = item.substr(0, eq), value;
            if (eq != std::string_view::npos) value = item.substr(eq + 1);
            bool ok = false;
            if (key == "country")
                ok = value.size() == 2 && std::all_of(value.begin(), value.end(), [](char c) {
                         return std::isalpha(static_cast<unsigned char>(c));
                     });
            else if (key == "tz" || key == "timezone")
                ok = !value.empty() && value.size() <= 64 &&
                     std::all_of(value.begin(), value.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '/' ||
                                c == '_' || c == '-' || c == '+';
                     });
            if (!ok)
                return fail("annotation '" + std::string(item) +
                            "' is not country=CC or tz=Area/City");
            if (amp == std::string_view::npos) break;
            rest = rest.substr(amp + 1);
        }
    }
    std::string url(entry);
    auto sep = url.find("://");
    if (sep == std::string::npos) {
        url = "http://" + url;  // bare host:port is an HTTP proxy, as curl reads it
        sep = 4;
    }
    std::string scheme = lower(url.substr(0, sep));
    if (scheme != "http" && scheme != "https" && scheme != "socks4" && scheme != "socks4a" &&
        scheme != "socks5" && scheme != "socks5h")
        return fail("scheme must be http, https, socks4 or socks5");
    std::string rest = url.substr(sep + 3);
    while (!rest.empty() && rest.back() == '/')
        rest.pop_back();
    if (rest.find_first_of("/?#") != std::string::npos) return fail("a proxy URL has no path");
    std::string hostport =
        rest.substr(rest.rfind('@') == std::string::npos ? 0 : rest.rfind('@') + 1);
    std::string port;
    if (!hostport.empty() && hostport.front() == '[') {
        auto close = hostport.find(']');
        if (close == std::string::npos) return fail("unterminated IPv6 address");
        if (close + 1 < hostport.size()) {
            if (hostport[close + 1] != ':') return fail("expected ':' after the IPv6 address");
            port = hostport.substr(close + 2);
        }
        if (close == 1) return fail("no host");
    } else {
        auto colon = hostport.rfind(':');
        if (colon == 0 || hostport.empty()) return fail("no host");
        if (colon != std::string::npos)
            port = hostport.substr(colon + 1);
        else
            return fail("no port (host:port)");
    }
    if (port.empty() || port.size() > 5 ||
        !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }) ||
        std::stoi(port) == 0 || std::stoi(port) > 65535)
        return fail("invalid port '" + port + "'");
    return scheme + "://" + rest + annotation;
}

std::vector<std::string> split_proxy_list(std::string_view text) {
    std::vector<std::string> out;
    std::string cur;
    bool comment = false;
    auto flush = [&] {
        if (!cur.empty()) out.push_back(cur);
        cur.clear();
    };
    for (char c : text) {
        if (c == '\n') {
            comment = false;
            flush();
        } else if (comment) {
            continue;
        } else if (c == '#' && cur.empty()) {
            comment = true;
        } else if (c == ',' || c == ' ' || c == '\t' || c == '\r') {
            flush();
        } else {
            cur += c;
        }
    }
    flush();
    return out;
}

std::string redact(std::string_view proxy_url) {
    std::string u(proxy_url);
    auto sep = u.find("://");
    size_t start = sep == std::string::npos ? 0 : sep + 3;
    auto at = u.find('@', start);
    if (at == std::string::npos) return u;
    auto colon = u.find(':', start);
    if (colon != std::string::npos && colon < at) return u.substr(0, colon) + ":***" + u.substr(at);
    return u;
}

std::string site_key(std::string_view host_in) {
    std::string host = lower(host_in);
    while (!host.empty() && host.back() == '.')
        host.pop_back();
    if (is_ip_literal(host)) return host;
    std::vector<std::string_view> labels;
    std::string_view h = host;
    size_t start = 0;
    while (true) {
        size_t dot = h.find('.', start);
        labels.push_back(h.substr(start, dot == std::string_view::npos ? dot : dot - start));
        if (dot == std::string_view::npos) break;
        start = dot + 1;
    }
    if (labels.size() <= 2) return host;
    size_t n = labels.size();
    static const char* const kGenericSecondLevel[] = {"co",  "com", "net", "org", "gov", "ac",
                                                      "edu", "ne",  "or",  "go",  "gen", "ltd"};
    bool cc_second_level =
        labels[n - 1].size() == 2 &&
        std::any_of(std::begin(kGenericSecondLevel), std::end(kGenericSecondLevel),
                    [&](const char* s) { return labels[n - 2] == s; });
    size_t keep = cc_second_level ? 3 : 2;
    std::string out;
    for (size_t i = n - keep; i < n; ++i) {
        if (!out.empty()) out += '.';
        out += labels[i];
    }
    return out;
}

ProxyPool::ProxyPool(std::vector<std::string> proxies, Strategy strategy,
                     std::chrono::seconds bench)
    : proxies_(std::move(proxies)),
      strategy_(strategy),
      bench_(bench),
      bench_until_(proxies_.size()) {}

std::optional<size_t> ProxyPool::next_usable(size_t from, Clock::time_point now) const {
    for (size_t k = 0; k < proxies_.size(); ++k) {
        size_t i = (from + k) % proxies_.size();
        if (usable(i, now)) return i;
    }
    return std::nullopt;
}

std::optional<std::string> ProxyPool::pick(std::string_view url, Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mu_);
    if (proxies_.empty()) return std::nullopt;
    switch (strategy_) {
        case Strategy::kRoundRobin: {
            auto i = next_usable(next_, now);
            if (!i) return std::nullopt;
            next_ = (*i + 1) % proxies_.size();
            return proxies_[*i];
        }
        case Strategy::kStickyPerSite: {
            std::string site = site_key(host_of(url));
            auto it = sticky_.find(site);
            if (it != sticky_.end() && usable(it->second, now)) return proxies_[it->second];
            // New site, or its proxy is benched: the next one in turn becomes its own.
            auto i = next_usable(next_, now);
            if (!i) return std::nullopt;
            next_ = (*i + 1) % proxies_.size();
            sticky_[site] = *i;
            return proxies_[*i];
        }
        case Strategy::kRotateOnBlock: {
            auto i = next_usable(current_, now);
            if (!i) return std::nullopt;
            current_ = *i;
            return proxies_[*i];
        }
    }
    return std::nullopt;
}

bool ProxyPool::report(std::string_view proxy, std::string_view, Feedback feedback,
                       Clock::time_point now) {
    bool bench = feedback == Feedback::kProxyFailure ||
                 (feedback == Feedback::kBlocked && strategy_ != Strategy::kRoundRobin);
    if (!bench) return false;
    std::lock_guard<std::mutex> lock(mu_);
    // The host reports the URL it used, without the pool entry's zone annotation.
    auto it = std::find_if(proxies_.begin(), proxies_.end(), [&](const std::string& p) {
        return without_annotation(p) == without_annotation(proxy);
    });
    if (it == proxies_.end()) return false;
    size_t i = static_cast<size_t>(it - proxies_.begin());
    bench_until_[i] = now + bench_;
    if (strategy_ == Strategy::kRotateOnBlock && current_ == i)
        current_ = (i + 1) % proxies_.size();
    return true;
}

size_t ProxyPool::benched(Clock::time_point now) {
    std::lock_guard<std::mutex> lock(mu_);
    size_t n = 0;
    for (size_t i = 0; i < proxies_.size(); ++i)
        n += usable(i, now) ? 0 : 1;
    return n;
}

}  // namespace byparr::proxy_rotation
