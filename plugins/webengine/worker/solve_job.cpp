#include "solve_job.h"

#include <algorithm>
#include <climits>
#include <cstdio>

#include <QAuthenticator>
#include <QBuffer>
#include <QJsonDocument>
#include <QPixmap>
#include <QPointer>
#include <QTest>
#include <QWebEngineHttpRequest>
#include <QWebEngineProfile>
#include <QWebEngineScript>
#include <QWebEngineView>

#include "cookie_jar.h"
#include "page_surface.h"
#include "request_interceptor.h"
#include "worker_options.h"

namespace byparr::webengine {

namespace {

// After the main document finished loading, check at once: a JS redirect from an
// inline script or onload has already started its navigation by then (loadStarted /
// urlChanged arrive first and stop us), and one starting while the facts script runs
// is caught in on_facts() (page loading again, or check_again_).
constexpr int kSettleMs = 0;
// A document that can still change itself (scripts, frames, meta refresh, inline
// handlers) gets this long without a load, URL or title change before it counts as
// settled: content written by a short timer or a late location change must make it
// into the answer. A static document cannot change, so it settles at once.
constexpr int kLiveQuietMs = 100;
// ...but a page that is no challenge and never goes quiet (a ticking clock in the
// title, a feed that keeps rewriting itself) is answered this long after it was
// first seen complete: waiting longer buys nothing, and it must not time out.
constexpr int kLiveMaxWaitMs = 1000;
// Mid-load signals (title, URL, cookie) come in bursts: coalesce them briefly.
constexpr int kEventCoalesceMs = 15;
constexpr int kAfterClickMs = 150;        // a click's effect (a POST, a DOM change) takes a moment
constexpr int kChallengeRecheckMs = 500;  // DOM-only challenge progress has no signal
constexpr int kMaxClicks = 6;
constexpr int kDocWaitMs = 300;   // see collect()
constexpr int kClickPollMs = 50;  // widget not visible yet: look again this soon
constexpr int kClickPolls = 40;
constexpr int kCheckLostMs = 1000;  // a facts script unanswered this long is presumed lost
// The first click goes as soon as the widget is seen; retries back off (a widget may
// stay disabled for a while and clicking it early does no harm).
constexpr int kClickBackoffMs[] = {0, 500, 1000, 2000};

// One round trip: everything classify() needs, from an isolated world so the page
// cannot see or intercept it.
QString facts_script(const std::vector<std::string>& selectors) {
    QJsonArray sels;
    for (const auto& s : selectors)
        sels.append(QString::fromStdString(s));
    return QStringLiteral(
               "(function(s){var m=[];for(var i=0;i<s.length;i++){try{if(document.querySelector("
               "s[i]))m.push(s[i]);}catch(e){}}var t='';try{t=document.body?document.body."
               "innerText.slice(0,4096):'';}catch(e){}var k='';try{var e=document.querySelector("
               "'input[name=\"cf-turnstile-response\"]');if(e&&e.value)k=e.value;}catch(e){}"
               "var l=!!document.querySelector('script,iframe,frame,object,embed,"
               "meta[http-equiv=refresh i],[onload],[onpageshow]');"
               "return {title:document.title,matched:m,text:t,token:k,live:l};})(%1)")
        .arg(QString::fromUtf8(QJsonDocument(sels).toJson(QJsonDocument::Compact)));
}

QString rect_script(const QString& selector) {
    QJsonArray arg{selector};
    return QStringLiteral(
               "(function(s){var e=document.querySelector(s);if(!e||e.disabled)return null;"
               "e.scrollIntoView({block:'center',inline:'center'});var r=e.getBoundingClientRect();"
               "if(r.width<=0||r.height<=0)return null;"
               "return [r.left+r.width/2,r.top+r.height/2];})(%1[0])")
        .arg(QString::fromUtf8(QJsonDocument(arg).toJson(QJsonDocument::Compact)));
}

bool is_proxy_error(int code, const QString& text) {
    // net_error_list.h: PROXY_CONNECTION_FAILED, TUNNEL_CONNECTION_FAILED,
    // PROXY_AUTH_UNSUPPORTED, PROXY_AUTH_REQUESTED, PROXY_CERTIFICATE_INVALID,
    // SOCKS_CONNECTION_FAILED, SOCKS_CONNECTION_HOST_UNREACHABLE, PROXY_HTTP_1_1_REQUIRED...
    static const int kProxyCodes[] = {-130, -111, -115, -127, -120, -121, -136, -137, -160, -336};
    for (int c : kProxyCodes) {
        if (c == code) return true;
    }
    return text.contains(QLatin1String("PROXY"), Qt::CaseInsensitive) ||
           text.contains(QLatin1String("SOCKS"), Qt::CaseInsensitive) ||
           text.contains(QLatin1String("TUNNEL"), Qt::CaseInsensitive);
}

QString domain_name(QWebEngineLoadingInfo::ErrorDomain d) {
    switch (d) {
        case QWebEngineLoadingInfo::InternalErrorDomain:
            return "internal";
        case QWebEngineLoadingInfo::ConnectionErrorDomain:
            return "connection";
        case QWebEngineLoadingInfo::CertificateErrorDomain:
            return "certificate";
        case QWebEngineLoadingInfo::HttpErrorDomain:
            return "http";
        case QWebEngineLoadingInfo::FtpErrorDomain:
            return "ftp";
        case QWebEngineLoadingInfo::DnsErrorDomain:
            return "dns";
        default:
            return "unknown";
    }
}

bool trace_enabled() {
    static const bool on = qEnvironmentVariableIsSet("BYPARR_WORKER_TRACE");
    return on;
}

}  // namespace

void SolveJob::trace(const char* what, const QString& detail) const {
    if (!trace_enabled()) return;
    std::fprintf(stderr, "[worker %llu +%lldms] %s %s\n", static_cast<unsigned long long>(serial_),
                 static_cast<long long>(clock_.elapsed()), what, qPrintable(detail));
}

SolveJob::SolveJob(quint64 serial, QJsonValue id, SolveRequest request, const SolveContext& ctx)
    : serial_(serial), id_(std::move(id)), request_(std::move(request)), ctx_(ctx) {
    clock_.start();
    for (QTimer* t :
         {&deadline_timer_, &quiet_timer_, &click_timer_, &wait_timer_, &doc_wait_timer_}) {
        t->setSingleShot(true);
        t->setTimerType(Qt::PreciseTimer);
    }
    connect(&doc_wait_timer_, &QTimer::timeout, this, &SolveJob::collect);
    connect(&deadline_timer_, &QTimer::timeout, this, [this] { fail("timeout", "Timeout"); });
    connect(&quiet_timer_, &QTimer::timeout, this, &SolveJob::check);
    connect(&click_timer_, &QTimer::timeout, this, &SolveJob::try_click);
    connect(&wait_timer_, &QTimer::timeout, this, &SolveJob::collect);
    deadline_timer_.start(static_cast<int>(std::clamp<qint64>(request_.timeout_ms, 1, INT_MAX)));
}

SolveJob::~SolveJob() {
    if (surface_) {
        disconnect(surface_->page(), nullptr, this, nullptr);
        surface_->page()->setUrlRequestInterceptor(nullptr);
    }
    surface_.reset();
}

std::unique_ptr<PageSurface> SolveJob::release_reusable_surface() {
    if (!finished_ || !surface_ || phase_ == Phase::kPreparing) return nullptr;
    if (failure_kind_ == QLatin1String("timeout") || failure_kind_ == QLatin1String("internal") ||
        failure_kind_ == QLatin1String("cancelled")) {
        return nullptr;
    }
    if (surface_->page()->renderProcessPid() <= 0) return nullptr;
    disconnect(surface_->page(), nullptr, this, nullptr);
    disconnect(surface_.get(), nullptr, this, nullptr);
    disconnect(surface_->jar(), nullptr, this, nullptr);
    surface_->page()->setUrlRequestInterceptor(nullptr);
    return std::move(surface_);
}

int SolveJob::remaining_ms() const {
    return static_cast<int>(std::max<qint64>(0, request_.timeout_ms - clock_.elapsed()));
}

void SolveJob::start(std::unique_ptr<PageSurface> surface) {
    surface_ = std::move(surface);
    if (surface_->is_ready()) {
        begin();
    } else {
        connect(surface_.get(), &PageSurface::ready, this, &SolveJob::begin);
        connect(surface_.get(), &PageSurface::broken, this, [this] {
            surface_.release()->deleteLater();  // inside its own signal
            if (!finished_) emit surface_lost(serial_);
        });
        surface_->hurry();
    }
}

void SolveJob::begin() {
    if (finished_) return;
    trace("begin", surface_->marker_url() + (surface_->has_devtools() ? " devtools" : "") +
                       QStringLiteral(" renderer=%1").arg(surface_->page()->renderProcessPid()));
    QWebEnginePage* page = surface_->page();
    QString err = surface_->jar()->set_request_cookies(request_.cookies, request_.url);
    if (!err.isEmpty()) {
        fail("invalid", err);
        return;
    }
    if (request_.disable_media) {
        auto* blocker = new MediaBlocker();
        media_blocker_.reset(blocker);
        page->setUrlRequestInterceptor(blocker);
    }
    connect(page, &QWebEnginePage::loadingChanged, this, &SolveJob::on_loading_changed);
    connect(page, &QWebEnginePage::loadFinished, this, [this](bool ok) {
        trace("loadFinished", QStringLiteral("%1 renderer=%2")
                                  .arg(ok ? "ok" : "failed")
                                  .arg(surface_->page()->renderProcessPid()));
        activity_clock_.start();
        surface_->keep_focus();
        schedule_check(kSettleMs);
    });
    connect(page, &QWebEnginePage::urlChanged, this, [this](const QUrl&) {
        surface_->keep_focus();
        activity_clock_.start();
        if (phase_ == Phase::kLoading) schedule_check(kEventCoalesceMs);
    });
    connect(page, &QWebEnginePage::titleChanged, this, [this](const QString& title) {
        trace("title", title);
        activity_clock_.start();
        if (phase_ == Phase::kLoading) schedule_check(kEventCoalesceMs);
    });
    connect(surface_->jar(), &CookieJar::cookie_added, this, [this](const QNetworkCookie& c) {
        if (phase_ == Phase::kLoading && challenge_seen_ &&
            ctx_.detector->is_clearance_cookie(c.name().toStdString())) {
            schedule_check(kEventCoalesceMs);
        }
    });
    connect(page, &QWebEnginePage::renderProcessTerminated, this,
            [this](QWebEnginePage::RenderProcessTerminationStatus, int code) {
                fail("internal", QStringLiteral("Renderer process ended (exit code %1)").arg(code));
            });
    connect(page, &QWebEnginePage::proxyAuthenticationRequired, this,
            [this](const QUrl&, QAuthenticator* auth, const QString&) {
                if (ctx_.options->proxy_username.empty()) return;  // -> 407, reported below
                auth->setUser(QString::fromStdString(ctx_.options->proxy_username));
                auth->setPassword(QString::fromStdString(ctx_.options->proxy_password));
            });

#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
    connect(surface_.get(), &PageSurface::document_response, this, &SolveJob::on_document);
#endif
    navigate();
}

#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
void SolveJob::on_document(const DocumentResponse& doc) {
    trace("document", QStringLiteral("%1 %2").arg(doc.status).arg(QString::fromStdString(doc.url)));
    if (doc.redirect) return;  // a hop: the final document follows
    doc_status_ = doc.status;
    doc_headers_ = doc.headers;
    doc_url_ = QString::fromStdString(doc.url);
    if (phase_ == Phase::kCollecting && doc_wait_timer_.isActive()) {
        doc_wait_timer_.stop();
        collect();
    }
}
#endif

void SolveJob::navigate() {
    if (finished_) return;
    phase_ = Phase::kLoading;
    trace("navigate", request_.url.toString());
    surface_->keep_focus();
    QWebEngineHttpRequest req(request_.url);
    if (request_.post) {
        req.setMethod(QWebEngineHttpRequest::Post);
        req.setHeader("Content-Type", "application/x-www-form-urlencoded");
        req.setPostData(request_.post_data);
    }
    surface_->page()->load(req);
}

void SolveJob::on_loading_changed(const QWebEngineLoadingInfo& info) {
    if (phase_ != Phase::kLoading && phase_ != Phase::kWaiting) return;
    // The surface's about:blank marker may report after we took over; never settle on it.
    if (info.url().scheme() == QLatin1String("about")) return;
    surface_->keep_focus();
    load_status_ = info.status();
    trace("loading", QStringLiteral("status=%1 domain=%2 code=%3 %4 %5")
                         .arg(info.status())
                         .arg(info.errorDomain())
                         .arg(info.errorCode())
                         .arg(info.errorString(), info.url().toString()));
    if (info.status() == QWebEngineLoadingInfo::LoadStartedStatus) {
        quiet_timer_.stop();
        live_clock_.invalidate();  // a new document gets its own bounded quiet wait
        return;
    }
    load_seen_ = true;
    activity_clock_.start();
    error_domain_ = info.errorDomain();
    error_code_ = info.errorCode();
    error_string_ = info.errorString();
    if (info.errorDomain() == QWebEngineLoadingInfo::HttpStatusCodeDomain) {
        http_status_ = info.errorCode();
    } else if (info.status() == QWebEngineLoadingInfo::LoadSucceededStatus) {
        // Successful loads without an HTTP status (data:, about:) or pre-6.x behaviour.
        if (http_status_ == 0) http_status_ = 200;
    }
    schedule_check(kSettleMs);
}

void SolveJob::schedule_check(int delay_ms) {
    if (finished_ || phase_ != Phase::kLoading) return;
    quiet_timer_.start(delay_ms);
}

void SolveJob::check() {
    if (finished_ || phase_ != Phase::kLoading) return;
    QWebEnginePage* page = surface_->page();
    if (page->isLoading() || !load_seen_) return;  // loadFinished/loadingChanged re-arms us
    if (check_running_ && check_clock_.elapsed() < kCheckLostMs) {
        check_again_ = true;
        quiet_timer_.start(kCheckLostMs);  // in case that answer never comes
        return;
    }
    if (load_status_ == QWebEngineLoadingInfo::LoadFailedStatus ||
        load_status_ == QWebEngineLoadingInfo::LoadStoppedStatus) {
        if (error_domain_ != QWebEngineLoadingInfo::HttpStatusCodeDomain &&
            error_domain_ != QWebEngineLoadingInfo::NoErrorDomain) {
            QString text = error_string_.isEmpty() ? QStringLiteral("load failed") : error_string_;
            QString msg = QStringLiteral("%1 (%2 error %3) loading %4")
                              .arg(text, domain_name(error_domain_))
                              .arg(error_code_)
                              .arg(request_.url.toString());
            // With a proxy, failed authentication surfaces as an auth error (or as
            // TOO_MANY_RETRIES when stored credentials keep being refused).
            const bool via_proxy = ctx_.options->proxy_kind != ProxyKind::kNone;
            const bool auth_failed =
                error_code_ == -375 || error_code_ == -338 || error_code_ == -323;
            if (via_proxy && auth_failed) msg = "Proxy authentication failed: " + msg;
            // An https target refused by the egress guard ends here: CONNECT failures
            // carry no page, so point at where the reason is.
            if (ctx_.options->egress_guard_port > 0 && error_code_ == -111)
                msg += QStringLiteral(
                    " (the connection went through the BLOCK_PRIVATE_TARGETS "
                    "egress guard; the Byparr log says why it failed)");
            fail(is_proxy_error(error_code_, text) || (via_proxy && auth_failed) ? "proxy"
                                                                                 : "network",
                 msg);
            return;
        }
    }
    if (http_status_ == 407) {
        fail("proxy", "Proxy authentication required (HTTP 407)");
        return;
    }
    if (!ctx_.detector->enabled()) {
        settle();
        return;
    }
    check_running_ = true;
    QPointer<SolveJob> self(this);
    page->runJavaScript(facts_script(ctx_.detector->selectors()),
                        QWebEngineScript::ApplicationWorld, [self](const QVariant& v) {
                            if (!self) return;
                            self->check_running_ = false;
                            self->on_facts(v);
                        });
}

void SolveJob::on_facts(const QVariant& v) {
    if (finished_ || phase_ != Phase::kLoading) return;
    // Something happened meanwhile, or the document went away under the script.
    if (check_again_ || !v.isValid() || surface_->page()->isLoading()) {
        const int delay = check_again_ ? 0 : kEventCoalesceMs;
        check_again_ = false;
        schedule_check(delay);
        return;
    }
    QVariantMap m = v.toMap();
    PageFactsIn facts;
    facts.url = surface_->page()->url().toString().toStdString();
    facts.title = m.value("title").toString().toStdString();
    facts.status = http_status_ ? http_status_ : doc_status_;
    facts.headers = doc_headers_;
    for (const auto& s : m.value("matched").toList()) {
        facts.matched_selectors.insert(s.toString().toStdString());
    }
    facts.body_text = m.value("text").toString().toStdString();
    trace("facts", QString::fromStdString(facts.title + " | " + facts.body_text).left(600));
    QString token = m.value("token").toString();
    if (!token.isEmpty()) turnstile_token_ = token;
    // BLOCK_PRIVATE_TARGETS: the host's egress guard refused the document (a redirect
    // to a private address, or a name that re-resolved to one). The page title is
    // the fallback for when DevTools headers are not there.
    if (facts.status == 403) {
        auto blocked = doc_headers_.find("x-byparr-blocked");
        if (blocked != doc_headers_.end() || facts.title == "Blocked by Byparr") {
            std::string why = blocked != doc_headers_.end() ? blocked->second : facts.body_text;
            fail("invalid",
                 QString::fromStdString("Refused by BLOCK_PRIVATE_TARGETS at connect time: " + why +
                                        " (loading " + facts.url + ")."));
            return;
        }
    }

    PageMatch match = ctx_.detector->classify(facts);
    switch (match.verdict) {
        case PageVerdict::kNone:
            if (!live_clock_.isValid()) live_clock_.start();
            if (m.value("live").toBool() && activity_clock_.isValid() &&
                activity_clock_.elapsed() < kLiveQuietMs &&
                live_clock_.elapsed() < kLiveMaxWaitMs) {
                quiet_timer_.start(
                    static_cast<int>(std::min<qint64>(kLiveQuietMs - activity_clock_.elapsed(),
                                                      kLiveMaxWaitMs - live_clock_.elapsed())));
                return;
            }
            settle();
            return;
        case PageVerdict::kBlocked:
            fail("blocked",
                 QStringLiteral("Blocked page detected (rule %1)")
                     .arg(QString::fromStdString(match.rule_id)),
                 QJsonObject{{"rule", QString::fromStdString(match.rule_id)}});
            return;
        case PageVerdict::kCaptcha:
            fail("captcha",
                 QStringLiteral("Captcha detected (rule %1)")
                     .arg(QString::fromStdString(match.rule_id)),
                 QJsonObject{{"rule", QString::fromStdString(match.rule_id)},
                             {"captchaKind", QString::fromStdString(match.kind)}});
            return;
        case PageVerdict::kChallenge:
            live_clock_.invalidate();  // the content after it gets its own quiet wait
            break;
    }
    challenge_seen_ = true;
    challenge_rule_ = QString::fromStdString(match.rule_id);
    challenge_kind_ = QString::fromStdString(match.kind);
    click_selector_ = QString::fromStdString(match.click_selector);
    if (!click_selector_.isEmpty() && !click_timer_.isActive() && clicks_ < kMaxClicks) {
        int backoff = kClickBackoffMs[std::min<int>(clicks_, std::size(kClickBackoffMs) - 1)];
        click_timer_.start(backoff);
    }
    // The page's own script solves it; events re-check, this catches DOM-only progress.
    quiet_timer_.start(kChallengeRecheckMs);
}

void SolveJob::try_click() {
    if (finished_ || phase_ != Phase::kLoading || click_selector_.isEmpty()) return;
    QPointer<SolveJob> self(this);
    surface_->page()->runJavaScript(
        rect_script(click_selector_), QWebEngineScript::ApplicationWorld,
        [self](const QVariant& v) {
            if (!self || self->finished_ || self->phase_ != Phase::kLoading) return;
            QVariantList xy = v.toList();
            QWidget* target = self->surface_->view()->focusProxy();
            if (xy.size() != 2 || !target) {
                // Not laid out, visible or enabled yet: look again soon rather than at
                // the next re-check, the click is what the challenge waits for.
                self->trace("click", "target not visible yet");
                if (++self->click_polls_ <= kClickPolls) self->click_timer_.start(kClickPollMs);
                return;
            }
            self->trace("click",
                        QStringLiteral("%1,%2").arg(xy[0].toDouble()).arg(xy[1].toDouble()));
            QPoint p(qRound(xy[0].toDouble()), qRound(xy[1].toDouble()));
            // Trusted input: events must go to the focus proxy, not the view.
            QTest::mouseMove(target, p - QPoint(7, 5));
            QTest::mouseMove(target, p);
            QTest::mouseClick(target, Qt::LeftButton, {}, p, 60);
            ++self->clicks_;
            self->schedule_check(kAfterClickMs);
            if (self->clicks_ < kMaxClicks) {
                int backoff =
                    kClickBackoffMs[std::min<int>(self->clicks_, std::size(kClickBackoffMs) - 1)];
                self->click_timer_.start(backoff);
            }
        });
}

void SolveJob::settle() {
    if (finished_) return;
    trace("settled", surface_->page()->url().toString());
    quiet_timer_.stop();
    click_timer_.stop();
    phase_ = Phase::kWaiting;
    if (request_.wait_ms > 0) {
        wait_timer_.start(static_cast<int>(std::min<qint64>(request_.wait_ms, INT_MAX)));
    } else {
        collect();
    }
}

void SolveJob::collect() {
    if (finished_) return;
    phase_ = Phase::kCollecting;
#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
    // Settling no longer waits out a quiet period, so on a busy machine the page can
    // be done before the DevTools thread has handed over the document's status and
    // headers: give them a moment (they are normally long there).
    if (!doc_waited_ && doc_status_ == 0 && surface_->has_devtools()) {
        doc_waited_ = true;
        trace("waiting", "for the document's headers");
        doc_wait_timer_.start(kDocWaitMs);
        return;
    }
    doc_wait_timer_.stop();
#endif
    if (request_.return_only_cookies) {
        complete({});
        return;
    }
    QPointer<SolveJob> self(this);
    surface_->page()->toHtml([self](const QString& html) {
        if (self) self->complete(html);
    });
}

QJsonObject SolveJob::base_result() const {
    QJsonObject r;
    QUrl url = surface_ ? surface_->page()->url() : request_.url;
    if (url.isEmpty() || url.scheme() == "about") url = request_.url;
    r["url"] = url.toString(QUrl::FullyEncoded);
    r["status"] = http_status_ ? http_status_ : doc_status_;
    QJsonObject headers;
    for (const auto& [k, v] : doc_headers_) {
        headers[QString::fromStdString(k)] = QString::fromStdString(v);
    }
    r["headers"] = headers;
    r["userAgent"] = ctx_.user_agent;
    QJsonObject challenge{{"detected", challenge_seen_}};
    if (challenge_seen_) {
        challenge["rule"] = challenge_rule_;
        challenge["kind"] = challenge_kind_;
    }
    r["challenge"] = challenge;
    if (surface_) r["cookies"] = surface_->jar()->cookies_for(url);
    return r;
}

void SolveJob::complete(const QString& html) {
    if (finished_) return;
    QJsonObject r = base_result();
    if (!request_.return_only_cookies) {
        const qint64 cap = request_.max_response_bytes;
        QByteArray utf8;
        if (cap > 0 && html.size() > cap / 3) utf8 = html.toUtf8();  // may be over the cap
        if (cap > 0 && utf8.size() > cap) {
            // One code point past the cap: the host sees the answer was longer than
            // its limit, cuts it there and says so in the solution.
            qsizetype end = cap + 1;
            while (end < utf8.size() && (static_cast<unsigned char>(utf8[end]) & 0xC0) == 0x80)
                ++end;
            utf8.truncate(end);
            r["html"] = QString::fromUtf8(utf8);
            r["htmlCut"] = true;
        } else {
            r["html"] = html;
        }
    }
    if (request_.return_screenshot) {
        QPixmap shot = surface_->view()->grab();
        QByteArray png;
        QBuffer buf(&png);
        buf.open(QIODevice::WriteOnly);
        shot.save(&buf, "PNG");
        r["screenshot"] = QString::fromLatin1(png.toBase64());
    }
    if (!turnstile_token_.isEmpty()) r["turnstileToken"] = turnstile_token_;
    r["message"] = challenge_seen_ ? "Challenge solved!" : "Challenge not detected!";
    finished_ = true;
    trace("complete", {});
    emit reply(QJsonObject{{"id", id_}, {"ok", true}, {"result", r}});
    emit done(serial_);
}

void SolveJob::fail(const QString& kind, const QString& message, QJsonObject extra) {
    if (finished_) return;
    finished_ = true;
    failure_kind_ = kind;
    trace("fail", kind + ": " + message);

    for (QTimer* t :
         {&deadline_timer_, &quiet_timer_, &click_timer_, &wait_timer_, &doc_wait_timer_}) {
        t->stop();
    }
    QJsonObject error{{"kind", kind}, {"message", message}};
    for (auto it = extra.begin(); it != extra.end(); ++it)
        error[it.key()] = it.value();
    QJsonObject msg{{"id", id_}, {"ok", false}, {"error", error}};
    if (surface_ && phase_ != Phase::kPreparing) msg["result"] = base_result();
    if (surface_) surface_->page()->triggerAction(QWebEnginePage::Stop);
    emit reply(msg);
    emit done(serial_);
}

void SolveJob::abort(const QString& kind, const QString& message) {
    fail(kind, message);
}

}  // namespace byparr::webengine
