// Per-request time zones (issue #13): a zone a request's proxy names (its `timezone`, or
// its `country` through core/time_zones.cpp's table), a proxy-pool entry's `#country=`,
// and a session's zone reach the page's Date and Intl through POST /v1, on top of TZ.
#include <gtest/gtest.h>

#include <string>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "tests/support/byparr_server.h"
#include "tests/support/test_site.h"

namespace byparr::test {
namespace {

struct PageZone {
    std::string zone;
    int offset_january = 0;
    int offset_now = 0;
    std::string error;  // the envelope's message when the request failed
};

// The /timezone page's report, through POST /v1 with `extra` members.
PageZone page_zone(const ByparrServer& server, const std::string& url, const std::string& extra) {
    auto o = server.v1_json(get_body(url, 30000, extra));
    PageZone z;
    if (o->getValue<std::string>("status") != "ok") {
        z.error = o->getValue<std::string>("message");
        return z;
    }
    const std::string html = o->getObject("solution")->getValue<std::string>("response");
    auto b = html.find("<pre id=\"tz\">"), e = html.find("</pre>");
    if (b == std::string::npos || e == std::string::npos) {
        z.error = "no report in the page: " + html.substr(0, 300);
        return z;
    }
    b += 13;
    Poco::JSON::Parser p;
    auto r = p.parse(html.substr(b, e - b)).extract<Poco::JSON::Object::Ptr>();
    z.zone = r->getValue<std::string>("zone");
    z.offset_january = r->getValue<int>("offsetJanuary");
    z.offset_now = r->getValue<int>("offsetNow");
    return z;
}

class Timezone : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        site_ = new TestSite();
        proxy_ = new TestProxy({.host_map = {{"site.test", "127.0.0.1"}}});
        server_ = new ByparrServer({.env = {{"TZ", "UTC"}}});
    }
    static void TearDownTestSuite() {
        delete server_;
        delete proxy_;
        delete site_;
    }
    static std::string url() { return site_->url("/timezone"); }
    static inline TestSite* site_ = nullptr;
    static inline TestProxy* proxy_ = nullptr;
    static inline ByparrServer* server_ = nullptr;
};

TEST_F(Timezone, RequestProxyZoneAndCountryReachDateAndIntlThenTzReturns) {
    // An explicit proxy with a zone (and a URL-less one: the zone is for a direct exit),
    // so the pool is not asked.
    auto berlin = page_zone(*server_, url(), R"("proxy":{"country":"de"})");
    ASSERT_EQ(berlin.error, "");
    EXPECT_EQ(berlin.zone, "Europe/Berlin");
    EXPECT_EQ(berlin.offset_january, -60);
    EXPECT_TRUE(berlin.offset_now == -60 || berlin.offset_now == -120) << berlin.offset_now;

    auto tokyo = page_zone(*server_, url(), R"("proxy":{"timezone":"Asia/Tokyo","country":"DE"})");
    ASSERT_EQ(tokyo.error, "");
    EXPECT_EQ(tokyo.zone, "Asia/Tokyo");  // an explicit zone wins over the country
    EXPECT_EQ(tokyo.offset_january, -540);
    EXPECT_EQ(tokyo.offset_now, -540);

    auto through_proxy =
        page_zone(*server_, "http://site.test:" + std::to_string(site_->port()) + "/timezone",
                  R"("proxy":{"url":")" + proxy_->url() + R"(","country":"US"})");
    ASSERT_EQ(through_proxy.error, "");
    EXPECT_EQ(through_proxy.zone, "America/New_York");
    EXPECT_EQ(through_proxy.offset_january, 300);

    // The pages are reused: a request naming no zone gets TZ's again, not the last one's.
    auto plain = page_zone(*server_, url(), R"("proxy":{})");
    ASSERT_EQ(plain.error, "");
    EXPECT_EQ(plain.zone, "UTC");
    EXPECT_EQ(plain.offset_now, 0);
}

TEST_F(Timezone, ProxyPoolEntryCountryReachesThePage) {
    // No proxy in the request: proxy-rotation picks "<proxy>#country=BR" from PROXY_LIST.
    ByparrServer pooled({.env = {{"TZ", "UTC"}, {"PROXY_LIST", proxy_->url() + "#country=BR"}}});
    const std::string site = "http://site.test:" + std::to_string(site_->port()) + "/timezone";
    auto z = page_zone(pooled, site, "");
    ASSERT_EQ(z.error, "");
    EXPECT_EQ(z.zone, "America/Sao_Paulo");
    EXPECT_EQ(z.offset_january, 180);  // no daylight saving since 2019
    // The client's own zone wins over the pool entry's.
    auto own = page_zone(pooled, site, R"("proxy":{"country":"JP"})");
    ASSERT_EQ(own.error, "");
    EXPECT_EQ(own.zone, "Asia/Tokyo");
}

TEST_F(Timezone, SessionKeepsTheZoneOfItsProxy) {
    auto created =
        server_->v1_json(R"({"cmd":"sessions.create","session":"tz-s1","proxy":{"country":"JP"}})");
    ASSERT_EQ(created->getValue<std::string>("status"), "ok");
    auto first = page_zone(*server_, url(), R"("session":"tz-s1")");
    ASSERT_EQ(first.error, "");
    EXPECT_EQ(first.zone, "Asia/Tokyo");
    // A session keeps its proxy, and so its zone, whatever a later request says.
    auto second = page_zone(*server_, url(), R"("session":"tz-s1","proxy":{"country":"DE"})");
    ASSERT_EQ(second.error, "");
    EXPECT_EQ(second.zone, "Asia/Tokyo");
    server_->v1(R"({"cmd":"sessions.destroy","session":"tz-s1"})");
}

TEST_F(Timezone, InvalidZonesAreClearErrorsInTheEnvelope) {
    // Not shaped like a zone: refused before any page is loaded.
    auto posix = page_zone(*server_, url(), R"("proxy":{"timezone":"CET-1CEST"})");
    EXPECT_EQ(posix.error,
              "Error: Request parameter 'proxy.timezone' = 'CET-1CEST' is not an IANA time zone "
              "name (such as Europe/Berlin).");
    auto country = page_zone(*server_, url(), R"("proxy":{"country":"XX"})");
    EXPECT_EQ(country.error,
              "Error: Request parameter 'proxy.country' = 'XX' is not an ISO 3166 country code "
              "(two letters, such as DE).");
    // Shaped like one, but no such zone exists: the worker's refusal, as an error.
    auto mars = page_zone(*server_, url(), R"("proxy":{"timezone":"Mars/Olympus_Mons"})");
    EXPECT_EQ(mars.error, "Error: Unknown time zone 'Mars/Olympus_Mons'") << mars.zone;
    // And the next request gets TZ's zone.
    auto after = page_zone(*server_, url(), "");
    ASSERT_EQ(after.error, "");
    EXPECT_EQ(after.zone, "UTC");
}

}  // namespace
}  // namespace byparr::test
