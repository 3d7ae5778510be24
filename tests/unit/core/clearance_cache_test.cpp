#include "core/clearance_cache.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

namespace byparr {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int64_t kT0 = 1'800'000'000;  // a fixed "now" for the fake clock
const char* kUa = "Mozilla/5.0 (X11; Linux x86_64) Test/1.0";

struct TempDir {
    fs::path path;
    TempDir() {
        std::string tmpl = (fs::temp_directory_path() / "byparr-cache-XXXXXX").string();
        path = ::mkdtemp(tmpl.data());
    }
    ~TempDir() {
        std::error_code ec;
        fs::permissions(path, fs::perms::owner_all, ec);
        fs::remove_all(path, ec);
    }
};

Cookie cookie(std::string name, int64_t expires_s = -1) {
    Cookie c;
    c.name = std::move(name);
    c.value = "v-" + c.name;
    c.domain = ".example.co.uk";
    c.path = "/";
    c.expires_s = expires_s;
    c.http_only = true;
    c.secure = true;
    c.same_site = "None";
    return c;
}

struct Clock {
    std::atomic<int64_t> now{kT0};
    std::function<int64_t()> fn() {
        return [this] { return now.load(); };
    }
};

ClearanceCache::Options opts(Clock& clock, int64_t duration_s = 600, std::string dir = "",
                             std::string backend = "") {
    ClearanceCache::Options o;
    o.duration_s = duration_s;
    o.state_dir = std::move(dir);
    o.backend_url = std::move(backend);
    o.clock = clock.fn();
    return o;
}

ClearanceKey key_for(const std::string& url, const std::string& ua = kUa, const Proxy& proxy = {}) {
    return make_clearance_key(url, ua, proxy);
}

// ---- keys ----

TEST(ClearanceCacheKey, SubdomainsShareASite) {
    EXPECT_EQ(key_for("https://a.b.example.co.uk/x?y").site, "example.co.uk");
    EXPECT_EQ(key_for("https://www.example.co.uk:8443/").site, "example.co.uk");
    EXPECT_EQ(key_for("http://user:pw@WWW.Example.com/").site, "example.com");
    EXPECT_EQ(key_for("http://127.0.0.1:8080/a").site, "127.0.0.1");
    EXPECT_EQ(key_for("http://localhost:8191/").site, "localhost");
    EXPECT_EQ(key_for("not a url").site, "");
}

TEST(ClearanceCacheKey, ProxyIdentityKeepsTheUserButNeverThePassword) {
    EXPECT_EQ(proxy_identity({}), "");
    EXPECT_EQ(proxy_identity({"http://Proxy.Local:3128", "", ""}), "http://proxy.local:3128");
    EXPECT_EQ(proxy_identity({"http://proxy:3128", "alice", "secret"}), "http://alice@proxy:3128");
    EXPECT_EQ(proxy_identity({"socks5://bob:hunter2@proxy:1080/", "", ""}),
              "socks5://bob@proxy:1080");
    // An explicit username wins over the URL's; the password is in neither.
    std::string id = proxy_identity({"http://bob:pw1@proxy:1", "carol", "pw2"});
    EXPECT_EQ(id, "http://carol@proxy:1");
    EXPECT_EQ(id.find("pw"), std::string::npos);
}

TEST(ClearanceCache, SubdomainsShareAnEntry) {
    Clock clock;
    ClearanceCache cache(opts(clock));
    ASSERT_TRUE(cache.put(key_for("https://www.example.co.uk/"), {cookie("cf_clearance")}));
    auto e = cache.get(key_for("https://shop.example.co.uk/cart"));
    ASSERT_TRUE(e);
    ASSERT_EQ(e->cookies.size(), 1u);
    EXPECT_EQ(e->cookies[0].name, "cf_clearance");
    EXPECT_EQ(e->cookies[0].value, "v-cf_clearance");
    EXPECT_EQ(e->user_agent, kUa);
    EXPECT_EQ(e->created_s, kT0);
    EXPECT_EQ(e->expires_s, kT0 + 600);
    EXPECT_FALSE(cache.get(key_for("https://other.co.uk/")));
    EXPECT_EQ(cache.size(), 1u);
}

TEST(ClearanceCache, DifferentUserAgentOrProxyMiss) {
    Clock clock;
    ClearanceCache cache(opts(clock));
    Proxy p1{"http://proxy:3128", "alice", "pw"};
    ASSERT_TRUE(cache.put(key_for("https://example.com/", kUa, p1), {cookie("cf_clearance")}));
    EXPECT_TRUE(cache.get(key_for("https://example.com/", kUa, p1)));
    // Same account, other password: the same exit, so the same entry.
    EXPECT_TRUE(
        cache.get(key_for("https://example.com/", kUa, {"http://proxy:3128", "alice", "x"})));
    EXPECT_FALSE(cache.get(key_for("https://example.com/", "Other UA", p1)));
    EXPECT_FALSE(cache.get(key_for("https://example.com/", kUa, {})));
    EXPECT_FALSE(cache.get(key_for("https://example.com/", kUa, {"http://proxy:3128", "bob", ""})));
    EXPECT_FALSE(
        cache.get(key_for("https://example.com/", kUa, {"http://proxy2:3128", "alice", ""})));
}

TEST(ClearanceCache, GetAnyAgentReturnsTheNewestEntryWithItsAgent) {
    Clock clock;
    ClearanceCache cache(opts(clock));
    cache.put(key_for("https://example.com/", "UA-old"), {cookie("a")});
    clock.now += 10;
    cache.put(key_for("https://example.com/", "UA-new"), {cookie("b")});
    auto e = cache.get_any_agent(key_for("https://www.example.com/", ""));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->user_agent, "UA-new");
    EXPECT_EQ(e->cookies[0].name, "b");
    EXPECT_FALSE(cache.get_any_agent(key_for("https://example.com/", "", {"http://p:1", "", ""})));
}

