// DevToolsClient::Impl, private to the DevTools client's translation units (issue #17).
//
// One object, several files, because it does three jobs that change for different reasons:
// devtools_client.cpp owns the I/O thread, the connection and the command/reply plumbing;
// devtools_attach.cpp finds and attaches targets and sets a session up; devtools_network.cpp
// routes a session's events (document responses, ExtraInfo headers, Fetch pauses, requests
// in flight). devtools_session.cpp is the DevToolsSession API. Everything below the
// "I/O thread only" line is touched by the client's own thread alone, so it needs no lock.

#pragma once

#include "devtools_client.h"
#include "devtools_transport.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace byparr::browser {

namespace devtools_detail {

using Poco::JSON::Array;
using Poco::JSON::Object;

std::string stringify(const Poco::Dynamic::Var& v);
// A missing or null field reads as "" / 0 / nullptr: Chromium leaves optional fields out.
std::string str_field(const Object::Ptr& o, const std::string& key);
int int_field(const Object::Ptr& o, const std::string& key);
Object::Ptr obj_field(const Object::Ptr& o, const std::string& key);

}  // namespace devtools_detail

struct DevToolsClient::Impl : std::enable_shared_from_this<DevToolsClient::Impl> {
    using Clock = std::chrono::steady_clock;
    using Object = Poco::JSON::Object;
    using CommandCallback = std::function<void(Object::Ptr result, std::string error)>;

    Impl(int p, std::unique_ptr<DevToolsTransport> pipe_conn);
    ~Impl();

    // ---- shared between threads -------------------------------------------------------------
    const int port;  // WebSocket mode; 0 over a pipe
    // Pipe mode: the connection handed in, taken by the first connect. There is no second
    // one: a closed pipe means the browser is gone.
    std::unique_ptr<DevToolsTransport> pipe;
    const bool pipe_mode = pipe != nullptr;
    const int wake_fd;
    std::mutex mu;                            // guards tasks, started
    std::deque<std::function<void()>> tasks;  // run on the I/O thread
    bool started = false;
    std::atomic<bool> stop{false};
    std::atomic<bool> is_connected{false};
    std::thread thread;
    // The socket the I/O thread may currently block on, so the destructor can shut it down
    // instead of waiting for Chromium (whose UI thread may be the very thread destroying us).
    std::mutex fd_mu;
    int blocking_fd = -1;

    void post(std::function<void()> fn);
    void wake() const;
    void set_blocking_fd(int fd);

    // ---- I/O thread only --------------------------------------------------------------------
    struct Pending {
        std::string session_id;
        CommandCallback cb;
        uint64_t timer = 0;
    };
    struct Timer {
        Clock::time_point at;
        std::function<void()> fn;
    };
    struct Outgoing {
        DocumentResponse r;
        std::string request_id;
        Clock::time_point deadline;
        bool complete = false;
    };
    struct SessionState {
        std::string target_id;
        std::string main_frame_id;  // until Page.getFrameTree answers: target id (same in Chromium)
        std::function<void(const DocumentResponse&)> doc_cb;
        DevToolsSession::EventCallback event_cb;
        std::deque<DocumentResponse> buffered;                      // until a callback is set
        std::deque<Outgoing> outq;                                  // in order, awaiting ExtraInfo
        std::map<std::string, std::deque<Object::Ptr>> extra_info;  // requestId -> ExtraInfo
        std::vector<std::pair<std::string, std::string>> hint_headers;  // for Fetch re-adds
        RequestRules rules;
        bool rules_set = false;  // set_request_rules() was called: we answer every paused request
        bool raw_only = false;   // take_raw_responses(): we answer response-stage pauses only
        std::function<void(const RawResponse&)> raw_cb;
        // Requests of the current document still in flight (any type, any frame): the solve
        // loop answers only once the page has gone quiet. Shared with the DevToolsSession,
        // read from the Qt thread.
        std::set<std::string> inflight;
        std::shared_ptr<std::atomic<int>> inflight_count = std::make_shared<std::atomic<int>>(0);
    };
    struct AttachOp {
        std::string marker_url;
        std::string target_id;  // known already (a target we created): no search by URL
        UaOverride ua;
        AttachCallback cb;
        uint64_t timer = 0;
        bool done = false;
        bool waiting_connect = false;
        std::string session_id;  // set once attached, to undo on failure
        std::string last_error;
    };
    struct SetupJoin;  // devtools_attach.cpp

