#include "worker.h"

#include <unistd.h>

#include <QCoreApplication>
#include <QJsonArray>
#include <QRegularExpression>
#include <QTimer>
#include <QWebEngineProfile>
#include <QWebEngineSettings>

#include "cookie_jar.h"
#include "frame_channel.h"
#include "page_surface.h"
#include "request_interceptor.h"

namespace byparr::webengine {

Worker::Worker(const WorkerOptions& options, FrameChannel* channel)
    : options_(options), channel_(channel) {
    connect(channel_, &FrameChannel::frame_received, this, &Worker::on_frame);
    connect(channel_, &FrameChannel::closed, this, [this] { shutdown(false); });
}

Worker::~Worker() {
    for (auto& [serial, job] : jobs_)
        delete job;
    jobs_.clear();
    job_sessions_.clear();
    sessions_.clear();
    spare_.reset();
    if (security_) QWebEngineProfile::defaultProfile()->setUrlRequestInterceptor(nullptr);
#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
    devtools_.reset();  // no DevTools callback runs after this
#endif
}

bool Worker::start(std::string* error) {
    if (!detector_.load(options_.rule_files, error)) return false;
    security_ = new SecurityInterceptor(options_.devtools_port, this);

    // The default profile brings the engine up; its UA is the engine's real one.
    QWebEngineProfile* def = QWebEngineProfile::defaultProfile();
    user_agent_ = QString::fromStdString(clean_user_agent(def->httpUserAgent().toStdString()));
    def->setHttpUserAgent(user_agent_);
    def->setHttpAcceptLanguage(QString::fromStdString(options_.accept_language));
    def->setUrlRequestInterceptor(security_);

    surface_deps_.router = this;
#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
    if (options_.devtools_port > 0) {
        devtools_ = std::make_unique<DevToolsClient>(options_.devtools_port);
        devtools_->start();
        surface_deps_.devtools = devtools_.get();
        UaOverride& ua = surface_deps_.ua;
        ua.user_agent = user_agent_.toStdString();
        ua.accept_language = options_.accept_language;
        ua.platform = "Linux x86_64";
        auto m = QRegularExpression(R"(Chrome/([0-9.]+))").match(user_agent_);
        if (m.hasMatch()) ua.full_version = m.captured(1).toStdString();
    }
#endif
    ctx_.options = &options_;
    ctx_.detector = &detector_;
    ctx_.user_agent = user_agent_;

    channel_->send(QJsonObject{
        {"op", "ready"}, {"pid", static_cast<qint64>(::getpid())}, {"userAgent", user_agent_}});
    QTimer::singleShot(0, this, &Worker::prepare_spare);
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
    s->setAttribute(QWebEngineSettings::PluginsEnabled, false);
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

void Worker::prepare_spare() {
    // A ready off-the-record profile + shown page saves a request ~30 ms.
    if (spare_ || shutting_down_) return;
    spare_ = make_surface(nullptr, PageSurface::kSpareAttachTimeoutMs);
}

void Worker::on_frame(const QJsonObject& m) {
    const QString op = m.value("op").toString();
    const QJsonValue id = m.value("id");
    if (!id.isDouble()) {
        std::fprintf(stderr, "byparr-webengine-worker: message without numeric id ignored\n");
        return;
    }
    if (shutting_down_) {
        reply_error(id, "internal", "worker is shutting down");
        return;
    }
    if (op == "solve") {
        handle_solve(id, m.value("request").toObject());
    } else if (op == "session.create") {
        QString name = m.value("session").toString();
        if (name.isEmpty()) {
            reply_error(id, "invalid", "'session' is mandatory");
            return;
        }
        if (sessions_.count(name)) {
            reply_ok(id, {{"created", false}});
            return;
        }
        sessions_[name] = make_session();
        reply_ok(id, {{"created", true}});
    } else if (op == "session.destroy") {
        // Running solves keep their reference; the profile goes with the last one.
        if (sessions_.erase(m.value("session").toString()) == 0) {
            reply_error(id, "unknown_session", "The session doesn't exist.");
            return;
        }
        reply_ok(id, {{"destroyed", true}});
    } else if (op == "cancel") {
        const qint64 target = m.value("target").toInteger(-1);
        for (auto& [serial, job] : jobs_) {
            if (!job->finished() && job->id().toInteger(-2) == target) {
                reply_ok(id, {});
                job->abort("cancelled", "Cancelled");
                return;
            }
        }
        reply_ok(id, {});  // already finished: its reply went out
    } else if (op == "stats") {
        reply_ok(id, {{"pages", static_cast<int>(jobs_.size())},
                      {"sessions", static_cast<int>(sessions_.size())},
                      {"pagesServed", static_cast<qint64>(pages_served_)}});
    } else if (op == "shutdown") {
        reply_ok(id, {});
        shutdown(true);
    } else {
        reply_error(id, "invalid", QStringLiteral("unknown op '%1'").arg(op));
    }
}

void Worker::handle_solve(const QJsonValue& id, const QJsonObject& r) {
    if (!fatal_kind_.isEmpty()) {
        reply_error(id, fatal_kind_, fatal_message_);
        return;
    }
    SolveRequest req;
    const QString url = r.value("url").toString();
    req.url = QUrl(url, QUrl::StrictMode);
    const QString scheme = req.url.scheme().toLower();
    if (url.isEmpty() || !req.url.isValid() || (scheme != "http" && scheme != "https") ||
        req.url.host().isEmpty()) {
        reply_error(id, "invalid", QStringLiteral("'url' must be an http(s) URL: '%1'").arg(url));
        return;
    }
    const QString method = r.value("method").toString("GET").toUpper();
    if (method != "GET" && method != "POST") {
        reply_error(id, "invalid", QStringLiteral("unsupported method '%1'").arg(method));
        return;
    }
    req.post = method == "POST";
    req.post_data = r.value("postData").toString().toUtf8();
    const double timeout = r.value("timeoutMs").toDouble(60000);
    req.timeout_ms = timeout >= 1 ? static_cast<qint64>(timeout) : 60000;
    req.session = r.value("session").toString();
    if (r.contains("cookies") && !r.value("cookies").isArray() && !r.value("cookies").isNull()) {
        reply_error(id, "invalid", "'cookies' must be an array");
        return;
    }
    req.cookies = r.value("cookies").toArray();
    req.return_only_cookies = r.value("returnOnlyCookies").toBool(false);
    req.return_screenshot = r.value("returnScreenshot").toBool(false);
    req.disable_media = r.value("disableMedia").toBool(false);
    req.wait_ms = std::max<qint64>(0, static_cast<qint64>(r.value("waitMs").toDouble(0)));

    std::shared_ptr<Session> session;
    if (!req.session.isEmpty()) {
        // The host auto-creates sessions; do the same so a solve never races a create.
        auto& slot = sessions_[req.session];
        if (!slot) slot = make_session();
        session = slot;
    }

    const quint64 serial = next_serial_++;
    auto* job = new SolveJob(serial, id, std::move(req), ctx_);
    jobs_[serial] = job;
    if (session) job_sessions_[serial] = session;
    connect(job, &SolveJob::reply, this, [this](const QJsonObject& msg) { channel_->send(msg); });
    connect(job, &SolveJob::done, this, &Worker::on_job_done, Qt::QueuedConnection);
    std::unique_ptr<PageSurface> surface;
    if (!session && spare_) {
        surface = std::move(spare_);
        // Refill at once: the renderer launch overlaps this solve, not the next one.
        QTimer::singleShot(0, this, &Worker::prepare_spare);
    } else {
        surface = make_surface(session.get());
    }
    job->start(std::move(surface));
}

void Worker::on_job_done(quint64 serial) {
    auto it = jobs_.find(serial);
    if (it == jobs_.end()) return;
    SolveJob* job = it->second;
    jobs_.erase(it);
    ++pages_served_;
    delete job;                   // queued: never inside one of its page's signals
    job_sessions_.erase(serial);  // after the page: may free the profile
    if (!spare_) QTimer::singleShot(0, this, &Worker::prepare_spare);
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

void Worker::reply_ok(const QJsonValue& id, const QJsonObject& result) {
    channel_->send(QJsonObject{{"id", id}, {"ok", true}, {"result", result}});
}

void Worker::reply_error(const QJsonValue& id, const QString& kind, const QString& message) {
    channel_->send(QJsonObject{
        {"id", id}, {"ok", false}, {"error", QJsonObject{{"kind", kind}, {"message", message}}}});
}

void Worker::shutdown(bool reply_to_solves) {
    if (shutting_down_) return;
    shutting_down_ = true;
    std::vector<SolveJob*> jobs;
    for (auto& [serial, job] : jobs_)
        jobs.push_back(job);
    for (SolveJob* job : jobs) {
        if (reply_to_solves) {
            job->abort("cancelled", "Worker shutting down");
        }
    }
    for (auto& [serial, job] : jobs_)
        delete job;  // pages before their profiles
    jobs_.clear();
    spare_.reset();
    job_sessions_.clear();
    sessions_.clear();
    if (reply_to_solves) channel_->flush_blocking(500);
    QCoreApplication::exit(0);
}

}  // namespace byparr::webengine
