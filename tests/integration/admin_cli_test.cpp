// byparrctl against the real byparr over its admin socket, with the browserless
// echo-solver fixture and the in-tree cookie-import and proxy-rotation plugins:
// every command, its exit codes, persistence, and both plugins end to end.
#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "byparr/build_paths.h"
#include "tests/support/http_client.h"
#include "tests/support/test_process.h"
#include "tests/support/test_site.h"

extern char** environ;

namespace byparr {
namespace {

namespace fs = std::filesystem;
using test::ChildProcess;
using test::HttpResult;
using test::TestProxy;

struct CtlResult {
    int code = -1;
    std::string out, err;
};

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream buf;
    buf << in.rdbuf();
    return buf.str();
}

Poco::JSON::Object::Ptr parse(const std::string& body) {
    Poco::JSON::Parser p;
    return p.parse(body).extract<Poco::JSON::Object::Ptr>();
}

class AdminCli : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        root_ = fs::temp_directory_path() / ("byparr-admin-cli-" + std::to_string(getpid()));
        fs::remove_all(root_);
        state_ = root_ / "state";
        // Only the plugins under test: the in-tree dir may hold webengine too.
        fs::path plugins = root_ / "plugins";
        fs::create_directories(plugins);
        fs::create_directory_symlink(fs::path(byparr::build_paths::kPluginDir) / "cookie-import",
                                     plugins / "cookie-import");
        fs::create_directory_symlink(fs::path(byparr::build_paths::kPluginDir) / "proxy-rotation",
                                     plugins / "proxy-rotation");
        fs::create_directory_symlink(
            fs::path(byparr::build_paths::kFixturePluginDir) / "good" / "echo-solver",
            plugins / "echo-solver");
        plugin_path_ = plugins.string();
        proxy_a_ = new TestProxy();
        proxy_b_ = new TestProxy(test::TestProxyOptions{"http", "127.0.0.1", "u", "p"});
        proxy_list_ = proxy_a_->url() + ",http://u:p@127.0.0.1:" + std::to_string(proxy_b_->port());
        start_server();
    }

    static void TearDownTestSuite() {
        delete server_;
        server_ = nullptr;
        delete proxy_a_;
        delete proxy_b_;
        fs::remove_all(root_);
    }

    static void start_server() {
        delete server_;
        server_ = new ChildProcess(std::string(byparr::build_paths::kBinDir) + "/byparr", {},
                                   {{"PORT", "0"},
                                    {"HOST", "127.0.0.1"},
                                    {"BYPARR_ANNOUNCE_PORT", "1"},
                                    {"BYPARR_PLUGIN_PATH", plugin_path_},
                                    {"BYPARR_STATE_DIR", state_.string()},
                                    {"SOLVERS", "echo-solver,cookie-import"},
                                    {"PROXY_LIST", proxy_list_},
                                    {"LOG_LEVEL", "warning"}});
        auto port = server_->read_port();
        ASSERT_TRUE(port) << "server did not announce its port";
        base_ = "http://127.0.0.1:" + std::to_string(*port);
    }

    // Runs byparrctl with the suite's environment plus `env`; captures both streams.
    static CtlResult ctl(const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env = {}) {
        std::map<std::string, std::string> vars;
        for (char** e = environ; *e; ++e) {
            std::string kv = *e;
            auto eq = kv.find('=');
            if (eq != std::string::npos) vars[kv.substr(0, eq)] = kv.substr(eq + 1);
        }
        vars["BYPARR_STATE_DIR"] = state_.string();
        vars["BYPARR_PLUGIN_PATH"] = plugin_path_;
        vars["BYPARR_URL"] = base_;
        vars["SOLVERS"] = "echo-solver,cookie-import";
        for (const auto& [k, v] : env)
            vars[k] = v;
        std::vector<std::string> env_strings;
        for (const auto& [k, v] : vars)
            env_strings.push_back(k + "=" + v);
        std::vector<char*> envp;
        for (auto& s : env_strings)
            envp.push_back(s.data());
        envp.push_back(nullptr);
        std::string exe = std::string(byparr::build_paths::kBinDir) + "/byparrctl";
        std::vector<std::string> argv_strings{exe};
        argv_strings.insert(argv_strings.end(), args.begin(), args.end());
        std::vector<char*> argv;
        for (auto& s : argv_strings)
            argv.push_back(s.data());
        argv.push_back(nullptr);

        fs::path out = root_ / "ctl.out", err = root_ / "ctl.err";
        posix_spawn_file_actions_t fa;
        posix_spawn_file_actions_init(&fa);
        posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
        posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
        pid_t pid = -1;
        CtlResult r;
        int rc = posix_spawn(&pid, exe.c_str(), &fa, nullptr, argv.data(), envp.data());
        posix_spawn_file_actions_destroy(&fa);
        if (rc != 0) {
            r.err = "posix_spawn failed: " + std::string(strerror(rc));
            return r;
        }
        int status = 0;
        waitpid(pid, &status, 0);
        r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        r.out = slurp(out);
        r.err = slurp(err);
        return r;
    }

    static HttpResult v1(const std::string& body) {
        return test::post_json(base_ + "/v1", body, 20000);
    }

    static std::string write_file(const std::string& name, const std::string& text) {
        fs::path p = root_ / name;
        std::ofstream(p, std::ios::binary) << text;
        return p.string();
    }

    void TearDown() override {
        // Leave the shared server as found: everything enabled, default order.
        ctl({"plugins", "enable", "echo-solver"});
        ctl({"plugins", "order", "echo-solver", "cookie-import"});
    }

    static inline ChildProcess* server_ = nullptr;
    static inline TestProxy* proxy_a_ = nullptr;
    static inline TestProxy* proxy_b_ = nullptr;
    static inline fs::path root_, state_;
    static inline std::string base_, plugin_path_, proxy_list_;
};

