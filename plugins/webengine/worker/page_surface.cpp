#include "page_surface.h"

#include "cookie_jar.h"
#include "request_interceptor.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <QAuthenticator>
#include <QBuffer>
#include <QCoreApplication>
#include <QFocusEvent>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPixmap>
#include <QPointer>
#include <QRandomGenerator>
#include <QTest>
#include <QWebEngineHistory>
#include <QWebEngineHttpRequest>
#include <QWebEngineLoadingInfo>
#include <QWebEngineProfile>
#include <QWebEngineScript>
#include <QWebEngineView>
#include <QWidget>

namespace byparr::browser {

quint64 PageSurface::wipes_done_ = 0;

namespace {

class FocusKeeper : public QObject {
  public:
    FocusKeeper(PageSurface* surface, QWidget* view) : QObject(surface), view_(view) {}

  protected:
    bool eventFilter(QObject* watched, QEvent* event) override {
        const auto t = event->type();
        if (watched == view_ && t == QEvent::ChildAdded) {
            // A new render widget: focus it once it is the view's focus proxy.
            QMetaObject::invokeMethod(parent(), "keep_focus", Qt::QueuedConnection);
        }
        return t == QEvent::FocusOut || t == QEvent::WindowDeactivate;
    }

  private:
    QWidget* view_;
};

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

LoadEvent to_load_event(const QWebEngineLoadingInfo& info) {
    LoadEvent e;
    switch (info.status()) {
        case QWebEngineLoadingInfo::LoadStartedStatus:
            e.state = LoadEvent::State::kStarted;
            break;
        case QWebEngineLoadingInfo::LoadSucceededStatus:
            e.state = LoadEvent::State::kSucceeded;
            break;
        case QWebEngineLoadingInfo::LoadFailedStatus:
            e.state = LoadEvent::State::kFailed;
            break;
        case QWebEngineLoadingInfo::LoadStoppedStatus:
            e.state = LoadEvent::State::kStopped;
            break;
    }
    e.url = info.url();
    e.error_code = info.errorCode();
    e.error_string = info.errorString();
    // Qt reports an HTTP error status as an error of its own domain; it is no load failure.
    if (info.errorDomain() == QWebEngineLoadingInfo::HttpStatusCodeDomain) {
        e.http_status = info.errorCode();
        e.error_code = 0;
    } else if (info.errorDomain() != QWebEngineLoadingInfo::NoErrorDomain) {
        e.error_domain = domain_name(info.errorDomain());
    }
    return e;
}

}  // namespace

PageSurface::PageSurface(QWebEngineProfile* profile, bool owns_profile, CookieJar* jar,
                         const SurfaceDeps& deps, int attach_wait_ms)
    : profile_(profile),
      owns_profile_(owns_profile),
      jar_(jar),
      deps_(deps),
      attach_wait_ms_(attach_wait_ms) {
    page_ = new WorkerPage(profile_);
    window_ = new QWidget();
    window_->resize(kWidth, kHeight + kBrowserUiHeight);
    view_ = new QWebEngineView(window_);
    view_->setGeometry(0, kBrowserUiHeight, kWidth, kHeight);
    view_->setPage(page_);
    marker_ = QStringLiteral("about:blank#byparr-%1")
                  .arg(QRandomGenerator::global()->generate64(), 16, 16, QLatin1Char('0'));
    age_.start();
    attach_timer_.setSingleShot(true);
    connect(&attach_timer_, &QTimer::timeout, this, &PageSurface::set_ready);
    wipe_timer_.setSingleShot(true);
    connect(&wipe_timer_, &QTimer::timeout, this, &PageSurface::wipe_failed);
    connect(jar_, &CookieJar::emptied, this, &PageSurface::wiped_one);
    connect(page_, &QWebEnginePage::urlChanged, this, [this](const QUrl& url) {
        if (url.scheme() != QLatin1String("about")) last_host_ = url.host().toLower();
    });
    connect(page_, &QWebEnginePage::loadingChanged, this, [this](const QWebEngineLoadingInfo& i) {
        if (recycling_ && wipe_stage_ == WipeStage::kLeaving && i.url().toString() == marker_ &&
            i.status() != QWebEngineLoadingInfo::LoadStartedStatus) {
            wipe();
        }
    });
    connect(page_, &QWebEnginePage::loadFinished, this, [this](bool) {
        if (shown_) return;
        shown_ = true;
        window_->move(kWindowX, kWindowY);
        window_->show();
        if (qEnvironmentVariableIsSet("BYPARR_WORKER_TRACE")) {
            std::fprintf(stderr, "[surface] marker loaded after %lld ms\n",
                         static_cast<long long>(age_.elapsed()));
        }
        // Not from inside the marker's loadFinished: its loadingChanged is still to come.
        QTimer::singleShot(0, this, &PageSurface::on_shown);
    });
    forward_page_signals();
    page_->load(QUrl(marker_));
}

// The engine's signals in PageDriver's terms. They are emitted in every phase (marker,
// wipe); a solve listens only while it owns the page.
void PageSurface::forward_page_signals() {
    connect(page_, &QWebEnginePage::loadingChanged, this,
            [this](const QWebEngineLoadingInfo& i) { emit load_changed(to_load_event(i)); });
    connect(page_, &QWebEnginePage::loadFinished, this, [this](bool) { emit load_finished(); });
    connect(page_, &QWebEnginePage::urlChanged, this, [this](const QUrl&) { emit url_changed(); });
    connect(page_, &QWebEnginePage::titleChanged, this, &PageSurface::title_changed);
    connect(jar_, &CookieJar::cookie_added, this, [this](const QNetworkCookie& c) {
        emit cookie_added(QString::fromUtf8(c.name()), c.domain());
    });
    connect(
        page_, &QWebEnginePage::renderProcessTerminated, this,
        [this](QWebEnginePage::RenderProcessTerminationStatus, int code) {
            emit renderer_gone(QStringLiteral("Renderer process ended (exit code %1)").arg(code));
        });
    connect(page_, &QWebEnginePage::proxyAuthenticationRequired, this,
            [this](const QUrl&, QAuthenticator* auth, const QString&) {
                if (deps_.proxy_username.empty()) return;  // -> 407, reported by the solve
                auth->setUser(QString::fromStdString(deps_.proxy_username));
                auth->setPassword(QString::fromStdString(deps_.proxy_password));
            });
}

QString PageSurface::set_request_cookies(const QJsonArray& cookies, const QUrl& url) {
    return jar_->set_request_cookies(cookies, url);
}

void PageSurface::block_media() {
    auto* blocker = new MediaBlocker();
    media_blocker_.reset(blocker);
    page_->setUrlRequestInterceptor(blocker);
}

void PageSurface::navigate(const Navigation& nav) {
    QWebEngineHttpRequest req(nav.url);
    if (nav.post) {
        req.setMethod(QWebEngineHttpRequest::Post);
        req.setHeader("Content-Type", nav.content_type.isEmpty()
                                          ? QByteArray("application/x-www-form-urlencoded")
                                          : nav.content_type);
        req.setPostData(nav.body);
    }
    for (const auto& [name, value] : nav.headers)
        req.setHeader(name, value);  // the first request; DevTools adds them to the hops
    if (!devtools_session_) {
        page_->load(req);
        return;
    }
    // The request's headers on every redirect hop (and site-wide), and a document that is
    // not HTML taken at its response: both through DevTools, set up before the load starts.
    RequestRules rules;
    for (const auto& [name, value] : nav.headers)
        rules.headers.emplace_back(name.toStdString(), value.toStdString());
    if (nav.site_wide) rules.site_host = nav.url.host().toLower().toStdString();
    rules.capture_raw = true;
    auto guard = guard_;
    QObject* router = deps_.router;
    devtools_session_->set_request_rules(std::move(rules), [guard, router, req] {
        QMetaObject::invokeMethod(
            router,
            [guard, req] {
                if (PageSurface* s = *guard) s->page_->load(req);
            },
            Qt::QueuedConnection);
    });
}

void PageSurface::stop() {
    page_->triggerAction(QWebEnginePage::Stop);
}

bool PageSurface::is_loading() const {
    return page_->isLoading();
}

QUrl PageSurface::url() const {
    return page_->url();
}

void PageSurface::run_isolated(const QString& script, ScriptCallback cb) {
    page_->runJavaScript(script, QWebEngineScript::ApplicationWorld, std::move(cb));
}

void PageSurface::to_html(std::function<void(const QString& html)> cb) {
    page_->toHtml(std::move(cb));
}

void PageSurface::screenshot(std::function<void(const QByteArray& png)> cb) {
    QPixmap shot = view_->grab();
    QByteArray png;
    QBuffer buf(&png);
    buf.open(QIODevice::WriteOnly);
    shot.save(&buf, "PNG");
    cb(png);
}

void PageSurface::click(QPoint from, QPoint at, int hold_ms) {
    // Trusted input: events must go to the focus proxy, not the view.
    QWidget* target = view_->focusProxy();
    if (!target) return;
    QTest::mouseMove(target, from);
    QTest::mouseMove(target, at);
    QTest::mouseClick(target, Qt::LeftButton, {}, at, hold_ms);
}

void PageSurface::tab_space(int tabs) {
    QWidget* target = view_->focusProxy();
    if (!target) return;
    for (int i = 0; i < std::max(1, tabs); ++i)
        QTest::keyClick(target, Qt::Key_Tab, {}, 40);
    QTest::keyClick(target, Qt::Key_Space, {}, 60);
}

void PageSurface::cookies_for(const QUrl& url, std::function<void(const QJsonArray&)> cb) {
    cb(jar_->cookies_for(url));
}

bool PageSurface::renderer_alive() const {
    return page_->renderProcessPid() > 0;
}

PageSurface::~PageSurface() {
    if (devtools_session_) devtools_session_->detach();
    devtools_session_.reset();
    disconnect(page_, nullptr, this, nullptr);
    page_->setUrlRequestInterceptor(nullptr);
    delete window_;  // and the view with it, before its page
    delete page_;
    if (owns_profile_) {
        profile_->setUrlRequestInterceptor(nullptr);  // shared; may be gone first at exit
        profile_->deleteLater();
    }
}

void PageSurface::keep_focus() {
    QWidget* proxy = view_->focusProxy();
    if (!proxy) return;
    if (!focus_keeper_) {
        focus_keeper_ = new FocusKeeper(this, view_);
        view_->installEventFilter(focus_keeper_);
    }
    // A cross-site navigation swaps in a new render widget (and focus proxy) that
    // only inherits focus if its window is active: filter and focus each new one.
    if (proxy != focused_proxy_) {
        proxy->installEventFilter(focus_keeper_);
        focused_proxy_ = proxy;
    }
    if (qEnvironmentVariableIsSet("BYPARR_WORKER_TRACE")) {
        std::fprintf(stderr, "[surface] keep_focus proxy=%p\n", static_cast<void*>(proxy));
    }
    QFocusEvent in(QEvent::FocusIn, Qt::ActiveWindowFocusReason);
    QCoreApplication::sendEvent(proxy, &in);
}

bool PageSurface::has_devtools() const {
    return devtools_session_ != nullptr;
}

int PageSurface::inflight_requests() const {
    if (devtools_session_) return devtools_session_->inflight_requests();
    return -1;
}

void PageSurface::on_shown() {
    // A fresh renderer pays for style, font and layout set-up on its first real
    // document: do it now on the marker, off the request path, so the request's
    // page loads like one in a warm renderer. The navigation that follows reuses
    // this process (the marker's site-less instance takes the site).
    page_->runJavaScript(QStringLiteral(
        "document.body.innerHTML='<h1>w</h1><p style=\"font:14px sans-serif\">w <b>w</b> "
        "<i>w</i> <code>w</code></p><input><button>w</button>';document.body.offsetHeight;"
        "document.body.textContent='';"));
    if (deps_.devtools) {
        guard_ = std::make_shared<QPointer<PageSurface>>(this);
        auto guard = guard_;
        QObject* router = deps_.router;
        if (*deps_.attach_failures >= kBrokenAfterFailures) {
            attach_wait_ms_ = std::min(attach_wait_ms_, kAttachTimeoutBrokenMs);
        }
        attach_timer_.start(attach_wait_ms_);
        // The client may keep trying after we stop waiting: a late session still
        // brings focus emulation and the headers of later documents.
        deps_.devtools->attach(
            marker_.toStdString(), deps_.ua, kLateAttachMs,
            [guard, router, t0 = std::chrono::steady_clock::now()](
                std::shared_ptr<DevToolsSession> session, std::string error) {
                if (qEnvironmentVariableIsSet("BYPARR_WORKER_TRACE")) {
                    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::steady_clock::now() - t0)
                                  .count();
                    std::fprintf(stderr, "[surface] attach after %lld ms: %s\n",
                                 static_cast<long long>(ms), session ? "ok" : error.c_str());
                }
                QMetaObject::invokeMethod(
                    router,
                    [guard, session] {
                        PageSurface* self = *guard;
                        if (!self) {
                            if (session) session->detach();  // orphaned
                            return;
                        }
                        int& failures = *self->deps_.attach_failures;
                        failures = session ? 0 : failures + 1;
                        if (session) self->adopt_session(session);
                        self->set_ready();
                    },
                    Qt::QueuedConnection);
            });
        return;
    }
    set_ready();
}

