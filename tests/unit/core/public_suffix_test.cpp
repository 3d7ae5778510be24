#include "core/public_suffix.h"

#include <gtest/gtest.h>

#include <filesystem>

namespace byparr {
namespace {

// A list with every rule kind, independent of the system file's contents.
const char* kRules = R"(// ===BEGIN ICANN DOMAINS===
com
uk
co.uk
jp
*.kawasaki.jp
!city.kawasaki.jp
*.ck
!www.ck
// comment lines and blank lines are skipped

cn
公司.cn
github.io   trailing text after whitespace is ignored
)";

TEST(PublicSuffix, NormalRulesGiveSuffixPlusOneLabel) {
    auto psl = PublicSuffixList::parse(kRules);
    EXPECT_EQ(psl.registrable_domain("a.b.example.co.uk"), "example.co.uk");
    EXPECT_EQ(psl.registrable_domain("example.co.uk"), "example.co.uk");
    EXPECT_EQ(psl.registrable_domain("www.example.com"), "example.com");
    EXPECT_EQ(psl.registrable_domain("user.github.io"), "user.github.io");
    EXPECT_EQ(psl.public_suffix("a.b.example.co.uk"), "co.uk");
}

TEST(PublicSuffix, WildcardAndExceptionRules) {
    auto psl = PublicSuffixList::parse(kRules);
    // "*.kawasaki.jp": every label under kawasaki.jp is a public suffix…
    EXPECT_EQ(psl.public_suffix("shop.foo.kawasaki.jp"), "foo.kawasaki.jp");
    EXPECT_EQ(psl.registrable_domain("www.shop.foo.kawasaki.jp"), "shop.foo.kawasaki.jp");
    // …except city.kawasaki.jp, which is registrable itself.
    EXPECT_EQ(psl.public_suffix("www.city.kawasaki.jp"), "kawasaki.jp");
    EXPECT_EQ(psl.registrable_domain("www.city.kawasaki.jp"), "city.kawasaki.jp");
    EXPECT_EQ(psl.registrable_domain("a.b.c.ck"), "b.c.ck");
    EXPECT_EQ(psl.registrable_domain("www.ck"), "www.ck");
}

TEST(PublicSuffix, UnlistedTldUsesTheImplicitStarRule) {
    auto psl = PublicSuffixList::parse(kRules);
    EXPECT_EQ(psl.public_suffix("a.b.example.zz"), "zz");
    EXPECT_EQ(psl.registrable_domain("a.b.example.zz"), "example.zz");
}

TEST(PublicSuffix, IpsLocalhostAndBareSuffixesAreThemselves) {
    auto psl = PublicSuffixList::parse(kRules);
    EXPECT_EQ(psl.registrable_domain("localhost"), "localhost");
    EXPECT_EQ(psl.registrable_domain("127.0.0.1"), "127.0.0.1");
    EXPECT_EQ(psl.registrable_domain("10.1.2.3:8080"), "10.1.2.3");
    EXPECT_EQ(psl.registrable_domain("[::1]:8191"), "::1");
    EXPECT_EQ(psl.registrable_domain("2001:db8::1"), "2001:db8::1");
    EXPECT_EQ(psl.registrable_domain("co.uk"), "co.uk");
    EXPECT_EQ(psl.registrable_domain(""), "");
}

TEST(PublicSuffix, HostIsNormalised) {
    auto psl = PublicSuffixList::parse(kRules);
    EXPECT_EQ(psl.registrable_domain("WWW.Example.CO.UK."), "example.co.uk");
    EXPECT_EQ(psl.registrable_domain("www.example.com:443"), "example.com");
    EXPECT_EQ(psl.registrable_domain(".example.com"), "example.com");  // cookie domain form
}

TEST(PublicSuffix, PunycodeMatchesUnicodeRules) {
    auto psl = PublicSuffixList::parse(kRules);
    EXPECT_EQ(psl.registrable_domain("www.shop.xn--55qx5d.cn"), "shop.xn--55qx5d.cn");
    EXPECT_EQ(psl.registrable_domain("www.shop.公司.cn"), "shop.公司.cn");
}

TEST(PublicSuffix, ProcessWideListCoversCommonSuffixesWithoutTheSystemFile) {
    // libpsl's compiled-in list: no file needed (minimal containers).
    const auto& psl = PublicSuffixList::instance();
    EXPECT_EQ(psl.registrable_domain("a.b.example.co.uk"), "example.co.uk");
    EXPECT_EQ(psl.registrable_domain("x.example.com.au"), "example.com.au");
    EXPECT_EQ(psl.registrable_domain("www.example.com"), "example.com");
    EXPECT_EQ(psl.registrable_domain("www.example.xyz"), "example.xyz");
    EXPECT_EQ(psl.registrable_domain("user.github.io"), "user.github.io");
}

TEST(PublicSuffix, LoadMissingFileFails) {
    EXPECT_EQ(PublicSuffixList::load("/nonexistent/public_suffix_list.dat"), nullptr);
}

TEST(PublicSuffix, SystemListWhenInstalled) {
    if (!std::filesystem::exists(PublicSuffixList::kDefaultPath))
        GTEST_SKIP() << PublicSuffixList::kDefaultPath << " missing (package 'publicsuffix')";
    auto psl = PublicSuffixList::load(PublicSuffixList::kDefaultPath);
    ASSERT_NE(psl, nullptr);
    EXPECT_GT(psl->rule_count(), 5000u);
    EXPECT_EQ(psl->registrable_domain("a.b.example.co.uk"), "example.co.uk");
    EXPECT_EQ(psl->registrable_domain("www.city.kawasaki.jp"), "city.kawasaki.jp");
    EXPECT_EQ(psl->registrable_domain("foo.bar.kawasaki.jp"), "foo.bar.kawasaki.jp");
    EXPECT_EQ(psl->registrable_domain("nowsecure.nl"), "nowsecure.nl");
    // The process-wide instance and the free function use the same list.
    EXPECT_EQ(registrable_domain("x.y.example.co.uk"), "example.co.uk");
    EXPECT_EQ(registrable_domain("localhost"), "localhost");
}

}  // namespace
}  // namespace byparr