std::string dump(const CtlResult& r) {
    return "exit " + std::to_string(r.code) + "\nstdout:\n" + r.out + "\nstderr:\n" + r.err;
}

TEST_F(AdminCli, PluginsListShowsEveryComponentWhileRunning) {
    auto r = ctl({"plugins", "list"});
    ASSERT_EQ(r.code, 0) << dump(r);
    for (const char* id : {"COMPONENT", "echo-solver", "cookie-import", "cookie-import-source",
                           "proxy-rotation", "enabled"})
        EXPECT_NE(r.out.find(id), std::string::npos) << id << "\n" << r.out;

    auto j = ctl({"--json", "plugins", "list"});
    ASSERT_EQ(j.code, 0) << dump(j);
    EXPECT_TRUE(parse(j.out)->getValue<bool>("running"));
    auto comps = parse(j.out)->getArray("components");
    ASSERT_TRUE(comps);
    EXPECT_EQ(comps->size(), 4u);
}

TEST_F(AdminCli, PluginsListWorksWithTheServerStopped) {
    // Another state dir: no socket there, as with the service stopped.
    fs::path other = root_ / "stopped";
    fs::create_directories(other);
    std::ofstream(other / "plugins.json")
        << R"({"enabled":[],"disabled":["echo-solver"],"order":[]})";
    auto r = ctl({"plugins", "list"}, {{"BYPARR_STATE_DIR", other.string()}});
    ASSERT_EQ(r.code, 0) << dump(r);
    EXPECT_NE(
        r.out.find("byparr is not running (no admin socket at " + (other / "admin.sock").string()),
        std::string::npos)
        << r.out;
    EXPECT_NE(r.out.find("cookie-import"), std::string::npos);
    EXPECT_NE(r.out.find("proxy-rotation"), std::string::npos);

    auto j = ctl({"--json", "plugins", "list"}, {{"BYPARR_STATE_DIR", other.string()}});
    ASSERT_EQ(j.code, 0) << dump(j);
    auto o = parse(j.out);
    EXPECT_FALSE(o->getValue<bool>("running"));
    auto plugins = o->getArray("plugins");
    ASSERT_EQ(plugins->size(), 3u);
    std::map<std::string, std::string> states;
    for (size_t i = 0; i < plugins->size(); ++i) {
        auto p = plugins->getObject(static_cast<unsigned>(i));
        states[p->getValue<std::string>("id")] = p->getValue<std::string>("state");
    }
    EXPECT_EQ(states["echo-solver"], "disabled");    // the saved choice
    EXPECT_EQ(states["proxy-rotation"], "enabled");  // non-solvers default on
}

