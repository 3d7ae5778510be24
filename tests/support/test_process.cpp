#include "tests/support/test_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <regex>
#include <sstream>
#include <stdexcept>

extern char** environ;

namespace byparr::test {

namespace {

void close_fd(int& fd) {
    if (fd >= 0) close(fd);
    fd = -1;
}

// Runs in the forked child before exec, so only async-signal-safe calls are allowed.
[[noreturn]] void exec_child(int stdin_read, int stdout_write, int error_write, char* const* argv,
                             char* const* envp) {
    setpgid(0, 0);
    // Undo the test runner's signal state: a blocked SIGTERM would make stop() wait for SIGKILL.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    signal(SIGPIPE, SIG_DFL);
    dup2(stdin_read, STDIN_FILENO);
    dup2(stdout_write, STDOUT_FILENO);
    // Other descriptors of the test process (another child's stdin pipe, above all) must not
    // leak: a leaked write end would keep that other fixture from ever seeing EOF.
    bool closed = false;
#ifdef SYS_close_range
    // Keep error_write open (it is close-on-exec, so a successful exec closes it anyway).
    const auto keep = static_cast<unsigned>(error_write);
    closed = (keep <= 3u || syscall(SYS_close_range, 3u, keep - 1u, 0u) == 0) &&
             syscall(SYS_close_range, keep + 1u, ~0u, 0u) == 0;
#endif
    for (int fd = 3; !closed && fd < 4096; ++fd) {
        if (fd != error_write) close(fd);
    }
    execve(argv[0], argv, envp);
    int err = errno;
    if (write(error_write, &err, sizeof err) < 0) {
        // Nothing more can be done from here.
    }
    _exit(127);
}

}  // namespace

ChildProcess::ChildProcess(const std::string& executable, const std::vector<std::string>& args,
                           const std::map<std::string, std::string>& env) {
    start(executable, args, env);
}

ChildProcess::~ChildProcess() {
    stop();
}

void ChildProcess::start(const std::string& executable, const std::vector<std::string>& args,
                         const std::map<std::string, std::string>& env) {
    if (pid_ > 0 && !reaped_) throw std::logic_error("ChildProcess already running");

    // Build argv/envp before fork: allocating in the child of a threaded process can deadlock.
    std::vector<std::string> argv_store{executable};
    argv_store.insert(argv_store.end(), args.begin(), args.end());
    std::map<std::string, std::string> merged;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
        std::string kv = *e;
        auto eq = kv.find('=');
        if (eq != std::string::npos) merged[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    for (const auto& [k, v] : env)
        merged[k] = v;
    std::vector<std::string> env_store;
    for (const auto& [k, v] : merged)
        env_store.push_back(k + "=" + v);
    std::vector<char*> argv, envp;
    for (auto& s : argv_store)
        argv.push_back(s.data());
    argv.push_back(nullptr);
    for (auto& s : env_store)
        envp.push_back(s.data());
    envp.push_back(nullptr);

    int in_pipe[2], out_pipe[2], err_pipe[2];
    if (pipe2(in_pipe, O_CLOEXEC) != 0) throw std::runtime_error("pipe2 failed");
    if (pipe2(out_pipe, O_CLOEXEC) != 0) {
        close(in_pipe[0]);
        close(in_pipe[1]);
        throw std::runtime_error("pipe2 failed");
    }
    if (pipe2(err_pipe, O_CLOEXEC) != 0) {
        for (int fd : {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1]})
            close(fd);
        throw std::runtime_error("pipe2 failed");
    }

    pid_t pid = fork();
    if (pid < 0) {
        for (int fd :
             {in_pipe[0], in_pipe[1], out_pipe[0], out_pipe[1], err_pipe[0], err_pipe[1]}) {
            close(fd);
        }
        throw std::runtime_error("fork failed");
    }
    if (pid == 0) exec_child(in_pipe[0], out_pipe[1], err_pipe[1], argv.data(), envp.data());

    // Also set the group from the parent: whichever runs first, the group exists before
    // stop() might signal it.
    setpgid(pid, pid);
    close(in_pipe[0]);
    close(out_pipe[1]);
    close(err_pipe[1]);

    int exec_errno = 0;
    ssize_t n;
    do {
        n = read(err_pipe[0], &exec_errno, sizeof exec_errno);
    } while (n < 0 && errno == EINTR);
    close(err_pipe[0]);

    pid_ = pid;
    reaped_ = false;
    status_ = -1;
    stdin_fd_ = in_pipe[1];
    {
        std::lock_guard lock(mutex_);
        output_.clear();
        output_closed_ = false;
    }
    stop_reader_ = false;
    reader_ = std::thread(&ChildProcess::reader_loop, this, out_pipe[0]);

    if (n == static_cast<ssize_t>(sizeof exec_errno)) {
        stop();
        throw std::runtime_error("cannot execute " + executable + ": " + std::strerror(exec_errno));
    }
}

void ChildProcess::reader_loop(int fd) {
    char buf[4096];
    // Polls instead of blocking so reap() can give up on a pipe that a detached grandchild
    // (one that left our process group) still holds open.
    while (!stop_reader_) {
        pollfd p{fd, POLLIN, 0};
        int rc = poll(&p, 1, 100);
        if (rc < 0 && errno != EINTR) break;
        if (rc <= 0) continue;
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        std::lock_guard lock(mutex_);
        output_.append(buf, static_cast<std::size_t>(n));
        output_cv_.notify_all();
    }
    close(fd);
    std::lock_guard lock(mutex_);
    output_closed_ = true;
    output_cv_.notify_all();
}

std::optional<int> ChildProcess::read_port(std::chrono::milliseconds timeout) {
    static const std::regex kPortLine(R"((^|\n)PORT (\d+)\n)");
    std::unique_lock lock(mutex_);
    std::optional<int> port;
    output_cv_.wait_for(lock, timeout, [&] {
        std::smatch m;
        if (std::regex_search(output_, m, kPortLine)) {
            port = std::stoi(m[2].str());
            return true;
        }
        return output_closed_;
    });
    return port;
}

std::string ChildProcess::output() const {
    std::lock_guard lock(mutex_);
    return output_;
}

void ChildProcess::close_stdin() {
    close_fd(stdin_fd_);
}

bool ChildProcess::leader_exited() {
    siginfo_t info{};
    if (waitid(P_PID, static_cast<id_t>(pid_), &info, WEXITED | WNOHANG | WNOWAIT) != 0) {
        return true;  // not our child any more (or already reaped): treat as gone
    }
    return info.si_pid == pid_;
}

int ChildProcess::reap() {
    int status = 0;
    while (waitpid(pid_, &status, 0) < 0 && errno == EINTR) {
    }
    reaped_ = true;
    status_ = status;
    {
        std::unique_lock lock(mutex_);
        output_cv_.wait_for(lock, std::chrono::milliseconds(500), [&] { return output_closed_; });
    }
    stop_reader_ = true;
    if (reader_.joinable()) reader_.join();
    return status_;
}

std::optional<int> ChildProcess::wait_exit(std::chrono::milliseconds timeout) {
    if (pid_ <= 0) return std::nullopt;
    if (reaped_) return status_;
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!leader_exited()) {
        if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // The zombie leader still holds the group id, so this cannot hit a recycled group.
    kill(-pid_, SIGKILL);
    close_stdin();
    return reap();
}

bool ChildProcess::running() {
    return pid_ > 0 && !reaped_ && !leader_exited();
}

int ChildProcess::stop(std::chrono::milliseconds grace) {
    if (pid_ <= 0) return -1;
    if (reaped_) return status_;
    kill(-pid_, SIGTERM);
    close_stdin();
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (!leader_exited() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    // Whether the leader left in time or not, nothing in its group may outlive it. The leader
    // is not reaped yet, so the group id cannot have been reused by an unrelated process.
    kill(-pid_, SIGKILL);
    return reap();
}

std::vector<pid_t> descendants(pid_t root) {
    std::multimap<pid_t, pid_t> children;  // ppid -> pid
    if (DIR* proc = opendir("/proc")) {
        while (dirent* entry = readdir(proc)) {
            char* end = nullptr;
            long pid = std::strtol(entry->d_name, &end, 10);
            if (end == entry->d_name || *end != '\0') continue;
            std::ifstream stat("/proc/" + std::string(entry->d_name) + "/stat");
            std::string text((std::istreambuf_iterator<char>(stat)), {});
            // The command name may contain spaces and parentheses: fields resume after the
            // last ')'. Then: state ppid ...
            auto close_paren = text.rfind(')');
            if (close_paren == std::string::npos) continue;
            std::istringstream rest(text.substr(close_paren + 1));
            std::string state;
            long ppid = 0;
            if (!(rest >> state >> ppid)) continue;
            if (state == "Z") continue;  // zombies are exited processes, not leftovers
            children.emplace(static_cast<pid_t>(ppid), static_cast<pid_t>(pid));
        }
        closedir(proc);
    }
    std::vector<pid_t> out;
    std::vector<pid_t> todo{root};
    while (!todo.empty()) {
        pid_t p = todo.back();
        todo.pop_back();
        auto [lo, hi] = children.equal_range(p);
        for (auto it = lo; it != hi; ++it) {
            out.push_back(it->second);
            todo.push_back(it->second);
        }
    }
    return out;
}

std::size_t count_processes_named(const std::string& comm_substr) {
    std::size_t count = 0;
    if (DIR* proc = opendir("/proc")) {
        while (dirent* entry = readdir(proc)) {
            char* end = nullptr;
            std::strtol(entry->d_name, &end, 10);
            if (end == entry->d_name || *end != '\0') continue;
            std::ifstream comm_file("/proc/" + std::string(entry->d_name) + "/comm");
            std::string comm;
            std::getline(comm_file, comm);
            if (!comm.empty() && comm.find(comm_substr) != std::string::npos) ++count;
        }
        closedir(proc);
    }
    return count;
}

bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < end) {
        if (done()) return true;
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    return done();
}

}  // namespace byparr::test
