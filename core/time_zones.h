// Time zones a proxy names: a country's principal IANA zone, zone-name checks, and the
// `#tz=`/`#country=` annotation of a proxy-pool entry. Pages should present the zone of
// the exit IP, and a proxy's country is what an operator knows about it (issue #13).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/v1_request.h"

namespace byparr {

/// The principal zone of an ISO 3166-1 alpha-2 country ("de" or "DE" -> "Europe/Berlin"),
/// from the table in time_zones.cpp; nullopt for a code it does not list.
std::optional<std::string_view> zone_of_country(std::string_view country);

/// True for a name shaped like an IANA zone ("Europe/Berlin", "UTC", "Etc/GMT+5",
/// "America/Argentina/Buenos_Aires"); false for POSIX rules ("CET-1CEST"), paths and
/// anything else. Whether the browser knows the zone is the browser's to say.
bool is_zone_name(std::string_view zone);

/// The zone of a proxy given as `timezone` and/or `country` (the request's proxy object,
/// or a pool entry's annotation): the zone when given, else the country's. Sets *error
/// (starting with `field`, e.g. "Request parameter 'proxy.") and returns nullopt when either is
/// invalid; "" when neither is given.
std::optional<std::string> proxy_zone(std::string_view timezone, std::string_view country,
                                      std::string_view field, std::string* error);

/// A proxy-pool entry (PROXY_LIST, a proxy provider's pick): the URL, with an optional
/// annotation after '#' that no proxy URL needs otherwise:
///   http://user:pass@host:port#country=DE
///   socks5://host:1080#tz=America/New_York
///   http://host:port#country=US&tz=America/Chicago     (tz wins)
/// An entry without '#' is the URL as before. On a bad annotation *error says why and the
/// proxy is kept without a zone.
Proxy proxy_from_pool_entry(std::string_view entry, std::string* error);

}  // namespace byparr