TEST_F(AdminCli, DisableIsSavedRefusesNamedRequestsAndSurvivesRestart) {
    auto d = ctl({"plugins", "disable", "echo-solver"});
    ASSERT_EQ(d.code, 0) << dump(d);
    EXPECT_NE(d.out.find("echo-solver disabled"), std::string::npos);
    EXPECT_NE(slurp(state_ / "plugins.json").find(R"("disabled":["echo-solver"])"),
              std::string::npos);

    auto r = v1(R"({"cmd":"request.get","url":"http://site.test/","solver":"echo-solver"})");
    EXPECT_EQ(r.status, 500);
    EXPECT_EQ(parse(r.body)->getValue<std::string>("message"),
              "Error: Solver 'echo-solver' is disabled.");
    auto s = ctl({"solve", "http://site.test/", "--solver", "echo-solver"});
    EXPECT_EQ(s.code, 1) << dump(s);
    EXPECT_NE(s.out.find("Solver 'echo-solver' is disabled."), std::string::npos) << s.out;

    start_server();  // same state dir: the choice must hold
    auto j = ctl({"--json", "plugins", "info", "echo-solver"});
    ASSERT_EQ(j.code, 0) << dump(j);
    auto comp = parse(j.out)->getArray("components")->getObject(0);
    EXPECT_EQ(comp->getValue<std::string>("state"), "disabled");

    ASSERT_EQ(ctl({"plugins", "enable", "echo-solver"}).code, 0);
    auto ok = v1(R"({"cmd":"request.get","url":"http://site.test/","solver":"echo-solver"})");
    EXPECT_EQ(ok.status, 200) << ok.body;
}

TEST_F(AdminCli, UnknownComponentFails) {
    auto r = ctl({"plugins", "disable", "no-such-thing"});
    EXPECT_EQ(r.code, 1) << dump(r);
    EXPECT_NE(r.err.find("no component 'no-such-thing'"), std::string::npos) << r.err;
    auto i = ctl({"plugins", "info", "no-such-thing"});
    EXPECT_EQ(i.code, 1) << dump(i);
}

TEST_F(AdminCli, OrderIsSavedAndChangesWhoAnswers) {
    // cookie-import first: with imported cookies it answers returnOnlyCookies requests.
    auto path = write_file("order.txt",
                           "# User-Agent: UA/order\n"
                           "order.test\tFALSE\t/\tFALSE\t4102444800\tk\tv\n");
    ASSERT_EQ(ctl({"cookies", "import", path}).code, 0);
    const std::string req =
        R"({"cmd":"request.get","url":"http://order.test/","returnOnlyCookies":true})";
    auto before = parse(v1(req).body)->getObject("solution");
    EXPECT_EQ(before->getValue<std::string>("userAgent"), "UA/order");  // echo, with source's UA
    EXPECT_EQ(before->getArray("cookies")->getObject(0)->getValue<std::string>("name"), "echo");

    auto o = ctl({"plugins", "order", "cookie-import", "echo-solver"});
    ASSERT_EQ(o.code, 0) << dump(o);
    EXPECT_NE(slurp(state_ / "plugins.json").find(R"("order":["cookie-import","echo-solver"])"),
              std::string::npos);
    auto after = parse(v1(req).body)->getObject("solution");
    ASSERT_EQ(after->getArray("cookies")->size(), 1u);
    EXPECT_EQ(after->getArray("cookies")->getObject(0)->getValue<std::string>("name"), "k");

    auto bad = ctl({"plugins", "order", "proxy-rotation"});
    EXPECT_EQ(bad.code, 1) << dump(bad);
    EXPECT_EQ(ctl({"plugins", "order"}).code, 2);
}

TEST_F(AdminCli, SessionsListAndDestroy) {
    // cookie-import first: it has no sessions, so echo-solver must still serve them.
    ASSERT_EQ(ctl({"plugins", "order", "cookie-import", "echo-solver"}).code, 0);
    auto empty = ctl({"sessions", "list"});
    ASSERT_EQ(empty.code, 0) << dump(empty);
    EXPECT_NE(empty.out.find("no sessions"), std::string::npos);
    auto c = v1(R"({"cmd":"sessions.create","session":"cli-s1"})");
    ASSERT_EQ(c.status, 200) << c.body;
    auto l = ctl({"sessions", "list"});
    EXPECT_NE(l.out.find("cli-s1"), std::string::npos) << dump(l);
    auto j = ctl({"--json", "sessions", "list"});
    EXPECT_EQ(parse(j.out)->getArray("sessions")->size(), 1u);
    auto d = ctl({"sessions", "destroy", "cli-s1"});
    EXPECT_EQ(d.code, 0) << dump(d);
    auto again = ctl({"sessions", "destroy", "cli-s1"});
    EXPECT_EQ(again.code, 1) << dump(again);
    EXPECT_NE(again.err.find("The session doesn't exist."), std::string::npos);
}

TEST_F(AdminCli, StatsShowsCountersAndFailsWhenServerIsDown) {
    ASSERT_EQ(v1(R"({"cmd":"request.get","url":"http://site.test/"})").status, 200);
    auto r = ctl({"stats"});
    ASSERT_EQ(r.code, 0) << dump(r);
    for (const char* k : {"page requests", "solve rate", "p50", "p95", "cache hit rate", "memory",
                          "workers", "queued"})
        EXPECT_NE(r.out.find(k), std::string::npos) << k << "\n" << r.out;
    auto j = ctl({"--json", "stats"});
    ASSERT_EQ(j.code, 0) << dump(j);
    auto o = parse(j.out);
    EXPECT_GE(o->getValue<double>("pageRequests"), 1);
    EXPECT_GT(o->getValue<double>("memoryBytes"), 0);

    std::string missing = (root_ / "nowhere" / "admin.sock").string();
    auto down = ctl({"--socket", missing, "stats"});
    EXPECT_EQ(down.code, 1) << dump(down);
    EXPECT_NE(down.err.find("byparr is not running (no admin socket at " + missing + ")"),
              std::string::npos)
        << down.err;
}

TEST_F(AdminCli, UsageErrorsExitTwoAndHelpExitsZero) {
    EXPECT_EQ(ctl({}).code, 2);
    EXPECT_EQ(ctl({"frobnicate"}).code, 2);
    EXPECT_EQ(ctl({"plugins"}).code, 2);
    EXPECT_EQ(ctl({"plugins", "enable"}).code, 2);
    EXPECT_EQ(ctl({"stats", "extra"}).code, 2);
    EXPECT_EQ(ctl({"--bogus", "stats"}).code, 2);
    EXPECT_EQ(ctl({"stats", "--post", "a=1"}).code, 2);
    EXPECT_EQ(ctl({"solve", "http://x.test/", "--timeout", "soon"}).code, 2);
    EXPECT_EQ(ctl({"cookies", "import"}).code, 2);
    for (std::vector<std::string> help : {std::vector<std::string>{"--help"},
                                          {"plugins", "--help"},
                                          {"plugins", "list", "--help"},
                                          {"stats", "--help"},
                                          {"cache", "--help"},
                                          {"sessions", "--help"},
                                          {"cookies", "import", "--help"},
                                          {"solve", "--help"},
                                          {"help", "plugins"}}) {
        auto r = ctl(help);
        EXPECT_EQ(r.code, 0) << help[0] << " " << dump(r);
        EXPECT_NE(r.out.find("Usage:"), std::string::npos) << r.out;
    }
}

TEST_F(AdminCli, CookiesImportAnswersReturnOnlyCookiesWithImportedUserAgent) {
    auto path = write_file("cookies.txt",
                           "# Netscape HTTP Cookie File\n"
                           "# User-Agent: Mozilla/5.0 (Imported) Firefox/1\n"
                           ".site.test\tTRUE\t/\tFALSE\t4102444800\tcf_clearance\tCLEAR1\n"
                           "#HttpOnly_www.site.test\tFALSE\t/\tFALSE\t0\tsid\tS1\n"
                           ".site.test\tTRUE\t/\tFALSE\t1000\told\tgone\n");
    auto imp = ctl({"cookies", "import", path});
    ASSERT_EQ(imp.code, 0) << dump(imp);
    EXPECT_NE(imp.out.find("imported 2 cookie(s)"), std::string::npos) << imp.out;
    EXPECT_TRUE(fs::exists(state_ / "cookies" / "cookies.txt"));

    auto r = v1(R"({"cmd":"request.get","url":"http://www.site.test/page","returnOnlyCookies":true,
                    "solver":"cookie-import"})");
    ASSERT_EQ(r.status, 200) << r.body;
    auto sol = parse(r.body)->getObject("solution");
    EXPECT_EQ(sol->getValue<std::string>("userAgent"), "Mozilla/5.0 (Imported) Firefox/1");
    EXPECT_EQ(sol->getValue<int>("status"), 200);
    EXPECT_FALSE(sol->has("response"));
    std::map<std::string, Poco::JSON::Object::Ptr> cookies;
    auto arr = sol->getArray("cookies");
    for (size_t i = 0; i < arr->size(); ++i) {
        auto c = arr->getObject(static_cast<unsigned>(i));
        cookies[c->getValue<std::string>("name")] = c;
    }
    ASSERT_EQ(cookies.size(), 2u) << r.body;  // the expired one is not served
    EXPECT_EQ(cookies["cf_clearance"]->getValue<std::string>("value"), "CLEAR1");
    EXPECT_EQ(cookies["cf_clearance"]->getValue<std::string>("domain"), ".site.test");
    EXPECT_TRUE(cookies["sid"]->getValue<bool>("httpOnly"));

    // The cookie source feeds the same cookies and UA to the solver chain.
    auto page = v1(R"({"cmd":"request.get","url":"http://www.site.test/page"})");
    auto psol = parse(page.body)->getObject("solution");
    EXPECT_EQ(psol->getValue<std::string>("userAgent"), "Mozilla/5.0 (Imported) Firefox/1");
    EXPECT_NE(psol->getValue<std::string>("response").find("cf_clearance=CLEAR1;"),
              std::string::npos);

    // JSON export with the UA given on the command line.
    auto json_path = write_file(
        "export.json",
        R"([{"domain":".json.test","expirationDate":4102444800.1,"hostOnly":false,"httpOnly":true,
             "name":"jk","path":"/","sameSite":"lax","secure":false,"session":false,"value":"jv"}])");
    auto ji = ctl({"cookies", "import", json_path, "--user-agent", "UA/json"});
    ASSERT_EQ(ji.code, 0) << dump(ji);
    auto jr = v1(R"({"cmd":"request.get","url":"http://json.test/","returnOnlyCookies":true,
                     "solver":"cookie-import"})");
    auto jsol = parse(jr.body)->getObject("solution");
    EXPECT_EQ(jsol->getValue<std::string>("userAgent"), "UA/json");
    EXPECT_EQ(jsol->getArray("cookies")->getObject(0)->getValue<std::string>("value"), "jv");

    // No cookies for a site: cookie-import does not apply.
    auto none = v1(R"({"cmd":"request.get","url":"http://elsewhere.test/","returnOnlyCookies":true,
                       "solver":"cookie-import"})");
    EXPECT_EQ(none.status, 500) << none.body;
}

