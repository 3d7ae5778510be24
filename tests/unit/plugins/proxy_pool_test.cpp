#include "proxy_pool.h"

#include <gtest/gtest.h>

namespace byparr::proxy_rotation {
namespace {

using namespace std::chrono_literals;
using Clock = ProxyPool::Clock;

const std::vector<std::string> kThree = {"http://a:1", "http://b:2", "http://c:3"};

TEST(ProxyList, NormalisesAndRejectsEntries) {
    std::string err;
    EXPECT_EQ(normalise_proxy_url("host:8080", &err), "http://host:8080");
    EXPECT_EQ(normalise_proxy_url("socks5://u:p@h:1080/", &err), "socks5://u:p@h:1080");
    EXPECT_FALSE(normalise_proxy_url("ftp://h:21", &err));
    EXPECT_FALSE(normalise_proxy_url("http://u:secret@h", &err));
    EXPECT_EQ(err.find("secret"), std::string::npos) << "credentials leaked: " << err;
    EXPECT_FALSE(normalise_proxy_url("http://h:99999", &err));
}

TEST(ProxyList, SplitsCommasLinesAndComments) {
    auto v = split_proxy_list("# pool\nhttp://a:1, http://b:2\n\nsocks5://c:3 # spare\n");
    ASSERT_EQ(v.size(), 3u);
    EXPECT_EQ(v[0], "http://a:1");
    EXPECT_EQ(v[1], "http://b:2");
    EXPECT_EQ(v[2], "socks5://c:3");
}

TEST(ProxyList, KeepsAZoneAnnotationAndRejectsAMalformedOne) {
    std::string err;
    EXPECT_EQ(normalise_proxy_url("u:p@h:8080#country=DE", &err), "http://u:p@h:8080#country=DE");
    EXPECT_EQ(normalise_proxy_url("socks5://h:1080#tz=America/New_York", &err),
              "socks5://h:1080#tz=America/New_York");
    EXPECT_EQ(normalise_proxy_url("http://h:1#country=US&tz=America/Chicago", &err),
              "http://h:1#country=US&tz=America/Chicago");
    EXPECT_FALSE(normalise_proxy_url("http://h:1#country=DEU", &err));
    EXPECT_FALSE(normalise_proxy_url("http://h:1#zone=Europe/Berlin", &err));
    EXPECT_FALSE(normalise_proxy_url("http://h:1#tz=Europe/Berlin;rm", &err));
    EXPECT_NE(err.find("tz=Area/City"), std::string::npos) << err;
    // Inside an entry '#' is its annotation; at the start of one it is a comment.
    auto v = split_proxy_list("# pool\nhttp://a:1#country=FR, http://b:2 # spare\n");
    ASSERT_EQ(v.size(), 2u);
    EXPECT_EQ(v[0], "http://a:1#country=FR");
}

TEST(ProxyPool, ReportMatchesAnAnnotatedEntryByItsUrl) {
    ProxyPool pool({"http://a:1#country=DE", "http://b:2"}, Strategy::kRotateOnBlock, 60s);
    auto t = Clock::now();
    EXPECT_EQ(pool.pick("http://x.test/", t), "http://a:1#country=DE");
    // The host reports the URL it used, without the annotation.
    EXPECT_TRUE(pool.report("http://a:1", "", Feedback::kBlocked, t));
    EXPECT_EQ(pool.pick("http://x.test/", t), "http://b:2");
}

TEST(ProxyList, RedactsPasswords) {
    EXPECT_EQ(redact("http://user:pw@h:1"), "http://user:***@h:1");
    EXPECT_EQ(redact("http://h:1"), "http://h:1");
}

TEST(SiteKey, UsesRegistrableDomain) {
    EXPECT_EQ(site_key("www.example.com"), "example.com");
    EXPECT_EQ(site_key("a.b.example.co.uk"), "example.co.uk");
    EXPECT_EQ(site_key("example.com"), "example.com");
    EXPECT_EQ(site_key("127.0.0.1"), "127.0.0.1");
    EXPECT_EQ(site_key("x.y.de"), "y.de");
}

TEST(ProxyPool, RoundRobinCyclesAndSkipsBenched) {
    ProxyPool pool(kThree, Strategy::kRoundRobin, 300s);
    auto t = Clock::now();
    EXPECT_EQ(pool.pick("http://s.test/", t), "http://a:1");
    EXPECT_EQ(pool.pick("http://s.test/", t), "http://b:2");
    EXPECT_EQ(pool.pick("http://s.test/", t), "http://c:3");
    EXPECT_EQ(pool.pick("http://s.test/", t), "http://a:1");
    EXPECT_TRUE(pool.report("http://b:2", "http://s.test/", Feedback::kProxyFailure, t));
    EXPECT_EQ(pool.pick("http://s.test/", t), "http://c:3");
    EXPECT_EQ(pool.pick("http://s.test/", t), "http://a:1");
    // Blocks do not bench under round-robin: the next request has another IP anyway.
    EXPECT_FALSE(pool.report("http://a:1", "http://s.test/", Feedback::kBlocked, t));
    // The bench ends: b is back.
    EXPECT_EQ(pool.pick("http://s.test/", t + 301s), "http://b:2");
}

TEST(ProxyPool, AllBenchedOrEmptyIsNothing) {
    ProxyPool empty({}, Strategy::kRoundRobin, 300s);
    EXPECT_FALSE(empty.pick("http://s.test/"));
    ProxyPool pool({"http://a:1"}, Strategy::kRoundRobin, 300s);
    auto t = Clock::now();
    pool.report("http://a:1", "", Feedback::kProxyFailure, t);
    EXPECT_FALSE(pool.pick("http://s.test/", t + 10s));
    EXPECT_EQ(pool.benched(t + 10s), 1u);
    EXPECT_TRUE(pool.pick("http://s.test/", t + 300s));
}

TEST(ProxyPool, StickyPerSiteKeepsProxyUntilItFails) {
    ProxyPool pool(kThree, Strategy::kStickyPerSite, 60s);
    auto t = Clock::now();
    auto first = pool.pick("https://www.one.test/a", t);
    EXPECT_EQ(pool.pick("https://cdn.one.test/b", t), first);
    auto other = pool.pick("https://two.test/", t);
    EXPECT_NE(other, first);
    EXPECT_EQ(pool.pick("https://one.test/", t), first);
    EXPECT_TRUE(pool.report(*first, "https://one.test/", Feedback::kBlocked, t));
    auto moved = pool.pick("https://one.test/", t);
    ASSERT_TRUE(moved);
    EXPECT_NE(moved, first);
    EXPECT_EQ(pool.pick("https://one.test/", t), moved);
}

TEST(ProxyPool, RotateOnBlockStaysUntilBlocked) {
    ProxyPool pool(kThree, Strategy::kRotateOnBlock, 60s);
    auto t = Clock::now();
    EXPECT_EQ(pool.pick("http://x.test/", t), "http://a:1");
    EXPECT_EQ(pool.pick("http://y.test/", t), "http://a:1");
    EXPECT_FALSE(pool.report("http://a:1", "", Feedback::kOther, t));
    EXPECT_EQ(pool.pick("http://x.test/", t), "http://a:1");
    EXPECT_TRUE(pool.report("http://a:1", "", Feedback::kBlocked, t));
    EXPECT_EQ(pool.pick("http://x.test/", t), "http://b:2");
    EXPECT_EQ(pool.pick("http://x.test/", t), "http://b:2");
}

}  // namespace
}  // namespace byparr::proxy_rotation
