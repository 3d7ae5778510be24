#include "worker_options.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <regex>

namespace byparr::browser {

namespace {

bool parse_proxy(const std::string& url, WorkerOptions* out, std::string* error) {
    static const std::regex kProxy(
        R"(^(http|socks4|socks5)://([^:/@]+|\[[0-9a-fA-F:.]+\]):([0-9]{1,5})/?$)",
        std::regex::icase);
    std::smatch m;
    if (!std::regex_match(url, m, kProxy)) {
        *error = "invalid --proxy '" + url + "' (expected http|socks4|socks5://host:port)";
        return false;
    }
    const int port = std::stoi(m[3]);
    if (port <= 0 || port > 65535) {
        *error = "invalid proxy port in '" + url + "'";
        return false;
    }
    // Lower-cased scheme, no trailing slash: what Chromium's --proxy-server takes.
    out->proxy.url = Proxy(url).redacted();
    return true;
}

}  // namespace

const char* proxy_refusal(const Proxy& proxy) {
    if (proxy.socks() && !proxy.username.empty())
        return "SOCKS proxies with credentials are not supported";
    return nullptr;
}

bool parse_worker_options(int argc, char** argv, WorkerOptions* out, std::string* error) {
    std::string lang;
    for (int i = 1; i < argc; ++i) {
        std::string arg = argv[i];
        auto value = [&](std::string* v) {
            if (i + 1 >= argc) {
                *error = "missing value for " + arg;
                return false;
            }
            *v = argv[++i];
            return true;
        };
        std::string v;
        if (arg == "--fd") {
            if (!value(&v)) return false;
            char* end = nullptr;
            long fd = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || fd < 0 || fd > 1 << 20) {
                *error = "invalid --fd '" + v + "'";
                return false;
            }
            out->fd = static_cast<int>(fd);
        } else if (arg == "--proxy") {
            if (!value(&v)) return false;
            if (!v.empty() && !parse_proxy(v, out, error)) return false;
        } else if (arg == "--egress-guard") {
            if (!value(&v)) return false;
            char* end = nullptr;
            long port = std::strtol(v.c_str(), &end, 10);
            if (v.empty() || *end != '\0' || port <= 0 || port > 65535) {
                *error = "invalid --egress-guard port '" + v + "'";
                return false;
            }
            out->egress_guard_port = static_cast<int>(port);
        } else if (arg == "--rules") {
            if (!value(&v)) return false;
            out->rule_files.push_back(v);
        } else if (arg == "--lang") {
            if (!value(&lang)) return false;
        } else if (arg == "--timezone") {
            if (!value(&v)) return false;
            // A zone DevTools cannot take is reported and left alone, not fatal: pages then
            // see the system's zone, as they did before the setting existed.
            out->timezone = normalize_timezone(v);
            if (!v.empty() && out->timezone.empty()) {
                const char* self = argc > 0 && argv[0] ? std::strrchr(argv[0], '/') : nullptr;
                std::fprintf(stderr,
                             "%s: TZ '%s' is not an IANA zone name "
                             "(e.g. Europe/Berlin); pages keep the system's zone\n",
                             self ? self + 1 : (argc > 0 && argv[0] ? argv[0] : "worker"),
                             v.c_str());
            }
        } else if (arg == "--browser-display") {
            if (!value(&v)) return false;
            if (v == "offscreen") {
                out->display = DisplayMode::kOffscreen;
            } else if (v == "xvfb") {
                out->display = DisplayMode::kXvfb;
            } else if (v == "headless") {
                out->display = DisplayMode::kHeadless;
            } else {
                *error =
                    "invalid --browser-display '" + v + "' (expected offscreen, xvfb or headless)";
                return false;
            }
        } else {
            // Chromium/Qt add their own switches when they re-exec; ignore unknown ones.
            continue;
        }
    }
    if (out->fd < 0) {
        *error = "--fd is required";
        return false;
    }
    if (lang.empty()) {
        const char* env = std::getenv("LANG");
        if (env) lang = env;
    }
    out->lang = normalize_lang(lang);
    out->accept_language = accept_language_for(out->lang);
    if (const char* u = std::getenv("BYPARR_PROXY_USERNAME")) out->proxy.username = u;
    if (const char* p = std::getenv("BYPARR_PROXY_PASSWORD")) out->proxy.password = p;
    return true;
}

