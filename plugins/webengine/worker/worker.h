// The worker's request dispatcher (PROTOCOL.md "Messages"): owns sessions,
// solves, the pool of spare pages and the DevTools client. Qt thread only.
#pragma once

#include <map>
#include <memory>

#include <QJsonObject>
#include <QObject>
#include <QString>
#include <QTimer>

#include "challenge_detector.h"
#include "page_surface.h"
#include "solve_book.h"
#include "solve_job.h"
#include "spare_pool.h"
#include "worker_options.h"

class QWebEngineProfile;

namespace byparr::browser {

class CookieJar;
class FrameChannel;
class PageSurface;
class SecurityInterceptor;

class Worker : public QObject {
    Q_OBJECT
  public:
    Worker(const WorkerOptions& options, FrameChannel* channel);
    ~Worker() override;

    // Loads rules, brings the engine up, sends `ready`. False + *error on failure.
    bool start(std::string* error);
    // Every solve and session.create is answered with this error (e.g. an unusable proxy).
    void set_fatal_error(const QString& kind, const QString& message) {
        fatal_kind_ = kind;
        fatal_message_ = message;
    }
    // Ends every solve, frees pages and profiles, then quits the event loop.
    void shutdown(bool reply_to_solves);

  private:
    // Shared by the session map and the session's running solves: a destroyed
    // session's profile lives until its last page is gone.
    struct Session {
        QWebEngineProfile* profile = nullptr;
        CookieJar* jar = nullptr;
        ~Session();
    };
    std::shared_ptr<Session> make_session();

    void on_frame(const QJsonObject& message);
    void handle_solve(const QJsonValue& id, const QJsonObject& request);
    QWebEngineProfile* make_profile();
    std::unique_ptr<PageSurface> make_surface(Session* session,
                                              int attach_wait_ms = PageSurface::kAttachTimeoutMs);

    void on_job_done(quint64 serial);

    WorkerOptions options_;
    FrameChannel* channel_;
    ChallengeDetector detector_;
    SecurityInterceptor* security_ = nullptr;
    QString user_agent_;
    SolveContext ctx_;
    SurfaceDeps surface_deps_;
    // Off-the-record pages for sessionless solves (spare_pool.h).
    SparePool pool_;
    SolveBook<Session> book_;
    bool shutting_down_ = false;
    QString fatal_kind_;
    QString fatal_message_;
    std::unique_ptr<DevToolsClient> devtools_;
};

}  // namespace byparr::browser
