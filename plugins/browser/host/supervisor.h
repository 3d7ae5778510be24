// The webengine plugin's pool of worker processes: one per distinct proxy,
// started on demand, recycled (pages, memory), stopped when idle, restarted
// after a crash; plus the sessions that live inside them.
#pragma once

#include <byparr/abi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <Poco/JSON/Object.h>

#include <byparr/proxy.hpp>

#include "plugins/browser/host/worker_process.h"

namespace byparr::browser {

struct Settings {
    std::string worker_path;
    std::string state_dir;
    std::vector<std::string> rules;
    std::string lang;
    std::string timezone;               // TZ for pages (Date, Intl); empty: the system's
    std::string display = "offscreen";  // BROWSER_DISPLAY: offscreen or xvfb
    // One worker for every proxy: each solve and session names its proxy to the worker,
    // which gives it a browser context of its own (BrowserEngine::proxy_per_context).
    bool proxy_per_context = false;
    // BLOCK_PRIVATE_TARGETS (null: off) and where its refusals are reported.
    std::shared_ptr<const TargetGuard> target_guard;
    std::function<void(const std::string& reason)> on_target_refused;
    std::chrono::seconds idle_timeout{300};       // 0: never
    uint64_t memory_limit_bytes = 1024ull << 20;  // 0: no limit
    uint64_t max_pages = 500;                     // 0: no limit
    size_t max_workers = 4;
    size_t max_sessions = 20;
    std::chrono::seconds session_idle_timeout{1800};  // 0: never
    std::chrono::seconds start_timeout{20};
    // Each line the worker tree prints (stdout and stderr); unset: inherited as is.
    std::function<void(std::string_view line)> worker_output;
    // BROWSER_SANDBOX: "auto" (sandbox when it can start, else without and one
    // warning), "on", "off". Decided at the first worker start, reported through `warn`.
    std::string sandbox = "auto";
    std::function<void(const std::string& message)> warn;
};

struct Outcome {
    bool ok = false;
    byparr_error_kind kind = BYPARR_ERROR_INTERNAL;
    std::string message;
    Poco::JSON::Object::Ptr result;  // the worker's result (also partial on some errors)
    Poco::JSON::Object::Ptr error;   // the worker's error object, when it sent one
};

// Worker error kind (PROTOCOL.md) -> ABI error kind.
byparr_error_kind map_error_kind(const std::string& kind);

class Supervisor {
  public:
    // Starts nothing: the host probes create() in a forked child, so threads and
    // processes come on first use.
    explicit Supervisor(Settings settings);
    ~Supervisor();

    Supervisor(const Supervisor&) = delete;
    Supervisor& operator=(const Supervisor&) = delete;

    // `request` is the protocol's solve object without timeoutMs/session (set here).
    Outcome solve(Poco::JSON::Object::Ptr request, const std::string& session_id,
                  const Proxy& proxy, uint32_t session_ttl_ms, Clock::time_point deadline);
    Outcome session_create(const std::string& id, const Proxy& proxy, bool* existed,
                           Clock::time_point deadline);
    std::vector<std::string> session_list();
    Outcome session_destroy(const std::string& id, Clock::time_point deadline);

    void shutdown(std::chrono::milliseconds grace);
    void metrics(std::vector<std::string>& lines);
    std::string user_agent();

  private:
    enum class State { kStarting, kRunning, kDraining, kRetired };
    struct Slot {
        std::string key;
        Proxy proxy;
        std::unique_ptr<WorkerProcess> proc;
        State state = State::kStarting;
        int in_flight = 0;
        uint64_t pages = 0;
        int sessions = 0;
        Clock::time_point last_used;
        Clock::time_point pss_measured{};  // last memory check (release())
    };
    struct Session {
        std::shared_ptr<Slot> slot;
        Clock::time_point created, last_used;
        int in_use = 0;
        std::string timezone;  // of the proxy it was created with; every request keeps it
    };

    std::string key_of(const Proxy& p) const;
    // The proxy as the worker protocol's `proxy` object, when the worker takes it per request
    // (routed through `worker`'s egress guard with BLOCK_PRIVATE_TARGETS).
    void add_proxy(Poco::JSON::Object& fields, const Proxy& p, const WorkerProcess& worker) const;
    // A running worker for `proxy` with in_flight already counted, or null and `err`.
    std::shared_ptr<Slot> acquire(const Proxy& proxy, Clock::time_point deadline, Outcome* err);
    // Starts the worker of `slot`, reserved (starting) by acquire() and not locked: the slot
    // running with in_flight 1, or null and `err` (the slot removed).
    std::shared_ptr<Slot> start_worker(const std::shared_ptr<Slot>& slot,
                                       Clock::time_point deadline, Outcome* err);
    void release(const std::shared_ptr<Slot>& slot, bool page_served, const std::string& session_id,
                 bool hurry = false);
    // Creates the session in the worker for `proxy`; with `hold`, returns the slot
    // acquired (in_flight and in_use counted) for a solve that follows.
    std::shared_ptr<Slot> open_session(const std::string& id, const Proxy& proxy, bool hold,
                                       bool* existed, Clock::time_point deadline, Outcome* err);
    std::shared_ptr<Slot> use_session(const std::string& id, const Proxy& proxy, uint32_t ttl_ms,
                                      Clock::time_point deadline, Outcome* err);
    void retire_locked(const std::shared_ptr<Slot>& slot, const char* reason);
    // Makes room for a new worker: stops the least recently used idle one (no request, no
    // session). False when every worker is busy.
    bool retire_least_used_idle_locked();
    // How a worker for `proxy` is started (sandbox_disabled() may probe once).
    WorkerLaunch launch_for(const Proxy& proxy);
    void on_worker_exit(const std::weak_ptr<Slot>& weak, WorkerProcess* proc);
    void ensure_timer_locked();
    void timer_loop();
    void remember_user_agent(const std::string& ua);
    bool sandbox_disabled();
    static Outcome from_reply(const CallReply& r);

    Settings settings_;
    std::mutex mutex_;
    std::condition_variable cv_;        // slot state changes (starting -> running, removed)
    std::condition_variable timer_cv_;  // deadlines changed, slots to retire, stop
    std::map<std::string, std::shared_ptr<Slot>> active_;  // key -> slot taking new work
    std::vector<std::shared_ptr<Slot>> slots_;             // every live worker
    std::vector<std::shared_ptr<Slot>> retire_;            // to stop and join (timer thread)
    std::map<std::string, Session> sessions_;
    std::map<std::string, uint64_t> restarts_;
    uint64_t pages_total_ = 0;
    bool shutting_down_ = false;
    bool timer_stop_ = false;
    std::thread timer_;
    std::once_flag sandbox_once_;
    bool sandbox_disabled_ = false;
    std::mutex ua_mutex_;
    std::string user_agent_;
};

}  // namespace byparr::browser
