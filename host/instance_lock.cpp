#include "host/instance_lock.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

namespace byparr {

InstanceLock::~InstanceLock() {
    // Closing the descriptor releases the lock. The file stays: removing it would
    // let a third instance lock a fresh inode while a second still waits on the old.
    if (fd_ >= 0) ::close(fd_);
}

InstanceLock::Result InstanceLock::acquire(const std::string& state_dir) {
    path_ = state_dir + "/byparr.lock";
    // O_CLOEXEC: browser workers and their Chromium children must not inherit
    // the lock, or a leftover child would keep a restarted host out.
    int fd = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) {
        error_ = std::strerror(errno);
        return Result::kUnavailable;
    }
    if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int err = errno;
        if (err == EWOULDBLOCK) {
            char buf[32] = {};
            ssize_t n = ::pread(fd, buf, sizeof buf - 1, 0);
            holder_pid_ = n > 0 ? static_cast<pid_t>(std::strtol(buf, nullptr, 10)) : 0;
            ::close(fd);
            return Result::kHeld;
        }
        error_ = std::strerror(err);
        ::close(fd);
        return Result::kUnavailable;
    }
    // Our PID, for the refusal message of the next one and for operators.
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd, 0) != 0 ||
        ::pwrite(fd, pid.data(), pid.size(), 0) != static_cast<ssize_t>(pid.size())) {
        // The lock holds even without the PID in the file (a full disk).
    }
    fd_ = fd;
    return Result::kAcquired;
}

}  // namespace byparr
