// byparr-webengine-worker: Qt WebEngine in its own process, driven over a socket
// by the webengine plugin's supervisor (see ../PROTOCOL.md).
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include <QApplication>
#include <QDir>
#include <QFile>
#include <QNetworkProxy>
#include <QTimer>
#include <QWebEngineProfile>

#include "frame_channel.h"
#include "worker.h"
#include "worker_options.h"
#include "xvfb_display.h"

using byparr::browser::DisplayMode;
using byparr::browser::FrameChannel;
using byparr::browser::Worker;
using byparr::browser::WorkerOptions;
using byparr::browser::XvfbDisplay;

namespace {

constexpr int kScreenWidth = 1920;
constexpr int kScreenHeight = 1080;

// Everything Chromium does on its own that would phone home or slow a hidden page.
std::string chromium_flags(const WorkerOptions& o) {
    // Offscreen has no GL: say so up front instead of letting the GPU process fail. Under
    // Xvfb, Mesa's llvmpipe is on Chromium's GPU blocklist; without --ignore-gpu-blocklist
    // there would be no WebGL, the reason for that mode.
    std::string f = o.display == DisplayMode::kXvfb ? "--ignore-gpu-blocklist " : "--disable-gpu ";
    f += "--disable-background-networking --disable-background-timer-throttling "
         "--disable-renderer-backgrounding --disable-backgrounding-occluded-windows "
         "--disable-component-update --no-first-run --disable-sync --disable-default-apps "
         "--disable-domain-reliability --disable-client-side-phishing-detection "
         "--disable-breakpad --disable-crash-reporter --no-pings --dns-prefetch-disable "
         "--no-default-browser-check --metrics-recording-only --disable-hang-monitor "
         "--disable-features=Translate,OptimizationHints,OptimizationHintsFetching,"
         "MediaRouter,DialMediaRouteProvider,AutofillServerCommunication,"
         "CertificateTransparencyComponentUpdater,NetworkTimeServiceQuerying,"
         "SafeBrowsingEnhancedProtection,InterestFeedContentSuggestions,"
         "SpareRendererForSitePerProcess,UseChromeOSDirectVideoDecoder";
    f += " --lang=" + o.lang;
    // What a desktop Chrome has and the offscreen platform lacks (issue #13): a mouse
    // (pointer: fine, hover: hover; 4 = fine, 2 = hover in Blink's enums), media devices
    // (one fake microphone, camera and speaker, labels empty as before a permission
    // grant) and navigator.usb. Not WebPayments: it is there but canMakePayment() fails
    // with an IPC error in Qt 6.4, a worse tell than its absence.
    f += " --blink-settings=primaryPointerType=4,availablePointerTypes=4,primaryHoverType=2,"
         "availableHoverTypes=2"
         " --use-fake-device-for-media-stream --enable-features=WebUSB";
    // V8's memory reducer runs a full GC in every renderer ~8 s after a burst of pages:
    // ~120 ms of CPU when the service should be at rest (issue #15). Pages are wiped and
    // their renderers ended by the pool, which returns that memory anyway.
    f += " --js-flags=--no-memory-reducer";
    if (o.egress_guard_port > 0) {
        // Everything through the guard: <-loopback> removes Chromium's implicit
        // direct route to localhost/127.0.0.1/[::1]; WebRTC may not send UDP around
        // the proxy, and QUIC (UDP) is off so no request skips it.
        f += " --proxy-server=http://127.0.0.1:" + std::to_string(o.egress_guard_port) +
             " --proxy-bypass-list=<-loopback>"
             " --force-webrtc-ip-handling-policy=disable_non_proxied_udp --disable-quic";
    } else if (o.proxy.socks()) {
        f += " --proxy-server=" + o.proxy.url;
    }
    if (const char* extra = std::getenv("BYPARR_WORKER_EXTRA_FLAGS")) {
        // Tests only (e.g. --proxy-bypass-list=<-loopback>).
        f += " ";
        f += extra;
    }
    return f;
}

// A private runtime dir (0700) when none is set. One stable directory per uid, not
// one per process: the supervisor ends workers with SIGKILL, which would leak them.
QString prepare_runtime_dir() {
    QString dir = qEnvironmentVariable("XDG_RUNTIME_DIR");
    if (!dir.isEmpty() && QDir(dir).exists()) return dir;
    const QByteArray path = "/tmp/byparr-runtime-" + QByteArray::number(::geteuid());
    ::mkdir(path.constData(), 0700);
    struct stat st {};
    // Only a directory we own and nobody else can enter (never follow a planted link).
    if (::lstat(path.constData(), &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != ::geteuid() ||
        (st.st_mode & 077) != 0) {
        char tmpl[] = "/tmp/byparr-worker-XXXXXX";
        const char* d = ::mkdtemp(tmpl);
        if (!d) return {};
        dir = QString::fromLocal8Bit(d);
    } else {
        dir = QString::fromLocal8Bit(path);
    }
    qputenv("XDG_RUNTIME_DIR", dir.toLocal8Bit());
    return dir;
}

// The engine's GL/flags dump ignores QT_LOGGING_RULES here; keep stderr for what matters.
void log_filter(QtMsgType type, const QMessageLogContext& ctx, const QString& msg) {
    static const bool verbose = qEnvironmentVariableIsSet("BYPARR_WORKER_TRACE");
    const bool noisy = type == QtDebugMsg || type == QtInfoMsg ||
                       (ctx.category && std::strncmp(ctx.category, "qt.webenginecontext", 19) == 0);
    // Known and harmless with --disable-gpu on the offscreen platform.
    // WebUSB (issue #13) works; Qt only warns that it did not vet the switch.
    const bool harmless =
        msg.startsWith(QLatin1String("No suitable graphics backend")) ||
        msg.startsWith(QLatin1String("An unsupported feature has been enabled")) ||
        msg.startsWith(QLatin1String("Remote debugging server started"));
    if ((noisy || harmless) && !verbose) return;
    std::fprintf(stderr, "byparr-webengine-worker: %s%s%s\n", ctx.category ? ctx.category : "",
                 ctx.category ? ": " : "", qPrintable(msg));
}

}  // namespace

int main(int argc, char** argv) {
    WorkerOptions options;
    std::string error;
    if (!byparr::browser::parse_worker_options(argc, argv, &options, &error)) {
        std::fprintf(stderr, "byparr-webengine-worker: %s\n", error.c_str());
        return 2;
    }
    if (const char* refusal = byparr::browser::proxy_refusal(options.proxy)) error = refusal;

    QString runtime_dir = prepare_runtime_dir();
    // The screen of a common desktop, larger than the window (a real browser window never
    // fills the screen exactly, and screen == window is a headless tell).
    XvfbDisplay xvfb;  // outlives the application: Qt's connection to it ends first
    QString screen_cfg;
    if (options.display == DisplayMode::kXvfb) {
        std::string xerr;
        if (runtime_dir.isEmpty() ||
            !xvfb.start(kScreenWidth, kScreenHeight, 10000, runtime_dir.toStdString(), &xerr)) {
            if (xerr.empty()) xerr = "no private runtime directory for the X authority file";
            std::fprintf(stderr, "byparr-webengine-worker: BROWSER_DISPLAY=xvfb: %s\n",
                         xerr.c_str());
            return 3;
        }
        qputenv("DISPLAY", QByteArray::fromStdString(xvfb.display()));
        qputenv("QT_QPA_PLATFORM", "xcb");
        qputenv("XAUTHORITY", QByteArray::fromStdString(xvfb.authority()));
    } else {
        // The offscreen screen defaults to 800x600; its config file sets the size (Qt 6.4
        // offscreen has no key for the available height: availHeight equals the screen's).
        screen_cfg = runtime_dir + QStringLiteral("/byparr-offscreen-%1.json").arg(::getpid());
        QFile f(screen_cfg);
        if (!runtime_dir.isEmpty() && f.open(QIODevice::WriteOnly)) {
            f.write(QStringLiteral(
                        R"({"synchronousWindowSystemEvents":false,"windowFrameMargins":false,)"
                        R"("screens":[{"name":"screen0","x":0,"y":0,"width":%1,"height":%2,)"
                        R"("logicalDpi":96,"dpr":1}]})")
                        .arg(kScreenWidth)
                        .arg(kScreenHeight)
                        .toUtf8());
            f.close();
            qputenv("QT_QPA_PLATFORM", ("offscreen:configfile=" + screen_cfg).toLocal8Bit());
        } else {
            qputenv("QT_QPA_PLATFORM", "offscreen");
        }
        qunsetenv("DISPLAY");
    }
    qunsetenv("WAYLAND_DISPLAY");
    qputenv("QT_LOGGING_RULES",
            "qt.webenginecontext.info=false;qt.webenginecontext.debug=false;js=false;"
            "qt.qpa.*=false;default.debug=false");
    qInstallMessageHandler(log_filter);
    if (::geteuid() == 0) qputenv("QTWEBENGINE_DISABLE_SANDBOX", "1");
    // BYPARR_WORKER_NO_DEVTOOLS: tests/diagnostics of the path without headers.
    if (!qEnvironmentVariableIsSet("BYPARR_WORKER_NO_DEVTOOLS")) {
        options.devtools_port = byparr::browser::pick_free_loopback_port();
    }
    if (options.devtools_port > 0) {
        qputenv("QTWEBENGINE_REMOTE_DEBUGGING",
                QByteArray("127.0.0.1:") + QByteArray::number(options.devtools_port));
    }
    qputenv("QTWEBENGINE_CHROMIUM_FLAGS", QByteArray::fromStdString(chromium_flags(options)));
    // Keep Chromium from picking up a desktop proxy from the environment.
    for (const char* v : {"http_proxy", "https_proxy", "all_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                          "ALL_PROXY", "no_proxy", "NO_PROXY"}) {
        qunsetenv(v);
    }

    QCoreApplication::setAttribute(Qt::AA_ShareOpenGLContexts);
    QApplication app(argc, argv);  // QWidget-based views need QApplication
    QApplication::setQuitOnLastWindowClosed(false);
    if (!screen_cfg.isEmpty()) QFile::remove(screen_cfg);

    if (options.proxy.scheme() == byparr::ProxyScheme::kHttp && options.egress_guard_port == 0) {
        QNetworkProxy proxy(QNetworkProxy::HttpProxy, QString::fromStdString(options.proxy.host()),
                            static_cast<quint16>(options.proxy.port()),
                            QString::fromStdString(options.proxy.username),
                            QString::fromStdString(options.proxy.password));
        QNetworkProxy::setApplicationProxy(proxy);
    }

    int rc = 0;
    {
        FrameChannel channel(options.fd);
        Worker worker(options, &channel);
        if (!error.empty()) {
            // Serve the protocol anyway so each solve gets a clear `proxy` error.
            worker.set_fatal_error("proxy", QString::fromStdString(error));
        }
        std::string start_error;
        if (!worker.start(&start_error)) {
            std::fprintf(stderr, "byparr-webengine-worker: %s\n", start_error.c_str());
            return 3;
        }
        rc = app.exec();
        // Pages first, then profiles (deferred), before the engine goes down.
    }
    QCoreApplication::sendPostedEvents(nullptr, QEvent::DeferredDelete);
    return rc;
}