TEST_F(AdminCli, MalformedCookieFileIsRefusedWithItsLine) {
    auto path = write_file("broken.txt",
                           "# Netscape HTTP Cookie File\n"
                           ".a.test\tTRUE\t/\tFALSE\t4102444800\tok\t1\n"
                           ".a.test\tTRUE\t/\n");
    auto r = ctl({"cookies", "import", path});
    EXPECT_EQ(r.code, 1) << dump(r);
    EXPECT_NE(r.err.find("line 3"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("broken.txt"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(state_ / "cookies" / "broken.txt"));

    auto json = write_file("broken.json", "[\n  {\"name\": \"a\",\n   \"domain\" \"x\"}\n]");
    auto j = ctl({"cookies", "import", json});
    EXPECT_EQ(j.code, 1) << dump(j);
    EXPECT_NE(j.err.find("line 3"), std::string::npos) << j.err;
}

TEST_F(AdminCli, ProxyRotationAlternatesRoundRobin) {
    std::vector<std::string> seen;
    for (int i = 0; i < 4; ++i) {
        auto r = v1(R"({"cmd":"request.get","url":"http://site.test/rr"})");
        ASSERT_EQ(r.status, 200) << r.body;
        auto echo = parse(parse(r.body)->getObject("solution")->getValue<std::string>("response"));
        seen.push_back(echo->getValue<std::string>("proxy"));
    }
    const std::string a = proxy_a_->url();
    const std::string b = "http://u:p@127.0.0.1:" + std::to_string(proxy_b_->port());
    for (const auto& p : seen)
        EXPECT_TRUE(p == a || p == b) << p;
    EXPECT_NE(seen[0], seen[1]);
    EXPECT_EQ(seen[0], seen[2]);
    EXPECT_EQ(seen[1], seen[3]);

    // A request that names its own proxy keeps it.
    auto own = ctl({"--json", "solve", "http://site.test/own", "--proxy", "http://127.0.0.1:9"});
    ASSERT_EQ(own.code, 0) << dump(own);
    auto echo = parse(parse(own.out)->getObject("solution")->getValue<std::string>("response"));
    EXPECT_EQ(echo->getValue<std::string>("proxy"), "http://127.0.0.1:9");
}

TEST_F(AdminCli, SolvePrintsOutcomeCookiesAndElapsed) {
    auto r = ctl({"solve", "http://site.test/challenge"});
    ASSERT_EQ(r.code, 0) << dump(r);
    for (const char* k : {"outcome", "ok", "Challenge solved!", "status", "200", "cf_clearance",
                          "elapsed", "NAME", "DOMAIN"})
        EXPECT_NE(r.out.find(k), std::string::npos) << k << "\n" << r.out;
    auto post = ctl({"--json", "solve", "http://site.test/form", "--post", "a=1&b=2"});
    ASSERT_EQ(post.code, 0) << dump(post);
    auto echo = parse(parse(post.out)->getObject("solution")->getValue<std::string>("response"));
    EXPECT_EQ(echo->getValue<std::string>("method"), "POST");
    EXPECT_EQ(echo->getValue<std::string>("postData"), "a=1&b=2");
    auto blocked = ctl({"solve", "http://site.test/block"});
    EXPECT_EQ(blocked.code, 1) << dump(blocked);
    auto down = ctl({"solve", "http://site.test/", "--url", "http://127.0.0.1:9"});
    EXPECT_EQ(down.code, 1) << dump(down);
    EXPECT_NE(down.err.find("not reachable"), std::string::npos) << down.err;
}

TEST_F(AdminCli, CacheListAndFlushOrSayThereIsNoCache) {
    ASSERT_EQ(v1(R"({"cmd":"request.get","url":"http://cache.test/challenge"})").status, 200);
    auto list = ctl({"cache", "list"});
    if (list.code != 0) {
        // A server built without the clearance cache says so plainly.
        EXPECT_EQ(list.code, 1) << dump(list);
        EXPECT_NE(list.err.find("cache not available in this server"), std::string::npos)
            << dump(list);
        auto flush = ctl({"cache", "flush"});
        EXPECT_EQ(flush.code, 1) << dump(flush);
        EXPECT_NE(flush.err.find("cache not available in this server"), std::string::npos);
        return;
    }
    EXPECT_NE(list.out.find("cache.test"), std::string::npos) << dump(list);
    EXPECT_NE(list.out.find("SITE"), std::string::npos) << dump(list);
    auto flush = ctl({"cache", "flush", "cache.test"});
    EXPECT_EQ(flush.code, 0) << dump(flush);
    auto after = ctl({"--json", "cache", "list"});
    ASSERT_EQ(after.code, 0) << dump(after);
    EXPECT_EQ(after.out.find("cache.test"), std::string::npos) << after.out;
    EXPECT_EQ(ctl({"cache", "flush"}).code, 0);
}

}  // namespace
}  // namespace byparr
