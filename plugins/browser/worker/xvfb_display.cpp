#include "xvfb_display.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

namespace byparr::browser {

namespace {

// An Xauthority file with one MIT-MAGIC-COOKIE-1 entry for any address and display
// (FamilyWild, empty display number: libXau matches it for whatever display Xvfb picks).
bool write_authority(const std::string& path, std::string* error) {
    unsigned char cookie[16];
    int rnd = ::open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (rnd < 0 || ::read(rnd, cookie, sizeof(cookie)) != static_cast<ssize_t>(sizeof(cookie))) {
        if (rnd >= 0) ::close(rnd);
        *error = "cannot read /dev/urandom for the X cookie";
        return false;
    }
    ::close(rnd);
    std::string rec;
    auto u16 = [&rec](size_t n) {
        rec.push_back(static_cast<char>((n >> 8) & 0xff));
        rec.push_back(static_cast<char>(n & 0xff));
    };
    auto field = [&](const void* p, size_t n) {
        u16(n);
        rec.append(static_cast<const char*>(p), n);
    };
    static const char kName[] = "MIT-MAGIC-COOKIE-1";
    u16(0xffff);   // FamilyWild
    field("", 0);  // address
    field("", 0);  // display number: any
    field(kName, sizeof(kName) - 1);
    field(cookie, sizeof(cookie));
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0 || ::write(fd, rec.data(), rec.size()) != static_cast<ssize_t>(rec.size())) {
        if (fd >= 0) ::close(fd);
        *error = "cannot write the X authority file " + path + ": " + std::strerror(errno);
        return false;
    }
    ::close(fd);
    return true;
}

}  // namespace

XvfbDisplay::~XvfbDisplay() {
    if (!authority_.empty()) ::unlink(authority_.c_str());
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    // Xvfb exits within milliseconds of SIGTERM; do not hang the worker's exit on it.
    for (int i = 0; i < 50; ++i) {
        if (::waitpid(pid_, nullptr, WNOHANG) == pid_) return;
        ::usleep(10000);
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
}

bool XvfbDisplay::start(int width, int height, int timeout_ms, const std::string& dir,
                        std::string* error) {
    authority_ = dir + "/byparr-xauth-" + std::to_string(::getpid());
    if (!write_authority(authority_, error)) return false;
    int fds[2];
    if (::pipe2(fds, O_CLOEXEC) != 0) {
        *error = std::string("pipe: ") + std::strerror(errno);
        return false;
    }
    const std::string screen = std::to_string(width) + "x" + std::to_string(height) + "x24";
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) {
        *error = std::string("fork: ") + std::strerror(errno);
        ::close(fds[0]);
        ::close(fds[1]);
        return false;
    }
    if (pid == 0) {
        // Only async-signal-safe calls until exec (the worker may already have threads).
        ::prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (::getppid() != parent) ::_exit(127);  // the worker died before prctl took effect
        ::dup2(fds[1], 3);                        // dup2 clears FD_CLOEXEC on fd 3
        int null = ::open("/dev/null", O_RDWR);
        if (null >= 0) {
            ::dup2(null, 0);
            ::dup2(null, 1);
            ::dup2(null, 2);  // Xvfb's start-up chatter (xkbcomp warnings) is noise
        }
        // -nolisten tcp: no network listener; the Unix socket is all Chromium needs.
        // -noreset: the server does not reset when its last client (a closed window) goes.
        ::execlp("Xvfb", "Xvfb", "-displayfd", "3", "-screen", "0", screen.c_str(), "-nolisten",
                 "tcp", "-noreset", "-auth", authority_.c_str(), static_cast<char*>(nullptr));
        ::_exit(127);
    }
    ::close(fds[1]);
    pid_ = pid;
    std::string out;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    for (;;) {
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                              deadline - std::chrono::steady_clock::now())
                              .count();
        if (left <= 0) {
            *error = "Xvfb did not announce a display within " + std::to_string(timeout_ms) + " ms";
            break;
        }
        pollfd p{fds[0], POLLIN, 0};
        int r = ::poll(&p, 1, static_cast<int>(left));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) continue;
        char buf[32];
        ssize_t n = ::read(fds[0], buf, sizeof(buf));
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            *error = "Xvfb exited before announcing a display (is the xvfb package installed?)";
            break;
        }
        out.append(buf, static_cast<size_t>(n));
        if (auto nl = out.find('\n'); nl != std::string::npos) {
            display_ = ":" + out.substr(0, nl);
            ::close(fds[0]);
            return true;
        }
    }
    ::close(fds[0]);
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
    return false;
}

}  // namespace byparr::browser
