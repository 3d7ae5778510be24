#include "cookie_parsers.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>
#include <thread>

#include "cookie_store.h"

namespace byparr::cookie_import {
namespace {

const int64_t kFuture = 4102444800;  // 2100-01-01

TEST(NetscapeCookies, ParsesFieldsCommentsAndHttpOnlyPrefix) {
    auto r = parse_netscape(
        "# Netscape HTTP Cookie File\n"
        "# User-Agent: Mozilla/5.0 Test\n"
        "\n"
        ".example.com\tTRUE\t/\tFALSE\t4102444800\tcf_clearance\tabc\r\n"
        "#HttpOnly_www.example.com\tFALSE\t/app\tTRUE\t0\tsid\txyz\n"
        "other.test\tFALSE\t/\tFALSE\t4102444800\tempty\n");
    ASSERT_TRUE(r.ok()) << r.error_text();
    EXPECT_EQ(r.user_agent, "Mozilla/5.0 Test");
    ASSERT_EQ(r.cookies.size(), 3u);
    const auto& a = r.cookies[0];
    EXPECT_EQ(a.domain, "example.com");
    EXPECT_FALSE(a.host_only);
    EXPECT_EQ(a.reported_domain(), ".example.com");
    EXPECT_EQ(a.name, "cf_clearance");
    EXPECT_EQ(a.value, "abc");
    EXPECT_EQ(a.expires_s, kFuture);
    EXPECT_FALSE(a.http_only);
    const auto& b = r.cookies[1];
    EXPECT_TRUE(b.http_only);
    EXPECT_TRUE(b.host_only);
    EXPECT_TRUE(b.secure);
    EXPECT_EQ(b.domain, "www.example.com");
    EXPECT_EQ(b.path, "/app");
    EXPECT_EQ(b.expires_s, -1);  // 0 is a session cookie
    EXPECT_EQ(r.cookies[2].value, "");
}

TEST(NetscapeCookies, AcceptsSpacesWhereTabsWereLost) {
    auto r = parse_netscape(".a.test  TRUE  /  FALSE  4102444800  n  v\n");
    ASSERT_TRUE(r.ok()) << r.error_text();
    ASSERT_EQ(r.cookies.size(), 1u);
    EXPECT_EQ(r.cookies[0].value, "v");
}

TEST(NetscapeCookies, ReportsTheLineOfAMalformedEntry) {
    auto r = parse_netscape(
        "# comment\n"
        ".a.test\tTRUE\t/\tFALSE\t4102444800\tok\t1\n"
        ".a.test\tTRUE\t/\n");
    EXPECT_FALSE(r.ok());
    EXPECT_EQ(r.error_line, 3);
    EXPECT_NE(r.error_text().find("line 3"), std::string::npos) << r.error_text();
    auto bad_flag = parse_netscape(".a.test\tMAYBE\t/\tFALSE\t0\tn\tv\n");
    EXPECT_EQ(bad_flag.error_line, 1);
    EXPECT_NE(bad_flag.error.find("MAYBE"), std::string::npos);
    auto bad_expiry = parse_netscape("\n\n.a.test\tTRUE\t/\tFALSE\tsoon\tn\tv\n");
    EXPECT_EQ(bad_expiry.error_line, 3);
}

TEST(JsonCookies, ParsesBrowserExtensionExport) {
    auto r = parse_json(R"([
  {"domain": ".example.com", "expirationDate": 4102444800.5, "hostOnly": false,
   "httpOnly": true, "name": "cf_clearance", "path": "/", "sameSite": "no_restriction",
   "secure": true, "session": false, "storeId": "0", "value": "abc"},
  {"domain": "www.example.com", "hostOnly": true, "httpOnly": false, "name": "s",
   "path": "/", "sameSite": "unspecified", "secure": false, "session": true, "value": "\u00e9"}
])");
    ASSERT_TRUE(r.ok()) << r.error_text();
    ASSERT_EQ(r.cookies.size(), 2u);
    EXPECT_EQ(r.cookies[0].domain, "example.com");
    EXPECT_FALSE(r.cookies[0].host_only);
    EXPECT_EQ(r.cookies[0].expires_s, kFuture);
    EXPECT_EQ(r.cookies[0].same_site, "None");
    EXPECT_TRUE(r.cookies[0].http_only && r.cookies[0].secure);
    EXPECT_TRUE(r.cookies[1].host_only);
    EXPECT_EQ(r.cookies[1].expires_s, -1);
    EXPECT_EQ(r.cookies[1].same_site, "");
    EXPECT_EQ(r.cookies[1].value, "\xC3\xA9");
}

TEST(JsonCookies, WrapperCarriesUserAgent) {
    auto r = parse_cookie_file(
        R"({"userAgent": "UA/1", "cookies": [{"name": "a", "value": "1", "domain": "x.test"}]})");
    ASSERT_TRUE(r.ok()) << r.error_text();
    EXPECT_EQ(r.user_agent, "UA/1");
    ASSERT_EQ(r.cookies.size(), 1u);
    EXPECT_TRUE(r.cookies[0].host_only);  // no hostOnly, no leading dot
}

TEST(JsonCookies, ReportsSyntaxAndFieldErrorsWithLines) {
    auto syntax = parse_json("[\n  {\"name\": \"a\",\n   \"domain\" \"x\"}\n]");
    EXPECT_FALSE(syntax.ok());
    EXPECT_EQ(syntax.error_line, 3);
    auto field =
        parse_json("[\n {\"name\": \"a\", \"domain\": \"x.test\"},\n {\"value\": \"1\"}\n]");
    EXPECT_FALSE(field.ok());
    EXPECT_EQ(field.error_line, 3);
    EXPECT_NE(field.error.find("name"), std::string::npos);
    auto type = parse_json("[{\"name\": \"a\", \"domain\": \"x.test\", \"secure\": \"yes\"}]");
    EXPECT_FALSE(type.ok());
    EXPECT_NE(type.error.find("secure"), std::string::npos);
}

TEST(CookieMatching, DomainAndHostOnlyRules) {
    ImportedCookie dom;
    dom.domain = "example.com";
    ImportedCookie host = dom;
    host.host_only = true;
    EXPECT_TRUE(domain_matches(dom, "example.com"));
    EXPECT_TRUE(domain_matches(dom, "www.example.com"));
    EXPECT_FALSE(domain_matches(dom, "badexample.com"));
    EXPECT_FALSE(domain_matches(dom, "example.com.evil"));
    EXPECT_TRUE(domain_matches(host, "example.com"));
    EXPECT_FALSE(domain_matches(host, "www.example.com"));
}

TEST(CookieMatching, PathSecureAndExpiry) {
    EXPECT_TRUE(path_matches("/", "/anything"));
    EXPECT_TRUE(path_matches("/app", "/app"));
    EXPECT_TRUE(path_matches("/app", "/app/x"));
    EXPECT_FALSE(path_matches("/app", "/application"));
    EXPECT_TRUE(path_matches("/app/", "/app/x"));

    ImportedCookie c;
    c.domain = "example.com";
    c.secure = true;
    int64_t now = 1700000000;
    EXPECT_TRUE(cookie_applies(c, *split_url("https://example.com/x?q=1"), now));
    EXPECT_FALSE(cookie_applies(c, *split_url("http://example.com/x"), now));
    c.secure = false;
    c.expires_s = now - 1;
    EXPECT_FALSE(cookie_applies(c, *split_url("http://example.com/"), now));
    c.expires_s = now + 10;
    EXPECT_TRUE(cookie_applies(c, *split_url("http://user:pw@EXAMPLE.com:8080"), now));
}

class CookieStoreTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::path(::testing::TempDir()) /
               ("cookie-store-" + std::to_string(getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        std::filesystem::remove_all(dir_);
        store_ =
            std::make_unique<CookieStore>(dir_.string(), [this](char level, const std::string& m) {
                logs_.push_back(std::string(1, level) + " " + m);
            });
    }
    void TearDown() override { std::filesystem::remove_all(dir_); }

    // Writes like byparrctl does (temp + rename), with a distinct mtime.
    void write(const std::string& name, const std::string& text) {
        auto tmp = dir_ / ("." + name + ".tmp");
        std::ofstream(tmp) << text;
        std::filesystem::rename(tmp, dir_ / name);
        auto t = std::filesystem::last_write_time(dir_ / name);
        std::filesystem::last_write_time(dir_ / name, t + std::chrono::seconds(++bump_));
        std::filesystem::last_write_time(
            dir_, std::filesystem::last_write_time(dir_) + std::chrono::seconds(bump_));
    }

    std::filesystem::path dir_;
    std::unique_ptr<CookieStore> store_;
    std::vector<std::string> logs_;
    int bump_ = 0;
};

TEST_F(CookieStoreTest, PicksUpNewFilesAndTheirUserAgent) {
    EXPECT_TRUE(store_->lookup("https://example.com/").empty());
    write("a.txt", "# User-Agent: UA/A\n.example.com\tTRUE\t/\tFALSE\t4102444800\tk\t1\n");
    auto m = store_->lookup("https://www.example.com/page");
    ASSERT_EQ(m.cookies.size(), 1u);
    EXPECT_EQ(m.user_agent, "UA/A");
    EXPECT_TRUE(store_->lookup("https://other.test/").empty());
}

TEST_F(CookieStoreTest, SidecarUserAgentWins) {
    std::ofstream(dir_ / "b.json.ua") << "UA/Sidecar\n";
    write("b.json", R"([{"name":"k","value":"2","domain":".example.com"}])");
    auto m = store_->lookup("https://example.com/");
    ASSERT_EQ(m.cookies.size(), 1u);
    EXPECT_EQ(m.user_agent, "UA/Sidecar");
}

TEST_F(CookieStoreTest, MalformedRewriteKeepsOldCookiesAndLogsLine) {
    write("a.txt", ".example.com\tTRUE\t/\tFALSE\t4102444800\tk\tgood\n");
    ASSERT_EQ(store_->lookup("https://example.com/").cookies.size(), 1u);
    write("a.txt", ".example.com\tTRUE\t/\tFALSE\t4102444800\tk\tnew\n.example.com\tTRUE\n");
    auto m = store_->lookup("https://example.com/");
    ASSERT_EQ(m.cookies.size(), 1u);
    EXPECT_EQ(m.cookies[0].value, "good");
    bool logged = false;
    for (const auto& l : logs_)
        logged |= l[0] == 'e' && l.find("a.txt") != std::string::npos &&
                  l.find("line 2") != std::string::npos;
    EXPECT_TRUE(logged);
    // Logged once, not on every lookup.
    size_t errors = logs_.size();
    store_->lookup("https://example.com/");
    EXPECT_EQ(logs_.size(), errors);
}

TEST_F(CookieStoreTest, NewerFileWinsAndRemovedFileIsDropped) {
    write("old.txt", ".example.com\tTRUE\t/\tFALSE\t4102444800\tk\told\n");
    write("new.txt", "# User-Agent: UA/new\n.example.com\tTRUE\t/\tFALSE\t4102444800\tk\tnew\n");
    auto m = store_->lookup("https://example.com/");
    ASSERT_EQ(m.cookies.size(), 1u);
    EXPECT_EQ(m.cookies[0].value, "new");
    EXPECT_EQ(m.user_agent, "UA/new");
    std::filesystem::remove(dir_ / "new.txt");
    std::filesystem::last_write_time(
        dir_, std::filesystem::last_write_time(dir_) + std::chrono::seconds(100));
    m = store_->lookup("https://example.com/");
    ASSERT_EQ(m.cookies.size(), 1u);
    EXPECT_EQ(m.cookies[0].value, "old");
}

TEST_F(CookieStoreTest, ExpiredCookiesAreIgnored) {
    write("a.txt", ".example.com\tTRUE\t/\tFALSE\t1000\tgone\t1\n");
    EXPECT_TRUE(store_->lookup("https://example.com/").empty());
}

}  // namespace
}  // namespace byparr::cookie_import
