// One shown, sized QWebEngineView with its page, prepared the way the engine
// needs: load the about:blank marker first, show, attach DevTools to the marker,
// then hand it to a solve (showing before the first load has no effect, and a
// hidden page gets throttled timers). Spares are prepared ahead of requests, so
// the renderer launch and the DevTools attach stay off the request path.
#pragma once

#include <functional>
#include <memory>

#include <QElapsedTimer>
#include <QJsonObject>
#include <QObject>
#include <QPointer>
#include <QString>
#include <QTimer>
#include <QWebEnginePage>

#include "devtools_client.h"
#include "page_driver.h"

class QWebEngineProfile;
class QWebEngineView;
class QWidget;

namespace byparr::browser {

class CookieJar;

// Quiet console, no pop-ups.
class WorkerPage : public QWebEnginePage {
    Q_OBJECT
  public:
    using QWebEnginePage::QWebEnginePage;

  protected:
    void javaScriptConsoleMessage(JavaScriptConsoleMessageLevel, const QString&, int,
                                  const QString&) override {}
    QWebEnginePage* createWindow(WebWindowType) override { return nullptr; }
};

// What every surface needs besides its profile; owned by the Worker.
struct SurfaceDeps {
    QObject* router = nullptr;  // context for callbacks from the DevTools thread
    DevToolsClient* devtools = nullptr;
    UaOverride ua;
    std::shared_ptr<int> attach_failures = std::make_shared<int>(0);  // consecutive
    // The worker's HTTP proxy credentials, for the engine's authentication prompt.
    std::string proxy_username;
    std::string proxy_password;
};

class PageSurface : public PageDriver {
    Q_OBJECT
  public:
    // The viewport (innerWidth x innerHeight, and what a screenshot shows).
    static constexpr int kWidth = 1366;
    static constexpr int kHeight = 768;
    // The view sits in a larger top-level window, as a page does under Chrome's tab strip
    // and toolbar (85 px on Linux), placed off the screen's corner: outerHeight >
    // innerHeight and screenX/Y > 0, as in a desktop browser (issue #13).
    static constexpr int kBrowserUiHeight = 85;
    static constexpr int kWindowX = 277;
    static constexpr int kWindowY = 113;
    // Headers are optional, so a request waits for DevTools only this long. Not 300 ms:
    // attaches queue behind each other on Chromium's UI thread, and in a burst of five
    // new pages under load the last one took 300-400 ms. A page without its session has
    // no userAgentData brands and no focus emulation, which managed challenges detect.
    static constexpr int kAttachTimeoutMs = 1000;
    // After repeated failures DevTools is presumed broken: stop making requests wait.
    static constexpr int kAttachTimeoutBrokenMs = 300;
    static constexpr int kBrokenAfterFailures = 3;
    // A spare is prepared off the request path and may wait longer.
    static constexpr int kSpareAttachTimeoutMs = 3000;
    static constexpr int kLateAttachMs = 5000;
    static constexpr int kWipeTimeoutMs = 3000;

    // owns_profile: delete the profile after the page (off-the-record profiles must
    // outlive their pages).
    PageSurface(QWebEngineProfile* profile, bool owns_profile, CookieJar* jar,
                const SurfaceDeps& deps, int attach_wait_ms = kAttachTimeoutMs);
    ~PageSurface() override;

