// The v1 extensions of issue #16 through POST /v1, the real host and both browser engines:
// custom headers (document and site scope), JSON and raw POST bodies, binary and text
// answers returned as the server sent them, and Turnstile tokens (tabs_till_verify). The
// site is a Poco server inside this test that records every request it receives, so each
// test compares what the browser sent with what the client asked for, byte for byte.
#include <gtest/gtest.h>

#include <Poco/Base64Encoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/StreamCopier.h>
#include <Poco/String.h>
#include <Poco/URI.h>

#include <memory>
#include <mutex>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "tests/support/byparr_server.h"
#include "tests/support/http_client.h"

namespace byparr::test {
namespace {

using Json = Poco::JSON::Object::Ptr;

// Deterministic bytes: a PDF header, then every byte value (NUL and invalid UTF-8 included).
std::string pdf_bytes(size_t size) {
    std::string s = "%PDF-1.7\n%\xE2\xE3\xCF\xD3\n";
    uint32_t x = 2463534242u;  // xorshift32: the same bytes on every run
    while (s.size() < size) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        s.push_back(static_cast<char>(x & 0xff));
    }
    s.resize(size);
    return s;
}

const std::string kTorrent =
    std::string("d8:announce30:http://127.0.0.1:1/announce4:infod6:lengthi5e4:name5:a.txt") +
    "12:piece lengthi16384e6:pieces20:" + std::string("\x00\x01\x02\xff\xfe", 5) +
    std::string(15, '\x7f') + "ee";

// One request as the site received it.
struct Seen {
    std::string method, uri, body;
    std::vector<std::pair<std::string, std::string>> headers;  // in wire order
    std::string header(const std::string& name) const {
        for (const auto& [k, v] : headers)
            if (Poco::icompare(k, name) == 0) return v;
        return {};
    }
    // Position of a header in the request, or -1.
    int index(const std::string& name) const {
        for (size_t i = 0; i < headers.size(); ++i)
            if (Poco::icompare(headers[i].first, name) == 0) return static_cast<int>(i);
        return -1;
    }
};

class EchoSite {
  public:
    EchoSite() : pdf_(pdf_bytes(5 * 1024 * 1024)) {
        auto params = new Poco::Net::HTTPServerParams;
        params->setMaxThreads(8);
        params->setKeepAlive(true);
        server_ = std::make_unique<Poco::Net::HTTPServer>(new Factory(this),
                                                          Poco::Net::ServerSocket(0), params);
        server_->start();
    }
    ~EchoSite() { server_->stopAll(true); }

    std::string url(const std::string& path) const {
        return "http://127.0.0.1:" + std::to_string(server_->port()) + path;
    }
    std::vector<Seen> seen(const std::string& path_prefix) const {
        std::lock_guard<std::mutex> lock(mu_);
        std::vector<Seen> out;
        for (const auto& s : seen_)
            if (s.uri.rfind(path_prefix, 0) == 0) out.push_back(s);
        return out;
    }
    const std::string& pdf() const { return pdf_; }

  private:
    struct Handler : Poco::Net::HTTPRequestHandler {
        explicit Handler(EchoSite* site) : site_(site) {}
        void handleRequest(Poco::Net::HTTPServerRequest& req,
                           Poco::Net::HTTPServerResponse& res) override {
            Seen s;
            s.method = req.getMethod();
            s.uri = req.getURI();
            for (const auto& [k, v] : req)  // Poco keeps the order received
                s.headers.emplace_back(k, v);
            Poco::StreamCopier::copyToString(req.stream(), s.body);
            {
                std::lock_guard<std::mutex> lock(site_->mu_);
                site_->seen_.push_back(s);
            }
            site_->answer(s, res);
        }
        EchoSite* site_;
    };
    struct Factory : Poco::Net::HTTPRequestHandlerFactory {
        explicit Factory(EchoSite* site) : site_(site) {}
        Poco::Net::HTTPRequestHandler* createRequestHandler(
            const Poco::Net::HTTPServerRequest&) override {
            return new Handler(site_);
        }
        EchoSite* site_;
    };

    static void send(Poco::Net::HTTPServerResponse& res, const std::string& type,
                     const std::string& body) {
        res.setContentType(type);
        res.setContentLength(static_cast<std::streamsize>(body.size()));
        res.send().write(body.data(), static_cast<std::streamsize>(body.size()));
    }

