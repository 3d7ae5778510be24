#include "plugins/browser/host/worker_process.h"

#include "core/proc_tree.h"

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <sstream>

#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>

extern char** environ;

namespace byparr::browser {
namespace {

constexpr uint32_t kMaxFrame = 64u << 20;

bool read_exact(int fd, char* buf, size_t n) {
    while (n > 0) {
        ssize_t r = ::recv(fd, buf, n, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        buf += r;
        n -= static_cast<size_t>(r);
    }
    return true;
}

std::string describe_status(int status) {
    if (WIFSIGNALED(status)) return "signal " + std::to_string(WTERMSIG(status));
    if (WIFEXITED(status)) return "exit code " + std::to_string(WEXITSTATUS(status));
    return "status " + std::to_string(status);
}

// Waits up to `ms` for `pid` to exit without reaping it, so that its pid (and
// process group id) stays reserved until we have killed the group.
void wait_leader_exit(pid_t pid, int ms) {
    int pidfd = static_cast<int>(::syscall(SYS_pidfd_open, pid, 0));
    if (pidfd >= 0) {
        pollfd p{pidfd, POLLIN, 0};
        while (::poll(&p, 1, ms) < 0 && errno == EINTR) {
        }
        ::close(pidfd);
        return;
    }
    // Kernels without pidfd: a short bounded wait, only ever at exit.
    for (int waited = 0; waited < ms; waited += 10) {
        siginfo_t info{};
        if (::waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
            info.si_pid == pid)
            return;
        ::usleep(10000);
    }
}

std::string json_string(const Poco::JSON::Object::Ptr& o, const std::string& key) {
    if (!o || !o->has(key) || o->isNull(key)) return "";
    try {
        return o->get(key).convert<std::string>();
    } catch (const Poco::Exception&) {
        return "";
    }
}

}  // namespace

WorkerProcess::WorkerProcess(WorkerLaunch launch, ExitHandler on_exit)
    : launch_(std::move(launch)), on_exit_(std::move(on_exit)) {}

WorkerProcess::~WorkerProcess() {
    join();
    if (fd_ >= 0) ::close(fd_);
    if (child_fd_ >= 0) ::close(child_fd_);
    if (out_fd_ >= 0) ::close(out_fd_);
    if (child_out_fd_ >= 0) ::close(child_out_fd_);
}

bool WorkerProcess::start(Clock::time_point deadline, std::string* error) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
        *error = std::string("socketpair failed: ") + std::strerror(errno);
        return false;
    }
    fd_ = sv[0];
    child_fd_ = sv[1];
    if (launch_.on_output) {
        // A socket rather than a pipe: join() can end a blocked read with shutdown()
        // even if some grandchild still holds the other end.
        int out[2];
        if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, out) == 0) {
            out_fd_ = out[0];
            child_out_fd_ = out[1];
            output_ = std::thread(&WorkerProcess::read_output, this);
        }
    }
    reader_ = std::thread(&WorkerProcess::run, this);

    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_until(lock, deadline, [&] { return ready_ || exited_; });
    if (ready_) return true;
    if (!spawn_error_.empty()) {
        *error = spawn_error_;
    } else if (exited_) {
        *error = "browser worker exited during start-up (" + describe_status(wait_status_) + ")";
    } else {
        *error = "browser worker did not become ready in time";
    }
    lock.unlock();
    kill_group();
    return false;
}

Proxy WorkerProcess::context_proxy(const Proxy& p) const {
    if (!routed_guard_ || p.empty() || !upstream_http_proxy(p)) return p;
    return routed_guard_->route(p);
}

