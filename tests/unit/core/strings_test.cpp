#include "core/strings.h"

#include <gtest/gtest.h>

namespace byparr {
namespace {

TEST(Strings, LowerAndUpperTouchOnlyAscii) {
    EXPECT_EQ(ascii_lower("WWW.Example.COM"), "www.example.com");
    EXPECT_EQ(ascii_upper("de"), "DE");
    EXPECT_EQ(ascii_lower("\xc3\x84"), "\xc3\x84");  // UTF-8 bytes pass through
}

TEST(Strings, TrimDropsCLocaleWhiteSpaceAtBothEnds) {
    EXPECT_EQ(trim("  a b \t\r\n"), "a b");
    EXPECT_EQ(trim("\v\f"), "");
    EXPECT_EQ(trim(""), "");
}

TEST(Strings, CaseInsensitiveComparison) {
    EXPECT_TRUE(iequals("Content-Type", "content-type"));
    EXPECT_FALSE(iequals("a", "ab"));
    EXPECT_TRUE(istarts_with("HTTP://x", "http://"));
    EXPECT_FALSE(istarts_with("ht", "http"));
}

}  // namespace
}  // namespace byparr