    void answer(const Seen& s, Poco::Net::HTTPServerResponse& res) {
        const std::string path = Poco::URI(s.uri).getPath();
        res.set("Cache-Control", "no-store");
        if (path == "/redirect") {
            res.redirect(url("/echo?hop=1"), Poco::Net::HTTPResponse::HTTP_FOUND);
        } else if (path == "/echo") {
            send(res, "text/html",
                 "<!DOCTYPE html><html><head><title>echo</title></head><body>" + s.method + " " +
                     s.uri + "</body></html>");
        } else if (path == "/with-script") {
            send(res, "text/html",
                 "<!DOCTYPE html><html><head><script src=\"/sub.js\"></script></head>"
                 "<body>page</body></html>");
        } else if (path == "/sub.js") {
            send(res, "application/javascript", "window.sub = 1;");
        } else if (path == "/file.pdf") {
            send(res, "application/pdf", pdf_);
        } else if (path == "/file.torrent") {
            res.set("Content-Disposition", "attachment; filename=\"a.torrent\"");
            send(res, "application/x-bittorrent", kTorrent);
        } else if (path == "/data.json") {
            send(res, "application/json; charset=utf-8", R"({"a":[1,2,{"b":"<c>"}],"d":"é"})");
        } else if (path == "/plain.txt") {
            send(res, "text/plain", "line one\n  <two> & three\n");
        } else if (path == "/turnstile") {
            // A widget that fills its hidden input only for a trusted activation (a person's
            // click or key press, not a script's).
            send(res, "text/html", R"(<!DOCTYPE html><html><head><title>Login</title></head><body>
<form><input type="hidden" name="cf-turnstile-response" value="">
<button type="button" id="w">Verify</button></form>
<script>document.getElementById('w').addEventListener('click', e => {
  if (e.isTrusted) document.querySelector('[name=cf-turnstile-response]').value = 'tok-' + 'trusted-42';
});</script></body></html>)");
        } else {
            res.setStatus(Poco::Net::HTTPResponse::HTTP_NOT_FOUND);
            send(res, "text/plain", "not found");
        }
    }

    std::string pdf_;
    mutable std::mutex mu_;
    std::vector<Seen> seen_;
    std::unique_ptr<Poco::Net::HTTPServer> server_;
};

std::string post_body(const std::string& url, const std::string& extra) {
    return R"({"cmd":"request.post","url":")" + url + R"(","maxTimeout":60000,)" + extra + "}";
}

class ApiExtensions : public ::testing::TestWithParam<std::string> {
  protected:
    static void SetUpTestSuite() { site_ = new EchoSite(); }
    static void TearDownTestSuite() {
        delete site_;
        site_ = nullptr;
    }
    void SetUp() override {
        if (!engine_available(GetParam())) GTEST_SKIP() << GetParam() << " is not available here";
        server_ = std::make_unique<ByparrServer>(ServerOptions{.env = {{"SOLVERS", GetParam()}}});
    }
    Json v1(const std::string& body) {
        Json o = server_->v1_json(body);
        return o;
    }
    static std::string message(const Json& o) { return o->optValue<std::string>("message", ""); }
    // The service still answers a plain request (after a refused one).
    void expect_still_serving() {
        Json o = v1(get_body(site_->url("/echo?after=1")));
        EXPECT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    }

