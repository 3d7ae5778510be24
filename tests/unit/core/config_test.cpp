// Settings added for operability (issue #15): each bad value refuses to start with a
// message naming the variable, as the older ones do.
#include "core/config.h"

#include <gtest/gtest.h>

namespace byparr {
namespace {

std::string error_of(const std::map<std::string, std::string>& env) {
    std::string err;
    auto c = Config::from_map(env, &err);
    return c ? "" : err;
}

TEST(Config, OperabilityDefaults) {
    std::string err;
    auto c = Config::from_map({}, &err);
    ASSERT_TRUE(c) << err;
    EXPECT_EQ(c->browser_sandbox, "auto");
    EXPECT_FALSE(c->prometheus_enabled);
    EXPECT_EQ(c->prometheus_port, 8192);
}

TEST(Config, BadOperabilitySettingsAreRefusedByName) {
    EXPECT_EQ(error_of({{"BROWSER_SANDBOX", "maybe"}}),
              "BROWSER_SANDBOX='maybe' is not one of auto, on, off");
    EXPECT_EQ(error_of({{"PROMETHEUS_ENABLED", "sure"}}),
              "PROMETHEUS_ENABLED='sure' is not a boolean");
    EXPECT_EQ(error_of({{"PROMETHEUS_PORT", "0"}}),
              "PROMETHEUS_PORT='0' is not a port number (1-65535)");
    EXPECT_EQ(error_of({{"BROWSER_POOL_IDLE_TIMEOUT", "0"}}),
              "BROWSER_POOL_IDLE_TIMEOUT='0' is not a number of seconds (1-86400)");
    EXPECT_EQ(error_of({{"BROWSER_SANDBOX", "off"},
                        {"PROMETHEUS_ENABLED", "true"},
                        {"PROMETHEUS_PORT", "9100"},
                        {"BROWSER_POOL_IDLE_TIMEOUT", "45"}}),
              "");
}

TEST(Config, EscalateAfterDefaultsTo15AndZeroTurnsItOff) {
    std::string err;
    auto c = Config::from_map({}, &err);
    ASSERT_TRUE(c) << err;
    EXPECT_EQ(c->escalate_after_s, 15u);
    c = Config::from_map({{"ESCALATE_AFTER", "0"}}, &err);
    ASSERT_TRUE(c) << err;
    EXPECT_EQ(c->escalate_after_s, 0u);
    EXPECT_EQ(c->raw.at("ESCALATE_AFTER"), "0");
    EXPECT_EQ(error_of({{"ESCALATE_AFTER", "-1"}}),
              "ESCALATE_AFTER='-1' is not a number of seconds (0-3600; 0: no escalation)");
    EXPECT_EQ(error_of({{"ESCALATE_AFTER", "15s"}}),
              "ESCALATE_AFTER='15s' is not a number of seconds (0-3600; 0: no escalation)");
}

TEST(Config, SolversAreTrimmed) {
    std::string err;
    auto c = Config::from_map({{"SOLVERS", " webengine , cookie-import,,"}}, &err);
    ASSERT_TRUE(c) << err;
    EXPECT_EQ(c->solvers, (std::vector<std::string>{"webengine", "cookie-import"}));
}

}  // namespace
}  // namespace byparr