void PageSurface::set_timezone(const QString& zone, std::function<void(QString error)> done) {
    const std::string want = zone.isEmpty() ? deps_.ua.timezone : zone.toStdString();
    // DevTools re-applies a session's override to the new renderer when a cross-site
    // navigation swaps it, so once per change is enough. Chromium holds the zone per
    // renderer process, which pages share only within a profile: a sessionless page has
    // its own, and a session's pages all present the session's zone.
    if (devtools_session_ && want != zone_) {
        const std::string params =
            QJsonDocument(QJsonObject{{"timezoneId", QString::fromStdString(want)}})
                .toJson(QJsonDocument::Compact)
                .toStdString();
        devtools_session_->send(
            "Emulation.setTimezoneOverride", params,
            [guard = guard_, router = deps_.router, want, done = std::move(done)](
                std::string, std::string error) {
                QMetaObject::invokeMethod(
                    router,
                    [guard, want, done, error] {
                        PageSurface* s = *guard;
                        if (!s) return;
                        if (error.empty()) s->zone_ = want;
                        done(error.empty()
                                 ? QString()
                                 : QStringLiteral("The browser refused time zone '%1': %2")
                                       .arg(QString::fromStdString(want),
                                            QString::fromStdString(error)));
                    },
                    Qt::QueuedConnection);
            });
        return;
    }
    done(QString());
}