// ---- expiry ----

TEST(ClearanceCache, ExpiresAfterCacheDuration) {
    Clock clock;
    ClearanceCache cache(opts(clock, 60));
    cache.put(key_for("https://example.com/"), {cookie("cf_clearance")});
    clock.now += 59;
    EXPECT_TRUE(cache.get(key_for("https://example.com/")));
    clock.now += 1;
    EXPECT_FALSE(cache.get(key_for("https://example.com/")));
    EXPECT_FALSE(cache.get_any_agent(key_for("https://example.com/")));
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_TRUE(cache.list().empty());
}

TEST(ClearanceCache, ExpiresWithTheEarliestExpiringCookie) {
    Clock clock;
    ClearanceCache cache(opts(clock, 3600));
    auto e = cache.put(key_for("https://example.com/"),
                       {cookie("session"), cookie("cf_clearance", kT0 + 1800),
                        cookie("__cf_bm", kT0 + 120), cookie("deleted", kT0 - 5)});
    ASSERT_TRUE(e);
    EXPECT_EQ(e->expires_s, kT0 + 120);
    // The site's deletion (an already expired cookie) is not kept.
    ASSERT_EQ(e->cookies.size(), 3u);
    clock.now += 119;
    EXPECT_TRUE(cache.get(key_for("https://example.com/")));
    clock.now += 1;
    EXPECT_FALSE(cache.get(key_for("https://example.com/")));
}

TEST(ClearanceCache, ZeroDurationDisablesTheCache) {
    Clock clock;
    TempDir dir;
    ClearanceCache cache(opts(clock, 0, dir.path.string()));
    EXPECT_FALSE(cache.enabled());
    EXPECT_FALSE(cache.put(key_for("https://example.com/"), {cookie("cf_clearance")}));
    EXPECT_FALSE(cache.get(key_for("https://example.com/")));
    EXPECT_EQ(cache.size(), 0u);
    EXPECT_FALSE(fs::exists(dir.path / "cache.db"));
}

// ---- invalidate, flush, list ----

TEST(ClearanceCache, InvalidateDropsOnlyThatEntry) {
    Clock clock;
    ClearanceCache cache(opts(clock));
    cache.put(key_for("https://example.com/", "UA1"), {cookie("a")});
    cache.put(key_for("https://example.com/", "UA2"), {cookie("b")});
    EXPECT_TRUE(cache.invalidate(key_for("https://www.example.com/", "UA1")));
    EXPECT_FALSE(cache.invalidate(key_for("https://www.example.com/", "UA1")));
    EXPECT_FALSE(cache.get(key_for("https://example.com/", "UA1")));
    EXPECT_TRUE(cache.get(key_for("https://example.com/", "UA2")));
    EXPECT_EQ(cache.get_any_agent(key_for("https://example.com/", ""))->user_agent, "UA2");
}

TEST(ClearanceCache, FlushBySiteThenAll) {
    Clock clock;
    ClearanceCache cache(opts(clock));
    cache.put(key_for("https://example.com/", "UA1"), {cookie("a")});
    cache.put(key_for("https://example.com/", "UA2", {"http://p:1", "", ""}), {cookie("a")});
    cache.put(key_for("https://example.org/"), {cookie("b")});
    cache.put(key_for("https://example.net/"), {cookie("c")});
    EXPECT_EQ(cache.flush("www.example.com"), 2u);  // a host names its site
    EXPECT_FALSE(cache.get(key_for("https://example.com/", "UA1")));
    EXPECT_TRUE(cache.get(key_for("https://example.org/")));
    EXPECT_EQ(cache.flush("https://a.example.org/x"), 1u);  // so does a URL
    EXPECT_EQ(cache.size(), 1u);
    EXPECT_EQ(cache.flush(), 1u);
    EXPECT_EQ(cache.size(), 0u);
}

