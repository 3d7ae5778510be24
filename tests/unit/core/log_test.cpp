#include "core/log.h"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

namespace byparr {
namespace {

TEST(Log, JsonFormatWritesOneParsableObjectPerLine) {
    log::configure("info", "json");
    testing::internal::CaptureStderr();
    log::write(log::Level::kInfo, "v1", "request \"quoted\"",
               {{"id", "000001"}, {"domain", "a.test"}});
    log::debug("v1", "not shown at info");
    std::string out = testing::internal::GetCapturedStderr();
    log::configure("info", "text");
    ASSERT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
    Poco::JSON::Parser p;
    auto o = p.parse(out).extract<Poco::JSON::Object::Ptr>();
    EXPECT_EQ(o->getValue<std::string>("level"), "info");
    EXPECT_EQ(o->getValue<std::string>("msg"), "request \"quoted\"");
    EXPECT_EQ(o->getValue<std::string>("domain"), "a.test");
}

TEST(Log, JsonWritesMeasuresAsNumbersAndIdsAsStrings) {
    log::configure("info", "json");
    testing::internal::CaptureStderr();
    log::write(log::Level::kInfo, "access", "x",
               {{"id", "000123"}, {"status", "503"}, {"duration_ms", "12.5"},
                {"memory_bytes", "007"}, {"delay_ms", "soon"}});
    std::string out = testing::internal::GetCapturedStderr();
    log::configure("info", "text");
    Poco::JSON::Parser p;
    auto o = p.parse(out).extract<Poco::JSON::Object::Ptr>();
    EXPECT_TRUE(o->get("id").isString());
    EXPECT_EQ(o->getValue<std::string>("id"), "000123");
    EXPECT_FALSE(o->get("status").isString()) << out;
    EXPECT_EQ(o->getValue<int>("status"), 503);
    EXPECT_FALSE(o->get("duration_ms").isString()) << out;
    EXPECT_DOUBLE_EQ(o->getValue<double>("duration_ms"), 12.5);
    EXPECT_TRUE(o->get("memory_bytes").isString()) << "a leading zero is not a JSON number";
    EXPECT_TRUE(o->get("delay_ms").isString());
}

TEST(Log, LevelFiltersBelowIt) {
    log::configure("warning", "text");
    testing::internal::CaptureStderr();
    log::info("x", "hidden");
    log::warning("x", "shown");
    std::string out = testing::internal::GetCapturedStderr();
    log::configure("info", "text");
    EXPECT_EQ(out.find("hidden"), std::string::npos);
    EXPECT_NE(out.find("shown"), std::string::npos);
}

TEST(Log, RedactsProxyCredentials) {
    EXPECT_EQ(log::redact_url("http://user:pw@proxy:8080/"), "http://***@proxy:8080/");
    EXPECT_EQ(log::redact_url("socks5://proxy:1080"), "socks5://proxy:1080");
    EXPECT_EQ(log::redact_url("http://host/path@x"), "http://host/path@x");
}

TEST(Log, RedactsUrlsInFreeText) {
    EXPECT_EQ(log::redact_text("net::ERR_X loading https://u:p@t.test/rss?passkey=abc&q=1 now"),
              "net::ERR_X loading https://***@t.test/rss?*** now");
    EXPECT_EQ(log::redact_text("'http://a.test/x#tok' and socks5://user:pw@127.0.0.1:1080"),
              "'http://a.test/x?***' and socks5://***@127.0.0.1:1080");
    EXPECT_EQ(log::redact_text("no url :// here"), "no url :// here");
    EXPECT_EQ(log::redact_text("plain http://a.test/path"), "plain http://a.test/path");
}

TEST(Log, WriteRedactsAboveDebugOnly) {
    log::configure("debug", "text");
    testing::internal::CaptureStderr();
    log::info("v1", "failed loading http://a.test/?apikey=SECRET1");
    log::debug("v1", "debug keeps http://a.test/?apikey=SECRET2");
    std::string out = testing::internal::GetCapturedStderr();
    log::configure("info", "text");
    EXPECT_EQ(out.find("SECRET1"), std::string::npos) << out;
    EXPECT_NE(out.find("SECRET2"), std::string::npos) << out;
}

}  // namespace
}  // namespace byparr
