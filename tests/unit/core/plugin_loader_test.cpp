// Every loader rule against a real fixture plugin built for it (tests/fixtures/plugins).
#include "core/plugin_loader.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "byparr/build_paths.h"
#include "core/dispatcher.h"
#include "core/registry.h"

namespace byparr {
namespace {

std::string fixture_dir(const std::string& name) {
    return std::string(byparr::build_paths::kFixturePluginDir) + "/" + name;
}

PluginRecord load_fixture(const std::string& name) {
    auto recs = discover_plugins({fixture_dir(name)});
    EXPECT_EQ(recs.size(), 1u) << name;
    if (recs.empty()) return {};
    load_plugin(recs[0]);
    return std::move(recs[0]);
}

TEST(PluginLoader, LoadsAWellFormedPluginAndItsComponents) {
    auto r = load_fixture("good");
    EXPECT_TRUE(r.loaded()) << r.detail;
    ASSERT_EQ(r.components.size(), 1u);
    EXPECT_EQ(r.components[0].id, "echo-solver");
    EXPECT_EQ(r.components[0].kind, RegisteredComponent::Kind::kSolver);
    EXPECT_EQ(r.manifest.version, "1.2.3");
}

TEST(PluginLoader, LoadsAStrippedLibrary) {
    // Installed plugins are stripped (.deb); the entry symbol lives in .dynsym.
    namespace fs = std::filesystem;
    auto dir = fs::temp_directory_path() / ("byparr-stripped-" + std::to_string(getpid()));
    fs::remove_all(dir);
    fs::copy(fixture_dir("good"), dir, fs::copy_options::recursive);
    std::string lib = (dir / "echo-solver" / "libecho-solver.so").string();
    ASSERT_EQ(std::system(("strip --strip-all " + lib).c_str()), 0);
    auto recs = discover_plugins({dir.string()});
    ASSERT_EQ(recs.size(), 1u);
    load_plugin(recs[0]);
    EXPECT_TRUE(recs[0].loaded()) << recs[0].detail;
    fs::remove_all(dir);
}

TEST(PluginLoader, RejectsANonElfLibrary) {
    namespace fs = std::filesystem;
    auto dir = fs::temp_directory_path() / ("byparr-nonelf-" + std::to_string(getpid()));
    fs::create_directories(dir / "junk");
    std::ofstream(dir / "junk" / "junk.plugin.json")
        << R"({"id":"junk","version":"1.0.0","library":"libjunk.so","abi":{"major":1,"minor":0}})";
    std::ofstream(dir / "junk" / "libjunk.so") << "#!/bin/sh\necho not a library\n";
    auto recs = discover_plugins({dir.string()});
    ASSERT_EQ(recs.size(), 1u);
    load_plugin(recs[0]);
    EXPECT_EQ(recs[0].refusal, LoadRefusal::kLoadFailed);
    EXPECT_NE(recs[0].detail.find("not an ELF"), std::string::npos) << recs[0].detail;
    fs::remove_all(dir);
}

TEST(PluginLoader, RejectsMissingEntrySymbolWithoutRunningItsCode) {
    testing::internal::CaptureStderr();
    auto r = load_fixture("missing-symbol");
    std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(r.refusal, LoadRefusal::kMissingEntrySymbol) << r.detail;
    EXPECT_EQ(err.find("constructor ran"), std::string::npos) << "library was dlopen()ed";
}

TEST(PluginLoader, RejectsNewerAbiMinor) {
    auto r = load_fixture("newer-minor");
    EXPECT_EQ(r.refusal, LoadRefusal::kNewerAbiMinor) << r.detail;
}

TEST(PluginLoader, RejectsWrongAbiMajor) {
    auto r = load_fixture("wrong-major");
    EXPECT_EQ(r.refusal, LoadRefusal::kWrongAbiMajor) << r.detail;
    EXPECT_NE(r.detail.find("byparr_plugin_query_v2"), std::string::npos);
}

TEST(PluginLoader, RejectsManifestBinaryMismatchNamingBothVersions) {
    auto r = load_fixture("mismatch");
    EXPECT_EQ(r.refusal, LoadRefusal::kManifestMismatch);
    EXPECT_NE(r.detail.find("9.9.9"), std::string::npos) << r.detail;
    EXPECT_NE(r.detail.find("1.2.3"), std::string::npos) << r.detail;
}

TEST(PluginLoader, RejectsOversizedStruct) {
    auto r = load_fixture("oversized");
    EXPECT_EQ(r.refusal, LoadRefusal::kOversizedStruct) << r.detail;
}

TEST(PluginLoader, RejectsInvalidManifestWithItsReason) {
    auto dir =
        std::filesystem::temp_directory_path() / ("byparr-manifest-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir / "bad");
    std::ofstream(dir / "bad" / "bad.plugin.json") << R"({"id":"bad","version":"1.0.0"})";
    auto recs = discover_plugins({dir.string()});
    ASSERT_EQ(recs.size(), 1u);
    EXPECT_EQ(recs[0].refusal, LoadRefusal::kManifestInvalid);
    EXPECT_NE(recs[0].detail.find("'library' is missing"), std::string::npos) << recs[0].detail;
    std::filesystem::remove_all(dir);
}

TEST(PluginManifest, ValidatesIdsAndAbi) {
    std::string err;
    EXPECT_FALSE(parse_manifest(
        R"({"id":"Bad_Id","version":"1","library":"x.so","abi":{"major":1,"minor":0}})", &err));
    EXPECT_NE(err.find("'id'"), std::string::npos);
    EXPECT_FALSE(parse_manifest(
        R"({"id":"ok","version":"1","library":"../x.so","abi":{"major":1,"minor":0}})", &err));
    EXPECT_FALSE(parse_manifest(
        R"({"id":"ok","version":"1","library":"x.so","abi":{"major":-1,"minor":0}})", &err));
    EXPECT_TRUE(parse_manifest(
        R"({"id":"ok","version":"1","library":"x.so","abi":{"major":1,"minor":0}})", &err));
}

TEST(PluginManifest, SettingsAreEnvironmentNamesAndNeverTheApiKey) {
    std::string err;
    auto m = parse_manifest(R"({"id":"ok","version":"1","library":"x.so",
        "abi":{"major":1,"minor":1},"settings":["MY_SETTING","_X2"]})",
                            &err);
    ASSERT_TRUE(m) << err;
    EXPECT_EQ(m->settings, (std::vector<std::string>{"MY_SETTING", "_X2"}));
    EXPECT_FALSE(parse_manifest(R"({"id":"ok","version":"1","library":"x.so",
        "abi":{"major":1,"minor":1},"settings":["lower"]})",
                                &err));
    EXPECT_EQ(err,
              "'settings' entry 'lower' is not an environment variable name ([A-Z_][A-Z0-9_]*)");
    EXPECT_FALSE(parse_manifest(R"({"id":"ok","version":"1","library":"x.so",
        "abi":{"major":1,"minor":1},"settings":["API_KEY"]})",
                                &err));
    EXPECT_EQ(err, "'settings' may not name API_KEY (the host's secret)");
    EXPECT_FALSE(parse_manifest(R"({"id":"ok","version":"1","library":"x.so",
        "abi":{"major":1,"minor":1},"settings":"X"})",
                                &err));
}