TEST(ClearanceCache, ListIsSortedAndCarriesKeys) {
    Clock clock;
    ClearanceCache cache(opts(clock));
    cache.put(key_for("https://b.example.org/", "UA"), {cookie("b")});
    cache.put(key_for("https://a.example.com/", "UA", {"http://u:pw@p:1", "", ""}), {cookie("a")});
    auto l = cache.list();
    ASSERT_EQ(l.size(), 2u);
    EXPECT_EQ(l[0].key.site, "example.com");
    EXPECT_EQ(l[0].key.proxy, "http://u@p:1");
    EXPECT_EQ(l[0].key.user_agent, "UA");
    EXPECT_EQ(l[1].key.site, "example.org");
    EXPECT_EQ(l[1].entry.cookies[0].name, "b");
}

// ---- persistence ----

TEST(ClearanceCache, PersistsAcrossInstances) {
    Clock clock;
    TempDir dir;
    Proxy proxy{"http://proxy:3128", "alice", "secret-pw"};
    {
        ClearanceCache cache(opts(clock, 600, dir.path.string()));
        EXPECT_TRUE(cache.persistent());
        cache.put(key_for("https://www.example.com/", kUa, proxy),
                  {cookie("cf_clearance", kT0 + 300), cookie("other")});
        cache.put(key_for("https://gone.example.org/"), {cookie("x")});
        cache.invalidate(key_for("https://example.org/"));
    }
    EXPECT_TRUE(fs::exists(dir.path / "cache.db"));
    EXPECT_EQ(fs::status(dir.path / "cache.db").permissions() & fs::perms::group_read,
              fs::perms::none);
    {
        // The password must not reach the file.
        std::ifstream in(dir.path / "cache.db", std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::ifstream wal(dir.path / "cache.db-wal", std::ios::binary);
        bytes.append((std::istreambuf_iterator<char>(wal)), std::istreambuf_iterator<char>());
        EXPECT_EQ(bytes.find("secret-pw"), std::string::npos);
    }
    clock.now += 10;
    ClearanceCache cache(opts(clock, 600, dir.path.string()));
    EXPECT_EQ(cache.size(), 1u);
    auto e = cache.get(key_for("https://example.com/", kUa, proxy));
    ASSERT_TRUE(e);
    ASSERT_EQ(e->cookies.size(), 2u);
    const Cookie& c = e->cookies[0];
    EXPECT_EQ(c.name, "cf_clearance");
    EXPECT_EQ(c.value, "v-cf_clearance");
    EXPECT_EQ(c.domain, ".example.co.uk");
    EXPECT_EQ(c.path, "/");
    EXPECT_EQ(c.same_site, "None");
    EXPECT_EQ(c.expires_s, kT0 + 300);
    EXPECT_TRUE(c.http_only);
    EXPECT_TRUE(c.secure);
    EXPECT_EQ(e->cookies[1].expires_s, -1);
    EXPECT_EQ(e->created_s, kT0);
    EXPECT_EQ(e->expires_s, kT0 + 300);
    EXPECT_FALSE(cache.get(key_for("https://example.org/")));
}

TEST(ClearanceCache, ExpiredRowsArePurgedAndAShorterDurationAppliesAtLoad) {
    Clock clock;
    TempDir dir;
    {
        ClearanceCache cache(opts(clock, 3600, dir.path.string()));
        cache.put(key_for("https://short.com/"), {cookie("a", kT0 + 100)});
        cache.put(key_for("https://long.com/"), {cookie("b")});
    }
    clock.now += 200;
    {
        ClearanceCache cache(opts(clock, 3600, dir.path.string()));
        EXPECT_EQ(cache.size(), 1u);
        EXPECT_TRUE(cache.get(key_for("https://long.com/")));
    }
    // Restarted with CACHE_DURATION=150: the entry written 200 s ago is stale.
    ClearanceCache cache(opts(clock, 150, dir.path.string()));
    EXPECT_EQ(cache.size(), 0u);
}

TEST(ClearanceCache, CorruptDatabaseIsSetAsideAndTheCacheWorks) {
    Clock clock;
    TempDir dir;
    {
        std::ofstream f(dir.path / "cache.db", std::ios::binary);
        f << std::string(8192, '\x5a') << "this is not an SQLite database";
    }
    ClearanceCache cache(opts(clock, 600, dir.path.string()));
    EXPECT_TRUE(cache.persistent());
    EXPECT_TRUE(fs::exists(dir.path / ("cache.db.corrupt-" + std::to_string(kT0))));
    ASSERT_TRUE(cache.put(key_for("https://example.com/"), {cookie("a")}));
    ClearanceCache again(opts(clock, 600, dir.path.string()));
    EXPECT_TRUE(again.get(key_for("https://example.com/")));
}

TEST(ClearanceCache, DamagedPagesAreDetectedByTheIntegrityCheck) {
    Clock clock;
    TempDir dir;
    {
        ClearanceCache cache(opts(clock, 600, dir.path.string()));
        for (int i = 0; i < 200; ++i)
            cache.put(key_for("https://s" + std::to_string(i) + ".com/"),
                      {cookie(std::string(200, 'x'))});
    }
    // Overwrite the middle of the file, keeping its valid header.
    auto size = fs::file_size(dir.path / "cache.db");
    ASSERT_GT(size, 16384u);
    {
        std::fstream f(dir.path / "cache.db", std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(4096);
        f << std::string(8192, '\xff');
    }
    clock.now += 1;
    ClearanceCache cache(opts(clock, 600, dir.path.string()));
    EXPECT_TRUE(cache.persistent());
    EXPECT_TRUE(fs::exists(dir.path / ("cache.db.corrupt-" + std::to_string(kT0 + 1))));
    EXPECT_TRUE(cache.put(key_for("https://example.com/"), {cookie("a")}));
}

TEST(ClearanceCache, UncreatableStateDirDegradesToMemory) {
    Clock clock;
    TempDir dir;
    std::ofstream(dir.path / "file") << "x";
    ClearanceCache cache(opts(clock, 600, (dir.path / "file" / "state").string()));
    EXPECT_FALSE(cache.persistent());
    ASSERT_TRUE(cache.put(key_for("https://example.com/"), {cookie("a")}));
    EXPECT_TRUE(cache.get(key_for("https://example.com/")));
    EXPECT_EQ(cache.flush(), 1u);
}

TEST(ClearanceCache, ReadOnlyStateDirDegradesToMemory) {
    Clock clock;
    TempDir dir;
    fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec,
                    fs::perm_options::replace);
    auto t0 = std::chrono::steady_clock::now();
    ClearanceCache cache(opts(clock, 600, dir.path.string()));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 500ms);  // no retry loop at start
    // root ignores permissions: then the file is simply written.
    if (::geteuid() != 0) {
        EXPECT_FALSE(cache.persistent());
    }
    ASSERT_TRUE(cache.put(key_for("https://example.com/"), {cookie("a")}));
    EXPECT_TRUE(cache.get(key_for("https://example.com/")));
    EXPECT_TRUE(cache.invalidate(key_for("https://example.com/")));
}

