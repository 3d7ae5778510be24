// What a clearance is valid for: the (site, user agent, proxy) key of the
// clearance cache, and how it is derived from a request. Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "core/v1_request.h"

namespace byparr {

/// What a clearance is valid for.
struct ClearanceKey {
    std::string site;        // registrable domain of the URL host ("example.co.uk")
    std::string user_agent;  // the UA the cookies were obtained with
    std::string proxy;       // proxy_identity(): "" for none; never holds a password
    bool operator==(const ClearanceKey&) const = default;

    /// site + proxy: the single-flight key and the key of get_any_agent().
    std::string site_proxy() const { return site + '|' + proxy; }
};

/// "scheme://[user@]host:port" of a proxy, lower-cased, without the password
/// (neither Proxy::password nor one embedded in the URL): two proxy
/// accounts are different exits, but the password must not reach the cache
/// file, Redis or `byparrctl cache list`. "" for no proxy.
std::string proxy_identity(const Proxy& proxy);

/// registrable_domain() of the URL's host; "" when the URL has no host.
std::string site_of_url(std::string_view url);

/// {site_of_url(url), user_agent, proxy_identity(proxy)}.
ClearanceKey make_clearance_key(std::string_view url, std::string_view user_agent,
                                const Proxy& proxy);

}  // namespace byparr