Config config_for(const std::string& fixture, const std::string& solvers) {
    std::string err;
    auto state = std::filesystem::temp_directory_path() /
                 ("byparr-reg-" + fixture + "-" + std::to_string(getpid()));
    std::filesystem::remove_all(state);
    auto c = Config::from_map({{"BYPARR_PLUGIN_PATH", fixture_dir(fixture)},
                               {"BYPARR_STATE_DIR", state.string()},
                               {"SOLVERS", solvers}},
                              &err);
    EXPECT_TRUE(c) << err;
    return *c;
}

TEST(Registry, FaultsAComponentThatThrowsInCreate) {
    Registry reg(config_for("throws-create", "throws-create"));
    reg.load_all();
    auto st = reg.status();
    ASSERT_EQ(st.size(), 1u);
    EXPECT_STREQ(st[0].state(), "faulted");
    EXPECT_NE(st[0].reason.find("fixture refuses to be created"), std::string::npos)
        << st[0].reason;
    EXPECT_TRUE(reg.solver_chain().empty());
}

TEST(Registry, FaultsAComponentThatCrashesInCreateWithoutDying) {
    Registry reg(config_for("crash-create", "crash-create"));
    reg.load_all();  // would kill this test process without the fork probe
    auto st = reg.status();
    ASSERT_EQ(st.size(), 1u);
    EXPECT_STREQ(st[0].state(), "faulted");
    // Under AddressSanitizer its SEGV handler reports and exits instead of dying by
    // the signal; either way the component is faulted.
    EXPECT_TRUE(st[0].reason.find("crashed in create()") != std::string::npos ||
                st[0].reason.find("ended the process") != std::string::npos)
        << st[0].reason;
}

TEST(Registry, HangingSolveIsAbandonedAtTheDeadlineAndFaulted) {
    Registry reg(config_for("hang-solve", "hang-solve"));
    reg.load_all();
    Dispatcher d(reg);
    SolveRequest r;
    r.url = "http://127.0.0.1:9/";
    r.timeout_ms = 300;
    auto t0 = std::chrono::steady_clock::now();
    auto o = d.solve(r);
    auto ms =
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
            .count();
    EXPECT_FALSE(o.ok);
    EXPECT_EQ(o.error_kind, BYPARR_ERROR_TIMEOUT);
    EXPECT_LT(ms, 300 + 500);
    EXPECT_GE(ms, 300);
    auto st = reg.status();
    ASSERT_EQ(st.size(), 1u);
    EXPECT_STREQ(st[0].state(), "faulted");
    EXPECT_NE(st[0].reason.find("circuit open"), std::string::npos);
    EXPECT_TRUE(reg.solver_chain().empty());
    // While it is out of the chain, requests are told why, not to "enable one".
    auto next = d.solve(r);
    EXPECT_FALSE(next.ok);
    EXPECT_NE(next.error.find("'hang-solve' is unavailable (circuit open"), std::string::npos)
        << next.error;
}