TEST(ClearanceCache, ReadOnlyDatabaseFileDoesNotCrash) {
    Clock clock;
    TempDir dir;
    {
        ClearanceCache cache(opts(clock, 600, dir.path.string()));
        cache.put(key_for("https://example.com/"), {cookie("a")});
    }
    fs::permissions(dir.path / "cache.db", fs::perms::owner_read, fs::perm_options::replace);
    fs::permissions(dir.path, fs::perms::owner_read | fs::perms::owner_exec,
                    fs::perm_options::replace);
    clock.now += 1;
    ClearanceCache cache(opts(clock, 600, dir.path.string()));
    if (::geteuid() != 0) {
        EXPECT_FALSE(cache.persistent());
    }
    // What the file holds is still used.
    EXPECT_TRUE(cache.get(key_for("https://example.com/")));
    ASSERT_TRUE(cache.put(key_for("https://example.org/"), {cookie("b")}));
    EXPECT_TRUE(cache.get(key_for("https://example.org/")));
    EXPECT_EQ(cache.flush(), 2u);
}

// ---- concurrency and speed ----

TEST(ClearanceCache, ConcurrentReadersAndWriters) {
    TempDir dir;
    ClearanceCache::Options o;
    o.duration_s = 600;
    o.state_dir = dir.path.string();
    ClearanceCache cache(o);
    std::atomic<bool> stop{false};
    std::atomic<int> hits{0};
    std::vector<std::thread> readers;
    for (int t = 0; t < 4; ++t) {
        readers.emplace_back([&] {
            while (!stop) {
                if (cache.get(key_for("https://s3.example.com/"))) ++hits;
                cache.get_any_agent(key_for("https://s5.example.org/"));
                (void)cache.size();
            }
        });
    }
    for (int i = 0; i < 100; ++i) {
        cache.put(key_for("https://example.com/"), {cookie("a")});
        cache.put(key_for("https://example.org/", "UA" + std::to_string(i % 3)), {cookie("b")});
        if (i % 10 == 0) cache.invalidate(key_for("https://example.com/"));
        if (i % 25 == 0) cache.flush("example.org");
    }
    stop = true;
    for (auto& t : readers)
        t.join();
    EXPECT_GT(hits.load(), 0);
}