void PageSurface::adopt_session(std::shared_ptr<DevToolsSession> session) {
    devtools_session_ = session;
    zone_ = deps_.ua.timezone;  // attach() applied it
    // Only one offscreen window can be active, and challenge scripts test
    // document.hasFocus(): have every page focused.
    session->send("Emulation.setFocusEmulationEnabled", R"({"enabled":true})",
                  [](std::string, std::string) {});
    auto guard = guard_;
    QObject* router = deps_.router;
    session->on_document_response([guard, router](const DocumentResponse& doc) {
        QMetaObject::invokeMethod(
            router,
            [guard, doc] {
                PageSurface* s = *guard;
                if (!s) return;
                const QUrl url(QString::fromStdString(doc.url));
                const QString origin = url.adjusted(QUrl::RemovePath | QUrl::RemoveQuery |
                                                    QUrl::RemoveFragment | QUrl::RemoveUserInfo)
                                           .toString();
                if ((url.scheme() == QLatin1String("http") ||
                     url.scheme() == QLatin1String("https")) &&
                    !s->origins_.contains(origin)) {
                    s->origins_.append(origin);
                }
                emit s->document_response(doc);
            },
            Qt::QueuedConnection);
    });
    session->on_raw_response([guard, router](const RawResponse& raw) {
        RawDocument doc = to_raw_document(raw);
        QMetaObject::invokeMethod(
            router,
            [guard, doc] {
                if (PageSurface* s = *guard) emit s->raw_document(doc);
            },
            Qt::QueuedConnection);
    });
}

