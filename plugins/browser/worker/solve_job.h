// One `solve` request: drives its own page from navigation to a settled (or
// solved) document and produces exactly one reply. Everything runs on the Qt
// thread; DevTools callbacks are routed back here through the Worker by serial.
#pragma once

#include <byparr/proxy.hpp>

#include <map>
#include <memory>
#include <string>

#include <QElapsedTimer>
#include <QJsonArray>
#include <QJsonObject>
#include <QObject>
#include <QTimer>
#include <QUrl>

#include "challenge_detector.h"
#include "devtools_client.h"
#include "page_driver.h"

namespace byparr::browser {

struct WorkerOptions;

struct SolveRequest {
    QUrl url;
    bool post = false;
    QByteArray post_data;
    QByteArray content_type;  // of post_data; empty: application/x-www-form-urlencoded
    QList<QPair<QByteArray, QByteArray>> headers;  // the client's, in its order
    bool headers_site_wide = false;                // headersScope "site"
    int tabs_till_verify = 0;  // FlareSolverr's: Tab this often, then Space, for a token
    qint64 timeout_ms = 60000;
    QString session;
    QJsonArray cookies;
    bool return_only_cookies = false;
    bool return_screenshot = false;
    bool disable_media = false;
    // A later engine takes over a failed bot check: give up on one (PROTOCOL.md "handOver").
    bool hand_over = false;
    qint64 wait_ms = 0;
    qint64 max_response_bytes = 0;  // 0: no cut
    QString request_id;             // the host's, for log lines
    QString timezone;  // IANA zone for this page (the request's proxy); empty: --timezone's
    // The request's own proxy, from a host that gives each proxy a browser context of its
    // own (PROTOCOL.md "proxy"); empty: the worker's --proxy or none.
    Proxy proxy;
};

// A frame's `proxy` object ({url, username, password}); empty when absent.
Proxy parse_frame_proxy(const QJsonObject& fields);

// The `solve` request of the frame protocol (PROTOCOL.md). False and *error (for an
// `invalid` reply) when a field is wrong.
bool parse_solve_request(const QJsonObject& r, SolveRequest* out, QString* error);

class SolveJob;

// What every job shares; owned by the Worker.
struct SolveContext {
    const WorkerOptions* options = nullptr;
    const ChallengeDetector* detector = nullptr;
    QString user_agent;
};

class SolveJob : public QObject {
    Q_OBJECT
  public:
    SolveJob(quint64 serial, QJsonValue id, SolveRequest request, const SolveContext& ctx);
    ~SolveJob() override;

    // Takes the page (ready or still preparing) and starts as soon as it is ready.
    void start(std::unique_ptr<PageDriver> surface);
    // Ends the solve now with an error reply (cancel, shutdown).
    void abort(const QString& kind, const QString& message);

    quint64 serial() const { return serial_; }
    const QJsonValue& id() const { return id_; }
    const QString& session() const { return request_.session; }
    bool finished() const { return finished_; }
    // After the reply: the page, if it may serve another request once wiped (the solve
    // did not end in a timeout, a renderer crash or a cancel, which can leave a
    // renderer hung or gone). Null otherwise; the job keeps no hold on it.
    std::unique_ptr<PageDriver> release_reusable_surface();

  signals:
    void reply(const QJsonObject& message);
    void done(quint64 serial);  // after the reply; the owner deletes the job later
    // The page given to start() could not be made ready (a reused page whose wipe
    // failed): the owner calls start() again with another.
    void surface_lost(quint64 serial);

  private:
    enum class Phase { kPreparing, kLoading, kWaiting, kCollecting };

