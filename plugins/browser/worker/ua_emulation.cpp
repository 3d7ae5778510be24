#include "ua_emulation.h"

#include "core/strings.h"

#include <Poco/JSON/Array.h>

#include <cstdlib>
#include <iterator>
#include <sstream>

namespace byparr::browser {

namespace {

using Poco::JSON::Array;
using Poco::JSON::Object;

// Request headers of a document in the order Chrome sends them (a navigation, a form POST),
// as recorded from Chromium on the wire (tests/integration/fingerprint).
constexpr const char* kChromeOrder[] = {
    "content-length", "cache-control",  "upgrade-insecure-requests",
    "origin",         "content-type",   "user-agent",
    "accept",         "sec-fetch-site", "sec-fetch-mode",
    "sec-fetch-user", "sec-fetch-dest", "referer"};

}  // namespace

// Chromium turns the list into the header itself, and q-values passed in end up mangled in it.
std::string sanitize_accept_language(const std::string& in) {
    std::string out;
    std::stringstream ss(in);
    std::string item;
    while (std::getline(ss, item, ',')) {
        item = std::string(trim(item.substr(0, item.find(';'))));
        if (item.empty()) continue;
        if (!out.empty()) out += ',';
        out += item;
    }
    return out;
}

std::string major_of(const std::string& version) {
    return version.substr(0, version.find('.'));
}

HeaderList brands_of(const UaOverride& ua) {
    const std::string major = major_of(ua.full_version);
    const int seed = std::atoi(major.c_str());
    const bool product = !ua.product_brand.empty();
    if (seed <= 102) {
        // Chrome 89-102: the GREASE brand first, then Chromium, then the product.
        HeaderList list{{" Not A;Brand", "99"}, {"Chromium", major}};
        if (product) list.emplace_back(ua.product_brand, major);
        return list;
    }
    // Chrome 103 on: the major seeds the GREASE brand's two characters, its version and the
    // order (checked against Chrome 120, 124 and 131's sec-ch-ua and Chromium 156's brands).
    static const char* const kChars[] = {" ", "(", ":", "-", ".", "/", ")", ";", "=", "?", "_"};
    static const char* const kVersions[] = {"8", "99", "24"};
    const std::pair<std::string, std::string> grease{
        std::string("Not") + kChars[seed % 11] + "A" + kChars[(seed + 1) % 11] + "Brand",
        kVersions[seed % 3]};
    if (!product) {
        static const int kOrders2[][2] = {{0, 1}, {1, 0}};
        const int* order = kOrders2[seed % 2];
        HeaderList list(2);
        list[order[0]] = grease;
        list[order[1]] = {"Chromium", major};
        return list;
    }
    static const int kOrders3[][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                      {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    const int* order = kOrders3[seed % 6];
    HeaderList list(3);
    list[order[0]] = grease;
    list[order[1]] = {"Chromium", major};
    list[order[2]] = {ua.product_brand, major};
    return list;
}

HeaderList client_hint_headers(const UaOverride& ua) {
    std::string sec_ch_ua;
    for (const auto& [brand, version] : brands_of(ua)) {
        if (!sec_ch_ua.empty()) sec_ch_ua += ", ";
        sec_ch_ua += "\"" + brand + "\";v=\"" + version + "\"";
    }
    return {{"sec-ch-ua", sec_ch_ua},
            {"sec-ch-ua-mobile", "?0"},
            {"sec-ch-ua-platform", "\"" + ua.ch_platform + "\""}};
}

Object::Ptr user_agent_override_params(const UaOverride& ua, const std::string& user_agent) {
    const std::string major = major_of(ua.full_version);
    auto brand_list = Array::Ptr(new Array);
    auto full_list = Array::Ptr(new Array);
    for (const auto& [brand, version] : brands_of(ua)) {
        auto b = Object::Ptr(new Object);
        b->set("brand", brand);
        b->set("version", version);
        brand_list->add(b);
        // The GREASE brand has no full version of its own: Chrome pads its major.
        auto f = Object::Ptr(new Object);
        f->set("brand", brand);
        f->set("version", version == major ? ua.full_version : version + ".0.0.0");
        full_list->add(f);
    }
    auto meta = Object::Ptr(new Object);
    meta->set("brands", brand_list);
    meta->set("fullVersionList", full_list);
    meta->set("fullVersion", ua.full_version);
    meta->set("platform", ua.ch_platform);
    meta->set("platformVersion", ua.platform_version);
    meta->set("architecture", ua.architecture);
    meta->set("model", std::string());
    meta->set("mobile", false);
    meta->set("bitness", ua.bitness);

    auto over = Object::Ptr(new Object);
    over->set("userAgent", user_agent);
    const std::string langs = sanitize_accept_language(ua.accept_language);
    if (!langs.empty()) over->set("acceptLanguage", langs);
    over->set("platform", ua.platform);
    over->set("userAgentMetadata", meta);
    return over;
}

int chrome_header_rank(const std::string& name) {
    const std::string n = ascii_lower(name);
    if (n.rfind("sec-ch-ua", 0) == 0) return -1;
    for (size_t i = 0; i < std::size(kChromeOrder); ++i)
        if (n == kChromeOrder[i]) return static_cast<int>(i);
    return static_cast<int>(std::size(kChromeOrder));
}

}  // namespace byparr::browser
