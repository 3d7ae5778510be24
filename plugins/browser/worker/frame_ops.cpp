#include "frame_ops.h"

#include <cstdio>
#include <vector>

#include <QCoreApplication>

#include "frame_channel.h"
#include "solve_job.h"
#include "worker_options.h"

namespace byparr::browser {

void reply_ok(FrameChannel& channel, const QJsonValue& id, const QJsonObject& result) {
    channel.send(QJsonObject{{"id", id}, {"ok", true}, {"result", result}});
}

void reply_error(FrameChannel& channel, const QJsonValue& id, const QString& kind,
                 const QString& message) {
    channel.send(QJsonObject{
        {"id", id}, {"ok", false}, {"error", QJsonObject{{"kind", kind}, {"message", message}}}});
}

void dispatch_frame(const QJsonObject& m, FrameChannel& channel,
                    const std::map<quint64, SolveJob*>& jobs, bool shutting_down,
                    const FrameHooks& hooks) {
    const QString op = m.value("op").toString();
    const QJsonValue id = m.value("id");
    if (!id.isDouble()) {
        std::fprintf(stderr, "%s: message without numeric id ignored\n",
                     qPrintable(QCoreApplication::applicationName()));
        return;
    }
    if (shutting_down) return reply_error(channel, id, "internal", "worker is shutting down");
    if (!hooks.fatal_kind.isEmpty() && (op == "solve" || op == "session.create"))
        return reply_error(channel, id, hooks.fatal_kind, hooks.fatal_message);
    if (op == "solve") {
        const QJsonObject request = m.value("request").toObject();
        if (const char* refusal = proxy_refusal(parse_frame_proxy(request)))
            return reply_error(channel, id, "proxy", refusal);
        hooks.solve(id, request);
    } else if (op == "session.create") {
        const QString name = m.value("session").toString();
        if (name.isEmpty()) return reply_error(channel, id, "invalid", "'session' is mandatory");
        if (const char* refusal = proxy_refusal(parse_frame_proxy(m)))
            return reply_error(channel, id, "proxy", refusal);
        reply_ok(channel, id, {{"created", hooks.create_session(name, m)}});
    } else if (op == "session.destroy") {
        // Running solves keep their reference; the session's state goes with the last one.
        if (!hooks.destroy_session(m.value("session").toString()))
            return reply_error(channel, id, "unknown_session", "The session doesn't exist.");
        reply_ok(channel, id, {{"destroyed", true}});
    } else if (op == "cancel") {
        const qint64 target = m.value("target").toInteger(-1);
        for (const auto& [serial, job] : jobs) {
            if (!job->finished() && job->id().toInteger(-2) == target) {
                reply_ok(channel, id, {});
                job->abort("cancelled", "Cancelled");
                return;
            }
        }
        reply_ok(channel, id, {});  // already finished: its reply went out
    } else if (op == "stats") {
        reply_ok(channel, id, hooks.stats());
    } else if (op == "shutdown") {
        reply_ok(channel, id, {});
        hooks.shutdown();
    } else {
        reply_error(channel, id, "invalid", QStringLiteral("unknown op '%1'").arg(op));
    }
}

void end_jobs(std::map<quint64, SolveJob*>& jobs, bool reply) {
    std::vector<SolveJob*> running;
    for (auto& [serial, job] : jobs)
        running.push_back(job);
    if (reply) {
        for (SolveJob* job : running)
            job->abort("cancelled", "Worker shutting down");
    }
    for (auto& [serial, job] : jobs)
        delete job;  // pages before their sessions
    jobs.clear();
}

}  // namespace byparr::browser