std::string normalize_lang(const std::string& lang) {
    std::string s = lang;
    // Strip ".UTF-8" and "@modifier".
    if (auto pos = s.find_first_of(".@"); pos != std::string::npos) s.resize(pos);
    if (s.empty() || s == "C" || s == "POSIX") return "en-US";
    std::string language, region;
    auto sep = s.find_first_of("_-");
    language = s.substr(0, sep);
    if (sep != std::string::npos) region = s.substr(sep + 1);
    if (language.size() < 2 || language.size() > 3) return "en-US";
    for (auto& c : language) {
        if (!std::isalpha(static_cast<unsigned char>(c))) return "en-US";
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    if (auto dash = region.find_first_of("_-"); dash != std::string::npos) region.resize(dash);
    bool region_ok = region.size() == 2 || (region.size() == 3 && std::isdigit(region[0]));
    for (auto c : region)
        region_ok = region_ok && std::isalnum(static_cast<unsigned char>(c));
    if (!region_ok) return language;
    for (auto& c : region)
        c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return language + "-" + region;
}

std::string accept_language_for(const std::string& bcp47) {
    std::vector<std::string> list{bcp47};
    auto base = bcp47.substr(0, bcp47.find('-'));
    if (base != bcp47) list.push_back(base);
    if (base != "en") list.push_back("en");
    // Chrome's own form: the first without a weight, then 0.9, 0.8, ...
    std::string out;
    int q = 10;
    for (const auto& l : list) {
        if (!out.empty()) out += ",";
        out += l;
        if (q < 10) out += ";q=0." + std::to_string(q);
        q = std::max(q - 1, 1);
    }
    return out;
}

std::string clean_user_agent(const std::string& ua) {
    static const std::regex kToken(R"(QtWebEngine/[^ ]+ ?)");
    std::string out = std::regex_replace(ua, kToken, "");
    static const std::regex kHeadless("HeadlessChrome");
    out = std::regex_replace(out, kHeadless, "Chrome");
    static const std::regex kVersion(R"(Chrome/([0-9]+)\.[0-9.]+)");
    return std::regex_replace(out, kVersion, "Chrome/$1.0.0.0");
}

std::string chrome_full_version(const std::string& ua) {
    static const std::regex kVersion(R"(Chrome/([0-9]+(\.[0-9]+)*))");
    std::smatch m;
    return std::regex_search(ua, m, kVersion) ? m[1].str() : std::string();
}

std::string normalize_timezone(const std::string& tz) {
    std::string s = tz;
    if (!s.empty() && s[0] == ':') s.erase(0, 1);  // glibc's ":zone" form
    if (s.empty() || s.size() > 64 || s.find("..") != std::string::npos) return {};
    for (char c : s) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '/' && c != '_' && c != '-' &&
            c != '+')
            return {};
    }
    // A POSIX rule ("CET-1CEST", "EST5EDT,M3.2.0") has digits after letters without a '/';
    // zone names with digits ("Etc/GMT+5") have one.
    const bool digits = s.find_first_of("0123456789") != std::string::npos;
    if (digits && s.find('/') == std::string::npos) return {};
    return s;
}

int pick_free_loopback_port() {
    int s = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0) return 0;
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = 0;
    int port = 0;
    socklen_t len = sizeof(addr);
    if (::bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 &&
        ::getsockname(s, reinterpret_cast<sockaddr*>(&addr), &len) == 0) {
        port = ntohs(addr.sin_port);
    }
    ::close(s);
    return port;
}

}  // namespace byparr::browser
