#include "page_surface.h"

#include "cookie_jar.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include <QCoreApplication>
#include <QFocusEvent>
#include <QJsonDocument>
#include <QJsonObject>
#include <QPointer>
#include <QRandomGenerator>
#include <QWebEngineHistory>
#include <QWebEngineLoadingInfo>
#include <QWebEngineProfile>
#include <QWebEngineView>
#include <QWidget>

namespace byparr::webengine {

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
    page_->load(QUrl(marker_));
}

PageSurface::~PageSurface() {
#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
    if (devtools_session_) devtools_session_->detach();
    devtools_session_.reset();
#endif
    disconnect(page_, nullptr, this, nullptr);
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
#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
    return devtools_session_ != nullptr;
#else
    return false;
#endif
}

int PageSurface::inflight_requests() const {
#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
    if (devtools_session_) return devtools_session_->inflight_requests();
#endif
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
#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
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
#endif
    set_ready();
}

void PageSurface::set_timezone(const QString& zone, std::function<void(QString error)> done) {
#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
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
#endif
    done(QString());
}

#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
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
}
#endif

void PageSurface::hurry() {
    attach_wait_ms_ = std::min(attach_wait_ms_, kAttachTimeoutMs);  // for an attach not begun yet
    if (!ready_ && attach_timer_.isActive() && attach_timer_.remainingTime() > kAttachTimeoutMs) {
        attach_timer_.start(kAttachTimeoutMs);
    }
}

void PageSurface::recycle() {
    ready_ = false;
    recycling_ = true;
    age_.restart();
    wipes_pending_ = 0;
    ++uses_;
    page_->triggerAction(QWebEnginePage::Stop);
    marker_ = QStringLiteral("about:blank#byparr-%1")
                  .arg(QRandomGenerator::global()->generate64(), 16, 16, QLatin1Char('0'));
    wipe_timer_.start(kWipeTimeoutMs);
#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
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
#endif
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
#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
    if (devtools_session_) {
        // The HTTP cache through DevTools, which confirms it: QWebEngineProfile::
        // clearHttpCache() (Qt 6.4) left the next navigation of the profile hanging.
        send_wipe("Network.clearBrowserCache", {}, true);
        for (const QString& origin : origins_) {
            send_wipe("Storage.clearDataForOrigin",
                      QJsonObject{{"origin", origin}, {"storageTypes", "all"}}, true);
        }
    }
#endif
    origins_.clear();
    jar_->clear();  // -> emptied -> wiped_one()
}

#ifdef BYPARR_HAVE_DEVTOOLS_CLIENT
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
#endif

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

}  // namespace byparr::webengine
