// What every byparrctl command shares: the command line, the context (state
// directory, admin socket), reading the server's JSON answers, and printing
// results and failures. One file per command group (cmd_*.cpp) uses it.
#pragma once

#include <Poco/JSON/Object.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "tools/admin_client.h"

namespace byparr::ctl {

constexpr int kOk = 0;
constexpr int kFail = 1;
constexpr int kUsage = 2;

struct Options {
    bool json = false;
    bool help = false;
    std::string socket, state_dir, url;
    std::string user_agent, post, proxy, solver;
    bool has_user_agent = false, has_post = false, has_proxy = false, has_solver = false;
    bool cookies_only = false;
    int timeout_s = 60;
    bool has_timeout = false;
    std::vector<std::string> args;
};

class UsageError : public std::runtime_error {
  public:
    using std::runtime_error::runtime_error;
};

Options parse_args(int argc, char** argv);

// Options that only make sense for one command are refused elsewhere, so a typo'd
// command line fails loudly instead of silently ignoring a setting.
void check_options(const Options& o, const std::string& command);

struct Context {
    Options opt;
    std::string state_dir, socket;
};

Poco::JSON::Object::Ptr parse_object(const std::string& body);
std::string str(const Poco::JSON::Object::Ptr& o, const std::string& key,
                const std::string& fallback = "");
double num(const Poco::JSON::Object::Ptr& o, const std::string& key, double fallback = 0);
bool boolean(const Poco::JSON::Object::Ptr& o, const std::string& key);
std::string fixed(double v, int digits);
std::string integer(double v);
std::string bytes(double b);
/// The server's error message, or the raw body when it is not our JSON.
std::string error_message(const Reply& r);
/// Prints "byparrctl: message" to stderr; returns kFail.
int fail(const std::string& message);
Reply admin(const Context& c, const std::string& method, const std::string& path,
            const std::string& body = "");
/// Prints a simple {"status","message"} answer; non-2xx is a failure.
int print_result(const Context& c, const Reply& r, const std::string& fallback);

// The command groups, one file each.
int cmd_plugins(Context& c);   // cmd_plugins.cpp
int cmd_stats(Context& c);     // cmd_stats.cpp
int cmd_cache(Context& c);     // cmd_cache.cpp
int cmd_sessions(Context& c);  // cmd_sessions.cpp
int cmd_cookies(Context& c);   // cmd_cookies.cpp
int cmd_solve(Context& c);     // cmd_solve.cpp

}  // namespace byparr::ctl
