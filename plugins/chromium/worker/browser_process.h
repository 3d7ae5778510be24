// The Chromium browser that one byparr-chromium-worker drives: started with
// --remote-debugging-pipe (no TCP port a page could reach), a private throw-away
// profile directory, and every background service that would phone home turned off.
//
// Lifecycle: the browser and its children stay in the worker's process group, which
// the supervisor ends with one kill(-pgid); the browser also has PR_SET_PDEATHSIG, so
// it goes when the worker dies alone. The destructor ends it on an orderly exit and
// removes the profile directory.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace byparr::browser {

struct BrowserLaunch {
    std::string executable;         // CHROMIUM_PATH, default /usr/bin/chromium
    std::string runtime_dir;        // a private (0700) directory for the profile
    std::string lang;               // BCP 47
    bool headless = false;          // --headless=new instead of a window on $DISPLAY
    bool no_sandbox = false;        // as root, or BROWSER_SANDBOX=off
    std::string proxy_server;       // the worker's proxy or egress guard, for the default context
    std::string proxy_bypass_list;  // e.g. "<-loopback>" with the egress guard
    int width = 1366;               // the window (the viewport is smaller by the browser UI)
    int height = 853;
    int x = 277;
    int y = 113;
    int screen_width = 1920;  // Xvfb's screen; headless is told the same (--screen-info)
    int screen_height = 1080;
};

class BrowserProcess {
  public:
    BrowserProcess() = default;
    ~BrowserProcess();
    BrowserProcess(const BrowserProcess&) = delete;
    BrowserProcess& operator=(const BrowserProcess&) = delete;

    // Forks and execs the browser. Call while the worker has no other threads. On success
    // read_fd()/write_fd() are the DevTools pipe, to be handed to DevToolsClient (which
    // then owns them).
    bool start(const BrowserLaunch& launch, std::string* error);
    pid_t pid() const { return pid_; }
    int read_fd() const { return read_fd_; }
    int write_fd() const { return write_fd_; }
    // The command line, for diagnostics.
    const std::vector<std::string>& args() const { return args_; }

  private:
    pid_t pid_ = -1;
    int read_fd_ = -1;
    int write_fd_ = -1;
    std::string profile_dir_;
    std::vector<std::string> args_;
};

// The flags every Byparr Chromium runs with (the pipe and profile come on top).
std::vector<std::string> chromium_flags(const BrowserLaunch& launch);
// BYPARR_CHROMIUM_EXTRA_FLAGS's syntax: space-separated, double quotes group.
std::vector<std::string> split_flag_list(const std::string& list);

}  // namespace byparr::browser
