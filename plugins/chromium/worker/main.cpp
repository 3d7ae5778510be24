// byparr-chromium-worker: drives Debian's current Chromium over its DevTools pipe for the
// chromium plugin's supervisor. Same frame protocol, options and solve loop as the Qt
// WebEngine worker (../../browser/PROTOCOL.md); only the page underneath differs.
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <QCoreApplication>
#include <QSocketNotifier>

#include "browser_process.h"
#include "chromium_worker.h"
#include "frame_channel.h"
#include "worker_options.h"
#include "xvfb_display.h"

using namespace byparr::browser;

namespace {

constexpr int kScreenWidth = 1920;
constexpr int kScreenHeight = 1080;

// A private runtime dir (0700) for the X authority file and the throw-away profile.
std::string runtime_dir() {
    const char* env = std::getenv("XDG_RUNTIME_DIR");
    struct stat st {};
    if (env && *env && ::stat(env, &st) == 0 && S_ISDIR(st.st_mode)) return env;
    const std::string path = "/tmp/byparr-runtime-" + std::to_string(::geteuid());
    ::mkdir(path.c_str(), 0700);
    // Only a directory we own and nobody else can enter (never follow a planted link).
    if (::lstat(path.c_str(), &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == ::geteuid() &&
        (st.st_mode & 077) == 0)
        return path;
    char tmpl[] = "/tmp/byparr-worker-XXXXXX";
    const char* d = ::mkdtemp(tmpl);
    return d ? d : "";
}

}  // namespace

int main(int argc, char** argv) {
    WorkerOptions options;
    std::string error;
    if (!parse_worker_options(argc, argv, &options, &error)) {
        std::fprintf(stderr, "byparr-chromium-worker: %s\n", error.c_str());
        return 2;
    }
    const std::string dir = runtime_dir();
    if (dir.empty()) {
        std::fprintf(stderr, "byparr-chromium-worker: no private runtime directory\n");
        return 3;
    }
    BrowserLaunch launch;
    const char* path = std::getenv("CHROMIUM_PATH");
    launch.executable = path && *path ? path : "/usr/bin/chromium";
    launch.runtime_dir = dir;
    launch.lang = options.lang;
    launch.headless = options.display == DisplayMode::kHeadless;
    launch.screen_width = kScreenWidth;
    launch.screen_height = kScreenHeight;
    // The supervisor says so (BROWSER_SANDBOX); root cannot use Chromium's sandbox at all.
    launch.no_sandbox = ::geteuid() == 0 || std::getenv("QTWEBENGINE_DISABLE_SANDBOX") != nullptr;
    if (options.egress_guard_port > 0) {
        launch.proxy_server = "http://127.0.0.1:" + std::to_string(options.egress_guard_port);
        launch.proxy_bypass_list = "<-loopback>";
    } else if (!options.proxy.empty()) {
        launch.proxy_server = options.proxy.url;
    }
    // Keep Chromium from picking up a desktop proxy from the environment.
    for (const char* v : {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                          "ALL_PROXY", "no_proxy", "NO_PROXY"})
        ::unsetenv(v);

    // A window needs a display: a private Xvfb in our process group (see xvfb_display.h).
    XvfbDisplay xvfb;
    if (!launch.headless) {
        if (!xvfb.start(launch.screen_width, launch.screen_height, 10000, dir, &error)) {
            std::fprintf(stderr, "byparr-chromium-worker: Xvfb: %s\n", error.c_str());
            return 3;
        }
        ::setenv("DISPLAY", xvfb.display().c_str(), 1);
        ::setenv("XAUTHORITY", xvfb.authority().c_str(), 1);
    }
    ::unsetenv("WAYLAND_DISPLAY");

    // Before any thread exists: the launch forks.
    BrowserProcess browser;
    if (!browser.start(launch, &error)) {
        std::fprintf(stderr, "byparr-chromium-worker: %s\n", error.c_str());
        return 3;
    }

    QCoreApplication app(argc, argv);
    int rc = 0;
    {
        FrameChannel channel(options.fd);
        ChromiumWorker worker(options, &channel, browser.read_fd(), browser.write_fd(),
                              launch.headless);
        // The browser's exit, without polling: a pidfd becomes readable when it ends.
        const int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, browser.pid(), 0));
        std::unique_ptr<QSocketNotifier> exit_watch;
        if (pidfd >= 0) {
            exit_watch = std::make_unique<QSocketNotifier>(pidfd, QSocketNotifier::Read);
            QObject::connect(exit_watch.get(), &QSocketNotifier::activated, &worker,
                             [&worker, &exit_watch] {
                                 exit_watch->setEnabled(false);
                                 worker.browser_gone();
                             });
        }
        std::string start_error;
        if (!worker.start(&start_error)) {
            std::fprintf(stderr, "byparr-chromium-worker: %s\n", start_error.c_str());
            return 3;
        }
        rc = app.exec();
        if (pidfd >= 0) {
            exit_watch.reset();
            ::close(pidfd);
        }
    }
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    return rc;
}
