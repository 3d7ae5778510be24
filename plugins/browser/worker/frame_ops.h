// The frame protocol's operations (../PROTOCOL.md "Messages") as both workers answer them:
// one dispatch, one way to reply, one way to end the running solves. What differs (how a
// session and a page are made) comes in as hooks.
#pragma once

#include <functional>
#include <map>

#include <QJsonObject>
#include <QJsonValue>
#include <QString>

namespace byparr::browser {

class FrameChannel;
class SolveJob;

void reply_ok(FrameChannel& channel, const QJsonValue& id, const QJsonObject& result);
void reply_error(FrameChannel& channel, const QJsonValue& id, const QString& kind,
                 const QString& message);

struct FrameHooks {
    std::function<void(const QJsonValue& id, const QJsonObject& request)> solve;
    // True when the session was made, false when it existed. `message` is the frame (its
    // `proxy`, for a worker that takes proxies per session).
    std::function<bool(const QString& name, const QJsonObject& message)> create_session;
    // False when there is no such session.
    std::function<bool(const QString& name)> destroy_session;
    std::function<QJsonObject()> stats;
    std::function<void()> shutdown;
    // Set when this worker cannot serve at all (e.g. its proxy is unusable): every `solve`
    // and `session.create` is answered with this error.
    QString fatal_kind, fatal_message;
};

// Answers one message from the supervisor. `jobs` are the running solves, by serial (for
// `cancel`); while `shutting_down`, every request gets an `internal` error.
void dispatch_frame(const QJsonObject& message, FrameChannel& channel,
                    const std::map<quint64, SolveJob*>& jobs, bool shutting_down,
                    const FrameHooks& hooks);

// Ends every running solve (with a `cancelled` reply when asked) and deletes the jobs.
void end_jobs(std::map<quint64, SolveJob*>& jobs, bool reply);

}  // namespace byparr::browser
