// What the solve loop (SolveJob) needs from a browser page, whatever the engine: the
// Qt WebEngine worker implements it with a QWebEngineView (PageSurface), the Chromium
// worker with a target driven over DevTools (CdpPage). SolveJob owns the rules, timing
// and replies; a driver only loads, reports, runs scripts and produces input.
//
// Everything runs on the worker's Qt thread: signals are emitted there and callbacks
// are called there (never synchronously from inside the call that takes them).
#pragma once

#include <functional>
#include <map>
#include <string>

#include <QByteArray>
#include <QJsonArray>
#include <QList>
#include <QObject>
#include <QPair>
#include <QPoint>
#include <QString>
#include <QUrl>
#include <QVariant>

#include "devtools_client.h"

namespace byparr::browser {

// One state change of the main frame's navigation.
struct LoadEvent {
    enum class State { kStarted, kSucceeded, kFailed, kStopped };
    State state = State::kStarted;
    QUrl url;
    int http_status = 0;  // of the document, when the engine tells it with the load end
    // A failure below HTTP: the network stack's error (net::ERR_*, negative) and its
    // category ("connection", "dns", "certificate", ...). Zero/empty: none.
    int error_code = 0;
    QString error_domain;
    QString error_string;
};

// What the first request of a solve sends (PROTOCOL.md, `solve`).
struct Navigation {
    QUrl url;
    bool post = false;
    QByteArray body;
    QByteArray content_type;  // of body; empty: application/x-www-form-urlencoded
    // The client's headers, in its order. They go on the main document request and its
    // redirects; with site_wide, on every request of the page to url's site as well.
    QList<QPair<QByteArray, QByteArray>> headers;
    bool site_wide = false;
};

// A final main document that is not HTML (a PDF, an image, JSON, plain text): the bytes
// the server sent, taken before the browser shows (or downloads) them.
struct RawDocument {
    QUrl url;
    int status = 0;
    QString mime_type;                           // lower case, without parameters
    std::map<std::string, std::string> headers;  // lower-case names
    QByteArray body;
    bool text = false;  // JSON or text/*: answered as text, not base64
};

// True for the media types answered as they are rather than rendered: everything but
// HTML. Text kinds (JSON, text/*, XML) come back as text, the rest as bytes.
bool is_raw_document_type(const QString& mime_type);
bool is_text_document_type(const QString& mime_type);
// A document the DevTools session took at its response, for raw_document().
RawDocument to_raw_document(const RawResponse& raw);

class PageDriver : public QObject {
    Q_OBJECT
  public:
    using ScriptCallback = std::function<void(const QVariant& value)>;

    ~PageDriver() override = default;

    // Ready for a solve: `ready` when it becomes so, `broken` if it cannot.
    virtual bool is_ready() const = 0;
    // A request waits for this page: stop waiting for anything optional.
    virtual void hurry() {}

    // Cookies of the request (contract objects) for url, before navigate(). Non-empty:
    // why they were refused.
    virtual QString set_request_cookies(const QJsonArray& cookies, const QUrl& url) = 0;
    // disableMedia: images, fonts, media and stylesheets are not fetched.
    virtual void block_media() = 0;
    // Loads nav.url (with nav's method, body and headers).
    virtual void navigate(const Navigation& nav) = 0;
    virtual void stop() = 0;
    // Stops the page and keeps it on the document it shows: no further navigation starts
    // (a page that reloads itself without end must hold still to be answered).
    virtual void freeze() { stop(); }
    virtual bool is_loading() const = 0;
    virtual QUrl url() const = 0;

    // Runs a script in a world of its own (the page cannot see or change it; state it
    // leaves on `window` there survives until the next document). Invalid QVariant when
    // it failed or the document went away.
    virtual void run_isolated(const QString& script, ScriptCallback cb) = 0;
    // The current document as HTML (doctype included).
    virtual void to_html(std::function<void(const QString& html)> cb) = 0;
    // PNG of the viewport; empty on failure.
    virtual void screenshot(std::function<void(const QByteArray& png)> cb) = 0;

    // Trusted input, as a person's: the pointer moves from `from` to `at`, presses the left
    // button, holds it hold_ms and releases. Viewport coordinates.
    virtual void click(QPoint from, QPoint at, int hold_ms) = 0;
    // Tab (`tabs` times) then Space, as the keyboard route into a widget in a closed shadow
    // root, or FlareSolverr's tabs_till_verify to a Turnstile widget.
    virtual void tab_space(int tabs = 1) = 0;
    // The request's time zone (an IANA name; empty: the worker's --timezone) in effect
    // before navigate(). done("") when it is, or done(why) when the browser refused it.
    virtual void set_timezone(const QString& zone, std::function<void(QString error)> done) = 0;
    // Keeps document.hasFocus() true for this page (challenge scripts check it).
    virtual void keep_focus() {}

    // Requests of the current document still in flight; -1 when the engine cannot tell.
    virtual int inflight_requests() const = 0;
    // Whether main-document responses (real status and headers) will be reported.
    virtual bool reports_documents() const = 0;
    // Cookies for url as contract objects (HttpOnly included).
    virtual void cookies_for(const QUrl& url, std::function<void(const QJsonArray&)> cb) = 0;
    // False once the renderer has gone (crashed or killed): the page must not be reused.
    virtual bool renderer_alive() const = 0;
    // True when load state reaches the solve loop later than the page changes (over a
    // DevTools connection): each check then takes the document with its verdict, since a
    // separate to_html() could already see the next one.
    virtual bool lags_behind_page() const { return false; }
    // Earlier solves this page served (wiped after each); 0 for a fresh page.
    virtual int uses() const { return 0; }
    // Reuse across sessionless solves (spare_pool.h). reusable(): the page owns its profile
    // or context and is fit to be wiped. recycle(): back to a blank page in emptied stores;
    // `ready` when that is confirmed, `broken` when it is not (then it is discarded).
    // last_host(): the host of its last document, whose renderer may serve the next.
    virtual bool reusable() const { return false; }
    virtual void recycle() {}
    virtual QString last_host() const { return {}; }

  signals:
    void ready();
    void broken();
    void load_changed(const byparr::browser::LoadEvent& event);
    void load_finished();
    void url_changed();
    void title_changed(const QString& title);
    void cookie_added(const QString& name, const QString& domain);
    void renderer_gone(const QString& why);
    void proxy_auth_failed();
    // Main-frame document responses, redirect hops included.
    void document_response(const byparr::browser::DocumentResponse& doc);
    // The final document is not HTML: its bytes (the page itself shows nothing useful).
    void raw_document(const byparr::browser::RawDocument& doc);
};

}  // namespace byparr::browser
