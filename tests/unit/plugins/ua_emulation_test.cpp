// The identity a DevTools session gives its page (plugins/browser/worker/ua_emulation.h):
// each value is what Chrome 102 itself sends, the browser the webengine worker imitates.
#include <gtest/gtest.h>

#include "plugins/browser/worker/ua_emulation.h"

#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace byparr::browser {
namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

const char* const kChrome102 =
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/102.0.0.0 Safari/537.36";

// What the webengine worker sets up (plugins/webengine/worker/worker.cpp).
UaOverride linux_chrome(const std::string& full_version) {
    UaOverride ua;
    ua.user_agent = kChrome102;
    ua.platform = "Linux x86_64";
    ua.full_version = full_version;
    return ua;
}

std::string json(const Object::Ptr& o) {
    std::ostringstream os;
    o->stringify(os);
    return os.str();
}

TEST(UaEmulation, AcceptLanguageLosesItsQValues) {
    EXPECT_EQ(sanitize_accept_language("de-DE,de;q=0.9,en;q=0.8"), "de-DE,de,en");
    EXPECT_EQ(sanitize_accept_language("en-US,en;q=0.9"), "en-US,en");
    EXPECT_EQ(sanitize_accept_language(" fr-FR , fr ;q=0.5,,\ten "), "fr-FR,fr,en");
    EXPECT_EQ(sanitize_accept_language(";q=0.9"), "");
    EXPECT_EQ(sanitize_accept_language(""), "");
}

TEST(UaEmulation, MajorIsTheVersionUpToTheFirstDot) {
    EXPECT_EQ(major_of("102.0.5005.177"), "102");
    EXPECT_EQ(major_of("156.0.7258.66"), "156");
    EXPECT_EQ(major_of("120"), "120");
    EXPECT_EQ(major_of(""), "");
}

TEST(UaEmulation, BrandsAreChrome102sWithTheGreaseBrandFirst) {
    const HeaderList want = {{" Not A;Brand", "99"}, {"Chromium", "102"}, {"Google Chrome", "102"}};
    EXPECT_EQ(brands_of(linux_chrome("102.0.5005.177")), want);
}

// From 103 the major chooses the GREASE brand, its version and the order: real sec-ch-ua
// values of Chrome 120, 124 and 131, and the brands Debian's Chromium 156 reports (a Chromium
// build: no "Google Chrome").
TEST(UaEmulation, BrandsFollowChromiumsGreaseForTheMajor) {
    EXPECT_EQ(client_hint_headers(linux_chrome("120.0.6099.109"))[0].second,
              R"("Not_A Brand";v="8", "Chromium";v="120", "Google Chrome";v="120")");
    EXPECT_EQ(client_hint_headers(linux_chrome("124.0.6367.60"))[0].second,
              R"("Chromium";v="124", "Google Chrome";v="124", "Not-A.Brand";v="99")");
    EXPECT_EQ(client_hint_headers(linux_chrome("131.0.6778.85"))[0].second,
              R"("Google Chrome";v="131", "Chromium";v="131", "Not_A Brand";v="24")");
    UaOverride chromium = linux_chrome("156.0.8078.114");
    chromium.product_brand.clear();
    const HeaderList want = {{"Not:A-Brand", "8"}, {"Chromium", "156"}};
    EXPECT_EQ(brands_of(chromium), want);
}

TEST(UaEmulation, ClientHintHeadersAreFormattedAsChromeSendsThem) {
    UaOverride ua = linux_chrome("102.0.5005.177");
    const HeaderList want = {
        {"sec-ch-ua", R"(" Not A;Brand";v="99", "Chromium";v="102", "Google Chrome";v="102")"},
        {"sec-ch-ua-mobile", "?0"},
        {"sec-ch-ua-platform", R"("Linux")"}};
    EXPECT_EQ(client_hint_headers(ua), want);

    ua.ch_platform = "Windows";
    EXPECT_EQ(client_hint_headers(ua)[2].second, R"("Windows")");
}

// navigator.platform says "Linux x86_64" as Chrome on Linux does, while userAgentData and
// sec-ch-ua-platform say "Linux".
TEST(UaEmulation, PlatformGoesToNavigatorAndClientHintsSeparately) {
    const UaOverride ua = linux_chrome("102.0.5005.177");
    const auto over = user_agent_override_params(ua, ua.user_agent);
    EXPECT_EQ(over->getValue<std::string>("platform"), "Linux x86_64");
    const auto meta = over->getObject("userAgentMetadata");
    ASSERT_TRUE(meta);
    EXPECT_EQ(meta->getValue<std::string>("platform"), "Linux");
    EXPECT_EQ(meta->getValue<std::string>("architecture"), "x86");
    EXPECT_EQ(meta->getValue<std::string>("bitness"), "64");
    EXPECT_FALSE(meta->getValue<bool>("mobile"));
    EXPECT_EQ(client_hint_headers(ua)[2].second, R"("Linux")");
}

