// The book both browser workers keep of their solves: the running jobs (by serial), the
// sessions by name (a Session is the engine's: a Qt WebEngine profile, a Chromium browser
// context) and which job runs in which, the frame hooks for sessions and stats, and what
// happens when a job ends (a sessionless page goes back to the SparePool). What differs
// between the engines (making a session, starting a page in it) stays in the worker.
// Qt thread only.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <set>
#include <utility>

#include <QJsonObject>
#include <QJsonValue>
#include <QObject>
#include <QString>

#include "frame_channel.h"
#include "frame_ops.h"
#include "solve_job.h"
#include "spare_pool.h"

namespace byparr::browser {

template <class Session>
class SolveBook {
  public:
    using SessionPtr = std::shared_ptr<Session>;

    // make_session(proxy): a session with the frame's proxy (empty: the worker's own).
    SolveBook(FrameChannel* channel, SparePool* pool,
              std::function<SessionPtr(const Proxy& proxy)> make_session)
        : channel_(channel), pool_(pool), make_session_(std::move(make_session)) {}
    ~SolveBook() { clear(); }
    SolveBook(const SolveBook&) = delete;
    SolveBook& operator=(const SolveBook&) = delete;

    std::map<quint64, SolveJob*>& jobs() { return jobs_; }

    size_t running() const {
        size_t n = 0;
        for (const auto& [serial, job] : jobs_)
            n += job->finished() ? 0 : 1;
        return n;
    }

    // The session, stats and shutdown entries of the frame hooks.
    void add_hooks(FrameHooks& hooks, std::function<void()> shutdown) {
        hooks.create_session = [this](const QString& name, const QJsonObject& message) {
            if (sessions_.count(name)) return false;
            sessions_[name] = make_session_(parse_frame_proxy(message));
            return true;
        };
        // Running solves keep their reference; the session goes with the last one.
        hooks.destroy_session = [this](const QString& name) { return sessions_.erase(name) > 0; };
        hooks.stats = [this] {
            return QJsonObject{{"pages", static_cast<int>(jobs_.size())},
                               {"sessions", static_cast<int>(sessions_.size())},
                               {"pagesServed", static_cast<qint64>(served_)},
                               {"pagesReused", static_cast<qint64>(pool_->reused())}};
        };
        hooks.shutdown = std::move(shutdown);
    }

    // The named session; the host auto-creates sessions, and so does this, so a solve never
    // races a create.
    SessionPtr session(const QString& name) {
        auto& slot = sessions_[name];
        if (!slot) slot = make_session_(Proxy{});
        return slot;
    }

    // A job for the request, its replies going to the channel, in `session` (null: none).
    // `done` is called (queued) with its serial when it ends; `fresh_page` makes the page
    // for a job whose own page was lost. The caller starts it on a page.
    SolveJob* open(QObject* owner, const QJsonValue& id, SolveRequest request,
                   const SolveContext& ctx, SessionPtr session,
                   std::function<void(quint64 serial)> done,
                   std::function<std::unique_ptr<PageDriver>()> fresh_page) {
        const quint64 serial = next_serial_++;
        auto* job = new SolveJob(serial, id, std::move(request), ctx);
        jobs_[serial] = job;
        if (session) job_sessions_[serial] = std::move(session);
        FrameChannel* channel = channel_;
        QObject::connect(job, &SolveJob::reply, owner,
                         [channel](const QJsonObject& msg) { channel->send(msg); });
        QObject::connect(job, &SolveJob::done, owner, std::move(done), Qt::QueuedConnection);
        // The job is the context: a job deleted meanwhile drops the queued call.
        QObject::connect(
            job, &SolveJob::surface_lost, job,
            [job, fresh_page = std::move(fresh_page)] {
                if (!job->finished()) job->start(fresh_page());
            },
            Qt::QueuedConnection);
        return job;
    }

    // Starts `job` on a page from the pool; it goes back there when the job ends.
    void start_pooled(SolveJob* job, const QString& host) {
        pooled_.insert(job->serial());
        job->start(pool_->take(host));
    }

    // The job `serial` ended (queued from its `done`): it goes, and a page from the pool back
    // to it unless the worker is shutting down.
    void close(quint64 serial, bool shutting_down) {
        auto it = jobs_.find(serial);
        if (it == jobs_.end()) return;
        SolveJob* job = it->second;
        jobs_.erase(it);
        ++served_;
        const bool pooled = pooled_.erase(serial) > 0;
        std::unique_ptr<PageDriver> used =
            pooled && !shutting_down ? job->release_reusable_surface() : nullptr;
        delete job;  // queued: never inside one of its page's signals
        if (pooled) pool_->give_back(std::move(used));
        job_sessions_.erase(serial);  // after the page: may free the session
        pool_->refill();
    }

    // Ends every solve (with a `cancelled` reply when asked), then the sessions.
    void end(bool reply) {
        end_jobs(jobs_, reply);
        pooled_.clear();
        job_sessions_.clear();
        sessions_.clear();
    }

    // Frees everything without replying (the worker is being destroyed).
    void clear() {
        for (auto& [serial, job] : jobs_)
            delete job;
        jobs_.clear();
        pooled_.clear();
        job_sessions_.clear();
        sessions_.clear();
    }

  private:
    FrameChannel* channel_;
    SparePool* pool_;
    std::function<SessionPtr(const Proxy&)> make_session_;
    std::map<quint64, SolveJob*> jobs_;
    std::map<quint64, SessionPtr> job_sessions_;
    std::set<quint64> pooled_;  // jobs whose page came from the pool
    std::map<QString, SessionPtr> sessions_;
    quint64 next_serial_ = 1;
    quint64 served_ = 0;
};

}  // namespace byparr::browser
