#include "core/v1_request.h"

#include <gtest/gtest.h>

namespace byparr {
namespace {

std::string error_of(std::string_view body) {
    auto r = parse_v1_request(body);
    if (auto* e = std::get_if<RequestError>(&r)) return e->message;
    return "";
}

V1Request ok(std::string_view body) {
    auto r = parse_v1_request(body);
    EXPECT_TRUE(std::holds_alternative<V1Request>(r)) << error_of(body);
    return std::holds_alternative<V1Request>(r) ? std::get<V1Request>(r) : V1Request{};
}

TEST(V1Request, ParsesProwlarrGetBody) {
    auto r = ok(R"({"maxTimeout":60000,"cmd":"request.get","url":"https://a.test/x","proxy":{}})");
    EXPECT_EQ(r.cmd, Command::kRequestGet);
    EXPECT_EQ(r.url, "https://a.test/x");
    EXPECT_EQ(r.max_timeout_ms, 60000);
    ASSERT_TRUE(r.proxy.has_value());
    EXPECT_TRUE(r.proxy->empty());
}

TEST(V1Request, ParsesProwlarrPostBodyAndTakesItsContentTypeFromHeaders) {
    auto r = ok(R"({"maxTimeout":60000,"cmd":"request.post","url":"https://a.test/login",
        "postData":"u=1&p=2","headers":{"contentType":"application/x-www-form-urlencoded"},
        "proxy":{"url":"http://proxy:8080","username":"u","password":"p"}})");
    EXPECT_EQ(r.cmd, Command::kRequestPost);
    EXPECT_EQ(r.post_data, "u=1&p=2");
    EXPECT_TRUE(r.deprecated_fields.empty());
    EXPECT_TRUE(r.ext.headers.empty());  // contentType describes the body
    EXPECT_EQ(r.ext.content_type, "");   // form-urlencoded, the default
    EXPECT_EQ(r.proxy->url, "http://proxy:8080");
    EXPECT_EQ(r.proxy->password, "p");
}

TEST(V1Request, ContractMessagesForMissingAndInvalidFields) {
    EXPECT_EQ(error_of(R"({"url":"http://a.test"})"), "Request parameter 'cmd' is mandatory.");
    EXPECT_EQ(error_of(R"({"cmd":"request.put"})"),
              "Request parameter 'cmd' = 'request.put' is invalid.");
    EXPECT_EQ(error_of(R"({"cmd":"request.get"})"),
              "Request parameter 'url' is mandatory in 'request.get' command.");
    EXPECT_EQ(error_of(R"({"cmd":"request.get","url":"http://a.test","postData":"x=1"})"),
              "Cannot use 'postBody' when sending a GET request.");
    EXPECT_EQ(error_of(R"({"cmd":"request.post","url":"http://a.test"})"),
              "Request parameter 'postData' is mandatory in 'request.post' command.");
}

TEST(V1Request, RefusesNonHttpSchemesBeforeFetching) {
    for (const char* u : {"file:///etc/passwd", "data:text/html,hi", "javascript:alert(1)",
                          "chrome://settings", "ftp://a.test/"}) {
        std::string body = std::string(R"({"cmd":"request.get","url":")") + u + "\"}";
        std::string e = error_of(body);
        EXPECT_NE(e.find("only http:// and https://"), std::string::npos) << u << ": " << e;
    }
    EXPECT_NE(error_of(R"({"cmd":"request.get","url":"not a url"})"), "");
    EXPECT_NE(error_of(R"({"cmd":"request.get","url":"http://"})"), "");
}

TEST(V1Request, WrongTypesAreNamed) {
    EXPECT_EQ(error_of(R"({"cmd":"request.get","url":"http://a.test","maxTimeout":"60s"})"),
              "Request parameter 'maxTimeout' must be an integer, got string.");
    EXPECT_EQ(error_of(R"({"cmd":5})"), "Request parameter 'cmd' must be a string, got number.");
    EXPECT_EQ(error_of(R"({"cmd":"request.get","url":"http://a.test","returnOnlyCookies":"yes"})"),
              "Request parameter 'returnOnlyCookies' must be a boolean, got string.");
    EXPECT_EQ(error_of(R"({"cmd":"request.get","url":"http://a.test","cookies":{}})"),
              "Request parameter 'cookies' must be an array, got object.");
    EXPECT_EQ(error_of(R"({"cmd":"request.get","url":"http://a.test","cookies":[{"value":"1"}]})"),
              "Request parameter 'cookies[0].name' is mandatory.");
    EXPECT_EQ(error_of(R"({"cmd":"request.get","url":"http://a.test","proxy":"http://p:1"})"),
              "Request parameter 'proxy' must be an object, got string.");
    EXPECT_NE(error_of(R"({"cmd":"request.get","url":"http://a.test","proxy":{"url":"ftp://p"}})")
                  .find("proxy.url"),
              std::string::npos);
}

TEST(V1Request, StringTypedNumbersAndBooleansAreAcceptedAsFlareSolverrDoes) {
    auto r = ok(R"({"cmd":"request.get","url":"http://a.test","maxTimeout":"60000",)"
                R"("returnOnlyCookies":"true","disableMedia":"False","waitInSeconds":" 2 ",)"
                R"("session_ttl_minutes":"5","returnScreenshot":"0"})");
    EXPECT_EQ(r.max_timeout_ms, 60000);
    EXPECT_TRUE(r.return_only_cookies);
    EXPECT_FALSE(r.return_screenshot);
    EXPECT_EQ(r.disable_media_set, std::optional<bool>(false));
    EXPECT_EQ(r.wait_seconds, 2);
    EXPECT_EQ(r.session_ttl_minutes, 5);
    EXPECT_NE(error_of(R"({"cmd":"request.get","url":"http://a.test","maxTimeout":"1e5"})"), "");
    EXPECT_NE(error_of(R"({"cmd":"request.get","url":"http://a.test","maxTimeout":""})"), "");
    EXPECT_NE(error_of(R"({"cmd":"request.get","url":"http://a.test","returnOnlyCookies":"on"})"),
              "");
}

TEST(V1Request, MalformedBodiesGetPreciseErrors) {
    EXPECT_NE(error_of("{").find("not valid JSON"), std::string::npos);
    EXPECT_EQ(error_of("[1,2]"), "Request body must be a JSON object, got array.");
    EXPECT_EQ(error_of(""), "Request body is empty; expected a JSON object.");
    EXPECT_EQ(error_of("{\"cmd\":\"\xff\"}"), "Request body is not valid UTF-8.");
    std::string deep(100000, '[');
    EXPECT_NE(error_of(deep).find("nested too deeply"), std::string::npos);
}

TEST(V1Request, MaxTimeoutBelowOneMeansDefault) {
    EXPECT_EQ(ok(R"({"cmd":"request.get","url":"http://a.test","maxTimeout":0})").max_timeout_ms,
              60000);
    EXPECT_EQ(ok(R"({"cmd":"request.get","url":"http://a.test","maxTimeout":-5})").max_timeout_ms,
              60000);
    EXPECT_EQ(
        ok(R"({"cmd":"request.get","url":"http://a.test","maxTimeout":1500.0})").max_timeout_ms,
        1500);
    EXPECT_NE(error_of(R"({"cmd":"request.get","url":"http://a.test","maxTimeout":1e300})"), "");
}

TEST(V1Request, AcceptsJackettBodyAndUnknownFields) {
    auto r =
        ok(R"({"cmd":"request.get","url":"http://a.test","maxTimeout":55000,"extra":[1,{"x":2}]})");
    EXPECT_EQ(r.max_timeout_ms, 55000);
    EXPECT_FALSE(r.proxy.has_value());
}

TEST(V1Request, CookiesKeepEveryField) {
    auto r = ok(R"({"cmd":"request.get","url":"http://a.test","cookies":[{"name":"a","value":"b",
        "domain":".a.test","path":"/x","secure":true,"httpOnly":true,"expiry":1900000000,"sameSite":"Strict"}]})");
    ASSERT_EQ(r.cookies.size(), 1u);
    const auto& c = r.cookies[0];
    EXPECT_EQ(c.domain, ".a.test");
    EXPECT_EQ(c.path, "/x");
    EXPECT_TRUE(c.secure);
    EXPECT_TRUE(c.http_only);
    EXPECT_EQ(c.expires_s, 1900000000);
    EXPECT_EQ(c.same_site, "Strict");
}

TEST(V1Request, SessionDestroyNeedsASession) {
    EXPECT_EQ(error_of(R"({"cmd":"sessions.destroy"})"),
              "Request parameter 'session' is mandatory in 'sessions.destroy' command.");
    EXPECT_EQ(ok(R"({"cmd":"sessions.list","maxTimeout":60000})").cmd, Command::kSessionsList);
}

TEST(PythonSeconds, PrintsLikeFlareSolverr) {
    EXPECT_EQ(python_seconds(60000), "60.0");
    EXPECT_EQ(python_seconds(1500), "1.5");
    EXPECT_EQ(python_seconds(10), "0.01");
    EXPECT_EQ(python_seconds(1234), "1.234");
    EXPECT_EQ(python_seconds(0), "0.0");
}

TEST(V1Request, ProxyTimezoneOrCountryGivesTheZone) {
    auto r = ok(R"({"cmd":"request.get","url":"https://a.test/",
        "proxy":{"url":"http://proxy:8080","country":"de"}})");
    ASSERT_TRUE(r.proxy.has_value());
    EXPECT_EQ(r.proxy->timezone, "Europe/Berlin");
    r = ok(R"({"cmd":"request.get","url":"https://a.test/",
        "proxy":{"timezone":"America/Chicago","country":"US"}})");
    EXPECT_EQ(r.proxy->timezone, "America/Chicago");  // the zone wins over the country
    EXPECT_TRUE(r.proxy->empty());                    // a zone alone is no proxy URL
    EXPECT_EQ(ok(R"({"cmd":"request.get","url":"https://a.test/","proxy":{"url":"http://p:1"}})")
                  .proxy->timezone,
              "");
}

TEST(V1Request, InvalidProxyTimezoneOrCountryIsRefused) {
    EXPECT_EQ(error_of(R"({"cmd":"request.get","url":"https://a.test/",
        "proxy":{"timezone":"../../etc/passwd"}})"),
              "Request parameter 'proxy.timezone' = '../../etc/passwd' is not an IANA time zone "
              "name (such as Europe/Berlin).");
    EXPECT_EQ(error_of(R"({"cmd":"request.get","url":"https://a.test/","proxy":{"country":"ZZ"}})"),
              "Request parameter 'proxy.country' = 'ZZ' is not an ISO 3166 country code (two "
              "letters, such as DE).");
    EXPECT_EQ(error_of(R"({"cmd":"request.get","url":"https://a.test/","proxy":{"country":5}})"),
              "Request parameter 'proxy.country' must be a string, got number.");
}

}  // namespace
}  // namespace byparr

namespace byparr {
namespace {

TEST(V1RequestHeaders, KeepsHeadersInTheClientsOrder) {
    auto r = ok(R"({"cmd":"request.get","url":"http://a.test","headers":
        {"X-Zulu":"1","Accept":"text/plain","X-Alpha":"two words"}})");
    ASSERT_EQ(r.ext.headers.size(), 3u);
    EXPECT_EQ(r.ext.headers[0].name, "X-Zulu");
    EXPECT_EQ(r.ext.headers[1].name, "Accept");
    EXPECT_EQ(r.ext.headers[2].value, "two words");
    EXPECT_EQ(r.ext.header_scope, HeaderScope::kDocument);
    EXPECT_EQ(
        ok(R"({"cmd":"request.get","url":"http://a.test","headersScope":"site"})").ext.header_scope,
        HeaderScope::kSite);
}

TEST(V1RequestHeaders, RefusesHeadersTheBrowserOwns) {
    for (const char* h : {"Host", "content-length", "Connection", "Keep-Alive", "Transfer-Encoding",
                          "TE", "Trailer", "Upgrade", "Proxy-Authorization", "User-Agent",
                          "Accept-Language", "Cookie", "sec-ch-ua-platform"}) {
        std::string body =
            std::string(R"({"cmd":"request.get","url":"http://a.test","headers":{")") + h +
            R"(":"x"}})";
        std::string e = error_of(body);
        EXPECT_NE(e.find(std::string("may not set '") + h + "'"), std::string::npos) << e;
    }
}

TEST(V1RequestHeaders, RefusesMalformedHeaders) {
    EXPECT_EQ(error_of(R"({"cmd":"request.get","url":"http://a.test","headers":["a"]})"),
              "Request parameter 'headers' must be an object, got array.");
    EXPECT_EQ(error_of(R"({"cmd":"request.get","url":"http://a.test","headers":{"X-A":1}})"),
              "Request parameter 'headers.X-A' must be a string, got number.");
    EXPECT_NE(error_of(R"({"cmd":"request.get","url":"http://a.test","headers":{"X A":"1"}})")
                  .find("invalid header name"),
              std::string::npos);
    EXPECT_NE(
        error_of(R"({"cmd":"request.get","url":"http://a.test","headers":{"X-A":"1\r\nX: 2"}})")
            .find("line break"),
        std::string::npos);
    EXPECT_EQ(error_of(R"({"cmd":"request.get","url":"http://a.test","headersScope":"all"})"),
              "Request parameter 'headersScope' must be 'document' or 'site'.");
}

TEST(V1RequestBody, JsonPostDataIsSentAsJson) {
    auto r =
        ok(R"({"cmd":"request.post","url":"http://a.test","postData":{"b":1,"a":[true,"x"]}})");
    EXPECT_EQ(r.post_data, R"({"b":1,"a":[true,"x"]})");
    EXPECT_EQ(r.ext.content_type, "application/json");
    auto arr = ok(R"({"cmd":"request.post","url":"http://a.test","postData":[1,2]})");
    EXPECT_EQ(arr.post_data, "[1,2]");
}

TEST(V1RequestBody, StringPostDataTakesItsContentType) {
    auto r = ok(
        R"({"cmd":"request.post","url":"http://a.test","postData":"<a/>","contentType":"text/xml"})");
    EXPECT_EQ(r.post_data, "<a/>");
    EXPECT_EQ(r.ext.content_type, "text/xml");
    auto h = ok(
        R"({"cmd":"request.post","url":"http://a.test","postData":"{}","headers":{"Content-Type":"application/json"}})");
    EXPECT_EQ(h.ext.content_type, "application/json");
    EXPECT_TRUE(h.ext.headers.empty());
    EXPECT_EQ(
        ok(R"({"cmd":"request.post","url":"http://a.test","postData":"a=1"})").ext.content_type,
        "");
}

TEST(V1RequestBody, RefusesBodiesThatCannotBeSentAsDeclared) {
    EXPECT_EQ(
        error_of(R"({"cmd":"request.post","url":"http://a.test","postData":"a","contentType":5})"),
        "Request parameter 'contentType' must be a string, got number.");
    EXPECT_EQ(error_of(R"({"cmd":"request.post","url":"http://a.test","postData":12})"),
              "Request parameter 'postData' must be a string, an object or an array, got number.");
    EXPECT_NE(
        error_of(
            R"({"cmd":"request.post","url":"http://a.test","postData":{"a":1},"contentType":"text/plain"})")
            .find("cannot be sent as 'text/plain'"),
        std::string::npos);
    EXPECT_EQ(error_of(R"({"cmd":"request.get","url":"http://a.test","contentType":"text/plain"})"),
              "Request parameter 'contentType' needs a 'request.post' command.");
    ParseLimits tight;
    tight.max_post_bytes = 8;
    auto big = parse_v1_request(
        R"({"cmd":"request.post","url":"http://a.test","postData":{"k":"0123456789"}})", tight);
    ASSERT_TRUE(std::holds_alternative<RequestError>(big));
    EXPECT_NE(std::get<RequestError>(big).message.find("too large"), std::string::npos);
}

}  // namespace
}  // namespace byparr
