// One byparr-webengine-worker process and the framed JSON channel to it
// (see PROTOCOL.md): spawn, wait for `ready`, multiplexed calls with deadlines,
// and reaping when it exits, whatever the reason.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <Poco/JSON/Object.h>

#include "plugins/browser/host/egress_guard.h"

namespace byparr::browser {

using Clock = std::chrono::steady_clock;

struct WorkerLaunch {
    std::string executable;
    Proxy proxy;  // empty: none; credentials go in the environment only, never argv or logs
    std::vector<std::string> rules;
    std::string lang;
    std::string timezone;  // --timezone (empty: none)
    std::string display =
        "offscreen";  // --browser-display (not --display: QApplication takes that one)
    // BLOCK_PRIVATE_TARGETS: when set, the worker's Chromium sends everything through
    // an EgressGuard run here for it, chained to an http:// proxy if there is one.
    std::shared_ptr<const TargetGuard> target_guard;
    std::function<void(const std::string& reason)> on_target_refused;
    // With target_guard, for a worker whose requests bring their own proxies (chromium's
    // browser contexts): a second guard that routes each context to its own proxy.
    bool routed_proxies = false;
    // Called from a dedicated thread with each line (without '\n', at most 4 KiB)
    // the worker and its Chromium children print. Unset: they inherit our stderr.
    std::function<void(std::string_view line)> on_output;
    // Run Chromium without its sandbox (QTWEBENGINE_DISABLE_SANDBOX=1): BROWSER_SANDBOX.
    bool disable_sandbox = false;
};

// How a call ended.
struct CallReply {
    enum class Status { kOk, kError, kTimeout, kExited };
    Status status = Status::kExited;
    Poco::JSON::Object::Ptr result;  // may be null
    std::string error_kind;          // worker error kind (kError), e.g. "timeout"
    std::string message;
    Poco::JSON::Object::Ptr error;  // the worker's error object (kError)
};

class WorkerProcess {
  public:
    // Called once from the reader thread after the process was reaped.
    using ExitHandler = std::function<void(WorkerProcess*)>;

    WorkerProcess(WorkerLaunch launch, ExitHandler on_exit);
    ~WorkerProcess();  // kills the group if still running, reaps, joins

    WorkerProcess(const WorkerProcess&) = delete;
    WorkerProcess& operator=(const WorkerProcess&) = delete;

    // Spawns the worker and waits for `ready` until `deadline`. On failure the
    // process is killed and reaped and `error` says why.
    bool start(Clock::time_point deadline, std::string* error);

    // Sends {"op":op, "id":N, ...fields} and waits for the reply until `deadline`.
    // `id_out` receives the request id (for `cancel`).
    CallReply call(const std::string& op, const Poco::JSON::Object::Ptr& fields,
                   Clock::time_point deadline, uint64_t* id_out = nullptr);
    // Fire-and-forget message (cancel); its reply is dropped.
    void notify(const std::string& op, const Poco::JSON::Object::Ptr& fields);

    // Asks the worker to exit (op shutdown) without waiting. Pending calls that
    // fail afterwards are reported as a stop, not a crash.
    void request_stop();
    // Waits until the process was reaped; false on timeout.
    bool wait_exited(Clock::time_point deadline);
    // SIGKILL to the whole process group (Chromium's children too), if not reaped.
    void kill_group();
    // Kills if needed and joins the reader thread. Never call from the exit handler.
    void join();

    // The proxy a browser context of this worker is given for `p`: `p` itself or, with
    // routed_proxies, its route through the egress guard. A SOCKS proxy cannot be chained
    // and goes as it is (then only the host's pre-check applies, as for PROXY_URL).
    Proxy context_proxy(const Proxy& p) const;

    pid_t pid() const;
    std::string user_agent() const;
    bool exited() const;
    bool stopping() const;
    // "signal 9" / "exit code 1"; empty while running.
    std::string exit_reason() const;

  private:
    void run();          // reader thread: spawns (so PDEATHSIG follows this thread), then reads
    void read_output();  // output thread: lines of the worker tree's stdout/stderr
    void stop_output();
    bool spawn(std::string* error);
    void handle_frame(const std::string& body);
    void on_eof();
    bool send_frame(const std::string& body);
    uint64_t next_id();

    WorkerLaunch launch_;
    ExitHandler on_exit_;
    int fd_ = -1;            // our end of the socketpair
    int child_fd_ = -1;      // the worker's end, closed after spawn
    int out_fd_ = -1;        // our end of the worker tree's stdout/stderr (on_output set)
    int child_out_fd_ = -1;  // the tree's end, closed after spawn
    std::thread output_;
    std::unique_ptr<EgressGuard> egress_guard_;  // outlives the worker (joined first)
    std::unique_ptr<EgressGuard> routed_guard_;  // routed_proxies: set before `ready`
    pid_t pid_ = -1;

    mutable std::mutex mutex_;
    std::condition_variable cv_;
    bool spawned_ = false;
    std::string spawn_error_;
    bool ready_ = false;
    bool exited_ = false;
    bool reaped_ = false;
    bool stopping_ = false;
    bool output_done_ = false;
    int wait_status_ = 0;
    std::string user_agent_;
    struct Pending {
        bool done = false;
        CallReply reply;
    };
    std::map<uint64_t, std::shared_ptr<Pending>> pending_;
    uint64_t next_id_ = 1;

    std::mutex write_mutex_;
    std::thread reader_;
};

// Proportional set size of `pid` and all its descendants, in bytes (0 if gone).
uint64_t tree_pss_bytes(pid_t pid);

// Whether Chromium's sandbox can start here: it needs unprivileged user namespaces
// (Docker's default seccomp profile forbids them; so do some kernels' sysctls), and
// Chromium refuses to sandbox as root. Tried in a forked child, so it is the real
// answer for this process's privileges. "" when it can, otherwise why not.
std::string sandbox_unavailable_reason();
// The same for several roots with one /proc walk.
uint64_t tree_pss_bytes(const std::vector<pid_t>& roots);

}  // namespace byparr::browser
