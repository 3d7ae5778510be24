// The chromium worker's request dispatcher (../../browser/PROTOCOL.md "Messages"):
// one Chromium; a browser context per session, and a pool of tabs for sessionless solves
// (spare_pool.h), each in a context of its own, wiped and reused (CdpPage::recycle()).
// Qt thread only.
#pragma once

#include <map>
#include <memory>
#include <vector>

#include <QJsonObject>
#include <QObject>
#include <QString>
#include <QTimer>

#include "cdp_page.h"
#include "challenge_detector.h"
#include "devtools_client.h"
#include "solve_book.h"
#include "solve_job.h"
#include "spare_pool.h"
#include "worker_options.h"

namespace byparr::browser {

class FrameChannel;

class ChromiumWorker : public QObject {
    Q_OBJECT
  public:
    // Takes the DevTools pipe of a started browser.
    ChromiumWorker(const WorkerOptions& options, FrameChannel* channel, int read_fd, int write_fd,
                   bool headless);
    ~ChromiumWorker() override;

    // Loads rules, asks the browser who it is, then sends `ready`. False + *error when the
    // rules cannot be read; a browser that does not answer ends the worker (exit code 3).
    bool start(std::string* error);
    void shutdown(bool reply_to_solves);
    // The browser process has exited: every solve ends with an error and the worker exits
    // (code 4), for the supervisor to start a fresh one on the next request.
    void browser_gone();

  private:
    // A session's browser context: made once, disposed of when the last user is gone.
    struct Context {
        DevToolsClient* client = nullptr;
        std::string id;  // empty until Target.createBrowserContext answers
        QString error;
        std::vector<std::function<void()>> waiters;
        Proxy proxy;  // its own (session.create's `proxy`); empty: the worker's
        ~Context();
    };

    void on_identity(const QJsonObject& version);
    void on_frame(const QJsonObject& message);
    void handle_solve(const QJsonValue& id, const QJsonObject& request);
    // A context with `proxy` (empty: the egress guard, or the worker's --proxy).
    std::shared_ptr<Context> make_context(const Proxy& proxy);
    // A page in `context_id`, or in a new context of its own when empty. `proxy` is the
    // request's or the session's own (empty: the worker's): its credentials answer the
    // proxy's 407, and a new context is made with it (such a page is not reused).
    std::unique_ptr<CdpPage> make_page(const std::string& context_id, const Proxy& proxy = {});
    void on_job_done(quint64 serial);

    WorkerOptions options_;
    FrameChannel* channel_;
    std::unique_ptr<DevToolsClient> client_;
    bool headless_;
    ChallengeDetector detector_;
    QString user_agent_;
    UaOverride identity_;
    SolveContext ctx_;
    SparePool pool_;
    SolveBook<Context> book_;
    bool started_ = false;
    bool shutting_down_ = false;
};

}  // namespace byparr::browser
