// BLOCK_PRIVATE_TARGETS' classifier: every forbidden range, the IPv6 forms that
// carry an IPv4 address, the allow-list and name checks with a fake resolver.
#include "core/target_guard.h"

#include <gtest/gtest.h>

#include <map>

#include "core/config.h"

namespace byparr {
namespace {

IpAddress ip(const char* text) {
    auto a = parse_ip(text);
    EXPECT_TRUE(a.has_value()) << text;
    return a.value_or(IpAddress{});
}

std::string why(const char* text) {
    return forbidden_reason(ip(text));
}

TEST(TargetGuard, ParsesLiteralsStrictly) {
    EXPECT_TRUE(parse_ip("127.0.0.1"));
    EXPECT_TRUE(parse_ip("::1"));
    EXPECT_TRUE(parse_ip("[fe80::1]"));
    EXPECT_FALSE(parse_ip("localhost"));
    EXPECT_FALSE(parse_ip("0x7f.1"));  // inet_aton forms are names here, resolved by libc
    EXPECT_FALSE(parse_ip("127.1"));
    EXPECT_EQ(to_string(ip("::ffff:127.0.0.1")), "::ffff:127.0.0.1");
}

TEST(TargetGuard, RefusesEveryForbiddenIpv4Range) {
    const std::map<const char*, const char*> cases{
        {"0.0.0.0", "unspecified"},
        {"0.255.1.2", "unspecified"},
        {"10.0.0.1", "private"},
        {"10.255.255.255", "private"},
        {"100.64.0.1", "shared address space"},
        {"100.127.255.254", "shared address space"},
        {"100.100.100.200", "shared address space"},  // Alibaba's metadata service
        {"127.0.0.1", "loopback"},
        {"127.255.255.254", "loopback"},
        {"169.254.0.1", "link-local"},
        {"169.254.169.254", "cloud metadata"},
        {"172.16.0.1", "private"},
        {"172.31.255.255", "private"},
        {"192.0.0.1", "IETF protocol assignment"},
        {"192.168.1.20", "private"},
        {"198.18.0.1", "benchmarking"},
        {"198.19.255.255", "benchmarking"},
        {"224.0.0.1", "multicast"},
        {"239.255.255.250", "multicast"},
        {"240.0.0.1", "reserved"},
        {"255.255.255.255", "broadcast"},
    };
    for (const auto& [addr, expected] : cases)
        EXPECT_NE(why(addr).find(expected), std::string::npos) << addr << ": " << why(addr);
}

TEST(TargetGuard, AllowsPublicIpv4AndTheEdgesOfEachRange) {
    for (const char* addr :
         {"1.1.1.1", "8.8.8.8", "9.255.255.255", "11.0.0.0", "100.63.255.255", "100.128.0.0",
          "126.255.255.255", "128.0.0.0", "169.253.255.255", "169.255.0.0", "172.15.255.255",
          "172.32.0.0", "192.0.1.0", "192.167.255.255", "192.169.0.0", "198.17.255.255",
          "198.20.0.0", "223.255.255.255"})
        EXPECT_EQ(why(addr), "") << addr;
}

TEST(TargetGuard, RefusesEveryForbiddenIpv6Range) {
    const std::map<const char*, const char*> cases{
        {"::", "unspecified"},
        {"::1", "loopback"},
        {"fc00::1", "unique-local"},
        {"fdff:ffff::1", "unique-local"},
        {"fd00:ec2::254", "cloud metadata"},
        {"fe80::1", "link-local"},
        {"febf:ffff::1", "link-local"},
        {"fec0::1", "site-local"},
        {"ff02::1", "multicast"},
        {"::7f00:1", "IPv4-compatible"},
    };
    for (const auto& [addr, expected] : cases)
        EXPECT_NE(why(addr).find(expected), std::string::npos) << addr << ": " << why(addr);
    for (const char* addr : {"2606:4700::1111", "2001:4860:4860::8888", "2a00:1450::1"})
        EXPECT_EQ(why(addr), "") << addr;
}

TEST(TargetGuard, JudgesMappedAndNat64FormsByTheirIpv4Address) {
    EXPECT_EQ(why("::ffff:127.0.0.1"), "a form of 127.0.0.1, which is loopback");
    EXPECT_NE(why("::ffff:169.254.169.254").find("cloud metadata"), std::string::npos);
    EXPECT_NE(why("::ffff:10.1.2.3").find("private"), std::string::npos);
    EXPECT_EQ(why("::ffff:8.8.8.8"), "");
    EXPECT_EQ(why("64:ff9b::7f00:1"), "a form of 127.0.0.1, which is loopback");
    EXPECT_NE(why("64:ff9b::a9fe:a9fe").find("cloud metadata"), std::string::npos);
    EXPECT_NE(why("64:ff9b::192.168.0.1").find("private"), std::string::npos);
    EXPECT_EQ(why("64:ff9b::808:808"), "");
    EXPECT_NE(why("64:ff9b:1::a00:1").find("private"), std::string::npos);
    EXPECT_NE(why("2002:7f00:1::1").find("loopback"), std::string::npos);  // 6to4
    EXPECT_EQ(why("2002:808:808::1"), "");
}

TEST(TargetGuard, AllowListExemptsAddressesInAllSpellings) {
    std::vector<Cidr> allow;
    std::string error;
    ASSERT_TRUE(parse_cidr_list("192.168.1.20/32, 10.0.0.0/8,fd00::/8 , 127.0.0.5", &allow, &error))
        << error;
    ASSERT_EQ(allow.size(), 4u);
    TargetGuard guard(allow);
    EXPECT_EQ(guard.check_address(ip("192.168.1.20")), "");
    EXPECT_EQ(guard.check_address(ip("192.168.1.21")),
              "192.168.1.21 is a private address (RFC 1918)");
    EXPECT_EQ(guard.check_address(ip("10.9.8.7")), "");
    EXPECT_EQ(guard.check_address(ip("fd12::1")), "");
    EXPECT_EQ(guard.check_address(ip("127.0.0.5")), "");
    EXPECT_EQ(guard.check_address(ip("::ffff:127.0.0.5")), "");
    EXPECT_EQ(guard.check_address(ip("127.0.0.1")), "127.0.0.1 is loopback");
    EXPECT_EQ(guard.check_address(ip("169.254.169.254")),
              "169.254.169.254 is a cloud metadata address");
}

TEST(TargetGuard, RejectsMalformedAllowLists) {
    std::vector<Cidr> allow;
    std::string error;
    EXPECT_FALSE(parse_cidr_list("192.168.1.0/33", &allow, &error));
    EXPECT_NE(error.find("192.168.1.0/33"), std::string::npos);
    EXPECT_FALSE(parse_cidr_list("lan.example/24", &allow, &error));
    EXPECT_FALSE(parse_cidr_list("10.0.0.0/", &allow, &error));
    EXPECT_FALSE(parse_cidr_list("::1/129", &allow, &error));
    EXPECT_TRUE(parse_cidr_list(" , ", &allow, &error));
}

TEST(TargetGuard, PrefixesMatchBitByBit) {
    std::vector<Cidr> allow;
    std::string error;
    ASSERT_TRUE(parse_cidr_list("192.168.1.16/28", &allow, &error));
    EXPECT_TRUE(allow[0].contains(ip("192.168.1.31")));
    EXPECT_FALSE(allow[0].contains(ip("192.168.1.32")));
    EXPECT_FALSE(allow[0].contains(ip("::ffff:192.168.1.20")));  // families never mix here
}

// Answers from a script: one list per call, the last one repeated.
class ScriptedResolver : public Resolver {
  public:
    explicit ScriptedResolver(std::vector<std::vector<IpAddress>> answers)
        : answers_(std::move(answers)) {}
    std::vector<IpAddress> resolve(const std::string&, std::string* error) override {
        if (answers_.empty()) {
            *error = "no such host";
            return {};
        }
        auto a = answers_[std::min(calls, answers_.size() - 1)];
        ++calls;
        return a;
    }
    size_t calls = 0;

