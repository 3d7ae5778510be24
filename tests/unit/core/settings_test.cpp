// The one parsing rule for settings (sdk/include/byparr/settings.hpp), shared by the host's
// configuration and plugins' typed getters.
#include <gtest/gtest.h>
#include <byparr/settings.hpp>

#include <cstdlib>

#include "core/config.h"

namespace byparr {
namespace {

using namespace std::chrono_literals;

TEST(Settings, BooleansInAnyCaseWithBlanks) {
    bool b = false;
    for (const char* t : {"1", "true", "TRUE", "Yes", " on "}) {
        b = false;
        EXPECT_TRUE(settings::parse_bool(t, &b)) << t;
        EXPECT_TRUE(b) << t;
    }
    for (const char* f : {"0", "false", "No", "OFF"}) {
        b = true;
        EXPECT_TRUE(settings::parse_bool(f, &b)) << f;
        EXPECT_FALSE(b) << f;
    }
    EXPECT_FALSE(settings::parse_bool("maybe", &b));
    EXPECT_FALSE(settings::parse_bool("2", &b));
}

TEST(Settings, IntegersWithinBounds) {
    int64_t n = 0;
    EXPECT_TRUE(settings::parse_int(" 42 ", 0, 100, &n));
    EXPECT_EQ(n, 42);
    EXPECT_TRUE(settings::parse_int("-5", -10, 10, &n));
    EXPECT_EQ(n, -5);
    EXPECT_FALSE(settings::parse_int("101", 0, 100, &n));
    EXPECT_FALSE(settings::parse_int("4x", 0, 100, &n));
    EXPECT_FALSE(settings::parse_int("", 0, 100, &n));
    EXPECT_FALSE(settings::parse_int("99999999999999999999", 0, INT64_MAX, &n));
}

TEST(Settings, DurationsCountSecondsWithoutAUnit) {
    std::chrono::milliseconds d{};
    EXPECT_TRUE(settings::parse_duration("30", &d));
    EXPECT_EQ(d, 30s);
    EXPECT_TRUE(settings::parse_duration("30s", &d));
    EXPECT_EQ(d, 30s);
    EXPECT_TRUE(settings::parse_duration("250ms", &d));
    EXPECT_EQ(d, 250ms);
    EXPECT_TRUE(settings::parse_duration("5m", &d));
    EXPECT_EQ(d, 5min);
    EXPECT_TRUE(settings::parse_duration("2h", &d));
    EXPECT_EQ(d, 2h);
    EXPECT_FALSE(settings::parse_duration("-1s", &d));
    EXPECT_FALSE(settings::parse_duration("1.5s", &d));
    EXPECT_FALSE(settings::parse_duration("3 days", &d));
    EXPECT_FALSE(settings::parse_duration("s", &d));
}

TEST(Settings, ListsAreTrimmedWithoutEmptyItems) {
    EXPECT_EQ(settings::parse_list(" a, b,,c ,"), (std::vector<std::string>{"a", "b", "c"}));
    EXPECT_TRUE(settings::parse_list(" , ").empty());
}

TEST(Settings, HostReadsTheWholeEnvironmentButNeverHandsOnTheApiKey) {
    // A name the host has never heard of: plugins that declare it must be able to read it.
    ::setenv("BYPARR_TEST_STRANGER_SETTING", "from the environment", 1);
    ::setenv("API_KEY", "secret", 1);
    std::string err;
    auto c = Config::from_env(&err);
    ::unsetenv("BYPARR_TEST_STRANGER_SETTING");
    ::unsetenv("API_KEY");
    ASSERT_TRUE(c) << err;
    EXPECT_EQ(c->raw.at("BYPARR_TEST_STRANGER_SETTING"), "from the environment");
    EXPECT_EQ(c->raw.count("API_KEY"), 0u);
    EXPECT_EQ(c->api_key, "secret");
}

}  // namespace
}  // namespace byparr