TEST(Registry, EnabledStateAndOrderPersistAcrossRestarts) {
    Config c = config_for("good", "");
    {
        Registry reg(c);
        reg.load_all();
        // Third-party solvers are off until enabled (not named in SOLVERS).
        EXPECT_FALSE(reg.is_enabled("echo-solver"));
        EXPECT_FALSE(reg.set_enabled("echo-solver", true));
        EXPECT_TRUE(reg.set_enabled("nope", true).has_value());
    }
    {
        Registry reg(c);
        reg.load_all();
        EXPECT_TRUE(reg.is_enabled("echo-solver"));
        ASSERT_EQ(reg.solver_chain().size(), 1u);
        EXPECT_FALSE(reg.set_enabled("echo-solver", false));
    }
    Registry reg(c);
    reg.load_all();
    EXPECT_FALSE(reg.is_enabled("echo-solver"));
    EXPECT_TRUE(reg.solver_chain().empty());
    std::filesystem::remove_all(c.state_dir);
}

// Issue #17: is_enabled() read the state map unlocked while set_enabled() wrote it. The
// values are not the point here; ThreadSanitizer (the tsan preset) is.
TEST(Registry, EnabledStateIsReadSafelyWhileTheAdminChangesIt) {
    Config c = config_for("good", "");
    Registry reg(c);
    reg.load_all();
    std::atomic<bool> stop{false};
    std::thread reader([&] {
        while (!stop.load()) {
            (void)reg.is_enabled("echo-solver");
            (void)reg.solver_chain();
        }
    });
    for (int i = 0; i < 200; ++i)
        EXPECT_FALSE(reg.set_enabled("echo-solver", i % 2 == 0));
    stop = true;
    reader.join();
    EXPECT_FALSE(reg.is_enabled("echo-solver"));  // the last write: i = 199, disabled
    std::filesystem::remove_all(c.state_dir);
}

// Issue #17: a plugin gets exactly the settings its manifest declares, whatever their
// names (the host keeps no list of them), parsed by one rule in every typed getter.
TEST(Registry, PassesExactlyTheDeclaredSettings) {
    Config c = config_for("settings", "settings-solver");
    c.raw = {{"FIXTURE_TEXT", "hello there"}, {"FIXTURE_FLAG", " On "},
             {"FIXTURE_COUNT", "42"},         {"FIXTURE_WAIT", "1500ms"},
             {"FIXTURE_LIST", "a, b,,c"},     {"FIXTURE_UNDECLARED", "secret"}};
    Registry reg(c);
    reg.load_all();
    ASSERT_EQ(reg.plugins().size(), 1u);
    EXPECT_EQ(reg.plugins()[0].manifest.settings,
              (std::vector<std::string>{"FIXTURE_TEXT", "FIXTURE_FLAG", "FIXTURE_COUNT",
                                        "FIXTURE_WAIT", "FIXTURE_LIST"}));
    Dispatcher d(reg);
    SolveRequest r;
    r.url = "http://a.test/";
    auto o = d.solve(r);
    ASSERT_TRUE(o.ok) << o.error;
    EXPECT_EQ(o.solution.response,
              "text=hello there flag=yes count=42 wait_ms=1500 list=a|b|c undeclared=unset");
    std::filesystem::remove_all(c.state_dir);
}

TEST(Registry, AnInvalidSettingFaultsTheComponentSayingWhich) {
    Config c = config_for("settings", "settings-solver");
    c.raw = {{"FIXTURE_COUNT", "101"}};
    Registry reg(c);
    reg.load_all();
    auto st = reg.status();
    ASSERT_EQ(st.size(), 1u);
    EXPECT_STREQ(st[0].state(), "faulted");
    EXPECT_NE(st[0].reason.find("FIXTURE_COUNT='101' is not an integer from 0 to 100"),
              std::string::npos)
        << st[0].reason;
    std::filesystem::remove_all(c.state_dir);
}

TEST(Dispatcher, UnknownOrDisabledSolverGetsAClearError) {
    Registry reg(config_for("good", "webengine"));
    reg.load_all();
    Dispatcher d(reg);
    SolveRequest r;
    r.url = "http://a.test/";
    r.solver = "nope";
    EXPECT_EQ(d.solve(r).error, "Request parameter 'solver' = 'nope' is not a known solver.");
    r.solver = "echo-solver";
    EXPECT_EQ(d.solve(r).error, "Solver 'echo-solver' is disabled.");
    r.solver = "";
    EXPECT_FALSE(d.solve(r).ok);  // chain is webengine only, which is absent here
}

}  // namespace
}  // namespace byparr
