// Child processes for tests: fixtures (test site, proxies) and the server under test.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace byparr::test {

// Runs an executable in its own process group with stdin as a pipe. The fixtures exit when
// that pipe closes, so even a test runner killed with SIGKILL leaves nothing behind. Stdout is
// read by a background thread (so the child never blocks on a full pipe) and kept for tests;
// stderr is inherited so fixture logs show up in the test output.
class ChildProcess {
  public:
    ChildProcess() = default;
    // Starts immediately; throws std::runtime_error when the executable cannot be started.
    // `env` entries are added to (or override) the parent's environment.
    ChildProcess(const std::string& executable, const std::vector<std::string>& args,
                 const std::map<std::string, std::string>& env = {});
    ~ChildProcess();

    ChildProcess(const ChildProcess&) = delete;
    ChildProcess& operator=(const ChildProcess&) = delete;

    void start(const std::string& executable, const std::vector<std::string>& args,
               const std::map<std::string, std::string>& env = {});

    // Waits for a "PORT <n>" line on stdout; nullopt on timeout or if the child exits first.
    std::optional<int> read_port(std::chrono::milliseconds timeout = std::chrono::seconds(10));

    // Everything the child printed to stdout so far.
    std::string output() const;

    // Closes our end of the child's stdin: the fixtures' "parent went away" signal.
    void close_stdin();

    // SIGTERM to the whole group, up to `grace` for the leader to exit, then SIGKILL to the
    // group, then reap. Safe to call twice. Returns the wait status (or -1 if never started).
    int stop(std::chrono::milliseconds grace = std::chrono::seconds(3));

    // Waits for the child to exit by itself (after close_stdin(), say) without signalling it.
    // Returns the wait status, or nullopt if it is still running after `timeout`.
    std::optional<int> wait_exit(std::chrono::milliseconds timeout);

    bool running();
    pid_t pid() const { return pid_; }

  private:
    void reader_loop(int fd);
    bool leader_exited();  // non-reaping check, so the pid (and group id) stays reserved
    int reap();

    pid_t pid_ = -1;
    int stdin_fd_ = -1;
    int status_ = -1;
    bool reaped_ = true;
    std::thread reader_;
    mutable std::mutex mutex_;
    std::condition_variable output_cv_;
    std::string output_;
    bool output_closed_ = false;
    std::atomic<bool> stop_reader_{false};
};

// Checks `done` every 50 ms until it holds or `timeout` passes; its last answer.
bool wait_until(const std::function<bool()>& done, std::chrono::milliseconds timeout);

// All live descendants of `root` (children, grandchildren, ...), read from /proc.
std::vector<pid_t> descendants(pid_t root);

// Processes whose /proc/<pid>/comm contains `comm_substr`. Note the kernel truncates comm to 15
// characters: "byparr-test-site" appears as "byparr-test-sit".
std::size_t count_processes_named(const std::string& comm_substr);

}  // namespace byparr::test