void PageSurface::hurry() {
    attach_wait_ms_ = std::min(attach_wait_ms_, kAttachTimeoutMs);  // for an attach not begun yet
    if (!ready_ && attach_timer_.isActive() && attach_timer_.remainingTime() > kAttachTimeoutMs) {
        attach_timer_.start(kAttachTimeoutMs);
    }
}

void PageSurface::recycle() {
    page_->setUrlRequestInterceptor(nullptr);
    media_blocker_.reset();
    ready_ = false;
    recycling_ = true;
    age_.restart();
    wipes_pending_ = 0;
    ++uses_;
    page_->triggerAction(QWebEnginePage::Stop);
    marker_ = QStringLiteral("about:blank#byparr-%1")
                  .arg(QRandomGenerator::global()->generate64(), 16, 16, QLatin1Char('0'));
    wipe_timer_.start(kWipeTimeoutMs);
    // sessionStorage belongs to the tab and outlives the document, and DevTools can
    // only clear it while a frame of its origin is there: before leaving the page.
    // An origin without a frame now (an earlier redirect hop, an error page) fails
    // with "Frame not found", which is not a failure of the wipe.
    if (devtools_session_ && !origins_.isEmpty()) {
        wipe_stage_ = WipeStage::kSessionStorage;
        for (const QString& origin : origins_) {
            send_wipe("DOMStorage.clear",
                      QJsonObject{{"storageId", QJsonObject{{"securityOrigin", origin},
                                                            {"isLocalStorage", false}}}},
                      /*must_succeed=*/false);
        }
        return;
    }
    leave_page();
}

