// BROWSER_DISPLAY=xvfb: a private X server for one worker, so Chromium gets a GL context
// (Mesa llvmpipe) and pages get WebGL, which the offscreen platform cannot give.
//
// Lifecycle: started by the worker before QApplication exists (Qt's xcb platform connects
// in the constructor). Xvfb stays in the worker's process group, which the supervisor ends
// with one kill(-pgid) (as it does Chromium's children), and has PR_SET_PDEATHSIG set, so it
// also goes when the worker dies alone. The destructor ends it on an orderly exit.
#pragma once

#include <sys/types.h>

#include <string>

namespace byparr::browser {

class XvfbDisplay {
  public:
    XvfbDisplay() = default;
    ~XvfbDisplay();
    XvfbDisplay(const XvfbDisplay&) = delete;
    XvfbDisplay& operator=(const XvfbDisplay&) = delete;

    // Starts `Xvfb -displayfd` with one screen of width x height x 24 and waits (at most
    // timeout_ms) for it to announce its display. On success display() is ":<n>" and
    // authority() the file with its cookie (to be XAUTHORITY): without one, any local user
    // could connect to the display and read the pages. The file is written into dir (0700).
    bool start(int width, int height, int timeout_ms, const std::string& dir, std::string* error);
    const std::string& display() const { return display_; }
    const std::string& authority() const { return authority_; }
    pid_t pid() const { return pid_; }

  private:
    pid_t pid_ = -1;
    std::string display_;
    std::string authority_;
};

}  // namespace byparr::browser
