#include "worker.h"

#include <unistd.h>

#include <algorithm>

#include <QCoreApplication>
#include <QJsonArray>
#include <QRegularExpression>
#include <QTimeZone>
#include <QTimer>
#include <QWebEngineProfile>
#include <QWebEngineSettings>

#include "cookie_jar.h"
#include "frame_channel.h"
#include "frame_ops.h"
#include "page_surface.h"
#include "request_interceptor.h"

namespace byparr::browser {

namespace {

// The page pool (spare_pool.h). Each spare is a renderer process (~25 MiB PSS): five cover a
// burst of five, and after one burst the used pages come back wiped, so the next finds them
// ready. A wipe is done within a few ms, so no page is kept beyond the solves running, and
// a page whose renderer serves the host is taken even while its wipe finishes.
constexpr SparePoolPolicy kPoolPolicy{
    .max_spares = 5, .headroom = 0, .pick = SparePoolPolicy::Pick::kHostFirst, .max_page_uses = 20};

}  // namespace

Worker::Worker(const WorkerOptions& options, FrameChannel* channel)
    : options_(options),
      channel_(channel),
      pool_(
          kPoolPolicy,
          [this](bool spare) -> std::unique_ptr<PageDriver> {
              return make_surface(nullptr, spare ? PageSurface::kSpareAttachTimeoutMs
                                                 : PageSurface::kAttachTimeoutMs);
          },
          [this] { return book_.running(); }),
      // Qt WebEngine's proxy is the process's (--proxy): the host never names one per session.
      book_(channel, &pool_, [this](const Proxy&) { return make_session(); }) {
    connect(channel_, &FrameChannel::frame_received, this, &Worker::on_frame);
    connect(channel_, &FrameChannel::closed, this, [this] { shutdown(false); });
}

Worker::~Worker() {
    book_.clear();  // pages before the profiles they use
    pool_.clear();
    if (security_) QWebEngineProfile::defaultProfile()->setUrlRequestInterceptor(nullptr);
    devtools_.reset();  // no DevTools callback runs after this
}

bool Worker::start(std::string* error) {
    if (!detector_.load(options_.rule_files, error)) return false;
    security_ = new SecurityInterceptor(options_.devtools_port, this);

    // The default profile brings the engine up; its UA is the engine's real one.
    QWebEngineProfile* def = QWebEngineProfile::defaultProfile();
    const std::string engine_ua = def->httpUserAgent().toStdString();
    user_agent_ = QString::fromStdString(clean_user_agent(engine_ua));
    def->setHttpUserAgent(user_agent_);
    def->setHttpAcceptLanguage(QString::fromStdString(options_.accept_language));
    def->setUrlRequestInterceptor(security_);

    surface_deps_.router = this;
    surface_deps_.proxy_username = options_.proxy.username;
    surface_deps_.proxy_password = options_.proxy.password;
    if (options_.devtools_port > 0) {
        devtools_ = std::make_unique<DevToolsClient>(options_.devtools_port);
        devtools_->start();
        surface_deps_.devtools = devtools_.get();
        UaOverride& ua = surface_deps_.ua;
        ua.user_agent = user_agent_.toStdString();
        // No Accept-Language in the override: Chromium then adds that header early, where
        // Chrome sends it last. The profile's setHttpAcceptLanguage gives the header (with
        // q-values, as Chrome's) and navigator.languages, in workers too.
        ua.accept_language.clear();
        ua.platform = "Linux x86_64";
        // The UA carries the reduced version; userAgentData's high-entropy values the full one.
        if (auto full = chrome_full_version(engine_ua); !full.empty()) ua.full_version = full;
        ua.timezone = options_.timezone;
        ua.locale = options_.lang;
    }
    ctx_.options = &options_;
    ctx_.detector = &detector_;
    ctx_.user_agent = user_agent_;

    channel_->send(QJsonObject{
        {"op", "ready"}, {"pid", static_cast<qint64>(::getpid())}, {"userAgent", user_agent_}});
    QTimer::singleShot(0, &pool_, &SparePool::start);
    return true;
}

QWebEngineProfile* Worker::make_profile() {
    auto* profile = new QWebEngineProfile();  // no storage name: off-the-record
    profile->setHttpUserAgent(user_agent_);
    profile->setHttpAcceptLanguage(QString::fromStdString(options_.accept_language));
    profile->setHttpCacheType(QWebEngineProfile::MemoryHttpCache);
    profile->setPersistentCookiesPolicy(QWebEngineProfile::NoPersistentCookies);
    profile->setSpellCheckEnabled(false);
    profile->setUrlRequestInterceptor(security_);
    QWebEngineSettings* s = profile->settings();
    s->setAttribute(QWebEngineSettings::JavascriptCanOpenWindows, false);
    // Chrome has its PDF viewer plugin: without it navigator.plugins and mimeTypes are
    // empty and pdfViewerEnabled is false, which BotD and others take for headless. This
    // only lists the plugin; PdfViewerEnabled (rendering PDFs) stays off.
    s->setAttribute(QWebEngineSettings::PluginsEnabled, true);
    s->setAttribute(QWebEngineSettings::LocalContentCanAccessFileUrls, false);
    s->setAttribute(QWebEngineSettings::LocalContentCanAccessRemoteUrls, false);
    s->setAttribute(QWebEngineSettings::ScreenCaptureEnabled, false);
    s->setAttribute(QWebEngineSettings::PdfViewerEnabled, false);
    s->setAttribute(QWebEngineSettings::ShowScrollBars, true);
    return profile;
}

std::unique_ptr<PageSurface> Worker::make_surface(Session* session, int attach_wait_ms) {
    if (session) {
        return std::make_unique<PageSurface>(session->profile, false, session->jar, surface_deps_);
    }
    QWebEngineProfile* profile = make_profile();
    auto* jar = new CookieJar(profile->cookieStore(), profile);
    return std::make_unique<PageSurface>(profile, true, jar, surface_deps_, attach_wait_ms);
}

void Worker::on_frame(const QJsonObject& m) {
    FrameHooks hooks;
    hooks.solve = [this](const QJsonValue& id, const QJsonObject& r) { handle_solve(id, r); };
    hooks.fatal_kind = fatal_kind_;
    hooks.fatal_message = fatal_message_;
    book_.add_hooks(hooks, [this] { shutdown(true); });
    dispatch_frame(m, *channel_, book_.jobs(), shutting_down_, hooks);
}

void Worker::handle_solve(const QJsonValue& id, const QJsonObject& r) {
    SolveRequest req;
    QString invalid;
    if (!parse_solve_request(r, &req, &invalid)) {
        browser::reply_error(*channel_, id, "invalid", invalid);
        return;
    }
    const QString req_host = req.url.host().toLower();

    std::shared_ptr<Session> session;
    if (!req.session.isEmpty()) session = book_.session(req.session);
    SolveJob* job = book_.open(
        this, id, std::move(req), ctx_, session, [this](quint64 serial) { on_job_done(serial); },
        [this] { return make_surface(nullptr); });
    if (session) {
        job->start(make_surface(session.get()));
    } else {
        book_.start_pooled(job, req_host);
    }
}

void Worker::on_job_done(quint64 serial) {
    book_.close(serial, shutting_down_);
}

std::shared_ptr<Worker::Session> Worker::make_session() {
    auto s = std::make_shared<Session>();
    s->profile = make_profile();
    s->jar = new CookieJar(s->profile->cookieStore(), s->profile);
    return s;
}

Worker::Session::~Session() {
    if (profile) {
        profile->setUrlRequestInterceptor(nullptr);  // the interceptor may go first
        profile->deleteLater();                      // the jar is its child
    }
}

void Worker::shutdown(bool reply_to_solves) {
    if (shutting_down_) return;
    shutting_down_ = true;
    book_.end(reply_to_solves);
    pool_.clear();
    if (reply_to_solves) channel_->flush_blocking(500);
    QCoreApplication::exit(0);
}

}  // namespace byparr::browser