TEST(ClearanceCache, GetIsMicroseconds) {
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    constexpr double kMaxUs = 500;  // ASan at -O0 is ~100x slower; this only catches I/O
#else
    constexpr double kMaxUs = 20;
#endif
    Clock clock;
    TempDir dir;
    ClearanceCache cache(opts(clock, 600, dir.path.string()));
    for (int i = 0; i < 1000; ++i)
        cache.put(key_for("https://s" + std::to_string(i) + ".example.com/", kUa),
                  {cookie("cf_clearance"), cookie("__cf_bm")});
    cache.put(key_for("https://target.com/"), {cookie("cf_clearance"), cookie("__cf_bm")});
    constexpr int kN = 20000;
    // What a cached request costs: key derivation (public-suffix lookup) plus the lookup.
    auto t0 = std::chrono::steady_clock::now();
    int found = 0;
    for (int i = 0; i < kN; ++i)
        found += cache.get_any_agent(key_for("https://www.target.com/x", "")) ? 1 : 0;
    auto per =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0) / kN;
    EXPECT_EQ(found, kN);
    EXPECT_LT(per.count(), kMaxUs) << per.count() << " µs per key + get";
    RecordProperty("key_and_get_us", std::to_string(per.count()));
}

// ---- per-site engine memory ----

TEST(ClearanceCacheSiteSolver, RemembersTheSolverThatPassedASiteAcrossRestarts) {
    Clock clock;
    TempDir dir;
    {
        ClearanceCache cache(opts(clock, 600, dir.path.string()));
        EXPECT_FALSE(cache.site_solver("example.com"));
        cache.remember_site_solver("example.com", "webengine");
        cache.remember_site_solver("example.com", "chromium");  // the later one wins
        cache.remember_site_solver("example.org", "webengine");
        EXPECT_EQ(cache.site_solver("example.com"), "chromium");
    }
    clock.now += 10;
    ClearanceCache cache(opts(clock, 600, dir.path.string()));
    EXPECT_EQ(cache.site_solver("example.com"), "chromium");
    EXPECT_EQ(cache.site_solver("example.org"), "webengine");
    EXPECT_FALSE(cache.site_solver("example.net"));
    auto all = cache.site_solvers();
    ASSERT_EQ(all.size(), 2u);
    EXPECT_EQ(all[0].site, "example.com");
    EXPECT_EQ(all[0].created_s, kT0);
    EXPECT_EQ(all[0].expires_s, kT0 + cache.site_solver_lifetime_s());
}

TEST(ClearanceCacheSiteSolver, OutlivesTheClearanceThenExpires) {
    Clock clock;
    TempDir dir;
    ClearanceCache cache(opts(clock, 600, dir.path.string()));
    EXPECT_EQ(cache.site_solver_lifetime_s(), 86400);  // a day: more than 2 x 600 s
    cache.put(key_for("https://example.com/"), {cookie("cf_clearance")});
    cache.remember_site_solver("example.com", "chromium");
    clock.now += 601;  // the clearance is gone; the next solve is when the memory counts
    EXPECT_FALSE(cache.get(key_for("https://example.com/")));
    EXPECT_EQ(cache.site_solver("example.com"), "chromium");
    clock.now = kT0 + 86400;
    EXPECT_FALSE(cache.site_solver("example.com"));
    ClearanceCache restarted(opts(clock, 600, dir.path.string()));
    EXPECT_FALSE(restarted.site_solver("example.com"));
    EXPECT_TRUE(restarted.site_solvers().empty());
}

TEST(ClearanceCacheSiteSolver, ARepeatIsWrittenOnlyOnceHalfItsLifetimeIsGone) {
    Clock clock;
    TempDir dir;
    ClearanceCache cache(opts(clock, 600, dir.path.string()));
    cache.remember_site_solver("example.com", "chromium");
    clock.now += 10;
    cache.remember_site_solver("example.com", "chromium");  // a busy site: no write
    EXPECT_EQ(cache.site_solvers().at(0).created_s, kT0);
    clock.now = kT0 + cache.site_solver_lifetime_s() / 2 + 1;
    cache.remember_site_solver("example.com", "chromium");  // refreshed
    ClearanceCache restarted(opts(clock, 600, dir.path.string()));
    EXPECT_EQ(restarted.site_solvers().at(0).created_s, clock.now.load());
}

TEST(ClearanceCacheSiteSolver, LifetimeIsTwiceALongCacheDuration) {
    Clock clock;
    ClearanceCache cache(opts(clock, 100000));
    EXPECT_EQ(cache.site_solver_lifetime_s(), 200000);
}

