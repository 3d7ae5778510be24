#include "core/time_zones.h"
#include "core/strings.h"

#include <algorithm>
#include <cctype>
#include <iterator>

namespace byparr {
namespace {

struct CountryZone {
    const char* country;  // ISO 3166-1 alpha-2, upper case; the table is sorted by it
    const char* zone;
};

// One zone per country: the zone the most of a proxy's possible exit addresses would be in.
// Source: tzdata's zone.tab (Debian 12 tzdata 2025b, public domain), every country it lists.
// Choice rule: a country with one zone in zone.tab gets that zone; a country with several
// gets its capital's zone (US New_York, RU Moscow, CA Toronto, AU Sydney, BR Sao_Paulo,
// CN Shanghai, ...), because zone.tab orders zones west to east, not by population
// (its first RU zone is Kaliningrad). Names are ones every ICU knows: Europe/Kiev, not
// tzdata 2022b's Europe/Kyiv (ICU 72+). All 247 were checked through the worker on
// Debian 12 (system ICU 72): each reaches Intl, some under ICU's older canonical name
// (Asia/Kolkata reads Asia/Calcutta, as in a real Chrome). Regenerate with:
//   grep -v '^#' /usr/share/zoneinfo/zone.tab | awk 'NR==FNR{cap[$1]=$2;next}
//     !seen[$1]++ {print $1, ($1 in cap) ? cap[$1] : $3}' capitals.txt - | sort
// where capitals.txt has "CC Zone" lines for the multi-zone countries (their rows below).
constexpr CountryZone kCountryZones[] = {
    {"AD", "Europe/Andorra"},
    {"AE", "Asia/Dubai"},
    {"AF", "Asia/Kabul"},
    {"AG", "America/Antigua"},
    {"AI", "America/Anguilla"},
    {"AL", "Europe/Tirane"},
    {"AM", "Asia/Yerevan"},
    {"AO", "Africa/Luanda"},
    {"AQ", "Antarctica/McMurdo"},
    {"AR", "America/Argentina/Buenos_Aires"},
    {"AS", "Pacific/Pago_Pago"},
    {"AT", "Europe/Vienna"},
    {"AU", "Australia/Sydney"},
    {"AW", "America/Aruba"},
    {"AX", "Europe/Mariehamn"},
    {"AZ", "Asia/Baku"},
    {"BA", "Europe/Sarajevo"},
    {"BB", "America/Barbados"},
    {"BD", "Asia/Dhaka"},
    {"BE", "Europe/Brussels"},
    {"BF", "Africa/Ouagadougou"},
    {"BG", "Europe/Sofia"},
    {"BH", "Asia/Bahrain"},
    {"BI", "Africa/Bujumbura"},
    {"BJ", "Africa/Porto-Novo"},
    {"BL", "America/St_Barthelemy"},
    {"BM", "Atlantic/Bermuda"},
    {"BN", "Asia/Brunei"},
    {"BO", "America/La_Paz"},
    {"BQ", "America/Kralendijk"},
    {"BR", "America/Sao_Paulo"},
    {"BS", "America/Nassau"},
    {"BT", "Asia/Thimphu"},
    {"BW", "Africa/Gaborone"},
    {"BY", "Europe/Minsk"},
    {"BZ", "America/Belize"},
    {"CA", "America/Toronto"},
    {"CC", "Indian/Cocos"},
    {"CD", "Africa/Kinshasa"},
    {"CF", "Africa/Bangui"},
    {"CG", "Africa/Brazzaville"},
    {"CH", "Europe/Zurich"},
    {"CI", "Africa/Abidjan"},
    {"CK", "Pacific/Rarotonga"},
    {"CL", "America/Santiago"},
    {"CM", "Africa/Douala"},
    {"CN", "Asia/Shanghai"},
    {"CO", "America/Bogota"},
    {"CR", "America/Costa_Rica"},
    {"CU", "America/Havana"},
    {"CV", "Atlantic/Cape_Verde"},
    {"CW", "America/Curacao"},
    {"CX", "Indian/Christmas"},
    {"CY", "Asia/Nicosia"},
    {"CZ", "Europe/Prague"},
    {"DE", "Europe/Berlin"},
    {"DJ", "Africa/Djibouti"},
    {"DK", "Europe/Copenhagen"},
    {"DM", "America/Dominica"},
    {"DO", "America/Santo_Domingo"},
    {"DZ", "Africa/Algiers"},
    {"EC", "America/Guayaquil"},
    {"EE", "Europe/Tallinn"},
    {"EG", "Africa/Cairo"},
    {"EH", "Africa/El_Aaiun"},
    {"ER", "Africa/Asmara"},
    {"ES", "Europe/Madrid"},
    {"ET", "Africa/Addis_Ababa"},
    {"FI", "Europe/Helsinki"},
    {"FJ", "Pacific/Fiji"},
    {"FK", "Atlantic/Stanley"},
    {"FM", "Pacific/Pohnpei"},
    {"FO", "Atlantic/Faroe"},
    {"FR", "Europe/Paris"},
    {"GA", "Africa/Libreville"},
    {"GB", "Europe/London"},
    {"GD", "America/Grenada"},
    {"GE", "Asia/Tbilisi"},
    {"GF", "America/Cayenne"},
    {"GG", "Europe/Guernsey"},
    {"GH", "Africa/Accra"},
    {"GI", "Europe/Gibraltar"},
    {"GL", "America/Nuuk"},
    {"GM", "Africa/Banjul"},
    {"GN", "Africa/Conakry"},
    {"GP", "America/Guadeloupe"},
    {"GQ", "Africa/Malabo"},
    {"GR", "Europe/Athens"},
    {"GS", "Atlantic/South_Georgia"},
    {"GT", "America/Guatemala"},
    {"GU", "Pacific/Guam"},
    {"GW", "Africa/Bissau"},
    {"GY", "America/Guyana"},
    {"HK", "Asia/Hong_Kong"},
    {"HN", "America/Tegucigalpa"},
    {"HR", "Europe/Zagreb"},
    {"HT", "America/Port-au-Prince"},
    {"HU", "Europe/Budapest"},
    {"ID", "Asia/Jakarta"},
    {"IE", "Europe/Dublin"},
    {"IL", "Asia/Jerusalem"},
    {"IM", "Europe/Isle_of_Man"},
    {"IN", "Asia/Kolkata"},
    {"IO", "Indian/Chagos"},
    {"IQ", "Asia/Baghdad"},
    {"IR", "Asia/Tehran"},
    {"IS", "Atlantic/Reykjavik"},
    {"IT", "Europe/Rome"},
    {"JE", "Europe/Jersey"},
    {"JM", "America/Jamaica"},
    {"JO", "Asia/Amman"},
    {"JP", "Asia/Tokyo"},
    {"KE", "Africa/Nairobi"},
    {"KG", "Asia/Bishkek"},
    {"KH", "Asia/Phnom_Penh"},
    {"KI", "Pacific/Tarawa"},
    {"KM", "Indian/Comoro"},
    {"KN", "America/St_Kitts"},
    {"KP", "Asia/Pyongyang"},
    {"KR", "Asia/Seoul"},
    {"KW", "Asia/Kuwait"},
    {"KY", "America/Cayman"},
    {"KZ", "Asia/Almaty"},
    {"LA", "Asia/Vientiane"},
    {"LB", "Asia/Beirut"},
    {"LC", "America/St_Lucia"},
    {"LI", "Europe/Vaduz"},
    {"LK", "Asia/Colombo"},
    {"LR", "Africa/Monrovia"},
    {"LS", "Africa/Maseru"},
    {"LT", "Europe/Vilnius"},
    {"LU", "Europe/Luxembourg"},
    {"LV", "Europe/Riga"},
    {"LY", "Africa/Tripoli"},
    {"MA", "Africa/Casablanca"},
    {"MC", "Europe/Monaco"},
    {"MD", "Europe/Chisinau"},
    {"ME", "Europe/Podgorica"},
    {"MF", "America/Marigot"},
    {"MG", "Indian/Antananarivo"},
    {"MH", "Pacific/Majuro"},
    {"MK", "Europe/Skopje"},
    {"ML", "Africa/Bamako"},
    {"MM", "Asia/Yangon"},
    {"MN", "Asia/Ulaanbaatar"},
    {"MO", "Asia/Macau"},
    {"MP", "Pacific/Saipan"},
    {"MQ", "America/Martinique"},
    {"MR", "Africa/Nouakchott"},
    {"MS", "America/Montserrat"},
    {"MT", "Europe/Malta"},
    {"MU", "Indian/Mauritius"},
    {"MV", "Indian/Maldives"},
    {"MW", "Africa/Blantyre"},
    {"MX", "America/Mexico_City"},
    {"MY", "Asia/Kuala_Lumpur"},
    {"MZ", "Africa/Maputo"},
    {"NA", "Africa/Windhoek"},
    {"NC", "Pacific/Noumea"},
    {"NE", "Africa/Niamey"},
    {"NF", "Pacific/Norfolk"},
    {"NG", "Africa/Lagos"},
    {"NI", "America/Managua"},
    {"NL", "Europe/Amsterdam"},
    {"NO", "Europe/Oslo"},
    {"NP", "Asia/Kathmandu"},
    {"NR", "Pacific/Nauru"},
    {"NU", "Pacific/Niue"},
    {"NZ", "Pacific/Auckland"},
    {"OM", "Asia/Muscat"},
    {"PA", "America/Panama"},
    {"PE", "America/Lima"},
    {"PF", "Pacific/Tahiti"},
    {"PG", "Pacific/Port_Moresby"},
    {"PH", "Asia/Manila"},
    {"PK", "Asia/Karachi"},
    {"PL", "Europe/Warsaw"},
    {"PM", "America/Miquelon"},
    {"PN", "Pacific/Pitcairn"},
    {"PR", "America/Puerto_Rico"},
    {"PS", "Asia/Hebron"},
    {"PT", "Europe/Lisbon"},
    {"PW", "Pacific/Palau"},
    {"PY", "America/Asuncion"},
    {"QA", "Asia/Qatar"},
    {"RE", "Indian/Reunion"},
    {"RO", "Europe/Bucharest"},
    {"RS", "Europe/Belgrade"},
    {"RU", "Europe/Moscow"},
    {"RW", "Africa/Kigali"},
    {"SA", "Asia/Riyadh"},
    {"SB", "Pacific/Guadalcanal"},
    {"SC", "Indian/Mahe"},
    {"SD", "Africa/Khartoum"},
    {"SE", "Europe/Stockholm"},
    {"SG", "Asia/Singapore"},
    {"SH", "Atlantic/St_Helena"},
    {"SI", "Europe/Ljubljana"},
    {"SJ", "Arctic/Longyearbyen"},
    {"SK", "Europe/Bratislava"},
    {"SL", "Africa/Freetown"},
    {"SM", "Europe/San_Marino"},
    {"SN", "Africa/Dakar"},
    {"SO", "Africa/Mogadishu"},
    {"SR", "America/Paramaribo"},
    {"SS", "Africa/Juba"},
    {"ST", "Africa/Sao_Tome"},
    {"SV", "America/El_Salvador"},
    {"SX", "America/Lower_Princes"},
    {"SY", "Asia/Damascus"},
    {"SZ", "Africa/Mbabane"},
    {"TC", "America/Grand_Turk"},
    {"TD", "Africa/Ndjamena"},
    {"TF", "Indian/Kerguelen"},
    {"TG", "Africa/Lome"},
    {"TH", "Asia/Bangkok"},
    {"TJ", "Asia/Dushanbe"},
    {"TK", "Pacific/Fakaofo"},
    {"TL", "Asia/Dili"},
    {"TM", "Asia/Ashgabat"},
    {"TN", "Africa/Tunis"},
    {"TO", "Pacific/Tongatapu"},
    {"TR", "Europe/Istanbul"},
    {"TT", "America/Port_of_Spain"},
    {"TV", "Pacific/Funafuti"},
    {"TW", "Asia/Taipei"},
    {"TZ", "Africa/Dar_es_Salaam"},
    {"UA", "Europe/Kiev"},
    {"UG", "Africa/Kampala"},
    {"UM", "Pacific/Midway"},
    {"US", "America/New_York"},
    {"UY", "America/Montevideo"},
    {"UZ", "Asia/Tashkent"},
    {"VA", "Europe/Vatican"},
    {"VC", "America/St_Vincent"},
    {"VE", "America/Caracas"},
    {"VG", "America/Tortola"},
    {"VI", "America/St_Thomas"},
    {"VN", "Asia/Ho_Chi_Minh"},
    {"VU", "Pacific/Efate"},
    {"WF", "Pacific/Wallis"},
    {"WS", "Pacific/Apia"},
    {"YE", "Asia/Aden"},
    {"YT", "Indian/Mayotte"},
    {"ZA", "Africa/Johannesburg"},
    {"ZM", "Africa/Lusaka"},
    {"ZW", "Africa/Harare"},
};

bool zone_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '/' || c == '_' || c == '-' ||
           c == '+';
}

}  // namespace

