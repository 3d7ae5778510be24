// Target discovery and attachment: find a page by its marker URL (or take a target id we
// created), Target.attachToTarget with flatten, and set the new session up (Network, the main
// frame id, time zone, locale, and the identity of ua_emulation.h) before handing it over.
//
// Separate from the client's core because it is a protocol conversation of its own, with its
// own failure paths (timeouts, a target attached twice, a session to undo), that runs once per
// page; the core's plumbing runs for every message.
#include "devtools_client.h"

#include "devtools_client_impl.h"
#include "ua_emulation.h"

#include <algorithm>

namespace byparr::browser {

using namespace devtools_detail;

namespace {

constexpr auto kTargetRetry = std::chrono::milliseconds(20);

}  // namespace

void DevToolsClient::Impl::finish_attach(const std::shared_ptr<AttachOp>& op,
                                         std::shared_ptr<DevToolsSession> session,
                                         const std::string& error) {
    if (op->done) return;
    op->done = true;
    cancel_timer(op->timer);
    if (!session && !op->session_id.empty()) detach_session(op->session_id);
    invoke(op->cb, std::move(session), error);
}

void DevToolsClient::Impl::start_attach(std::shared_ptr<AttachOp> op, int timeout_ms) {
    op->timer = add_timer(std::chrono::milliseconds(std::max(timeout_ms, 1)), [this, op] {
        std::string why = "attach timed out";
        if (op->waiting_connect && !last_connect_error.empty()) {
            why += " (connect: " + last_connect_error + ")";
        } else if (!op->last_error.empty()) {
            why += " (" + op->last_error + ")";
        }
        finish_attach(op, nullptr, why);
    });
    if (conn) {
        begin_attach(op);
    } else {
        op->waiting_connect = true;
        connect_waiters.push_back(op);
    }
}

void DevToolsClient::Impl::begin_attach(const std::shared_ptr<AttachOp>& op) {
    if (op->target_id.empty()) return find_target(op);
    attach_target(op, op->target_id);
}

void DevToolsClient::Impl::find_target(const std::shared_ptr<AttachOp>& op) {
    if (op->done) return;
    send_command("", "Target.getTargets", nullptr, 5000,
                 [this, op](Object::Ptr result, std::string error) {
                     if (op->done) return;
                     if (!error.empty()) return finish_attach(op, nullptr, error);
                     const std::string target_id = pick_target(result, op->marker_url);
                     if (target_id.empty()) {
                         op->last_error = "no page target with URL " + op->marker_url;
                         add_timer(kTargetRetry, [this, op] { find_target(op); });
                         return;
                     }
                     attach_target(op, target_id);
                 });
}

std::string DevToolsClient::Impl::pick_target(const Object::Ptr& result,
                                              const std::string& url) const {
    if (!result || !result->has("targetInfos")) return {};
    auto infos = result->getArray("targetInfos");
    for (size_t i = 0; infos && i < infos->size(); ++i) {
        auto info = infos->getObject(static_cast<unsigned>(i));
        if (str_field(info, "type") != "page" || str_field(info, "url") != url) continue;
        const std::string id = str_field(info, "targetId");
        const bool ours = attaching.count(id) ||
                          std::any_of(sessions.begin(), sessions.end(),
                                      [&](const auto& s) { return s.second.target_id == id; });
        if (!ours) return id;
    }
    return {};
}

void DevToolsClient::Impl::attach_target(const std::shared_ptr<AttachOp>& op,
                                         const std::string& target_id) {
    auto params = Object::Ptr(new Object);
    params->set("targetId", target_id);
    params->set("flatten", true);
    attaching.insert(target_id);
    send_command("", "Target.attachToTarget", params, 5000,
                 [this, op, target_id](Object::Ptr result, std::string error) {
                     attaching.erase(target_id);
                     const std::string session_id = str_field(result, "sessionId");
                     if (op->done) {
                         // Timed out meanwhile: do not leave a stray attached session.
                         if (!session_id.empty()) {
                             sessions[session_id].target_id = target_id;
                             detach_session(session_id);
                         }
                         return;
                     }
                     if (!error.empty() || session_id.empty()) {
                         return finish_attach(op, nullptr, "attachToTarget: " + error);
                     }
                     op->session_id = session_id;
                     auto& s = sessions[session_id];
                     s.target_id = target_id;
                     s.main_frame_id = target_id;
                     setup_session(op, session_id, target_id);
                 });
}

// What setup_session waits for: its commands' replies, counted down, the first error kept.
struct DevToolsClient::Impl::SetupJoin {
    std::shared_ptr<AttachOp> op;
    std::string session_id;
    std::string target_id;
    int outstanding = 0;
    std::string error;
    std::string main_frame_id;
};

// All set-up commands are sent at once (no round trip each): a page paused for the debugger
// would answer none of them until resumed, and it is simply faster.
void DevToolsClient::Impl::setup_session(const std::shared_ptr<AttachOp>& op,
                                         const std::string& session_id,
                                         const std::string& target_id) {
    auto join = std::make_shared<SetupJoin>();
    join->op = op;
    join->session_id = session_id;
    join->target_id = target_id;

    const UaOverride& ua = op->ua;
    const std::string user_agent = ua.user_agent.empty() ? browser_user_agent : ua.user_agent;
    const bool emulate = ua.emulate && !user_agent.empty();
    // Counted before the first send: a send that fails on a dropped connection answers at once.
    join->outstanding = (!emulate                 ? 2
                         : ua.intercept_documents ? 5
                                                  : 4) +
                        (ua.timezone.empty() ? 0 : 1) + (ua.locale.empty() ? 0 : 1);
    send_page_setup(join, ua);
    if (emulate) send_identity(join, ua, user_agent);
}

void DevToolsClient::Impl::setup_step_done(const std::shared_ptr<SetupJoin>& join,
                                           const std::string& what, const std::string& error) {
    const auto& op = join->op;
    if (!error.empty() && join->error.empty()) join->error = what + ": " + error;
    if (--join->outstanding > 0 || op->done) return;
    if (!join->error.empty()) return finish_attach(op, nullptr, join->error);
    auto it = sessions.find(join->session_id);
    if (it == sessions.end()) return finish_attach(op, nullptr, "target went away");
    if (!join->main_frame_id.empty()) it->second.main_frame_id = join->main_frame_id;
    std::shared_ptr<DevToolsSession> session(
        new DevToolsSession(weak_from_this(), join->session_id, join->target_id,
                            it->second.main_frame_id, it->second.inflight_count));
    finish_attach(op, std::move(session), "");
}

DevToolsClient::Impl::CommandCallback DevToolsClient::Impl::setup_step(
    const std::shared_ptr<SetupJoin>& join, std::string what) {
    return [this, join, what = std::move(what)](Object::Ptr, std::string error) {
        setup_step_done(join, what, error);
    };
}

// Network, the main frame's id, the time zone and the locale: every session gets these.
void DevToolsClient::Impl::send_page_setup(const std::shared_ptr<SetupJoin>& join,
                                           const UaOverride& ua) {
    const std::string& session_id = join->session_id;
    // Chromium keeps response bodies of an enabled session for Network.getResponseBody, by
    // default up to ~100 MB per page: a long-lived worker page must not grow that far.
    auto net = Object::Ptr(new Object);
    net->set("maxTotalBufferSize", 4 * 1024 * 1024);
    net->set("maxResourceBufferSize", 2 * 1024 * 1024);
    send_command(session_id, "Network.enable", net, 5000, setup_step(join, "Network.enable"));
    send_command(session_id, "Page.getFrameTree", nullptr, 5000,
                 [this, join](Object::Ptr result, std::string error) {
                     auto tree = obj_field(result, "frameTree");
                     join->main_frame_id = str_field(obj_field(tree, "frame"), "id");
                     setup_step_done(join, "Page.getFrameTree", error);
                 });
    if (!ua.timezone.empty()) {
        auto tz = Object::Ptr(new Object);
        tz->set("timezoneId", ua.timezone);
        send_command(session_id, "Emulation.setTimezoneOverride", tz, 5000,
                     setup_step(join, "Emulation.setTimezoneOverride"));
    }
    if (!ua.locale.empty()) {
        auto lo = Object::Ptr(new Object);
        lo->set("locale", ua.locale);
        send_command(session_id, "Emulation.setLocaleOverride", lo, 5000,
                     setup_step(join, "Emulation.setLocaleOverride"));
    }
}

// The claimed identity (ua_emulation.h): the override, the sec-ch-ua* headers, and the Fetch
// interception that re-adds them on redirect hops.
void DevToolsClient::Impl::send_identity(const std::shared_ptr<SetupJoin>& join,
                                         const UaOverride& ua, const std::string& user_agent) {
    const std::string& session_id = join->session_id;
    send_command(session_id, "Emulation.setUserAgentOverride",
                 user_agent_override_params(ua, user_agent), 5000,
                 setup_step(join, "Emulation.setUserAgentOverride"));

    // The override adds sec-ch-ua* to subresources only; the top navigation needs them too.
    const auto hints = client_hint_headers(ua);
    auto headers = Object::Ptr(new Object);
    for (const auto& [name, value] : hints)
        headers->set(name, value);
    auto hp = Object::Ptr(new Object);
    hp->set("headers", headers);
    send_command(session_id, "Network.setExtraHTTPHeaders", hp, 5000,
                 setup_step(join, "Network.setExtraHTTPHeaders"));

    if (!ua.intercept_documents) return;
    if (auto it = sessions.find(session_id); it != sessions.end()) {
        it->second.hint_headers = hints;
    }
    auto pattern = Object::Ptr(new Object);
    pattern->set("urlPattern", std::string("*"));
    pattern->set("resourceType", std::string("Document"));
    pattern->set("requestStage", std::string("Request"));
    auto patterns = Array::Ptr(new Array);
    patterns->add(pattern);
    auto fp = Object::Ptr(new Object);
    fp->set("patterns", patterns);
    send_command(session_id, "Fetch.enable", fp, 5000, setup_step(join, "Fetch.enable"));
}

}  // namespace byparr::browser