TEST(ClearanceCacheSiteSolver, FlushForgetsItHereAndOnDisk) {
    Clock clock;
    TempDir dir;
    {
        ClearanceCache cache(opts(clock, 600, dir.path.string()));
        cache.remember_site_solver("example.com", "chromium");
        cache.remember_site_solver("example.org", "chromium");
        cache.flush("www.example.com");
        EXPECT_FALSE(cache.site_solver("example.com"));
        EXPECT_TRUE(cache.site_solver("example.org"));
    }
    {
        ClearanceCache cache(opts(clock, 600, dir.path.string()));
        EXPECT_FALSE(cache.site_solver("example.com"));
        EXPECT_TRUE(cache.site_solver("example.org"));
        cache.flush();
    }
    ClearanceCache cache(opts(clock, 600, dir.path.string()));
    EXPECT_TRUE(cache.site_solvers().empty());
}

TEST(ClearanceCacheSiteSolver, ADisabledCacheRemembersNothing) {
    Clock clock;
    TempDir dir;
    ClearanceCache cache(opts(clock, 0, dir.path.string()));
    cache.remember_site_solver("example.com", "chromium");
    EXPECT_FALSE(cache.site_solver("example.com"));
}

// ---- Redis ----

// Picks a port the kernel considers free right now.
int free_port() {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(fd);
    return ntohs(a.sin_port);
}

bool can_connect(int port) {
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
}

class ClearanceCacheRedis : public ::testing::Test {
  protected:
    static constexpr const char* kServer = "/usr/bin/redis-server";

    void SetUp() override {
        if (::access(kServer, X_OK) != 0)
            GTEST_SKIP() << kServer << " is missing: install the 'redis-server' package to run "
                         << "the Redis backend tests";
        for (int attempt = 0; attempt < 3 && pid_ <= 0; ++attempt)
            start();
        ASSERT_GT(pid_, 0) << "redis-server did not start";
        url_ = "redis://127.0.0.1:" + std::to_string(port_) + "/3";
    }

    void TearDown() override {
        if (pid_ > 0) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
    }

    void start() {
        port_ = free_port();
        std::string port = std::to_string(port_);
        pid_t pid = ::fork();
        if (pid == 0) {
            int devnull = ::open("/dev/null", O_WRONLY);
            ::dup2(devnull, 1);
            ::dup2(devnull, 2);
            ::execl(kServer, kServer, "--port", port.c_str(), "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", "/tmp", static_cast<char*>(nullptr));
            ::_exit(127);
        }
        for (int i = 0; i < 200; ++i) {
            if (can_connect(port_)) {
                pid_ = pid;
                return;
            }
            if (::waitpid(pid, nullptr, WNOHANG) == pid) return;  // exited: port taken?
            std::this_thread::sleep_for(10ms);
        }
        ::kill(pid, SIGKILL);
        ::waitpid(pid, nullptr, 0);
    }

    pid_t pid_ = -1;
    int port_ = 0;
    std::string url_;
};

TEST_F(ClearanceCacheRedis, RoundTrip) {
    Clock clock;
    clock.now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    ClearanceCache cache(opts(clock, 600, "", url_));
    ASSERT_TRUE(cache.shared());
    Proxy proxy{"http://proxy:3128", "alice", "pw"};
    auto put = cache.put(key_for("https://example.com/", kUa, proxy),
                         {cookie("cf_clearance", clock.now + 100)});
    ASSERT_TRUE(put);
    // A second instance has nothing in memory: it reads the entry from Redis.
    ClearanceCache other(opts(clock, 600, "", url_));
    EXPECT_EQ(other.size(), 0u);
    auto e = other.get(key_for("https://www.example.com/", kUa, proxy));
    ASSERT_TRUE(e);
    EXPECT_EQ(e->cookies.size(), 1u);
    EXPECT_EQ(e->cookies[0].value, "v-cf_clearance");
    EXPECT_EQ(e->cookies[0].expires_s, clock.now + 100);
    EXPECT_EQ(e->expires_s, clock.now + 100);
    EXPECT_EQ(e->user_agent, kUa);
    EXPECT_EQ(other.size(), 1u);  // now cached locally
    EXPECT_TRUE(cache.shared());
    // An instance with a shorter CACHE_DURATION applies its own to shared entries.
    ClearanceCache brief(opts(clock, 50, "", url_));
    auto b = brief.get(key_for("https://example.com/", kUa, proxy));
    ASSERT_TRUE(b);
    EXPECT_EQ(b->expires_s, clock.now + 50);
}