std::optional<std::string_view> zone_of_country(std::string_view country) {
    if (country.size() != 2) return std::nullopt;
    char cc[3] = {ascii_upper(country[0]), ascii_upper(country[1]), 0};
    auto it =
        std::lower_bound(std::begin(kCountryZones), std::end(kCountryZones), std::string_view(cc),
                         [](const CountryZone& z, std::string_view key) {
                             return std::string_view(z.country) < key;
                         });
    if (it == std::end(kCountryZones) || std::string_view(it->country) != cc) return std::nullopt;
    return std::string_view(it->zone);
}

bool is_zone_name(std::string_view s) {
    if (s.empty() || s.size() > 64 || s.find("..") != std::string_view::npos) return false;
    if (s.front() == '/' || s.back() == '/' || s.front() == '-') return false;
    if (!std::all_of(s.begin(), s.end(), zone_char)) return false;
    // A POSIX rule ("CET-1CEST", "EST5EDT,M3.2.0") has digits without a '/'; zone names with
    // digits ("Etc/GMT+5") have one.
    const bool digits = s.find_first_of("0123456789") != std::string_view::npos;
    return !digits || s.find('/') != std::string_view::npos;
}

std::optional<std::string> proxy_zone(std::string_view timezone, std::string_view country,
                                      std::string_view field, std::string* error) {
    auto fail = [&](const std::string& m) -> std::optional<std::string> {
        if (error) *error = m;
        return std::nullopt;
    };
    const std::string f(field);
    if (!timezone.empty()) {
        if (!is_zone_name(timezone))
            return fail(f + "timezone' = '" + std::string(timezone.substr(0, 64)) +
                        "' is not an IANA time zone name (such as Europe/Berlin).");
        return std::string(timezone);
    }
    if (!country.empty()) {
        auto zone = zone_of_country(country);
        if (!zone)
            return fail(f + "country' = '" + std::string(country.substr(0, 8)) +
                        "' is not an ISO 3166 country code (two letters, such as DE).");
        return std::string(*zone);
    }
    return std::string();
}

Proxy proxy_from_pool_entry(std::string_view entry, std::string* error) {
    Proxy p;
    auto hash = entry.find('#');
    p.url = std::string(entry.substr(0, hash));
    if (hash == std::string_view::npos) return p;
    std::string tz, country, bad;
    std::string_view rest = entry.substr(hash + 1);
    while (!rest.empty()) {
        auto amp = rest.find('&');
        std::string_view item = rest.substr(0, amp);
        rest = amp == std::string_view::npos ? std::string_view() : rest.substr(amp + 1);
        auto eq = item.find('=');
        std::string_view key = item.substr(0, eq);
        std::string_view value = eq == std::string_view::npos ? "" : item.substr(eq + 1);
        if (key == "tz" || key == "timezone")
            tz = value;
        else if (key == "country")
            country = value;
        else if (!item.empty() && bad.empty())
            bad = item;
    }
    std::string why;
    if (auto zone = proxy_zone(tz, country, "the pool entry's '#", &why)) {
        p.timezone = *zone;
    } else if (error) {
        *error = why;
    }
    if (!bad.empty() && error && error->empty())
        *error = "unknown annotation '" + bad.substr(0, 32) + "' (expected tz=ZONE or country=CC)";
    return p;
}

}  // namespace byparr