    std::unique_ptr<DevToolsTransport> conn;
    std::string browser_user_agent;
    std::string last_connect_error;
    Clock::time_point next_connect_at{};
    int next_id = 1;
    std::map<int, Pending> pending;
    uint64_t next_timer = 1;
    std::map<uint64_t, Timer> timers;
    std::map<std::string, SessionState> sessions;
    // Targets with an attachToTarget in flight, so concurrent attaches to one marker URL pick
    // different pages.
    std::set<std::string> attaching;
    std::vector<std::shared_ptr<AttachOp>> connect_waiters;

    template <typename F, typename... Args>
    void invoke(F& fn, Args&&... args) {
        // The destructor's promise: no callback once it has begun.
        if (stop || !fn) return;
        try {
            fn(std::forward<Args>(args)...);
        } catch (...) {
            // A throwing user callback must not take the I/O thread (and all sessions) down.
        }
    }

    // An unexpected message shape (a Poco conversion throwing) must cost one message, not the
    // thread: an exception escaping run() would terminate the whole worker.
    template <typename F>
    static void guarded(F&& fn) {
        try {
            fn();
        } catch (...) {
        }
    }

    uint64_t add_timer(std::chrono::milliseconds after, std::function<void()> fn) {
        const uint64_t id = next_timer++;
        timers.emplace(id, Timer{Clock::now() + after, std::move(fn)});
        return id;
    }
    void cancel_timer(uint64_t id) { timers.erase(id); }

    // ---- connection, commands, the loop (devtools_client.cpp) -------------------------------
    bool try_connect();
    void disconnect(const std::string& reason);
    void send_command(const std::string& session_id, const std::string& method, Object::Ptr params,
                      int timeout_ms, CommandCallback cb);
    void send_raw(const std::string& session_id, const std::string& method,
                  const std::string& params_json, int timeout_ms,
                  std::function<void(std::string json, std::string error)> cb);
    void drop_session(const std::string& session_id, const std::string& reason);
    void detach_session(const std::string& session_id);
    void on_message(const std::string& text);
    void read_message();
    void run();
    bool run_tasks();
    bool run_due_timers();
    bool connect_for_waiters();
    void wait_and_read();
    void shutdown_thread();

    // ---- attach (devtools_attach.cpp) -------------------------------------------------------
    void finish_attach(const std::shared_ptr<AttachOp>& op,
                       std::shared_ptr<DevToolsSession> session, const std::string& error);
    void start_attach(std::shared_ptr<AttachOp> op, int timeout_ms);
    void begin_attach(const std::shared_ptr<AttachOp>& op);
    void find_target(const std::shared_ptr<AttachOp>& op);
    std::string pick_target(const Object::Ptr& result, const std::string& url) const;
    void attach_target(const std::shared_ptr<AttachOp>& op, const std::string& target_id);
    void setup_session(const std::shared_ptr<AttachOp>& op, const std::string& session_id,
                       const std::string& target_id);
    void setup_step_done(const std::shared_ptr<SetupJoin>& join, const std::string& what,
                         const std::string& error);
    CommandCallback setup_step(const std::shared_ptr<SetupJoin>& join, std::string what);
    void send_page_setup(const std::shared_ptr<SetupJoin>& join, const UaOverride& ua);
    void send_identity(const std::shared_ptr<SetupJoin>& join, const UaOverride& ua,
                       const std::string& user_agent);

    // ---- a session's events (devtools_network.cpp) ------------------------------------------
    void deliver(SessionState& s, DocumentResponse r);
    static bool merge_extra_info(SessionState& s, const std::string& request_id,
                                 DocumentResponse& r);
    void queue_document(const std::string& session_id, SessionState& s,
                        const std::string& request_id, DocumentResponse r);
    void flush_documents(const std::string& session_id);
    void enable_fetch(const std::string& session_id, const SessionState& s,
                      std::function<void()> done);
    void on_response_paused(const std::string& session_id, const SessionState& s,
                            const Object::Ptr& params);
    void on_request_paused(const std::string& session_id, const SessionState& s,
                           const Object::Ptr& params);
    void on_event(const std::string& method, const std::string& session_id,
                  const Object::Ptr& params);
    void on_session_event(const std::string& method, const std::string& session_id, SessionState& s,
                          const Object::Ptr& params);
    void on_extra_info(const std::string& session_id, SessionState& s, const Object::Ptr& params);
    void on_loading_done(const std::string& session_id, SessionState& s,
                         const std::string& request_id);
    void on_request_will_be_sent(const std::string& session_id, SessionState& s,
                                 const Object::Ptr& params);
};

}  // namespace byparr::browser