TEST_F(ClearanceCacheRedis, TwoInstancesShareInvalidationsAndFlushes) {
    Clock clock;
    clock.now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    ClearanceCache a(opts(clock, 600, "", url_));
    ClearanceCache b(opts(clock, 600, "", url_));
    a.put(key_for("https://example.com/", "UA1"), {cookie("one")});
    a.put(key_for("https://example.com/", "UA2"), {cookie("two")});
    a.put(key_for("https://example.org/", "UA1"), {cookie("three")});

    auto any = b.get_any_agent(key_for("https://example.com/", ""));
    ASSERT_TRUE(any);
    EXPECT_EQ(any->user_agent, "UA2");
    EXPECT_FALSE(b.get(key_for("https://example.com/", "UA3")));

    // Invalidated in a: a third instance (no memory copy) no longer finds it.
    a.invalidate(key_for("https://example.com/", "UA2"));
    ClearanceCache c(opts(clock, 600, "", url_));
    EXPECT_FALSE(c.get(key_for("https://example.com/", "UA2")));
    EXPECT_FALSE(c.get_any_agent(key_for("https://example.com/", "")));
    EXPECT_TRUE(c.get(key_for("https://example.com/", "UA1")));

    a.flush("example.com");
    ClearanceCache d(opts(clock, 600, "", url_));
    EXPECT_FALSE(d.get(key_for("https://example.com/", "UA1")));
    EXPECT_TRUE(d.get(key_for("https://example.org/", "UA1")));
    a.flush();
    ClearanceCache e(opts(clock, 600, "", url_));
    EXPECT_FALSE(e.get(key_for("https://example.org/", "UA1")));
}

TEST_F(ClearanceCacheRedis, EntriesExpireInRedis) {
    Clock clock;
    clock.now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    ClearanceCache a(opts(clock, 1, "", url_));
    a.put(key_for("https://example.com/"), {cookie("one")});
    std::this_thread::sleep_for(1100ms);
    // Another instance whose clock has not moved still misses: Redis dropped it.
    ClearanceCache b(opts(clock, 600, "", url_));
    EXPECT_FALSE(b.get(key_for("https://example.com/")));
}

TEST_F(ClearanceCacheRedis, SiteSolverIsSharedBetweenInstances) {
    Clock clock;
    clock.now = std::chrono::duration_cast<std::chrono::seconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count();
    ClearanceCache a(opts(clock, 600, "", url_));
    ASSERT_TRUE(a.shared());
    a.remember_site_solver("example.com", "chromium");
    a.remember_site_solver("example.org", "chromium");
    // A second instance has nothing in memory: it reads the site's solver from Redis.
    ClearanceCache b(opts(clock, 600, "", url_));
    EXPECT_EQ(b.site_solver("example.com"), "chromium");
    EXPECT_FALSE(b.site_solver("example.net"));
    // An instance whose clock says the memory is past its lifetime ignores it.
    Clock later;
    later.now = clock.now + 86400;
    ClearanceCache c(opts(later, 600, "", url_));
    EXPECT_FALSE(c.site_solver("example.com"));
    // A flush reaches the shared copy.
    a.flush("example.com");
    ClearanceCache d(opts(clock, 600, "", url_));
    EXPECT_FALSE(d.site_solver("example.com"));
    EXPECT_EQ(d.site_solver("example.org"), "chromium");
    a.flush();
    ClearanceCache e(opts(clock, 600, "", url_));
    EXPECT_FALSE(e.site_solver("example.org"));
}

TEST_F(ClearanceCacheRedis, DeadServerFallsBackToMemory) {
    Clock clock;
    ClearanceCache cache(opts(clock, 600, "", url_));
    ASSERT_TRUE(cache.shared());
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    auto t0 = std::chrono::steady_clock::now();
    ASSERT_TRUE(cache.put(key_for("https://example.com/"), {cookie("a")}));
    EXPECT_TRUE(cache.get(key_for("https://example.com/")));
    EXPECT_FALSE(cache.get(key_for("https://example.org/")));
    EXPECT_FALSE(cache.shared());
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1s);
}

TEST(ClearanceCacheRedisDown, UnresponsiveServerCostsAtMostTheTimeoutOnce) {
    // A socket that listens but never answers: connects succeed, replies never come.
    int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
    ASSERT_EQ(::listen(fd, 16), 0);
    socklen_t len = sizeof a;
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
    std::string url = "redis://127.0.0.1:" + std::to_string(ntohs(a.sin_port));

    Clock clock;
    auto t0 = std::chrono::steady_clock::now();
    ClearanceCache cache(opts(clock, 600, "", url));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 1500ms);
    EXPECT_FALSE(cache.shared());
    // Within the retry back-off, Redis is not asked at all.
    auto t1 = std::chrono::steady_clock::now();
    for (int i = 0; i < 20; ++i) {
        cache.put(key_for("https://example.com/"), {cookie("a")});
        EXPECT_TRUE(cache.get(key_for("https://example.com/")));
        EXPECT_FALSE(cache.get(key_for("https://miss.example.org/")));
    }
    // Asking the dead server would cost ~200 ms per call (4 s for these 20); the
    // bound leaves room for a loaded machine and sanitizer builds.
    EXPECT_LT(std::chrono::steady_clock::now() - t1, 1000ms);
    ::close(fd);
}

TEST(ClearanceCacheRedisDown, InvalidBackendUrlIsIgnored) {
    Clock clock;
    ClearanceCache cache(opts(clock, 600, "", "memcached://x:1"));
    EXPECT_FALSE(cache.shared());
    EXPECT_TRUE(cache.put(key_for("https://example.com/"), {cookie("a")}));
}