bool WorkerProcess::spawn(std::string* error) {
    if (::access(launch_.executable.c_str(), X_OK) != 0) {
        *error = "browser worker not found or not executable: " + launch_.executable;
        return false;
    }
    // Everything the child needs is built before fork(): after it, only
    // async-signal-safe calls are allowed (the host is multithreaded).
    std::vector<std::string> args{launch_.executable, "--fd", std::to_string(child_fd_)};
    if (launch_.target_guard && !egress_guard_) {
        // A SOCKS upstream cannot be chained (Chromium speaks SOCKS to it directly):
        // then only the host's name pre-check applies (README, BLOCK_PRIVATE_TARGETS).
        auto upstream = upstream_http_proxy(launch_.proxy);
        if (launch_.proxy.empty() || upstream) {
            egress_guard_ = std::make_unique<EgressGuard>(*launch_.target_guard, upstream,
                                                          launch_.on_target_refused);
            if (!egress_guard_->start(error)) return false;
        }
    }
    if (launch_.target_guard && launch_.routed_proxies && !routed_guard_) {
        routed_guard_ =
            std::make_unique<EgressGuard>(*launch_.target_guard, std::nullopt,
                                          launch_.on_target_refused, EgressGuard::Mode::kRouted);
        if (!routed_guard_->start(error)) return false;
    }
    if (egress_guard_) {
        args.insert(args.end(), {"--egress-guard", std::to_string(egress_guard_->port())});
    } else if (!launch_.proxy.empty()) {
        args.insert(args.end(), {"--proxy", launch_.proxy.url});
    }
    for (const auto& r : launch_.rules)
        args.insert(args.end(), {"--rules", r});
    if (!launch_.lang.empty()) args.insert(args.end(), {"--lang", launch_.lang});
    if (!launch_.timezone.empty()) args.insert(args.end(), {"--timezone", launch_.timezone});
    // Xvfb runs inside the worker's process group, so the kill(-pgid) that ends the worker
    // and its Chromium children ends the X server too (and it dies with the worker alone).
    if (launch_.display != "offscreen")
        args.insert(args.end(), {"--browser-display", launch_.display});
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string_view v(*e);
        if (v.rfind("BYPARR_PROXY_USERNAME=", 0) == 0 || v.rfind("BYPARR_PROXY_PASSWORD=", 0) == 0)
            continue;
        env.emplace_back(v);
    }
    if (launch_.disable_sandbox) env.emplace_back("QTWEBENGINE_DISABLE_SANDBOX=1");
    if (!launch_.proxy.username.empty() && !egress_guard_) {  // the guard authenticates itself
        env.push_back("BYPARR_PROXY_USERNAME=" + launch_.proxy.username);
        env.push_back("BYPARR_PROXY_PASSWORD=" + launch_.proxy.password);
    }
    std::vector<char*> argv, envp;
    for (auto& a : args)
        argv.push_back(a.data());
    argv.push_back(nullptr);
    for (auto& e : env)
        envp.push_back(e.data());
    envp.push_back(nullptr);

    int devnull = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t parent = ::getpid();
    int child_fd = child_fd_;
    int child_out = child_out_fd_;
    pid_t pid = ::fork();
    if (pid < 0) {
        *error = std::string("fork failed: ") + std::strerror(errno);
        if (devnull >= 0) ::close(devnull);
        return false;
    }
    if (pid == 0) {
        ::setpgid(0, 0);  // one kill(-pgid) ends the worker and Chromium's children
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);  // the host died before prctl
        sigset_t none;
        ::sigemptyset(&none);
        ::sigprocmask(SIG_SETMASK, &none, nullptr);  // host threads may block signals
        struct sigaction dfl {};
        dfl.sa_handler = SIG_DFL;
        for (int s : {SIGPIPE, SIGTERM, SIGINT, SIGHUP, SIGCHLD})
            ::sigaction(s, &dfl, nullptr);
        if (devnull >= 0) ::dup2(devnull, 0);
        if (child_out >= 0) {
            ::dup2(child_out, 2);  // dup2 clears FD_CLOEXEC on the copy
            ::dup2(child_out, 1);
        } else {
            ::dup2(2, 1);  // the host's stdout is for its own announcements
        }
        ::fcntl(child_fd, F_SETFD, 0);
        ::execve(argv[0], argv.data(), envp.data());
        ::_exit(127);
    }
    ::setpgid(pid, pid);  // also from here, so the group exists before we may kill it
    if (devnull >= 0) ::close(devnull);
    ::close(child_fd_);
    child_fd_ = -1;
    if (child_out_fd_ >= 0) {
        ::close(child_out_fd_);  // EOF on out_fd_ once the whole tree is gone
        child_out_fd_ = -1;
    }
    std::lock_guard<std::mutex> lock(mutex_);
    pid_ = pid;
    spawned_ = true;
    if (stopping_) ::kill(-pid, SIGKILL);  // start() gave up while we were forking
    return true;
}

