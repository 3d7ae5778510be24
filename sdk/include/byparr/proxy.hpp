// The one proxy value type of the host, the SDK and the in-tree plugins (a request's proxy,
// a pool entry, PROXY_URL, a browser worker's upstream). Header-only C++17, so a plugin
// gets it with the SDK alone; the C ABI keeps its byparr_proxy of char* fields, converted
// at the marshalling edge.
#ifndef BYPARR_PROXY_HPP
#define BYPARR_PROXY_HPP

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>

namespace byparr {

enum class ProxyScheme { kNone, kHttp, kHttps, kSocks4, kSocks5 };

struct Proxy {
    Proxy() = default;
    // Not an aggregate, so Proxy{url, user, password} stays warning-free as fields grow.
    Proxy(std::string u, std::string user = {}, std::string pass = {}, std::string tz = {})
        : url(std::move(u)),
          username(std::move(user)),
          password(std::move(pass)),
          timezone(std::move(tz)) {}

    // As it was given: what tells two proxies apart (cache keys, browser workers). Empty:
    // no proxy.
    std::string url;
    std::string username, password;  // credentials are secrets: never log them
    // IANA zone the pages of a request (or session) through this proxy present, because
    // the client or the proxy pool named it (ABI 1.1); empty: the solver's default. Not
    // part of the proxy's identity.
    std::string timezone;

    bool empty() const { return url.empty(); }

    // The parts of `url` (scheme://[userinfo@]host[:port][/...]): the scheme case-blind,
    // the host without an IPv6 literal's brackets, the port 0 when absent or not a port.
    // kNone / empty / 0 when the URL has no scheme this type knows.
    ProxyScheme scheme() const { return parts().scheme; }
    std::string host() const { return std::string(parts().host); }
    int port() const { return parts().port; }
    bool socks() const {
        ProxyScheme s = scheme();
        return s == ProxyScheme::kSocks4 || s == ProxyScheme::kSocks5;
    }

    // "scheme://host:port" without credentials (brackets kept for IPv6), safe to log and to
    // pass on a command line; empty when the URL does not parse with a port.
    std::string redacted() const {
        Parts p = parts();
        if (p.scheme == ProxyScheme::kNone || p.host.empty() || p.port == 0) return {};
        std::string h(p.host);
        if (h.find(':') != std::string::npos) h = "[" + h + "]";
        return std::string(scheme_name(p.scheme)) + "://" + h + ":" + std::to_string(p.port);
    }

    static std::string_view scheme_name(ProxyScheme s) {
        switch (s) {
            case ProxyScheme::kHttp:
                return "http";
            case ProxyScheme::kHttps:
                return "https";
            case ProxyScheme::kSocks4:
                return "socks4";
            case ProxyScheme::kSocks5:
                return "socks5";
            case ProxyScheme::kNone:
                break;
        }
        return "";
    }

  private:
    struct Parts {
        ProxyScheme scheme = ProxyScheme::kNone;
        std::string_view host;
        int port = 0;
    };

    static bool iequals(std::string_view a, std::string_view b) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i) {
            char c = a[i];
            if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
            if (c != b[i]) return false;
        }
        return true;
    }

    Parts parts() const {
        Parts p;
        std::string_view u = url;
        std::size_t sep = u.find("://");
        if (sep == std::string_view::npos) return p;
        for (ProxyScheme s :
             {ProxyScheme::kHttp, ProxyScheme::kHttps, ProxyScheme::kSocks4, ProxyScheme::kSocks5})
            if (iequals(u.substr(0, sep), scheme_name(s))) p.scheme = s;
        if (p.scheme == ProxyScheme::kNone) return p;
        std::string_view auth = u.substr(sep + 3);
        auth = auth.substr(0, auth.find('/'));
        if (std::size_t at = auth.rfind('@'); at != std::string_view::npos)
            auth.remove_prefix(at + 1);
        std::string_view port;
        if (!auth.empty() && auth.front() == '[') {
            std::size_t close = auth.find(']');
            if (close == std::string_view::npos) return Parts{p.scheme, {}, 0};
            p.host = auth.substr(1, close - 1);
            if (close + 1 < auth.size()) {
                if (auth[close + 1] != ':') return Parts{p.scheme, {}, 0};
                port = auth.substr(close + 2);
            }
        } else {
            std::size_t colon = auth.rfind(':');
            p.host = auth.substr(0, colon);
            if (colon != std::string_view::npos) port = auth.substr(colon + 1);
        }
        if (port.empty() || port.size() > 5) return p;
        int n = 0;
        for (char c : port) {
            if (c < '0' || c > '9') return p;
            n = n * 10 + (c - '0');
        }
        if (n > 0 && n < 65536) p.port = n;
        return p;
    }
};

}  // namespace byparr

#endif  // BYPARR_PROXY_HPP