void PageSurface::leave_page() {
    // The old document must be gone (no script left to set a cookie or store
    // something) before the rest of the wipe: loadingChanged for the marker -> wipe().
    wipe_stage_ = WipeStage::kLeaving;
    page_->load(QUrl(marker_));
}

void PageSurface::wipe() {
    // Counted down by wiped_one(): the cookie store and each DevTools command.
    wipe_stage_ = WipeStage::kStores;
    wipes_pending_ = 1;
    page_->history()->clear();
    if (devtools_session_) {
        // The HTTP cache through DevTools, which confirms it: QWebEngineProfile::
        // clearHttpCache() (Qt 6.4) left the next navigation of the profile hanging.
        send_wipe("Network.clearBrowserCache", {}, true);
        for (const QString& origin : origins_) {
            send_wipe("Storage.clearDataForOrigin",
                      QJsonObject{{"origin", origin}, {"storageTypes", "all"}}, true);
        }
    }
    origins_.clear();
    jar_->clear();  // -> emptied -> wiped_one()
}

void PageSurface::send_wipe(const char* method, const QJsonObject& params, bool must_succeed) {
    ++wipes_pending_;
    auto guard = guard_;
    devtools_session_->send(
        method, QJsonDocument(params).toJson(QJsonDocument::Compact).toStdString(),
        [guard, router = deps_.router, must_succeed](std::string, std::string error) {
            QMetaObject::invokeMethod(
                router,
                [guard, failed = must_succeed && !error.empty()] {
                    PageSurface* s = *guard;
                    if (!s) return;
                    if (failed) {
                        s->wipe_failed();
                    } else {
                        s->wiped_one();
                    }
                },
                Qt::QueuedConnection);
        });
}

void PageSurface::wipe_failed() {
    if (!recycling_) return;
    recycling_ = false;
    wipe_timer_.stop();
    // Isolation cannot be vouched for: the Worker discards the page.
    emit broken();
}

void PageSurface::wiped_one() {
    if (!recycling_ || wipes_pending_ <= 0) return;
    if (--wipes_pending_ > 0) return;
    if (wipe_stage_ == WipeStage::kSessionStorage) {
        leave_page();
        return;
    }
    recycling_ = false;
    ++wipes_done_;
    wipe_timer_.stop();
    set_ready();
}

void PageSurface::set_ready() {
    if (ready_) return;
    if (qEnvironmentVariableIsSet("BYPARR_WORKER_TRACE")) {
        std::fprintf(stderr, "[surface] ready after %lld ms\n",
                     static_cast<long long>(age_.elapsed()));
    }
    attach_timer_.stop();
    ready_ = true;
    emit ready();
}

}  // namespace byparr::browser
