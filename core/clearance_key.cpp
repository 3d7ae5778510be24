#include "core/clearance_key.h"

#include <cctype>

#include "core/public_suffix.h"
#include "core/strings.h"

namespace byparr {

namespace {

// The authority of a URL ("user:pw@host:port"), "" if it has none.
std::string_view authority_of(std::string_view url) {
    size_t p = url.find("://");
    if (p == std::string_view::npos) return {};
    url.remove_prefix(p + 3);
    return url.substr(0, url.find_first_of("/?#"));
}

}  // namespace

std::string proxy_identity(const Proxy& proxy) {
    if (proxy.url.empty()) return "";
    std::string_view url = proxy.url;
    size_t p = url.find("://");
    std::string scheme = p == std::string_view::npos ? "http" : ascii_lower(url.substr(0, p));
    std::string_view auth = authority_of(url);
    if (p == std::string_view::npos) auth = url.substr(0, url.find_first_of("/?#"));
    std::string user = proxy.username;
    size_t at = auth.rfind('@');
    if (at != std::string_view::npos) {
        std::string_view info = auth.substr(0, at);
        if (user.empty()) user = std::string(info.substr(0, info.find(':')));
        auth.remove_prefix(at + 1);
    }
    std::string id = scheme + "://";
    if (!user.empty()) id += user + "@";
    return id + ascii_lower(auth);
}

std::string site_of_url(std::string_view url) {
    std::string_view auth = authority_of(url);
    size_t at = auth.rfind('@');
    if (at != std::string_view::npos) auth.remove_prefix(at + 1);
    return registrable_domain(auth);
}

ClearanceKey make_clearance_key(std::string_view url, std::string_view user_agent,
                                const Proxy& proxy) {
    return ClearanceKey{site_of_url(url), std::string(user_agent), proxy_identity(proxy)};
}

}  // namespace byparr
