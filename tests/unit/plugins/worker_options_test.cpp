// The webengine worker's identity strings (issue #13): what Chrome itself would send.
#include <gtest/gtest.h>

#include "plugins/browser/worker/worker_options.h"

namespace byparr::browser {
namespace {

TEST(WorkerOptions, UserAgentIsReducedPlainChrome) {
    const std::string qt =
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
        "QtWebEngine/6.4.2 Chrome/102.0.5005.177 Safari/537.36";
    EXPECT_EQ(clean_user_agent(qt),
              "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
              "Chrome/102.0.0.0 Safari/537.36");
    EXPECT_EQ(clean_user_agent("x HeadlessChrome/120.0.6099.5 y"), "x Chrome/120.0.0.0 y");
    EXPECT_EQ(chrome_full_version(qt), "102.0.5005.177");
    EXPECT_EQ(chrome_full_version("curl/8.0"), "");
}

TEST(WorkerOptions, AcceptLanguageHasChromesQValues) {
    EXPECT_EQ(accept_language_for("en-US"), "en-US,en;q=0.9");
    EXPECT_EQ(accept_language_for("de-DE"), "de-DE,de;q=0.9,en;q=0.8");
    EXPECT_EQ(accept_language_for("en"), "en");
    EXPECT_EQ(accept_language_for("fr"), "fr,en;q=0.9");
}

TEST(WorkerOptions, TimezoneTakesIanaNamesOnly) {
    EXPECT_EQ(normalize_timezone("Europe/Berlin"), "Europe/Berlin");
    EXPECT_EQ(normalize_timezone(":America/New_York"), "America/New_York");
    EXPECT_EQ(normalize_timezone("UTC"), "UTC");
    EXPECT_EQ(normalize_timezone("Etc/GMT+5"), "Etc/GMT+5");
    EXPECT_EQ(normalize_timezone("America/Argentina/Buenos_Aires"),
              "America/Argentina/Buenos_Aires");
    EXPECT_EQ(normalize_timezone("CET-1CEST"), "");  // a POSIX rule, not a zone name
    EXPECT_EQ(normalize_timezone("../../etc/passwd"), "");
    EXPECT_EQ(normalize_timezone("Europe/Berlin; rm"), "");
    EXPECT_EQ(normalize_timezone(""), "");
}

TEST(WorkerOptions, DisplayAndTimezoneArguments) {
    const char* argv[] = {"w",   "--fd", "3", "--timezone", "Asia/Tokyo", "--browser-display",
                          "xvfb"};
    WorkerOptions o;
    std::string error;
    ASSERT_TRUE(parse_worker_options(7, const_cast<char**>(argv), &o, &error)) << error;
    EXPECT_EQ(o.timezone, "Asia/Tokyo");
    EXPECT_EQ(o.display, DisplayMode::kXvfb);

    const char* bad[] = {"w", "--fd", "3", "--browser-display", "wayland"};
    WorkerOptions o2;
    EXPECT_FALSE(parse_worker_options(5, const_cast<char**>(bad), &o2, &error));
    EXPECT_NE(error.find("offscreen, xvfb or headless"), std::string::npos) << error;
}

}  // namespace
}  // namespace byparr::browser