    static EchoSite* site_;
    std::unique_ptr<ByparrServer> server_;
};
EchoSite* ApiExtensions::site_ = nullptr;

INSTANTIATE_TEST_SUITE_P(Engines, ApiExtensions, ::testing::ValuesIn(browser_engines()),
                         [](const auto& info) { return info.param; });

TEST_P(ApiExtensions, HeadersGoOnTheDocumentAndItsRedirectsInTheClientsOrder) {
    const std::string tag = "/redirect?t=" + GetParam();
    Json o =
        v1(get_body(site_->url(tag), 60000,
                    R"("headers":{"X-Zulu":"z 1","Authorization":"Bearer abc","X-Alpha":"a"})"));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    auto first = site_->seen(tag);
    ASSERT_EQ(first.size(), 1u);
    auto hop = site_->seen("/echo?hop=1");
    ASSERT_FALSE(hop.empty());
    for (const Seen& s : {first[0], hop.back()}) {
        EXPECT_EQ(s.header("X-Zulu"), "z 1") << s.uri;
        EXPECT_EQ(s.header("Authorization"), "Bearer abc") << s.uri;
        EXPECT_EQ(s.header("X-Alpha"), "a") << s.uri;
        EXPECT_LT(s.index("X-Zulu"), s.index("Authorization")) << s.uri;
        EXPECT_LT(s.index("Authorization"), s.index("X-Alpha")) << s.uri;
        EXPECT_EQ(s.header("User-Agent").find("HeadlessChrome"), std::string::npos);
    }
}

TEST_P(ApiExtensions, SiteScopeAddsTheHeadersToSubresourcesToo) {
    const std::string doc = "/with-script?scope=site&e=" + GetParam();
    Json o =
        v1(get_body(site_->url(doc), 60000, R"("headers":{"X-Site":"s1"},"headersScope":"site")"));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    auto subs = site_->seen("/sub.js");
    ASSERT_FALSE(subs.empty());
    EXPECT_EQ(subs.back().header("X-Site"), "s1");
    // Without the scope, the subresource goes out as the browser makes it.
    const std::string doc2 = "/with-script?scope=document&e=" + GetParam();
    size_t before = site_->seen("/sub.js").size();
    o = v1(get_body(site_->url(doc2), 60000, R"("headers":{"X-Site":"s2"})"));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    auto docs = site_->seen(doc2);
    ASSERT_EQ(docs.size(), 1u);
    EXPECT_EQ(docs[0].header("X-Site"), "s2");
    subs = site_->seen("/sub.js");
    ASSERT_GT(subs.size(), before);
    EXPECT_EQ(subs.back().header("X-Site"), "");
}

TEST_P(ApiExtensions, JsonPostDataIsSentAsApplicationJson) {
    const std::string path = "/echo?json=" + GetParam();
    Json o = v1(post_body(site_->url(path), R"("postData":{"user":"a b","n":[1,2.5,true,null]})"));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    auto seen = site_->seen(path);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].method, "POST");
    EXPECT_EQ(seen[0].header("Content-Type"), "application/json");
    EXPECT_EQ(seen[0].body, R"({"user":"a b","n":[1,2.5,true,null]})");
}

TEST_P(ApiExtensions, StringPostDataGoesAsItsContentType) {
    const std::string path = "/echo?raw=" + GetParam();
    Json o =
        v1(post_body(site_->url(path),
                     R"("postData":"<q a=\"1\">x &amp; y</q>","contentType":"application/xml",)"
                     R"("headers":{"X-Req":"1"})"));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    auto seen = site_->seen(path);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].header("Content-Type"), "application/xml");
    EXPECT_EQ(seen[0].body, R"(<q a="1">x &amp; y</q>)");
    EXPECT_EQ(seen[0].header("X-Req"), "1");

    // Prowlarr's shape: form-urlencoded, named in headers.contentType, not sent as a header.
    const std::string form = "/echo?form=" + GetParam();
    o = v1(post_body(
        site_->url(form),
        R"("postData":"u=a%20b&p=2","headers":{"contentType":"application/x-www-form-urlencoded"})"));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    seen = site_->seen(form);
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_EQ(seen[0].header("Content-Type"), "application/x-www-form-urlencoded");
    EXPECT_EQ(seen[0].body, "u=a%20b&p=2");
    EXPECT_EQ(seen[0].index("contentType"), -1);
}

TEST_P(ApiExtensions, APdfComesBackByteForByte) {
    Json o = v1(get_body(site_->url("/file.pdf?e=" + GetParam())));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    Json s = o->getObject("solution");
    EXPECT_EQ(s->optValue<std::string>("responseEncoding", ""), "base64");
    EXPECT_EQ(s->getObject("headers")->optValue<std::string>("content-type", ""),
              "application/pdf");
    EXPECT_EQ(s->optValue<int>("status", 0), 200);
    EXPECT_FALSE(s->has("responseTruncated"));
    const std::string bytes = base64_decode(s->getValue<std::string>("response"));
    ASSERT_EQ(bytes.size(), site_->pdf().size());
    EXPECT_TRUE(bytes == site_->pdf()) << "the bytes differ";
}

TEST_P(ApiExtensions, ATorrentDownloadComesBackByteForByte) {
    Json o = v1(get_body(site_->url("/file.torrent?e=" + GetParam())));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    Json s = o->getObject("solution");
    EXPECT_EQ(s->optValue<std::string>("responseEncoding", ""), "base64");
    EXPECT_EQ(s->getObject("headers")->optValue<std::string>("content-type", ""),
              "application/x-bittorrent");
    EXPECT_TRUE(base64_decode(s->getValue<std::string>("response")) == kTorrent);
}

TEST_P(ApiExtensions, JsonAndPlainTextComeBackAsRawText) {
    Json o = v1(get_body(site_->url("/data.json?e=" + GetParam())));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    Json s = o->getObject("solution");
    EXPECT_FALSE(s->has("responseEncoding"));
    EXPECT_EQ(s->getValue<std::string>("response"), R"({"a":[1,2,{"b":"<c>"}],"d":"é"})");
    EXPECT_EQ(s->getObject("headers")->optValue<std::string>("content-type", ""),
              "application/json; charset=utf-8");
    o = v1(get_body(site_->url("/plain.txt?e=" + GetParam())));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    EXPECT_EQ(o->getObject("solution")->getValue<std::string>("response"),
              "line one\n  <two> & three\n");
}

