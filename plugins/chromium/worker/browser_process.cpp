#include "browser_process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

namespace byparr::browser {

// Split on spaces; double quotes group (and are dropped), as Qt WebEngine reads
// QTWEBENGINE_CHROMIUM_FLAGS, so one value serves both engines' extra-flags variables:
// --host-resolver-rules="MAP * ~NOTFOUND, EXCLUDE localhost" is one flag.
std::vector<std::string> split_flag_list(const std::string& list) {
    std::vector<std::string> out;
    std::string arg;
    bool quoted = false;
    bool have = false;  // "" is an (empty) argument
    for (const char c : list) {
        if (c == '"') {
            quoted = !quoted;
            have = true;
        } else if (c == ' ' && !quoted) {
            if (have) out.push_back(std::move(arg));
            arg.clear();
            have = false;
        } else {
            arg += c;
            have = true;
        }
    }
    if (have) out.push_back(std::move(arg));
    return out;
}

std::vector<std::string> chromium_flags(const BrowserLaunch& l) {
    std::vector<std::string> f = {
        // Nothing in the background may reach the network (tests run with none, and a
        // solver must not phone home), nor take CPU when no request is in flight.
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--disable-domain-reliability",
        "--disable-client-side-phishing-detection",
        "--disable-breakpad",
        "--no-pings",
        "--metrics-recording-only",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-search-engine-choice-screen",
        "--password-store=basic",
        "--use-mock-keychain",
        "--disable-hang-monitor",
        "--disable-features=Translate,OptimizationHints,OptimizationHintsFetching,MediaRouter,"
        "DialMediaRouteProvider,AutofillServerCommunication,"
        "CertificateTransparencyComponentUpdater,NetworkTimeServiceQuerying,"
        "InterestFeedContentSuggestions,PrivacySandboxSettings4,ChromeWhatsNewUI,"
        // Each new window preloads the omnibox popup as two WebUI renderers (chrome://omnibox-
        // popup.top-chrome): ~100 ms of CPU per window for a popup nobody opens.
        "WebUIOmniboxPopup,WebUIOmniboxAimPopup,"
        // Chromium keeps one spare renderer warm for the browser context used last; with a
        // context per pooled tab, each request in another context killed it and launched a
        // new one (~100 ms of CPU per request, measured). The pooled tabs keep their own.
        "SpareRendererForSitePerProcess,"
        // A new RenderFrameHost (and frame in the renderer) for every cross-document
        // navigation, where the old one could be reused: a request is two navigations (the
        // page, then the wipe's about:blank), and without it the tree took ~165 instead of
        // ~200 ms of CPU per warm request, back to back (measured, A/B interleaved). Pages
        // cannot tell which frame object their document got.
        "RenderDocument,"
        // The system resolver (getaddrinfo, /etc/hosts, nsswitch), as Qt WebEngine uses.
        // Chromium's own DNS client keeps retrying a server that does not answer, which holds
        // a page's load event for seconds per unresolvable subresource host (measured: a
        // captured page with two external scripts never loaded within 4 s; with this, 1 s).
        "AsyncDns",
        // Several windows are shown at once and only one can be in front: the others must
        // not be throttled or lose their timers while a challenge runs in them.
        "--disable-background-timer-throttling",
        "--disable-renderer-backgrounding",
        "--disable-backgrounding-occluded-windows",
        // Mesa's llvmpipe (Xvfb) is on the GPU blocklist; without this no WebGL.
        "--ignore-gpu-blocklist",
        // The windows are composited in software (Skia) instead of through GL on llvmpipe:
        // the GPU process then took ~50 instead of ~190 ms of CPU per request (measured).
        // WebGL keeps its GL context; only the browser's own compositing changes, which
        // pages cannot see.
        "--disable-gpu-compositing",
        // A browser driven over DevTools sets navigator.webdriver, the first thing bot checks
        // read (BotD calls it headless_chrome); a person's Chrome does not.
        "--disable-blink-features=AutomationControlled",
        // A desktop has a microphone, a camera and speakers (labels stay empty until a
        // permission grant, as in Chrome); a machine without any is a server.
        "--use-fake-device-for-media-stream",
        "--lang=" + l.lang,
        "--window-size=" + std::to_string(l.width) + "," + std::to_string(l.height),
        "--window-position=" + std::to_string(l.x) + "," + std::to_string(l.y),
    };
    if (l.headless) {
        f.emplace_back("--headless=new");
        // Headless has no screen and no input devices of its own: it reported an 800x600
        // screen no larger than the window, and no fine pointer or hover (measured against a
        // Chromium in a window with the fingerprint suite; with these two, all 54 signals
        // match). The screen Xvfb would have, and a desktop's mouse.
        f.push_back("--screen-info={" + std::to_string(l.screen_width) + "x" +
                    std::to_string(l.screen_height) + "}");
        f.emplace_back(
            "--blink-settings=primaryPointerType=4,availablePointerTypes=4,"
            "primaryHoverType=2,availableHoverTypes=2");
    }
    if (l.no_sandbox) f.emplace_back("--no-sandbox");
    if (!l.proxy_server.empty()) {
        f.push_back("--proxy-server=" + l.proxy_server);
        if (!l.proxy_bypass_list.empty()) f.push_back("--proxy-bypass-list=" + l.proxy_bypass_list);
    }
    if (const char* extra = std::getenv("BYPARR_CHROMIUM_EXTRA_FLAGS")) {
        // Tests and diagnostics only.
        for (auto& flag : split_flag_list(extra))
            f.push_back(std::move(flag));
    }
    return f;
}

bool BrowserProcess::start(const BrowserLaunch& launch, std::string* error) {
    if (::access(launch.executable.c_str(), X_OK) != 0) {
        *error = "Chromium not found or not executable: " + launch.executable;
        return false;
    }
    std::string tmpl = launch.runtime_dir + "/byparr-chromium-XXXXXX";
    if (!::mkdtemp(tmpl.data())) {
        *error = "cannot create a profile directory under " + launch.runtime_dir + ": " +
                 std::strerror(errno);
        return false;
    }
    profile_dir_ = tmpl;
    // to_browser: we write commands, Chromium reads them on its fd 3.
    // from_browser: Chromium writes on its fd 4, we read.
    int to_browser[2], from_browser[2];
    if (::pipe2(to_browser, O_CLOEXEC) != 0) {
        *error = std::string("pipe: ") + std::strerror(errno);
        return false;
    }
    if (::pipe2(from_browser, O_CLOEXEC) != 0) {
        ::close(to_browser[0]);
        ::close(to_browser[1]);
        *error = std::string("pipe: ") + std::strerror(errno);
        return false;
    }
    args_ = {launch.executable, "--remote-debugging-pipe", "--user-data-dir=" + profile_dir_};
    for (auto& f : chromium_flags(launch))
        args_.push_back(std::move(f));
    // No window of its own: every tab is opened over DevTools in a context of its own, and a
    // start-up window would be one more window, renderer and compositor surface doing nothing
    // (~40 MiB, measured). The DevTools pipe keeps the browser alive without a window.
    args_.emplace_back("--no-startup-window");
    std::vector<char*> argv;
    for (auto& a : args_)
        argv.push_back(a.data());
    argv.push_back(nullptr);

    const pid_t parent = ::getpid();
    pid_ = ::fork();
    if (pid_ < 0) {
        *error = std::string("fork: ") + std::strerror(errno);
        for (int fd : {to_browser[0], to_browser[1], from_browser[0], from_browser[1]})
            ::close(fd);
        return false;
    }
    if (pid_ == 0) {
        // Only async-signal-safe calls from here to exec.
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);  // the worker died before the prctl
        // fd 3 and 4 may be the very descriptors we are about to move: go through high ones.
        int in = ::fcntl(to_browser[0], F_DUPFD, 10);
        int out = ::fcntl(from_browser[1], F_DUPFD, 10);
        if (in < 0 || out < 0 || ::dup2(in, 3) < 0 || ::dup2(out, 4) < 0) ::_exit(126);
        ::execv(argv[0], argv.data());
        ::_exit(127);
    }
    ::close(to_browser[0]);
    ::close(from_browser[1]);
    write_fd_ = to_browser[1];
    read_fd_ = from_browser[0];
    return true;
}

BrowserProcess::~BrowserProcess() {
    if (pid_ > 0) {
        // Chromium saves nothing we need: its profile is thrown away below.
        ::kill(pid_, SIGTERM);
        const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1500);
        for (;;) {
            if (::waitpid(pid_, nullptr, WNOHANG) == pid_) break;
            if (std::chrono::steady_clock::now() >= until) {
                ::kill(pid_, SIGKILL);
                ::waitpid(pid_, nullptr, 0);
                break;
            }
            std::this_thread::sleep_for(std::chrono::milliseconds(10));
        }
    }
    if (!profile_dir_.empty()) {
        std::error_code ec;
        std::filesystem::remove_all(profile_dir_, ec);
    }
}

}  // namespace byparr::browser
