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

// Each spare is a renderer process (~25 MiB PSS): five cover a burst of five, and
// after one burst the used pages come back wiped, so the next finds them ready.
constexpr size_t kMaxSpares = 5;
// Spares being prepared at once: renderer launches and DevTools attaches contend
// for the same two cores and the browser's UI thread, so the first is ready sooner
// when they do not all start together.
constexpr size_t kMaxPreparing = 2;
// BROWSER_POOL_IDLE_TIMEOUT (s, default 30): this long without a request, the pool
// shrinks to one warm page. Each spare is a renderer held at rest; the next burst
// re-grows the pool (a cold spare costs its first request ~0.1 s).
int spare_idle_ms() {
    static const int ms = [] {
        bool ok = false;
        const int s = qEnvironmentVariableIntValue("BROWSER_POOL_IDLE_TIMEOUT", &ok);
        return ok && s >= 1 && s <= 86400 ? s * 1000 : 30000;
    }();
    return ms;
}
// While shrinking, one spare is ended per this interval (see shrink_spares()).
constexpr int kShrinkStepMs = 10000;
// A page is reused for this many sessionless requests, then replaced: a renderer's
// memory only comes back when it ends, and a fresh one bounds what a site can leave
// behind that the wipe does not reach (the renderer's own caches).
constexpr int kMaxPageUses = 20;

}  // namespace

Worker::Worker(const WorkerOptions& options, FrameChannel* channel)
    : options_(options), channel_(channel) {
    connect(channel_, &FrameChannel::frame_received, this, &Worker::on_frame);
    connect(channel_, &FrameChannel::closed, this, [this] { shutdown(false); });
    spare_idle_timer_.setSingleShot(true);
    connect(&spare_idle_timer_, &QTimer::timeout, this, &Worker::shrink_spares);
}

