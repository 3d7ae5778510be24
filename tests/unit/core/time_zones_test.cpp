#include "core/time_zones.h"

#include <gtest/gtest.h>

namespace byparr {
namespace {

TEST(TimeZones, CountryGivesItsPrincipalZone) {
    EXPECT_EQ(zone_of_country("DE"), "Europe/Berlin");
    EXPECT_EQ(zone_of_country("de"), "Europe/Berlin");
    // Several zones: the capital's, not zone.tab's first (west to east).
    EXPECT_EQ(zone_of_country("US"), "America/New_York");
    EXPECT_EQ(zone_of_country("RU"), "Europe/Moscow");
    EXPECT_EQ(zone_of_country("CA"), "America/Toronto");
    EXPECT_EQ(zone_of_country("AU"), "Australia/Sydney");
    EXPECT_EQ(zone_of_country("BR"), "America/Sao_Paulo");
    // The name Chromium 102's ICU knows.
    EXPECT_EQ(zone_of_country("UA"), "Europe/Kiev");
    EXPECT_EQ(zone_of_country("AD"), "Europe/Andorra");  // first row
    EXPECT_EQ(zone_of_country("ZW"), "Africa/Harare");   // last row
    EXPECT_FALSE(zone_of_country("XX"));
    EXPECT_FALSE(zone_of_country("DEU"));
    EXPECT_FALSE(zone_of_country(""));
}

TEST(TimeZones, ZoneNamesOnly) {
    EXPECT_TRUE(is_zone_name("Europe/Berlin"));
    EXPECT_TRUE(is_zone_name("UTC"));
    EXPECT_TRUE(is_zone_name("Etc/GMT+5"));
    EXPECT_TRUE(is_zone_name("America/Argentina/Buenos_Aires"));
    EXPECT_FALSE(is_zone_name("CET-1CEST"));
    EXPECT_FALSE(is_zone_name("../../etc/passwd"));
    EXPECT_FALSE(is_zone_name("/etc/localtime"));
    EXPECT_FALSE(is_zone_name("Europe/Berlin; rm"));
    EXPECT_FALSE(is_zone_name(""));
}

TEST(TimeZones, PoolEntryAnnotationNamesTheZone) {
    std::string err;
    auto p = proxy_from_pool_entry("http://u:p@h:1#country=JP", &err);
    EXPECT_EQ(p.url, "http://u:p@h:1");
    EXPECT_EQ(p.timezone, "Asia/Tokyo");
    EXPECT_EQ(err, "");
    p = proxy_from_pool_entry("socks5://h:1#country=US&tz=America/Chicago", &err);
    EXPECT_EQ(p.url, "socks5://h:1");
    EXPECT_EQ(p.timezone, "America/Chicago");
    p = proxy_from_pool_entry("http://h:1", &err);
    EXPECT_EQ(p.url, "http://h:1");
    EXPECT_EQ(p.timezone, "");
    // A bad annotation keeps the proxy, without a zone, and says why.
    p = proxy_from_pool_entry("http://h:1#country=XX", &err);
    EXPECT_EQ(p.url, "http://h:1");
    EXPECT_EQ(p.timezone, "");
    EXPECT_NE(err.find("'XX'"), std::string::npos) << err;
}

}  // namespace
}  // namespace byparr
