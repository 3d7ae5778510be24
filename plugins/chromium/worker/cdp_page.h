// One Chromium tab driven over DevTools: a target in a browser context of its own,
// attached with a flat session. Implements PageDriver for the shared solve loop.
//
// A sessionless page is reused: a new context, window and renderer per request cost
// ~0.5 s of CPU in the browser, the GPU process and the renderers (measured), which on two
// cores put every warm request near 400 ms. recycle() wipes what the last site left in
// the context (cookies, storage of every origin it had a document in, the HTTP cache,
// sessionStorage, history) and leaves the tab on about:blank; a wipe that is not confirmed
// breaks the page, which is then discarded with its context.
//
// Never sends Runtime.enable (pages can detect it): scripts run in an isolated world
// made with Page.createIsolatedWorld, one per document, whose execution context id is
// kept until the main frame navigates.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>

#include <QJsonObject>
#include <QPointer>
#include <QTimer>

#include "devtools_client.h"
#include "page_driver.h"

namespace byparr::browser {

struct CdpPageOptions {
    DevToolsClient* client = nullptr;
    QObject* router = nullptr;       // lives on the Qt thread: DevTools callbacks are sent here
    std::string browser_context_id;  // "" = the default context (or new_context)
    bool owns_context = false;       // dispose of it with the page
    // Make a context of its own first (Target.createBrowserContext), owned by the page, with
    // this proxy ("" = the browser's own setting) and bypass list.
    bool new_context = false;
    bool reusable = true;  // false: never wiped for another request (a request's own proxy)
    std::string proxy_server;
    std::string proxy_bypass_list;
    UaOverride identity;         // emulate = false for a browser that is what it claims
    std::string proxy_username;  // answered to the proxy's 407 (Fetch.authRequired)
    std::string proxy_password;
    bool headless = false;
    // The window (the viewport is smaller by the browser's UI), as BrowserLaunch's.
    int window_x = 277;
    int window_y = 113;
    int window_width = 1366;
    int window_height = 853;
};

class CdpPage : public PageDriver {
    Q_OBJECT
  public:
    static constexpr int kCreateTimeoutMs = 10000;

    // Creates the target and attaches; `ready` or `broken` follows.
    explicit CdpPage(CdpPageOptions options);
    ~CdpPage() override;

    bool is_ready() const override { return ready_; }
    QString set_request_cookies(const QJsonArray& cookies, const QUrl& url) override;
    void block_media() override { block_media_ = true; }
    void navigate(const Navigation& nav) override;
    void stop() override;
    void freeze() override;
    bool is_loading() const override { return loading_; }
    QUrl url() const override { return url_; }
    void run_isolated(const QString& script, ScriptCallback cb) override;
    void to_html(std::function<void(const QString& html)> cb) override;
    void screenshot(std::function<void(const QByteArray& png)> cb) override;
    void click(QPoint from, QPoint at, int hold_ms) override;
    void tab_space(int tabs) override;
    void set_timezone(const QString& zone, std::function<void(QString error)> done) override;
    int inflight_requests() const override;
    bool reports_documents() const override { return true; }
    void cookies_for(const QUrl& url, std::function<void(const QJsonArray&)> cb) override;
    bool renderer_alive() const override { return alive_; }
    bool lags_behind_page() const override { return true; }

    // Back to a blank tab in an emptied context: `ready` when the wipe is confirmed,
    // `broken` when it is not (the page must then be discarded). Only for pages that own
    // their context.
    void recycle() override;
    bool reusable() const override {
        return options_.reusable && options_.owns_context && alive_ && session_ && !recycling_;
    }
    int uses() const override { return uses_; }
    // The host of the last navigation: its renderer may still be there for the next.
    QString last_host() const override { return last_host_; }

    const std::string& target_id() const { return target_id_; }
    const QString& failure() const { return failure_; }

  private:
    using Reply = std::function<void(const QJsonObject& result, const QString& error)>;
    // A session command whose answer comes back on the Qt thread (dropped if we are gone).
    void send(const char* method, const QJsonObject& params, Reply cb = nullptr,
              int timeout_ms = 10000);
    void create_target();
    void created(const std::string& target_id);
    void attached(std::shared_ptr<DevToolsSession> session);
    void fail_setup(const QString& why);
    void report_load_end();
    void place_window();
    void on_event(const QString& method, const QJsonObject& params);
    void on_request_paused(const QJsonObject& params);
    // The request's headers with the client's in place (same names replaced), for
    // Fetch.continueRequest; content_type replaces Content-Type when not empty.
    QJsonArray with_client_headers(const QJsonObject& request_headers,
                                   const QByteArray& content_type) const;
    void on_auth_required(const QJsonObject& params);
    void start_navigation();
    // A command that must land before the navigation starts (cookies, Fetch).
    void setup_step(const char* method, const QJsonObject& params);
    void eval_in_world(const QString& script, ScriptCallback cb, bool retried);
    void reset_navigation_state();
    void leave_for_blank();
    void wipe_stores();
    // One confirmed wipe command; must_succeed: an error breaks the page.
    void send_wipe(const char* method, const QJsonObject& params, bool must_succeed);
    void wiped_one(bool ok);

    CdpPageOptions options_;
    std::shared_ptr<QPointer<CdpPage>> guard_;
    std::shared_ptr<DevToolsSession> session_;
    std::string target_id_;
    bool ready_ = false;
    bool alive_ = true;
    QString failure_;
    QTimer setup_timer_;
    // A load end waits this long at most for its document's headers (see on_event()).
    static constexpr int kHeadersWaitMs = 150;
    QTimer stop_timer_;
    bool stop_pending_ = false;   // a load end held back for the headers
    bool doc_delivered_ = false;  // this navigation's final document response went out

    // Navigation state of the main frame.
    bool loading_ = false;
    // Load events count only once our navigation has sent its first request: the tab's
    // initial about:blank may still report its own load after navigate() was called.
    bool armed_ = false;
    QUrl url_;
    QString load_error_;               // net::ERR_* of the main document request, this navigation
    int doc_status_ = 0;               // HTTP status of the main document, this navigation
    std::set<QString> main_requests_;  // request ids of main-frame documents
    int world_context_ = 0;            // isolated world of the current document; 0: none
    std::string zone_;                 // the time zone override in effect on the session

    // What navigate() sets up: cookies to land first, then Fetch for POST/auth/media.
    int pending_setup_ = 0;
    int setup_generation_ = 0;  // bumped when the page is recycled (setup_step())
    std::function<void()> after_setup_;
    bool block_media_ = false;
    bool post_pending_ = false;
    QUrl post_url_;
    QByteArray post_body_;
    QByteArray post_type_;                          // Content-Type of post_body_
    QList<QPair<QByteArray, QByteArray>> headers_;  // the client's, for this navigation
    QString headers_host_;  // headersScope "site": every request to this host gets them too
    bool frozen_ = false;   // freeze(): every further document request is failed
    std::map<QString, int> auth_tries_;

    // Reuse (recycle()).
    static constexpr int kWipeTimeoutMs = 5000;
    enum class WipeStage { kNone, kSessionStorage, kLeaving, kStores };
    WipeStage wipe_stage_ = WipeStage::kNone;
    bool recycling_ = false;
    int wipes_pending_ = 0;
    QString marker_;  // the about:blank#fragment the tab leaves for
    QTimer wipe_timer_;
    std::set<QString> origins_;  // of every document any frame loaded since the last wipe
    int uses_ = 0;
    QString last_host_;
};

}  // namespace byparr::browser
