#include "core/v1_wire.h"

#include <gtest/gtest.h>

namespace byparr {
namespace {

std::string render(const Solution& s, size_t cap = 1024, bool only_cookies = false) {
    JsonWriter w;
    w.begin_object();
    write_solution(w, s, {"http://a.test/", only_cookies, cap});
    w.end_object();
    return w.take();
}

TEST(V1Wire, Base64MatchesRfc4648Vectors) {
    EXPECT_EQ(base64_encode(""), "");
    EXPECT_EQ(base64_encode("f"), "Zg==");
    EXPECT_EQ(base64_encode("fo"), "Zm8=");
    EXPECT_EQ(base64_encode("foo"), "Zm9v");
    EXPECT_EQ(base64_encode("foobar"), "Zm9vYmFy");
    EXPECT_EQ(base64_encode(std::string("\x00\xff\xfe", 3)), "AP/+");
}

TEST(V1Wire, BinaryResponsesGoAsBase64WithTheirEncoding) {
    Solution s;
    s.response = std::string("%PDF\x00\xff", 6);
    s.response_binary = true;
    s.headers.emplace_back("content-type", "application/pdf");
    const std::string out = render(s);
    EXPECT_NE(out.find(R"("response":"JVBERgD/","responseEncoding":"base64")"), std::string::npos)
        << out;
    EXPECT_EQ(out.find("responseTruncated"), std::string::npos);
}

TEST(V1Wire, BinaryOverTheCapIsCutAndFlagged) {
    Solution s;
    s.response = "foobar";
    s.response_binary = true;
    JsonWriter w;
    w.begin_object();
    ResponseCut cut = write_solution(w, s, {"http://a.test/", false, 3});
    w.end_object();
    const std::string out = w.take();
    EXPECT_TRUE(cut.cut());
    EXPECT_EQ(cut.to, 3u);
    EXPECT_NE(out.find(R"("response":"Zm9v","responseEncoding":"base64","responseTruncated":true)"),
              std::string::npos)
        << out;
}

TEST(V1Wire, TextKeepsTheContractShape) {
    Solution s;
    s.response = "<html></html>";
    s.status = 404;
    const std::string out = render(s);
    EXPECT_EQ(
        out.rfind(
            R"({"solution":{"url":"http://a.test/","status":404,"headers":{},"response":"<html></html>","cookies":[],"userAgent":"","turnstile_token":null}})",
            0),
        0u)
        << out;
    EXPECT_EQ(render(s, 1024, true).find("response"), std::string::npos);
}

}  // namespace
}  // namespace byparr
