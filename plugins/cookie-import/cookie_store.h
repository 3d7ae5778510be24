// The watched folder of imported cookie files. The files themselves are the
// persistence: the store re-reads a file when its mtime or size (or its `.ua`
// sidecar's) changed, found by a cheap stat on lookup rather than by a polling
// thread (create() runs first in a forked probe child, where threads must not
// be started). A file that fails to parse is reported once with its line, and
// the cookies read from it before stay in use.
#pragma once

#include <sys/stat.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "cookie_parsers.h"

namespace byparr::cookie_import {

class CookieStore {
  public:
    /// level: 'i' info, 'w' warning, 'e' error.
    using Logger = std::function<void(char level, const std::string& message)>;

    CookieStore(std::string dir, Logger log);

    struct Match {
        std::vector<ImportedCookie> cookies;
        std::string user_agent;  // of the newest file that supplied a cookie
        bool empty() const { return cookies.empty(); }
    };

    /// Cookies for url (domain, path, secure, expiry rules); rescans if needed.
    Match lookup(const std::string& url);
    /// Rescans now when the folder or a file changed. Also called by lookup().
    void refresh();

    const std::string& dir() const { return dir_; }
    size_t file_count();

    /// Files larger than this are refused: a cookie export is kilobytes.
    static constexpr off_t kMaxFileBytes = 8 << 20;
    /// How often files are re-stat'ed when the folder itself did not change
    /// (an editor saving in place does not touch the folder's mtime).
    static constexpr std::chrono::milliseconds kRestatInterval{1000};

  private:
    struct Signature {
        int64_t mtime_ns = -1, size = -1, ua_mtime_ns = -1, ua_size = -1;
        bool operator==(const Signature&) const = default;
    };
    struct FileState {
        Signature sig;
        std::vector<ImportedCookie> cookies;
        std::string user_agent;
        int64_t order = 0;  // mtime of the last good parse: newer files win
    };

    void refresh_locked();
    void load_file(const std::string& name, const Signature& sig, FileState& st, bool is_new);

    std::string dir_;
    Logger log_;
    std::mutex mu_;
    std::map<std::string, FileState> files_;
    int64_t dir_mtime_ns_ = -1;
    std::chrono::steady_clock::time_point last_full_{};
};

}  // namespace byparr::cookie_import
