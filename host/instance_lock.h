// One Byparr per state directory: an flock(2) on <state_dir>/byparr.lock held for
// the life of the process. A second instance on the same directory would share
// cache.db, plugins.json and admin.sock with the first (and delete the first's
// socket on exit), so it refuses to start and names the PID that holds the lock.
// flock, not a PID file alone: the kernel drops the lock when the holder dies, so
// a crash never leaves a stale lock behind.
#pragma once

#include <sys/types.h>

#include <string>

namespace byparr {

class InstanceLock {
  public:
    enum class Result {
        kAcquired = 1,     // this process holds the lock
        kHeld = 2,         // another live process holds it (holder_pid says which)
        kUnavailable = 3,  // no lock file could be made (read-only or missing dir)
    };

    InstanceLock() = default;
    ~InstanceLock();
    InstanceLock(const InstanceLock&) = delete;
    InstanceLock& operator=(const InstanceLock&) = delete;

    /// Tries once, without waiting. On kHeld, holder_pid() is the PID the holder
    /// wrote (0 if unreadable); on kUnavailable, error() says why.
    Result acquire(const std::string& state_dir);
    bool held() const { return fd_ >= 0; }
    pid_t holder_pid() const { return holder_pid_; }
    const std::string& error() const { return error_; }
    std::string path() const { return path_; }

  private:
    int fd_ = -1;
    pid_t holder_pid_ = 0;
    std::string error_;
    std::string path_;
};

}  // namespace byparr