Worker::~Worker() {
    for (auto& [serial, job] : jobs_)
        delete job;
    jobs_.clear();
    job_sessions_.clear();
    sessions_.clear();
    spares_.clear();
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

void Worker::prepare_spare() {
    // A ready off-the-record profile + shown page in a warmed renderer saves a
    // request its renderer launch and DevTools attach (30 ms idle, 0.5 s in a burst).
    if (shutting_down_) return;
    size_t preparing = 0;
    for (const auto& s : spares_)
        preparing += s->is_ready() ? 0 : 1;
    // While solves run, one at a time: a burst's own pages come first on two cores;
    // on_job_done() resumes the refill.
    size_t running = 0;
    for (const auto& [serial, job] : jobs_)
        running += job->finished() ? 0 : 1;
    const size_t cap = running > 0 ? 1 : kMaxPreparing;
    // Pages of running sessionless solves come back to the pool when they end.
    while (spares_.size() + returning_ < spare_target_ && preparing < cap) {
        spares_.push_back(make_surface(nullptr, PageSurface::kSpareAttachTimeoutMs));
        ++preparing;
        watch_spare(spares_.back().get());
    }
}

void Worker::watch_spare(PageSurface* s) {
    // Chained, not polled: each spare that becomes ready lets the next start.
    connect(s, &PageSurface::ready, this, &Worker::prepare_spare, Qt::QueuedConnection);
    connect(s, &PageSurface::broken, this, [this, s] {
        auto it = std::find_if(spares_.begin(), spares_.end(),
                               [s](const auto& p) { return p.get() == s; });
        if (it == spares_.end()) return;
        std::unique_ptr<PageSurface> gone = std::move(*it);
        spares_.erase(it);
        gone.release()->deleteLater();  // we are inside its signal
        QTimer::singleShot(0, this, &Worker::prepare_spare);
    });
}

std::unique_ptr<PageSurface> Worker::take_spare(const QString& host) {
    if (spares_.empty()) return nullptr;
    // A page whose renderer already serves the host (no renderer launch for the
    // navigation; one still being wiped is ready within a few ms), else a ready fresh
    // one (its site-less renderer takes any site), else any ready one, else the one
    // furthest along. A wipe that fails makes the job ask for a new page.
    auto pick = [this](auto pred) {
        return std::find_if(spares_.begin(), spares_.end(),
                            [&](const auto& s) { return pred(*s); });
    };
    auto it = pick([&](const PageSurface& s) { return s.uses() > 0 && s.last_host() == host; });
    if (it == spares_.end()) {
        it = pick([](const PageSurface& s) { return s.is_ready() && s.uses() == 0; });
    }
    if (it == spares_.end()) it = pick([](const PageSurface& s) { return s.is_ready(); });
    if (it == spares_.end()) it = spares_.begin();
    std::unique_ptr<PageSurface> s = std::move(*it);
    spares_.erase(it);
    disconnect(s.get(), nullptr, this, nullptr);
    return s;
}

void Worker::shrink_spares() {
    // One page at a time, kShrinkStepMs apart: ending a renderer costs the browser ~10-15 ms
    // of CPU, and ending four at once put a 50-60 ms step into an otherwise idle 10 s. A burst
    // that comes back meanwhile still finds the pages not yet ended.
    if (spares_.size() > 1) spares_.pop_back();  // the newest first: the oldest is surely ready
    spare_target_ = std::max<size_t>(1, spares_.size());
    if (spares_.size() > 1) spare_idle_timer_.start(kShrinkStepMs);
}

void Worker::on_frame(const QJsonObject& m) {
    FrameHooks hooks;
    hooks.solve = [this](const QJsonValue& id, const QJsonObject& r) { handle_solve(id, r); };
    hooks.create_session = [this](const QString& name) {
        if (sessions_.count(name)) return false;
        sessions_[name] = make_session();
        return true;
    };
    // Running solves keep their reference; the profile goes with the last one.
    hooks.destroy_session = [this](const QString& name) { return sessions_.erase(name) > 0; };
    hooks.stats = [this] {
        return QJsonObject{{"pages", static_cast<int>(jobs_.size())},
                           {"sessions", static_cast<int>(sessions_.size())},
                           {"pagesServed", static_cast<qint64>(pages_served_)},
                           {"pagesReused", static_cast<qint64>(PageSurface::wipes_done())}};
    };
    hooks.shutdown = [this] { shutdown(true); };
    dispatch_frame(m, *channel_, jobs_, shutting_down_, hooks);
}

void Worker::handle_solve(const QJsonValue& id, const QJsonObject& r) {
    if (!fatal_kind_.isEmpty()) {
        browser::reply_error(*channel_, id, fatal_kind_, fatal_message_);
        return;
    }
    SolveRequest req;
    QString invalid;
    if (!parse_solve_request(r, &req, &invalid)) {
        browser::reply_error(*channel_, id, "invalid", invalid);
        return;
    }
    const QString req_host = req.url.host().toLower();

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
    // The job is the context: a job deleted meanwhile drops the queued call.
    connect(
        job, &SolveJob::surface_lost, job,
        [this, job] {
            if (!job->finished()) job->start(make_surface(nullptr));
        },
        Qt::QueuedConnection);
    std::unique_ptr<PageSurface> surface;
    if (!session) {
        // Size the pool for the concurrency seen, so the next burst finds its pages.
        size_t running = 0;
        for (const auto& [s, j] : jobs_)
            running += j->finished() ? 0 : 1;
        spare_target_ = std::clamp<size_t>(std::max(spare_target_, running), 1, kMaxSpares);
        spare_idle_timer_.start(spare_idle_ms());
        surface = take_spare(req_host);
        // Refill at once: the renderer launch overlaps this solve, not the next one.
        QTimer::singleShot(0, this, &Worker::prepare_spare);
    }
    if (!surface) surface = make_surface(session.get());
    if (!session) ++returning_;
    job->start(std::move(surface));
}

void Worker::on_job_done(quint64 serial) {
    auto it = jobs_.find(serial);
    if (it == jobs_.end()) return;
    SolveJob* job = it->second;
    jobs_.erase(it);
    ++pages_served_;
    const bool sessionless = job_sessions_.count(serial) == 0;
    if (sessionless && returning_ > 0) --returning_;
    // Every page this worker hands to a job is a PageSurface.
    std::unique_ptr<PageSurface> used(static_cast<PageSurface*>(
        sessionless && !shutting_down_ ? job->release_reusable_surface().release() : nullptr));
    delete job;  // queued: never inside one of its page's signals
    if (used && used->has_devtools() && used->uses() + 1 < kMaxPageUses &&
        spares_.size() < spare_target_) {
        used->recycle();
        watch_spare(used.get());
        spares_.push_back(std::move(used));
    }
    used.reset();
    job_sessions_.erase(serial);  // after the page: may free the profile
    if (spares_.size() < spare_target_) QTimer::singleShot(0, this, &Worker::prepare_spare);
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
    end_jobs(jobs_, reply_to_solves);
    spares_.clear();
    spare_idle_timer_.stop();
    job_sessions_.clear();
    sessions_.clear();
    if (reply_to_solves) channel_->flush_blocking(500);
    QCoreApplication::exit(0);
}

}  // namespace byparr::browser
