#include "core/json_writer.h"

#include <gtest/gtest.h>

namespace byparr {
namespace {

TEST(Utf8Prefix, NeverSplitsASequence) {
    const std::string s =
        "ab\xc3\xa9"         // é: 2 bytes at [2,4)
        "\xe2\x82\xac"       // €: 3 bytes at [4,7)
        "\xf0\x9f\x98\x80";  // 😀: 4 bytes at [7,11)
    ASSERT_TRUE(is_valid_utf8(s));
    EXPECT_EQ(utf8_prefix(s, 100), s);
    EXPECT_EQ(utf8_prefix(s, 11), s);
    EXPECT_EQ(utf8_prefix(s, 3), "ab");
    EXPECT_EQ(utf8_prefix(s, 4), "ab\xc3\xa9");
    EXPECT_EQ(utf8_prefix(s, 5), "ab\xc3\xa9");
    EXPECT_EQ(utf8_prefix(s, 6), "ab\xc3\xa9");
    EXPECT_EQ(utf8_prefix(s, 10), s.substr(0, 7));
    EXPECT_EQ(utf8_prefix(s, 0), "");
    for (size_t n = 0; n <= s.size(); ++n)
        EXPECT_TRUE(is_valid_utf8(utf8_prefix(s, n))) << n;
}

TEST(JsonWriter, EscapesAndNests) {
    JsonWriter w;
    w.begin_object().field("a", "x\"y\n").key("b").begin_array().value(1).value(true).end_array();
    w.end_object();
    EXPECT_EQ(w.take(), R"({"a":"x\"y\n","b":[1,true]})");
}

}  // namespace
}  // namespace byparr