  private:
    std::vector<std::vector<IpAddress>> answers_;
};

TEST(TargetGuard, ChecksEveryResolvedAddressAndKeepsOnlyAllowedOnes) {
    auto resolver = std::make_shared<ScriptedResolver>(
        std::vector<std::vector<IpAddress>>{{ip("93.184.216.34"), ip("127.0.0.1")}});
    TargetGuard guard({}, resolver);
    TargetCheck c = guard.check_host("mixed.example");
    ASSERT_TRUE(c.ok());
    ASSERT_EQ(c.allowed.size(), 1u);
    EXPECT_EQ(to_string(c.allowed[0]), "93.184.216.34");
}

TEST(TargetGuard, RefusesANameThatResolvesOnlyToForbiddenAddresses) {
    auto resolver = std::make_shared<ScriptedResolver>(
        std::vector<std::vector<IpAddress>>{{ip("127.0.0.1"), ip("::1")}});
    TargetGuard guard({}, resolver);
    TargetCheck c = guard.check_host("localhost");
    EXPECT_FALSE(c.ok());
    EXPECT_FALSE(c.unresolved);
    EXPECT_EQ(c.reason, "localhost resolves to 127.0.0.1, which is loopback");
}

TEST(TargetGuard, ReResolvesOnEveryCheck) {
    // DNS rebinding: public for the first look, loopback for the second. Each check
    // stands on its own answer, so the second one refuses.
    auto resolver = std::make_shared<ScriptedResolver>(
        std::vector<std::vector<IpAddress>>{{ip("93.184.216.34")}, {ip("127.0.0.1")}});
    TargetGuard guard({}, resolver);
    EXPECT_TRUE(guard.check_host("rebind.example").ok());
    TargetCheck second = guard.check_host("rebind.example");
    EXPECT_FALSE(second.ok());
    EXPECT_NE(second.reason.find("loopback"), std::string::npos);
    EXPECT_EQ(resolver->calls, 2u);
}

TEST(TargetGuard, LiteralsAreNotResolvedAndUnresolvableNamesSaySo) {
    auto resolver = std::make_shared<ScriptedResolver>(std::vector<std::vector<IpAddress>>{});
    TargetGuard guard({}, resolver);
    EXPECT_EQ(guard.check_host("[::1]").reason, "::1 is loopback");
    EXPECT_TRUE(guard.check_host("8.8.8.8").ok());
    EXPECT_EQ(resolver->calls, 0u);
    TargetCheck c = guard.check_host("nowhere.invalid");
    EXPECT_FALSE(c.ok());
    EXPECT_TRUE(c.unresolved);
}

TEST(TargetGuard, SystemResolverSeesLocalhostAsLoopback) {
    TargetGuard guard;
    TargetCheck c = guard.check_host("localhost");
    EXPECT_FALSE(c.ok());
    EXPECT_NE(c.reason.find("loopback"), std::string::npos) << c.reason;
}

TEST(TargetGuardConfig, IsOffByDefaultAndParsesTheAllowList) {
    std::string error;
    auto c = Config::from_map({}, &error);
    ASSERT_TRUE(c) << error;
    EXPECT_FALSE(c->block_private_targets);
    c = Config::from_map({{"BLOCK_PRIVATE_TARGETS", "true"},
                          {"BLOCK_PRIVATE_TARGETS_ALLOW", "192.168.1.20/32,10.0.0.0/8"}},
                         &error);
    ASSERT_TRUE(c) << error;
    EXPECT_TRUE(c->block_private_targets);
    EXPECT_EQ(c->block_private_targets_allow.size(), 2u);
    EXPECT_EQ(c->raw.count("BLOCK_PRIVATE_TARGETS_ALLOW"), 1u);  // the plugin reads it too
}

TEST(TargetGuardConfig, InvalidValuesStopStartUpWithAClearMessage) {
    std::string error;
    EXPECT_FALSE(Config::from_map({{"BLOCK_PRIVATE_TARGETS", "maybe"}}, &error));
    EXPECT_EQ(error, "BLOCK_PRIVATE_TARGETS='maybe' is not a boolean");
    EXPECT_FALSE(Config::from_map({{"BLOCK_PRIVATE_TARGETS_ALLOW", "192.168.1.0/40"}}, &error));
    EXPECT_NE(error.find("BLOCK_PRIVATE_TARGETS_ALLOW='192.168.1.0/40'"), std::string::npos)
        << error;
}

}  // namespace
}  // namespace byparr