    bool is_ready() const override { return ready_; }
    // Makes a used page fit for the next sessionless request instead of paying a new
    // profile and renderer (~150 ms of CPU): the page goes to a fresh about:blank
    // marker, then cookies, HTTP cache, history and the storage of every origin its
    // documents came from are wiped. `ready` follows when all of that is confirmed,
    // `broken` if it is not within kWipeTimeoutMs (the caller discards the page).
    // Only for pages that own their profile.
    void recycle() override;
    // Reuse needs the page's DevTools session: the wipe goes through it.
    bool reusable() const override { return has_devtools(); }
    int uses() const override { return uses_; }
    // Used pages made ready again, in this process.
    static quint64 wipes_done() { return wipes_done_; }
    // Host of the last document, so a request can get a page whose renderer already
    // serves that site (a cross-site navigation launches a new renderer).
    QString last_host() const override { return last_host_; }
    // A request is waiting: stop waiting for DevTools after kAttachTimeoutMs at most.
    void hurry() override;
    // Gives the page keyboard focus for good: several views are shown at once on one
    // screen and only one window can be active, but challenge scripts check
    // document.hasFocus(). Focus-out events to the page are swallowed from now on.
    Q_INVOKABLE void keep_focus() override;
    bool has_devtools() const;
    // The zone the page presents from the next document on (Emulation.setTimezoneOverride
    // on its DevTools session): `zone`, or --timezone's when empty, so a reused page drops
    // an earlier request's. Calls done("") once it is in effect (at once when it already
    // is, or when the page has no DevTools session), done(reason) when the browser refuses
    // the zone; on the Qt thread, never after the surface is gone.
    void set_timezone(const QString& zone, std::function<void(QString error)> done) override;
    // Requests of the current document still in flight, as DevTools sees them; -1 without
    // DevTools (the caller cannot know).
    int inflight_requests() const override;

    // PageDriver
    QString set_request_cookies(const QJsonArray& cookies, const QUrl& url) override;
    void block_media() override;
    void navigate(const Navigation& nav) override;
    void stop() override;
    bool is_loading() const override;
    QUrl url() const override;
    void run_isolated(const QString& script, ScriptCallback cb) override;
    void to_html(std::function<void(const QString& html)> cb) override;
    void screenshot(std::function<void(const QByteArray& png)> cb) override;
    void click(QPoint from, QPoint at, int hold_ms) override;
    void tab_space(int tabs) override;
    bool reports_documents() const override { return has_devtools(); }
    void cookies_for(const QUrl& url, std::function<void(const QJsonArray&)> cb) override;
    bool renderer_alive() const override;
    const QString& marker_url() const { return marker_; }
    QWebEngineProfile* profile() const { return profile_; }
    CookieJar* jar() const { return jar_; }
    WorkerPage* page() const { return page_; }
    QWebEngineView* view() const { return view_; }

  private:
    void forward_page_signals();
    void on_shown();
    void set_ready();
    void leave_page();
    void wipe();
    void wiped_one();
    void send_wipe(const char* method, const QJsonObject& params, bool must_succeed);
    void wipe_failed();

    QWebEngineProfile* profile_;
    bool owns_profile_;
    CookieJar* jar_;
    SurfaceDeps deps_;
    WorkerPage* page_ = nullptr;
    QWidget* window_ = nullptr;  // top level; owns view_
    QWebEngineView* view_ = nullptr;
    QString marker_;
    int attach_wait_ms_;
    bool ready_ = false;
    bool shown_ = false;
    QTimer attach_timer_;
    QElapsedTimer age_;  // for BYPARR_WORKER_TRACE
    QObject* focus_keeper_ = nullptr;
    QPointer<QWidget> focused_proxy_;
    int uses_ = 0;
    bool recycling_ = false;
    enum class WipeStage { kSessionStorage, kLeaving, kStores };
    WipeStage wipe_stage_ = WipeStage::kStores;
    static quint64 wipes_done_;
    int wipes_pending_ = 0;
    QTimer wipe_timer_;
    QString last_host_;
    QStringList origins_;  // of this use's documents, for Storage.clearDataForOrigin
    std::string zone_;     // in effect on the DevTools session (attach applies --timezone's)
    std::unique_ptr<QObject> media_blocker_;  // disableMedia, for one use
    void adopt_session(std::shared_ptr<DevToolsSession> session);
    std::shared_ptr<DevToolsSession> devtools_session_;
    // Lets DevTools-thread callbacks find us only while we exist.
    std::shared_ptr<QPointer<PageSurface>> guard_;
};

}  // namespace byparr::browser
