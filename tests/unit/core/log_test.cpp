#include "core/log.h"

#include <Poco/JSON/Parser.h>
#include <gtest/gtest.h>

namespace byparr {
namespace {

TEST(Log, JsonFormatWritesOneParsableObjectPerLine) {
    log::configure("info", "json");
    testing::internal::CaptureStderr();
    log::write(log::Level::kInfo, "v1", "request \"quoted\"", {{"id", "000001"}, {"domain", "a.test"}});
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

}  // namespace
}  // namespace byparr