void WorkerProcess::run() {
    // Spawned from this thread on purpose: PR_SET_PDEATHSIG fires when the
    // forking *thread* exits, and this one lives exactly as long as the worker.
    std::string error;
    if (!spawn(&error)) {
        std::lock_guard<std::mutex> lock(mutex_);
        spawn_error_ = error;
        exited_ = true;
        reaped_ = true;
        cv_.notify_all();
        return;
    }
    for (;;) {
        char hdr[4];
        if (!read_exact(fd_, hdr, 4)) break;
        uint32_t n = (uint32_t(uint8_t(hdr[0])) << 24) | (uint32_t(uint8_t(hdr[1])) << 16) |
                     (uint32_t(uint8_t(hdr[2])) << 8) | uint32_t(uint8_t(hdr[3]));
        if (n > kMaxFrame) break;  // protocol error: treat like a dead worker
        std::string body(n, '\0');
        if (!read_exact(fd_, body.data(), n)) break;
        handle_frame(body);
    }
    on_eof();
}

void WorkerProcess::handle_frame(const std::string& body) {
    Poco::JSON::Object::Ptr msg;
    try {
        Poco::JSON::Parser parser;
        msg = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
    } catch (const std::exception&) {
        return;  // a garbled frame: drop it; the call it answers runs into its deadline
    }
    if (!msg) return;
    if (json_string(msg, "op") == "ready") {
        std::lock_guard<std::mutex> lock(mutex_);
        ready_ = true;
        user_agent_ = json_string(msg, "userAgent");
        cv_.notify_all();
        return;
    }
    if (!msg->has("id")) return;
    uint64_t id = 0;
    try {
        id = msg->get("id").convert<uint64_t>();
    } catch (const Poco::Exception&) {
        return;
    }
    CallReply reply;
    bool ok = false;
    try {
        ok = msg->has("ok") && msg->get("ok").convert<bool>();
    } catch (const Poco::Exception&) {
    }
    reply.status = ok ? CallReply::Status::kOk : CallReply::Status::kError;
    reply.result = msg->getObject("result");
    if (!ok) {
        reply.error = msg->getObject("error");
        reply.error_kind = json_string(reply.error, "kind");
        reply.message = json_string(reply.error, "message");
        if (reply.error_kind.empty()) reply.error_kind = "internal";
    }
    std::lock_guard<std::mutex> lock(mutex_);
    auto it = pending_.find(id);
    if (it == pending_.end()) return;  // cancelled or timed out: nobody waits for it
    it->second->reply = std::move(reply);
    it->second->done = true;
    pending_.erase(it);
    cv_.notify_all();
}

void WorkerProcess::on_eof() {
    pid_t pid;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        pid = pid_;
    }
    // EOF normally means the worker is gone or going; give a graceful exit a
    // moment to finish (it removes its runtime dir) before killing the group.
    wait_leader_exit(pid, 1000);
    bool was_ready;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        ::kill(-pid, SIGKILL);  // leader not reaped yet: the group id is still ours
        int status = 0;
        while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        // When the host is PID 1 or a subreaper, Chromium's orphans are ours to reap
        // (all killed above); otherwise this returns ECHILD at once.
        while (::waitpid(-pid, nullptr, 0) > 0 || errno == EINTR) {
        }
        wait_status_ = status;
        reaped_ = true;
        exited_ = true;
        std::string msg =
            stopping_ ? "browser worker was stopped"
                      : "browser worker exited unexpectedly (" + describe_status(status) + ")";
        for (auto& [id, p] : pending_) {
            p->reply.status = CallReply::Status::kExited;
            p->reply.message = msg;
            p->done = true;
        }
        pending_.clear();
        was_ready = ready_;
        cv_.notify_all();
    }
    if (was_ready && on_exit_) on_exit_(this);
}

bool WorkerProcess::send_frame(const std::string& body) {
    uint32_t n = static_cast<uint32_t>(body.size());
    char hdr[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                   static_cast<char>(n >> 8), static_cast<char>(n)};
    std::lock_guard<std::mutex> lock(write_mutex_);
    auto write_all = [&](const char* p, size_t len) {
        while (len > 0) {
            ssize_t w = ::send(fd_, p, len, MSG_NOSIGNAL);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) return false;
            p += w;
            len -= static_cast<size_t>(w);
        }
        return true;
    };
    return write_all(hdr, 4) && write_all(body.data(), body.size());
}

uint64_t WorkerProcess::next_id() {
    std::lock_guard<std::mutex> lock(mutex_);
    return next_id_++;
}