TEST_P(ApiExtensions, ABinaryAnswerOverTheCapIsCutAndFlagged) {
    server_.reset();
    server_ = std::make_unique<ByparrServer>(
        ServerOptions{.env = {{"SOLVERS", GetParam()}, {"MAX_RESPONSE_BYTES", "1048576"}}});
    Json o = v1(get_body(site_->url("/file.pdf?cap=" + GetParam())));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    Json s = o->getObject("solution");
    EXPECT_TRUE(s->optValue<bool>("responseTruncated", false));
    const std::string bytes = base64_decode(s->getValue<std::string>("response"));
    EXPECT_EQ(bytes.size(), 1048576u);
    EXPECT_TRUE(bytes == site_->pdf().substr(0, 1048576));
    expect_still_serving();
}

TEST_P(ApiExtensions, BadInputIsAClearErrorAndTheServiceKeepsServing) {
    const std::string url = site_->url("/echo?bad=1");
    struct Case {
        std::string body, message;
    } cases[] = {
        {get_body(url, 60000, R"("headers":"X-A: 1")"),
         "Error: Request parameter 'headers' must be an object, got string."},
        {get_body(url, 60000, R"("headers":{"Host":"evil.test"})"),
         "Error: Request parameter 'headers' may not set 'Host': the browser sets it."},
        {get_body(url, 60000, R"("headers":{"Transfer-Encoding":"chunked"})"),
         "Error: Request parameter 'headers' may not set 'Transfer-Encoding': the browser sets "
         "it."},
        {get_body(url, 60000, R"("headers":{"User-Agent":"x"})"),
         "Error: Request parameter 'headers' may not set 'User-Agent': it must match navigator "
         "and the client hints the browser presents."},
        {post_body(url, R"("postData":"a=1","contentType":["text/plain"])"),
         "Error: Request parameter 'contentType' must be a string, got array."},
        {post_body(url, R"("postData":true)"),
         "Error: Request parameter 'postData' must be a string, an object or an array, got "
         "boolean."},
        {post_body(url, R"("postData":{"a":1},"contentType":"text/plain")"),
         "Error: Request parameter 'postData' is JSON, which cannot be sent as 'text/plain'; "
         "send it as a string for that type."},
    };
    for (const auto& c : cases) {
        HttpResult r = server_->v1(c.body);
        EXPECT_EQ(r.status, 500) << c.body;
        Poco::JSON::Parser parser;
        Json o = parser.parse(r.body).extract<Json>();
        EXPECT_EQ(o->getValue<std::string>("status"), "error");
        EXPECT_EQ(message(o), c.message);
    }
    EXPECT_TRUE(site_->seen("/echo?bad=1").empty());  // nothing reached the site
    expect_still_serving();
}

TEST_P(ApiExtensions, ABodyOverMaxBodyBytesIsRefused) {
    server_.reset();
    server_ = std::make_unique<ByparrServer>(
        ServerOptions{.env = {{"SOLVERS", GetParam()}, {"MAX_BODY_BYTES", "4096"}}});
    HttpResult r = server_->v1(
        post_body(site_->url("/echo?big=1"), R"("postData":")" + std::string(5000, 'A') + R"(")"));
    EXPECT_NE(r.status, 200);
    EXPECT_NE(r.body.find("\"status\":\"error\""), std::string::npos) << r.body;
    EXPECT_NE(r.body.find("4096"), std::string::npos) << r.body;
    EXPECT_TRUE(site_->seen("/echo?big=1").empty());
    expect_still_serving();
}

TEST_P(ApiExtensions, TabsTillVerifyReturnsTheTurnstileToken) {
    Json o =
        v1(get_body(site_->url("/turnstile?e=" + GetParam()), 60000, R"("tabs_till_verify":1)"));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    Json s = o->getObject("solution");
    ASSERT_FALSE(s->isNull("turnstile_token")) << "no token";
    EXPECT_EQ(s->getValue<std::string>("turnstile_token"), "tok-trusted-42");
    // Not asked: null, as in FlareSolverr.
    o = v1(get_body(site_->url("/turnstile?none=" + GetParam())));
    ASSERT_EQ(o->getValue<std::string>("status"), "ok") << message(o);
    EXPECT_TRUE(o->getObject("solution")->isNull("turnstile_token"));
}

}  // namespace
}  // namespace byparr::test