TEST(UaEmulation, FullVersionListPadsTheGreaseBrand) {
    const UaOverride ua = linux_chrome("156.0.7258.66");
    const auto meta = user_agent_override_params(ua, ua.user_agent)->getObject("userAgentMetadata");
    ASSERT_TRUE(meta);
    const auto list = meta->getArray("fullVersionList");
    ASSERT_TRUE(list);
    ASSERT_EQ(list->size(), 3u);
    std::vector<std::string> got;
    for (unsigned i = 0; i < list->size(); ++i) {
        const auto b = list->getObject(i);
        got.push_back(b->getValue<std::string>("brand") + "/" +
                      b->getValue<std::string>("version"));
    }
    // 156: the GREASE brand "Not:A-Brand" 8 first (156 % 6 == 0: Chromium's first order).
    EXPECT_EQ(got, (std::vector<std::string>{"Not:A-Brand/8.0.0.0", "Chromium/156.0.7258.66",
                                             "Google Chrome/156.0.7258.66"}));
    EXPECT_EQ(meta->getValue<std::string>("fullVersion"), "156.0.7258.66");
    // userAgentData.brands and sec-ch-ua come from one list, so they agree.
    const auto brands = meta->getArray("brands");
    ASSERT_TRUE(brands);
    ASSERT_EQ(brands->size(), 3u);
    EXPECT_EQ(brands->getObject(1)->getValue<std::string>("version"), "156");
}

// The exact text sent to Chromium, pinned so a change to it is a decision, not an accident.
TEST(UaEmulation, OverrideParamsAreExactlyWhatIsSent) {
    UaOverride ua = linux_chrome("102.0.5005.177");
    ua.accept_language = "de-DE,de;q=0.9,en;q=0.8";
    EXPECT_EQ(
        json(user_agent_override_params(ua, ua.user_agent)),
        std::string(R"({"acceptLanguage":"de-DE,de,en","platform":"Linux x86_64","userAgent":")") +
            kChrome102 +
            R"(","userAgentMetadata":{"architecture":"x86","bitness":"64","brands":[)"
            R"({"brand":" Not A;Brand","version":"99"},{"brand":"Chromium","version":"102"},)"
            R"({"brand":"Google Chrome","version":"102"}],"fullVersion":"102.0.5005.177",)"
            R"("fullVersionList":[{"brand":" Not A;Brand","version":"99.0.0.0"},)"
            R"({"brand":"Chromium","version":"102.0.5005.177"},)"
            R"({"brand":"Google Chrome","version":"102.0.5005.177"}],"mobile":false,)"
            R"("model":"","platform":"Linux","platformVersion":""}})");
}

// No Accept-Language in the override when there is none to give: the profile's then applies.
TEST(UaEmulation, OverrideLeavesAcceptLanguageOutWhenEmpty) {
    UaOverride ua = linux_chrome("102.0.5005.177");
    EXPECT_FALSE(user_agent_override_params(ua, "UA")->has("acceptLanguage"));
    ua.accept_language = ";q=0.9";
    EXPECT_FALSE(user_agent_override_params(ua, "UA")->has("acceptLanguage"));
    // The UA to claim is the argument (the browser's own when ua.user_agent is empty).
    EXPECT_EQ(user_agent_override_params(ua, "UA")->getValue<std::string>("userAgent"), "UA");
}

TEST(UaEmulation, HeaderRankIsChromesDocumentOrder) {
    EXPECT_EQ(chrome_header_rank("sec-ch-ua"), -1);
    EXPECT_EQ(chrome_header_rank("Sec-CH-UA-Platform"), -1);
    EXPECT_EQ(chrome_header_rank("Content-Length"), 0);
    EXPECT_EQ(chrome_header_rank("upgrade-insecure-requests"), 2);
    EXPECT_EQ(chrome_header_rank("User-Agent"), 5);
    EXPECT_EQ(chrome_header_rank("Referer"), 11);
    EXPECT_EQ(chrome_header_rank("X-Custom"), 12);
    EXPECT_EQ(chrome_header_rank("cookie"), 12);
}

// A paused form POST's headers arrive sorted by name; ranked, they are in Chrome's order.
TEST(UaEmulation, HeaderRankSortsAPausedPostIntoChromesOrder) {
    std::vector<std::string> names = {"Accept",
                                      "Cache-Control",
                                      "Content-Length",
                                      "Content-Type",
                                      "Origin",
                                      "Referer",
                                      "Sec-Fetch-Dest",
                                      "Sec-Fetch-Mode",
                                      "Sec-Fetch-Site",
                                      "Sec-Fetch-User",
                                      "Upgrade-Insecure-Requests",
                                      "User-Agent",
                                      "X-B",
                                      "X-A",
                                      "sec-ch-ua"};
    std::stable_sort(names.begin(), names.end(), [](const auto& a, const auto& b) {
        return chrome_header_rank(a) < chrome_header_rank(b);
    });
    EXPECT_EQ(names,
              (std::vector<std::string>{
                  "sec-ch-ua", "Content-Length", "Cache-Control", "Upgrade-Insecure-Requests",
                  "Origin", "Content-Type", "User-Agent", "Accept", "Sec-Fetch-Site",
                  "Sec-Fetch-Mode", "Sec-Fetch-User", "Sec-Fetch-Dest", "Referer", "X-B", "X-A"}));
}

}  // namespace
}  // namespace byparr::browser
