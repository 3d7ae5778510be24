#include <byparr/proxy.hpp>

#include <gtest/gtest.h>

namespace byparr {
namespace {

TEST(Proxy, SplitsItsUrlIntoSchemeHostAndPort) {
    Proxy p("HTTP://user:pw@proxy.lan:3128/", "alice", "secret");
    EXPECT_EQ(p.scheme(), ProxyScheme::kHttp);
    EXPECT_EQ(p.host(), "proxy.lan");
    EXPECT_EQ(p.port(), 3128);
    EXPECT_FALSE(p.socks());
    Proxy v6("socks5://[::1]:1080");
    EXPECT_EQ(v6.scheme(), ProxyScheme::kSocks5);
    EXPECT_EQ(v6.host(), "::1");
    EXPECT_EQ(v6.port(), 1080);
    EXPECT_TRUE(v6.socks());
    EXPECT_TRUE(Proxy("socks4://h:1").socks());
    EXPECT_EQ(Proxy("https://h:443").scheme(), ProxyScheme::kHttps);
}

TEST(Proxy, AnUnknownSchemeOrABadPortParsesAsNothing) {
    EXPECT_EQ(Proxy("ftp://h:21").scheme(), ProxyScheme::kNone);
    EXPECT_EQ(Proxy("h:8080").scheme(), ProxyScheme::kNone);
    EXPECT_EQ(Proxy("http://h").port(), 0);
    EXPECT_EQ(Proxy("http://h:99999").port(), 0);
    EXPECT_EQ(Proxy("http://h:80?x").port(), 0);
    EXPECT_EQ(Proxy("http://[::1").host(), "");
    EXPECT_TRUE(Proxy().empty());
    EXPECT_EQ(Proxy().scheme(), ProxyScheme::kNone);
}

TEST(Proxy, RedactedHasNoCredentials) {
    Proxy p("http://user:pw@proxy.lan:3128/path", "alice", "secret");
    EXPECT_EQ(p.redacted(), "http://proxy.lan:3128");
    EXPECT_EQ(Proxy("SOCKS5://[::1]:01080").redacted(), "socks5://[::1]:1080");
    EXPECT_EQ(Proxy("http://h").redacted(), "");
    EXPECT_EQ(Proxy().redacted(), "");
}

}  // namespace
}  // namespace byparr
