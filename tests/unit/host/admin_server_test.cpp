// The admin endpoint's routes over its real Unix socket, with a registry that
// loaded no plugins: plugin info, stats fields, and the cache routes, which
// exist only once a cache is attached.
#include "host/admin_server.h"

#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <iterator>

#include "core/clearance_cache.h"
#include "core/log.h"

namespace byparr {
namespace {

struct Reply {
    int status = 0;
    std::string body;
};

class AdminServerTest : public ::testing::Test {
  protected:
    void SetUp() override {
        log::configure("error", "text");
        dir_ = std::filesystem::temp_directory_path() /
               ("byparr-admin-unit-" + std::to_string(getpid()));
        std::filesystem::create_directories(dir_ / "no-plugins");
        std::string err;
        auto cfg = Config::from_map({{"BYPARR_STATE_DIR", dir_.string()},
                                     {"BYPARR_PLUGIN_PATH", (dir_ / "no-plugins").string()}},
                                    &err);
        ASSERT_TRUE(cfg) << err;
        config_ = *cfg;
        registry_ = std::make_unique<Registry>(config_);
        registry_->load_all();
        service_ = std::make_unique<V1Service>(config_, *registry_);
        ClearanceCache::Options opts;
        opts.duration_s = 3600;
        cache_ = std::make_unique<ClearanceCache>(opts);
    }
    void TearDown() override {
        admin_.reset();
        service_.reset();
        registry_.reset();
        std::filesystem::remove_all(dir_);
    }

    void start(bool with_cache) {
        admin_ = std::make_unique<AdminServer>(config_, *registry_, *service_);
        admin_->set_cache(with_cache ? cache_.get() : nullptr);
        admin_->start();
    }

    Reply call(const std::string& method, const std::string& path, const std::string& body = "") {
        Poco::Net::StreamSocket sock;
        sock.connect(
            Poco::Net::SocketAddress(Poco::Net::AddressFamily::UNIX_LOCAL, admin_->socket_path()));
        Poco::Net::HTTPClientSession session(sock);
        Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
        req.setHost("localhost");
        req.setContentLength64(static_cast<Poco::Int64>(body.size()));
        session.sendRequest(req) << body;
        Poco::Net::HTTPResponse resp;
        std::istream& in = session.receiveResponse(resp);
        Reply r;
        r.status = static_cast<int>(resp.getStatus());
        r.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        return r;
    }

    static Poco::JSON::Object::Ptr json(const Reply& r) {
        Poco::JSON::Parser p;
        return p.parse(r.body).extract<Poco::JSON::Object::Ptr>();
    }

    std::filesystem::path dir_;
    Config config_;
    std::unique_ptr<Registry> registry_;
    std::unique_ptr<V1Service> service_;
    std::unique_ptr<ClearanceCache> cache_;
    std::unique_ptr<AdminServer> admin_;
};

TEST_F(AdminServerTest, CacheRoutesAreAbsentWithoutACache) {
    start(false);
    auto r = call("GET", "/cache");
    EXPECT_EQ(r.status, 404);
    EXPECT_EQ(json(r)->getValue<std::string>("message").rfind("no admin route", 0), 0u);
    EXPECT_EQ(call("POST", "/cache/flush", "{}").status, 404);
}

TEST_F(AdminServerTest, CacheListAndFlushBySite) {
    start(true);
    Proxy no_proxy;
    Cookie c{"cf_clearance", "v", ".one.test", "/", "None", -1, true, true};
    ASSERT_TRUE(cache_->put(make_clearance_key("https://www.one.test/", "UA/1", no_proxy), {c}));
    ASSERT_TRUE(cache_->put(make_clearance_key("https://two.test/", "UA/2", no_proxy), {c}));

    auto list = call("GET", "/cache");
    ASSERT_EQ(list.status, 200) << list.body;
    auto entries = json(list)->getArray("entries");
    ASSERT_EQ(entries->size(), 2u);
    auto first = entries->getObject(0);
    EXPECT_EQ(first->getValue<std::string>("site"), "one.test");
    EXPECT_EQ(first->getValue<std::string>("userAgent"), "UA/1");
    EXPECT_EQ(first->getValue<int>("cookies"), 1);
    EXPECT_GT(first->getValue<int>("expiresInSeconds"), 3500);

    auto one = call("POST", "/cache/flush", R"({"site":"one.test"})");
    ASSERT_EQ(one.status, 200) << one.body;
    EXPECT_EQ(json(one)->getValue<int>("flushed"), 1);
    EXPECT_EQ(cache_->list().size(), 1u);
    auto all = call("POST", "/cache/flush", "");
    EXPECT_EQ(json(all)->getValue<int>("flushed"), 1);
    EXPECT_TRUE(cache_->list().empty());
}

TEST_F(AdminServerTest, StatsCarryMemoryAndUnknownPluginIs404) {
    start(false);
    auto s = call("GET", "/stats");
    ASSERT_EQ(s.status, 200);
    EXPECT_GT(json(s)->getValue<double>("memoryBytes"), 0);
    for (const char* k : {"pageRequests", "p50Seconds", "p95Seconds", "cacheHitRate", "queued"})
        EXPECT_TRUE(json(s)->has(k)) << k;
    auto p = call("GET", "/plugins/nope");
    EXPECT_EQ(p.status, 404);
    EXPECT_EQ(json(p)->getValue<std::string>("message"), "no plugin or component 'nope'");
}

}  // namespace
}  // namespace byparr