    void begin();
    void navigate();
    void on_loading_changed(const LoadEvent& info);
    void schedule_check(int delay_ms);
    void check();
    void on_facts(const QVariant& facts);
    void try_click();
    void try_generic_widget();
    void act_on_widget(const QVariant& found);
    void schedule_generic_widget();
    void on_loop_guard();
    void on_load_stall();
    void settle();
    void collect();
    void complete(const QString& html);
    void with_screenshot(QJsonObject r);
    void fail(const QString& kind, const QString& message, QJsonObject extra = {});
    QJsonObject base_result() const;
    // Adds the page's cookies to msg's result (when it has one), then sends it: the reply
    // waits for an engine that reads its cookies asynchronously, never past kCookieWaitMs.
    void send_reply(QJsonObject msg);
    int remaining_ms() const;
    void trace(const char* what, const QString& detail) const;
    // One solve step (rule seen, click, reload, clearance cookie, why the page was answered),
    // as a "debug: req=<id>" worker line (PROTOCOL.md, "Worker output"), written only when
    // the host runs at LOG_LEVEL=debug.
    void step(const QString& what) const;
    void on_document(const DocumentResponse& doc);
    void on_raw_document(const RawDocument& doc);
    // tabs_till_verify: Tab to the widget, Space, then poll for its token.
    void try_tabs_till_verify();
    void poll_turnstile_token();

    quint64 serial_;
    QJsonValue id_;
    SolveRequest request_;
    SolveContext ctx_;
    std::unique_ptr<PageDriver> surface_;
    Phase phase_ = Phase::kPreparing;
    bool finished_ = false;
    QString failure_kind_;
    QElapsedTimer clock_;

    QTimer deadline_timer_;
    QTimer quiet_timer_;  // settle/re-check after the page has been quiet
    QTimer click_timer_;
    QTimer wait_timer_;
    QTimer doc_wait_timer_;    // collect() waiting for the final document's headers
    QTimer generic_timer_;     // the next attempt on a widget no rule names
    QTimer loop_guard_timer_;  // answers a non-challenge page that never stops navigating
    QTimer stall_timer_;       // a document whose load never ends (on_load_stall())
    QTimer cookie_timer_;      // send_reply() waiting for the page's cookies
    bool doc_waited_ = false;
    bool replied_ = false;

    // Main document, as the engine's load events report it.
    LoadEvent::State load_status_ = LoadEvent::State::kStarted;
    QString error_domain_;
    int error_code_ = 0;
    QString error_string_;
    int http_status_ = 0;
    bool load_seen_ = false;

    // Main document, as seen by DevTools.
    int doc_status_ = 0;
    std::map<std::string, std::string> doc_headers_;
    QString doc_url_;

    bool check_running_ = false;
    quint64 check_generation_ = 0;
    QElapsedTimer check_clock_;
    QElapsedTimer activity_clock_;  // since the last load end, URL or title change
    // Since a document was first seen complete with no challenge on it. Not restarted by the
    // navigations that follow (a page that keeps reloading must still be answered); a
    // challenge invalidates it, and the page after the challenge starts it afresh.
    QElapsedTimer live_clock_;
    QElapsedTimer net_busy_clock_;    // since requests were last seen in flight (this document)
    bool challenge_current_ = false;  // the last verdict was a challenge (or a grace period)
    bool force_answer_ = false;       // the loop guard fired: answer the next non-challenge check
    bool self_stopped_ = false;       // we stopped the page's load: not a load failure
    int loads_started_ = 0;           // main-frame navigations of this solve
    int challenge_reloads_ = 0;       // new documents in a row that showed the challenge again
    QString forced_html_;  // the answer taken with the verdict of a page that kept navigating
    bool has_forced_html_ = false;
    QString last_whole_html_;  // the last complete non-challenge document a check took
    // A blocked/captcha rule with a grace period: which one, and since when it has been shown.
    std::string grace_rule_;
    QElapsedTimer grace_clock_;
    // Widgets no rule names: attempts so far and when the challenge was first seen.
    int generic_attempts_ = 0;
    QElapsedTimer challenge_clock_;
    bool check_again_ = false;
    bool challenge_seen_ = false;
    QString challenge_rule_;
    QString challenge_kind_;
    QString click_selector_;
    int clicks_ = 0;
    int click_polls_ = 0;
    QString turnstile_token_;
    QTimer token_timer_;  // tabs_till_verify: polls the widget's hidden input
    int token_polls_ = 0;
    bool tabs_sent_ = false;
};

}  // namespace byparr::browser
