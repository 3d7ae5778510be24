// The identity a DevTools session gives its page (issue #17): the Emulation.setUserAgentOverride
// parameters and the sec-ch-ua* header values, and where Chrome puts a document request's headers.
//
// Kept apart from the DevTools client, as pure functions of a UaOverride without Qt or I/O,
// because this is where a fingerprint is won or lost: each value must match what the browser
// being imitated sends, byte for byte, and a unit test can pin that without starting a browser.
// One brand list feeds userAgentData and the sec-ch-ua header, so the two always agree.

#pragma once

#include <Poco/JSON/Object.h>

#include <string>
#include <utility>
#include <vector>

namespace byparr::browser {

// Identity applied to an attached page with Emulation.setUserAgentOverride, plus the sec-ch-ua*
// headers via Network.setExtraHTTPHeaders (the override alone omits them on top navigations).
struct UaOverride {
    std::string user_agent;  // empty: keep the browser's current UA string
    // "de-DE,de,en"; q-values are stripped (Chromium adds its own). Empty: no Accept-Language
    // in the override (the profile's applies); an override puts the header early in the list,
    // where Chrome sends it last.
    std::string accept_language;
    std::string platform = "Linux";  // navigator.platform (real Chrome on Linux: "Linux x86_64")
    std::string full_version = "102.0.5005.177";  // major part used for brands
    // The brand listed beside "Chromium": "Google Chrome" for Chrome; empty for a Chromium
    // build, which lists only "Chromium" (and the GREASE brand), as Debian's chromium does.
    std::string product_brand = "Google Chrome";
    std::string ch_platform = "Linux";  // userAgentData.platform / sec-ch-ua-platform
    std::string platform_version;       // userAgentData platformVersion
    std::string architecture = "x86";
    std::string bitness = "64";
    // Emulation.setTimezoneOverride (an IANA zone) and Emulation.setLocaleOverride (BCP 47),
    // so Date and Intl agree with each other and with the exit IP; empty: none.
    std::string timezone;
    std::string locale;
    // Chromium 102 in Qt drops sec-ch-ua* on a navigation's redirect hops, and
    // setExtraHTTPHeaders only reaches the first hop. With this on, the session Fetch-intercepts
    // Document requests (request stage) and re-adds them on every hop. Cost: each document
    // request waits for one round trip through the client thread (well under 1 ms when idle),
    // so keep client callbacks short. Off: the worker's request interceptor must add them
    // (see DevToolsClient::client_hint_headers).
    bool intercept_documents = true;
    // False: no UA, client-hint or header override at all (a current Chromium already is
    // what it claims); the time zone and locale still apply.
    bool emulate = true;
};

using HeaderList = std::vector<std::pair<std::string, std::string>>;

// "de-DE,de;q=0.9,en;q=0.8" -> "de-DE,de,en".
std::string sanitize_accept_language(const std::string& in);

// "102.0.5005.177" -> "102"; a version without a dot is its own major.
std::string major_of(const std::string& version);

// (brand, version) in the order userAgentData.brands and sec-ch-ua list them: Chromium's
// GREASE brand and order for the full version's major (up to 102: " Not A;Brand" first; from
// 103: a brand, version and order that the major chooses).
HeaderList brands_of(const UaOverride& ua);

// sec-ch-ua, sec-ch-ua-mobile and sec-ch-ua-platform, in that order.
HeaderList client_hint_headers(const UaOverride& ua);

// The params of Emulation.setUserAgentOverride for ua; user_agent is the string to claim
// (ua.user_agent, or the browser's own when that is empty).
Poco::JSON::Object::Ptr user_agent_override_params(const UaOverride& ua,
                                                   const std::string& user_agent);

// Where a request header goes when a paused request's headers (a sorted JSON object) are
// sent back: sec-ch-ua* first (-1), then Chrome's own order for a document, then the rest
// (their order kept by a stable sort). Names in any case.
int chrome_header_rank(const std::string& name);

}  // namespace byparr::browser
