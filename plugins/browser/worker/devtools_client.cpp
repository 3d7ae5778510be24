// The DevTools client's core: the I/O thread and its loop, the connection, commands and their
// replies, and the DevToolsClient API (the contract is in devtools_client.h).
//
// Attaching targets (devtools_attach.cpp), a session's event routing (devtools_network.cpp) and
// the DevToolsSession API (devtools_session.cpp) are separate translation units of the same
// DevToolsClient::Impl (devtools_client_impl.h); the identity a session applies is the pure
// ua_emulation.h.
#include "devtools_client.h"

#include "devtools_client_impl.h"
#include "devtools_transport.h"
#include "ua_emulation.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

#include <algorithm>
#include <sstream>
#include <system_error>

namespace byparr::browser {

namespace devtools_detail {

std::string stringify(const Poco::Dynamic::Var& v) {
    std::ostringstream os;
    Poco::JSON::Stringifier::stringify(v, os);
    return os.str();
}

std::string str_field(const Object::Ptr& o, const std::string& key) {
    if (!o || !o->has(key)) return {};
    const auto v = o->get(key);
    if (v.isEmpty()) return {};
    return v.isString() ? v.extract<std::string>() : v.convert<std::string>();
}

int int_field(const Object::Ptr& o, const std::string& key) {
    if (!o || !o->has(key)) return 0;
    const auto v = o->get(key);
    if (v.isEmpty() || !v.isNumeric()) return 0;
    return static_cast<int>(v.convert<double>());
}

Object::Ptr obj_field(const Object::Ptr& o, const std::string& key) {
    if (!o || !o->has(key)) return nullptr;
    return o->getObject(key);
}

}  // namespace devtools_detail

using namespace devtools_detail;

namespace {

constexpr auto kConnectRetry = std::chrono::milliseconds(50);

}  // namespace

// The eventfd exists from the start so post() never races with start() over it.
DevToolsClient::Impl::Impl(int p, std::unique_ptr<DevToolsTransport> pipe_conn)
    : port(p), pipe(std::move(pipe_conn)), wake_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

DevToolsClient::Impl::~Impl() {
    if (wake_fd >= 0) ::close(wake_fd);
}

void DevToolsClient::Impl::post(std::function<void()> fn) {
    {
        std::lock_guard lock(mu);
        if (stop) return;
        tasks.push_back(std::move(fn));
    }
    wake();
}

void DevToolsClient::Impl::wake() const {
    if (wake_fd < 0) return;
    const uint64_t one = 1;
    // A full counter still leaves the fd readable, so a failed write needs no handling.
    [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
}

void DevToolsClient::Impl::set_blocking_fd(int fd) {
    std::lock_guard lock(fd_mu);
    blocking_fd = fd;
}

// ---- connection ---------------------------------------------------------------------------------

// Blocking, but on our own thread and bounded; never on the Qt thread.
bool DevToolsClient::Impl::try_connect() {
    if (pipe_mode) {
        if (!pipe) {
            last_connect_error = "the browser's DevTools pipe is closed";
            return false;
        }
        conn = std::move(pipe);
    } else {
        conn = connect_devtools_websocket(port, &browser_user_agent, &last_connect_error,
                                          [this](int fd) { set_blocking_fd(fd); });
        if (!conn) return false;
    }
    is_connected = true;
    last_connect_error.clear();
    return true;
}

void DevToolsClient::Impl::disconnect(const std::string& reason) {
    if (conn) {
        set_blocking_fd(-1);
        conn->close();
        conn.reset();
    }
    is_connected = false;
    // Everything tied to the socket is gone with it, including every page's UA override.
    sessions.clear();
    auto failed = std::move(pending);
    pending.clear();
    for (auto& [id, p] : failed) {
        cancel_timer(p.timer);
        invoke(p.cb, nullptr, "devtools connection lost: " + reason);
    }
}

// ---- commands -----------------------------------------------------------------------------------

void DevToolsClient::Impl::send_command(const std::string& session_id, const std::string& method,
                                        Object::Ptr params, int timeout_ms, CommandCallback cb) {
    if (!conn) {
        post([this, cb = std::move(cb)]() mutable { invoke(cb, nullptr, "not connected"); });
        return;
    }
    const int id = next_id++;
    Object msg;
    msg.set("id", id);
    msg.set("method", method);
    msg.set("params", params ? params : Object::Ptr(new Object));
    if (!session_id.empty()) msg.set("sessionId", session_id);
    std::ostringstream os;
    msg.stringify(os);
    const std::string text = os.str();

    Pending p;
    p.session_id = session_id;
    p.cb = std::move(cb);
    p.timer = add_timer(std::chrono::milliseconds(timeout_ms), [this, id, method] {
        auto it = pending.find(id);
        if (it == pending.end()) return;
        auto cb = std::move(it->second.cb);
        pending.erase(it);
        invoke(cb, nullptr, method + " timed out");
    });
    pending.emplace(id, std::move(p));
    try {
        conn->send(text);
    } catch (const std::exception& e) {
        disconnect(e.what());
    }
}

// A command given as JSON text by a caller outside this file; answers with JSON text.
void DevToolsClient::Impl::send_raw(const std::string& session_id, const std::string& method,
                                    const std::string& params_json, int timeout_ms,
                                    std::function<void(std::string json, std::string error)> cb) {
    Object::Ptr params;
    if (!params_json.empty()) {
        try {
            Poco::JSON::Parser parser;
            params = parser.parse(params_json).extract<Object::Ptr>();
        } catch (const Poco::Exception& e) {
            return invoke(cb, std::string(), "bad params: " + e.displayText());
        }
    }
    send_command(session_id, method, params, timeout_ms,
                 [this, cb = std::move(cb)](Object::Ptr result, std::string error) mutable {
                     if (!error.empty()) return invoke(cb, std::string(), error);
                     invoke(cb, stringify(result), std::string());
                 });
}

// Fails the session's pending requests; used on detach and when Chromium drops the target.
void DevToolsClient::Impl::drop_session(const std::string& session_id, const std::string& reason) {
    DevToolsSession::EventCallback told;
    if (auto it = sessions.find(session_id); it != sessions.end())
        told = std::move(it->second.event_cb);
    sessions.erase(session_id);
    // The page's owner learns that its session is gone (the target closed or crashed, or
    // the browser went away), as the event Chromium sends for a detach.
    if (reason != "session detached") invoke(told, "Target.detachedFromTarget", "{}");
    std::vector<CommandCallback> failed;
    for (auto it = pending.begin(); it != pending.end();) {
        if (it->second.session_id == session_id) {
            cancel_timer(it->second.timer);
            failed.push_back(std::move(it->second.cb));
            it = pending.erase(it);
        } else {
            ++it;
        }
    }
    for (auto& cb : failed)
        invoke(cb, nullptr, reason);
}

void DevToolsClient::Impl::detach_session(const std::string& session_id) {
    if (!sessions.count(session_id)) return;
    drop_session(session_id, "session detached");
    auto params = Object::Ptr(new Object);
    params->set("sessionId", session_id);
    send_command("", "Target.detachFromTarget", params, 2000, nullptr);
}

// ---- incoming -----------------------------------------------------------------------------------

void DevToolsClient::Impl::on_message(const std::string& text) {
    Object::Ptr msg;
    try {
        Poco::JSON::Parser parser;
        msg = parser.parse(text).extract<Object::Ptr>();
    } catch (const Poco::Exception&) {
        return;  // not ours to fix; Chromium does not send malformed JSON
    }
    if (!msg) return;
    if (msg->has("id")) {
        const int id = int_field(msg, "id");
        auto it = pending.find(id);
        if (it == pending.end()) return;
        auto cb = std::move(it->second.cb);
        cancel_timer(it->second.timer);
        pending.erase(it);
        if (auto err = obj_field(msg, "error")) {
            std::string what = str_field(err, "message");
            const std::string data = str_field(err, "data");
            if (!data.empty()) what += ": " + data;
            if (what.empty()) what = "protocol error";
            invoke(cb, nullptr, what);
        } else {
            auto result = obj_field(msg, "result");
            invoke(cb, result ? result : Object::Ptr(new Object), std::string());
        }
        return;
    }
    on_event(str_field(msg, "method"), str_field(msg, "sessionId"), obj_field(msg, "params"));
}

void DevToolsClient::Impl::read_message() {
    std::string text, error;
    switch (conn->read(&text, &error)) {
        case DevToolsTransport::Read::kClosed:
            return disconnect(error);
        case DevToolsTransport::Read::kAgain:
            return;
        case DevToolsTransport::Read::kMessage:
            guarded([&] { on_message(text); });
    }
}

// ---- loop ---------------------------------------------------------------------------------------

void DevToolsClient::Impl::run() {
    pthread_setname_np(pthread_self(), "byparr-devtools");
    // A pipe is there from the start (and there is no other): no lazy connect.
    if (pipe_mode) try_connect();
    while (!stop) {
        if (!run_tasks() || !run_due_timers()) return;
        if (connect_for_waiters()) {
            if (stop) return;
            continue;  // re-run tasks/timers before sleeping
        }
        wait_and_read();
    }
}

// Work handed in from other threads (and deferred by ourselves). False once stopping.
bool DevToolsClient::Impl::run_tasks() {
    for (;;) {
        std::deque<std::function<void()>> batch;
        {
            std::lock_guard lock(mu);
            batch.swap(tasks);
        }
        if (batch.empty()) break;
        for (auto& fn : batch) {
            if (stop) return false;
            guarded(fn);
        }
    }
    return !stop;
}

// A timer may add or cancel others, so they are picked one at a time. False once stopping.
bool DevToolsClient::Impl::run_due_timers() {
    for (;;) {
        const auto now = Clock::now();
        auto due = std::find_if(timers.begin(), timers.end(),
                                [&](const auto& t) { return t.second.at <= now; });
        if (due == timers.end()) break;
        auto fn = std::move(due->second.fn);
        timers.erase(due);
        guarded(fn);
        if (stop) return false;
    }
    return true;
}

// Connects when an attach waits for it and the retry delay is over. True if it tried.
bool DevToolsClient::Impl::connect_for_waiters() {
    std::erase_if(connect_waiters, [](const auto& op) { return op->done; });
    if (conn || connect_waiters.empty() || Clock::now() < next_connect_at) return false;
    if (try_connect()) {
        auto waiters = std::move(connect_waiters);
        connect_waiters.clear();
        for (auto& op : waiters) {
            op->waiting_connect = false;
            begin_attach(op);
        }
    } else {
        next_connect_at = Clock::now() + kConnectRetry;
    }
    return true;
}

// Sleeps until a socket, a wake-up or the next deadline, then reads. No deadline -> no
// timeout: an idle client costs no CPU.
void DevToolsClient::Impl::wait_and_read() {
    int timeout_ms = -1;
    auto deadline = Clock::time_point::max();
    for (const auto& [id, t] : timers)
        deadline = std::min(deadline, t.at);
    if (!conn && !connect_waiters.empty()) deadline = std::min(deadline, next_connect_at);
    if (deadline != Clock::time_point::max()) {
        const auto left =
            std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
        timeout_ms = static_cast<int>(std::max<int64_t>(left.count() + 1, 0));
    }
    const bool buffered = conn && conn->buffered();
    if (buffered) timeout_ms = 0;

    pollfd fds[2] = {{wake_fd, POLLIN, 0}, {conn ? conn->fd() : -1, POLLIN, 0}};
    const int rc = ::poll(fds, conn ? 2 : 1, timeout_ms);
    if (stop) return;
    if (rc < 0) return;  // EINTR
    if (fds[0].revents & POLLIN) {
        uint64_t v;
        [[maybe_unused]] auto n = ::read(wake_fd, &v, sizeof v);
    }
    if (conn && (buffered || (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))) {
        read_message();
        // Drain whatever else is already here before going back to sleep.
        for (int i = 0; conn && i < 256; ++i) {
            pollfd p{conn->fd(), POLLIN, 0};
            if (!conn->buffered() && ::poll(&p, 1, 0) <= 0) break;
            read_message();
        }
    }
}

void DevToolsClient::Impl::shutdown_thread() {
    std::deque<std::function<void()>> dropped;
    {
        std::lock_guard lock(mu);
        stop = true;
        dropped.swap(tasks);
    }
    // Destroyed outside the lock: a task may own the last DevToolsSession reference, whose
    // destructor posts (and so takes the lock).
    dropped.clear();
    wake();
    {
        // Unblocks a receive that waits on Chromium, whose UI thread may be the caller.
        std::lock_guard lock(fd_mu);
        if (blocking_fd >= 0) ::shutdown(blocking_fd, SHUT_RDWR);
    }
    if (thread.joinable()) thread.join();
    // Drop user callbacks here, on the destroying thread, while the client still exists:
    // their captured state may reference it.
    timers.clear();
    pending.clear();
    sessions.clear();
    connect_waiters.clear();
    if (conn) conn->close();
    conn.reset();
    pipe.reset();
    is_connected = false;
}

// ---- DevToolsClient -----------------------------------------------------------------------------

DevToolsClient::DevToolsClient(int port)
    : port_(port), impl_(std::make_shared<Impl>(port, nullptr)) {}

DevToolsClient::DevToolsClient(int read_fd, int write_fd)
    : port_(0), impl_(std::make_shared<Impl>(0, make_devtools_pipe(read_fd, write_fd))) {}

DevToolsClient::~DevToolsClient() {
    impl_->shutdown_thread();
}

void DevToolsClient::start() {
    std::lock_guard lock(impl_->mu);
    if (impl_->started) return;
    // Without the eventfd the idle thread could never be woken: fail loudly instead.
    if (impl_->wake_fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    impl_->started = true;
    impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

void DevToolsClient::attach(std::string marker_url, UaOverride ua, int timeout_ms,
                            AttachCallback cb) {
    auto op = std::make_shared<Impl::AttachOp>();
    op->marker_url = std::move(marker_url);
    op->ua = std::move(ua);
    op->cb = std::move(cb);
    Impl* impl = impl_.get();
    impl_->post([impl, op, timeout_ms] { impl->start_attach(op, timeout_ms); });
}

void DevToolsClient::attach_target(std::string target_id, UaOverride ua, int timeout_ms,
                                   AttachCallback cb) {
    auto op = std::make_shared<Impl::AttachOp>();
    op->target_id = std::move(target_id);
    op->ua = std::move(ua);
    op->cb = std::move(cb);
    Impl* impl = impl_.get();
    impl_->post([impl, op, timeout_ms] { impl->start_attach(op, timeout_ms); });
}

void DevToolsClient::command(std::string method, std::string params_json, ResultCallback cb,
                             int timeout_ms) {
    Impl* p = impl_.get();
    impl_->post([p, method = std::move(method), params_json = std::move(params_json),
                 cb = std::move(cb), timeout_ms]() mutable {
        p->send_raw("", method, params_json, timeout_ms, std::move(cb));
    });
}

bool DevToolsClient::connected() const {
    return impl_->is_connected;
}

int DevToolsClient::chrome_header_rank(const std::string& name) {
    return browser::chrome_header_rank(name);
}

std::vector<std::pair<std::string, std::string>> DevToolsClient::client_hint_headers(
    const UaOverride& ua) {
    return browser::client_hint_headers(ua);
}

}  // namespace byparr::browser