CallReply WorkerProcess::call(const std::string& op, const Poco::JSON::Object::Ptr& fields,
                              Clock::time_point deadline, uint64_t* id_out) {
    auto pending = std::make_shared<Pending>();
    uint64_t id;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (exited_) {
            CallReply r;
            r.status = CallReply::Status::kExited;
            r.message = stopping_ ? "browser worker was stopped"
                                  : "browser worker exited unexpectedly (" +
                                        describe_status(wait_status_) + ")";
            return r;
        }
        id = next_id_++;
        pending_[id] = pending;
    }
    if (id_out) *id_out = id;
    Poco::JSON::Object msg = fields ? Poco::JSON::Object(*fields) : Poco::JSON::Object();
    msg.set("op", op);
    msg.set("id", static_cast<Poco::UInt64>(id));
    std::ostringstream out;
    msg.stringify(out);
    // A failed write means the worker is dying: its EOF fails this call soon.
    send_frame(out.str());

    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait_until(lock, deadline, [&] { return pending->done; });
    if (!pending->done) {
        pending_.erase(id);
        CallReply r;
        r.status = CallReply::Status::kTimeout;
        r.message = "no reply from the browser worker by the deadline";
        return r;
    }
    return pending->reply;
}

void WorkerProcess::notify(const std::string& op, const Poco::JSON::Object::Ptr& fields) {
    Poco::JSON::Object msg = fields ? Poco::JSON::Object(*fields) : Poco::JSON::Object();
    msg.set("op", op);
    msg.set("id", static_cast<Poco::UInt64>(next_id()));
    std::ostringstream out;
    msg.stringify(out);
    send_frame(out.str());
}

void WorkerProcess::request_stop() {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        stopping_ = true;
        if (exited_) return;
    }
    notify("shutdown", nullptr);
}

bool WorkerProcess::wait_exited(Clock::time_point deadline) {
    std::unique_lock<std::mutex> lock(mutex_);
    return cv_.wait_until(lock, deadline, [&] { return exited_; });
}

void WorkerProcess::kill_group() {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    if (pid_ > 0 && !reaped_) ::kill(-pid_, SIGKILL);
}

void WorkerProcess::join() {
    if (reader_.joinable()) {
        kill_group();  // the reader only ends on EOF, which a dead group guarantees
        reader_.join();
    }
    stop_output();
}

void WorkerProcess::stop_output() {
    if (!output_.joinable()) return;
    {
        // The group is dead, so EOF (after its last lines) is normally a moment
        // away; a process that left the group and kept the descriptor must not hold
        // us here.
        std::unique_lock<std::mutex> lock(mutex_);
        cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return output_done_; });
    }
    ::shutdown(out_fd_, SHUT_RDWR);
    output_.join();
}

void WorkerProcess::read_output() {
    constexpr size_t kMaxLine = 4096;
    std::string line;
    char buf[4096];
    for (;;) {
        ssize_t n = ::recv(out_fd_, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        for (ssize_t i = 0; i < n; ++i) {
            if (buf[i] == '\n') {
                launch_.on_output(line);
                line.clear();
            } else if (line.size() < kMaxLine) {
                line += buf[i];
            }
        }
    }
    if (!line.empty()) launch_.on_output(line);
    std::lock_guard<std::mutex> lock(mutex_);
    output_done_ = true;
    cv_.notify_all();
}

pid_t WorkerProcess::pid() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return pid_;
}

std::string WorkerProcess::user_agent() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return user_agent_;
}

bool WorkerProcess::exited() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return exited_;
}

bool WorkerProcess::stopping() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return stopping_;
}

std::string WorkerProcess::exit_reason() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return reaped_ ? describe_status(wait_status_) : std::string();
}

uint64_t tree_pss_bytes(pid_t pid) {
    return pid > 0 ? byparr::process_tree_pss_bytes(pid) : 0;
}

uint64_t tree_pss_bytes(const std::vector<pid_t>& roots) {
    uint64_t total = 0;
    for (pid_t r : roots)
        total += tree_pss_bytes(r);
    return total;
}

std::string sandbox_unavailable_reason() {
    if (::geteuid() == 0) return "running as root (Chromium does not sandbox root)";
    pid_t pid = ::fork();
    if (pid < 0) return std::string("cannot test it (fork: ") + std::strerror(errno) + ")";
    if (pid == 0) {
        // Single-threaded after fork, as unshare(CLONE_NEWUSER) requires. Chromium's
        // namespace sandbox also wants PID and network namespaces inside it.
        if (::unshare(CLONE_NEWUSER) != 0) ::_exit(1);
        if (::unshare(CLONE_NEWPID | CLONE_NEWNET) != 0) ::_exit(2);
        ::_exit(0);
    }
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return "";
    return "user namespaces are not available to this process (a container's default seccomp "
           "profile, or kernel.unprivileged_userns_clone=0)";
}

}  // namespace byparr::browser