// ---- single flight ----

SolveOutcome ok_outcome(std::string ua) {
    SolveOutcome o;
    o.ok = true;
    o.solution.user_agent = std::move(ua);
    o.solution.cookies.push_back(cookie("cf_clearance"));
    o.solver_id = "test";
    return o;
}

TEST(SingleFlight, OneLeaderAndEveryFollowerGetsItsResult) {
    SingleFlight flights;
    std::atomic<int> leaders{0};
    std::atomic<int> got{0};
    std::atomic<int> joined{0};
    std::vector<std::thread> threads;
    // Everyone joins before the leader publishes: a barrier on `joined`.
    for (int i = 0; i < 10; ++i) {
        threads.emplace_back([&] {
            auto t = flights.join_or_lead("example.com|");
            ++joined;
            if (t.leader()) {
                ++leaders;
                while (joined < 10 || t.followers() < 9)
                    std::this_thread::sleep_for(1ms);
                t.publish(ok_outcome("leader-UA"));
                ++got;
            } else {
                auto o = t.wait(std::chrono::steady_clock::now() + 5s);
                if (o && o->ok && o->solution.user_agent == "leader-UA" &&
                    o->solution.cookies.size() == 1)
                    ++got;
            }
        });
    }
    for (auto& t : threads)
        t.join();
    EXPECT_EQ(leaders.load(), 1);
    EXPECT_EQ(got.load(), 10);
    EXPECT_EQ(flights.in_flight(), 0u);
}

TEST(SingleFlight, LeaderFailurePropagates) {
    SingleFlight flights;
    auto leader = flights.join_or_lead("k");
    ASSERT_TRUE(leader.leader());
    std::optional<SolveOutcome> seen;
    std::thread follower([&] {
        auto t = flights.join_or_lead("k");
        EXPECT_FALSE(t.leader());
        seen = t.wait(std::chrono::steady_clock::now() + 5s);
    });
    while (leader.followers() == 0)
        std::this_thread::sleep_for(1ms);
    SolveOutcome fail;
    fail.error_kind = BYPARR_ERROR_BLOCKED;
    fail.error = "blocked";
    leader.publish(fail);
    follower.join();
    ASSERT_TRUE(seen);
    EXPECT_FALSE(seen->ok);
    EXPECT_EQ(seen->error_kind, BYPARR_ERROR_BLOCKED);
    EXPECT_EQ(seen->error, "blocked");
}

TEST(SingleFlight, FollowerGivesUpAtItsDeadline) {
    SingleFlight flights;
    auto leader = flights.join_or_lead("k");
    auto follower = flights.join_or_lead("k");
    ASSERT_FALSE(follower.leader());
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_FALSE(follower.wait(t0 + 50ms));
    EXPECT_GE(std::chrono::steady_clock::now() - t0, 50ms);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 2s);
    // The flight goes on; the result still reaches a later wait.
    leader.publish(ok_outcome("UA"));
    EXPECT_TRUE(follower.wait(t0 + 50ms));
}

TEST(SingleFlight, AbandonedLeaderReleasesFollowers) {
    SingleFlight flights;
    std::optional<SingleFlight::Ticket> leader(flights.join_or_lead("k"));
    auto follower = flights.join_or_lead("k");
    std::thread drop([&] {
        std::this_thread::sleep_for(20ms);
        leader.reset();  // e.g. the solve threw
    });
    auto o = follower.wait(std::chrono::steady_clock::now() + 5s);
    drop.join();
    ASSERT_TRUE(o);
    EXPECT_FALSE(o->ok);
    EXPECT_EQ(o->error_kind, BYPARR_ERROR_INTERNAL);
}

TEST(SingleFlight, KeysAreIndependentAndANewFlightStartsAfterPublish) {
    SingleFlight flights;
    auto a = flights.join_or_lead("a");
    auto b = flights.join_or_lead("b");
    EXPECT_TRUE(a.leader());
    EXPECT_TRUE(b.leader());
    EXPECT_EQ(flights.in_flight(), 2u);
    a.publish(ok_outcome("UA"));
    EXPECT_EQ(flights.in_flight(), 1u);
    auto a2 = flights.join_or_lead("a");
    EXPECT_TRUE(a2.leader());
    EXPECT_FALSE(a2.wait(std::chrono::steady_clock::now() + 1s));  // a leader never waits
    EXPECT_TRUE(a.wait(std::chrono::steady_clock::now()));         // its published outcome is kept
    auto moved = std::move(a2);
    EXPECT_TRUE(moved.leader());
    EXPECT_FALSE(a2.leader());  // NOLINT(bugprone-use-after-move): moved-from is inert
}

}  // namespace
}  // namespace byparr
