// The one home of plugin enable-state (core/plugin_state.h): the rules the
// registry and byparrctl share, the file they share, and the admin error types.
#include "core/plugin_state.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace byparr {
namespace {

namespace fs = std::filesystem;

fs::path temp_dir(const char* name) {
    auto d = fs::temp_directory_path() /
             (std::string("byparr-state-") + name + "-" + std::to_string(getpid()));
    fs::remove_all(d);
    return d;
}

TEST(PluginState, SavesAtomicallyAndLoadsWhatItSaved) {
    auto dir = temp_dir("roundtrip");
    PluginState s;
    s.explicit_state = {{"a", true}, {"b", false}};
    s.order = {"b", "a"};
    std::string path = plugin_state_file(dir.string());
    ASSERT_FALSE(s.save(path));  // creates the directory too
    std::string why;
    PluginState back = PluginState::load(path, &why);
    EXPECT_TRUE(why.empty()) << why;
    EXPECT_EQ(back.explicit_state, s.explicit_state);
    EXPECT_EQ(back.order, s.order);
    for (const auto& e : fs::directory_iterator(dir))  // no temp file left behind
        EXPECT_EQ(e.path().filename(), "plugins.json");
    fs::remove_all(dir);
}

TEST(PluginState, AMissingFileIsTheEmptyStateAndAnUnreadableOneSaysWhy) {
    auto dir = temp_dir("bad");
    std::string why;
    EXPECT_TRUE(PluginState::load((dir / "none.json").string(), &why).explicit_state.empty());
    EXPECT_TRUE(why.empty());
    fs::create_directories(dir);
    std::ofstream(dir / "plugins.json") << "{not json";
    auto s = PluginState::load((dir / "plugins.json").string(), &why);
    EXPECT_TRUE(s.explicit_state.empty());
    EXPECT_FALSE(why.empty());
    fs::remove_all(dir);
}

TEST(PluginState, SolversRunOnlyWhenConfiguredOrEnabledOtherComponentsAlways) {
    PluginState s;
    s.explicit_state = {{"off", false}, {"on", true}};
    std::vector<std::string> configured{"webengine"};
    EXPECT_TRUE(s.is_enabled("webengine", true, configured));
    EXPECT_FALSE(s.is_enabled("dropped-in", true, configured));
    EXPECT_TRUE(s.is_enabled("on", true, configured));
    EXPECT_TRUE(s.is_enabled("a-cookie-source", false, configured));
    EXPECT_FALSE(s.is_enabled("off", false, configured));
}

TEST(PluginState, ConfiguredOrderWinsThenSavedThenDefaultsAndUnnamedSolversGoLast) {
    PluginState s;
    std::vector<std::string> defaults{"webengine", "cookie-import"}, solvers{"x", "webengine"};
    EXPECT_EQ(s.chain_order({}, defaults, solvers),
              (std::vector<std::string>{"webengine", "cookie-import", "x"}));
    s.order = {"x"};
    EXPECT_EQ(s.chain_order({}, defaults, solvers), (std::vector<std::string>{"x", "webengine"}));
    EXPECT_EQ(s.chain_order({"webengine"}, defaults, solvers),
              (std::vector<std::string>{"webengine", "x"}));
}

TEST(AdminError, MapsToAnHttpStatusByKind) {
    EXPECT_EQ(http_status(AdminError::Kind::kNotFound), 404);
    EXPECT_EQ(http_status(AdminError::Kind::kInvalid), 400);
    EXPECT_EQ(http_status(AdminError::Kind::kIo), 500);
}

}  // namespace
}  // namespace byparr
