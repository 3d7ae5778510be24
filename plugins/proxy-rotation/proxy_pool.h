// The proxy pool behind the proxy-rotation plugin: list parsing, the three
// strategies and benching, without the plugin SDK so unit tests can drive time.
#pragma once

#include <chrono>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace byparr::proxy_rotation {

enum class Strategy { kRoundRobin = 1, kStickyPerSite, kRotateOnBlock };

std::optional<Strategy> parse_strategy(std::string_view name);
const char* to_string(Strategy s);

/// "user:pass@host:1" → "http://user:pass@host:1"; checks scheme and port. An entry may
/// end in a zone annotation, "#country=DE" or "#tz=Europe/Berlin" (both: "&"), kept as is
/// for the host (core/time_zones.h). Returns nullopt and sets *error on a bad entry.
std::optional<std::string> normalise_proxy_url(std::string_view entry, std::string* error);

/// The entry's URL without its zone annotation.
std::string_view without_annotation(std::string_view entry);

/// PROXY_LIST entries: separated by commas, blanks or newlines; `#` at the start of an
/// entry starts a comment (to the end of the line) so a file can be annotated, while a
/// `#` inside an entry is its zone annotation.
std::vector<std::string> split_proxy_list(std::string_view text);

/// The URL with the password replaced, for logs: credentials are secrets.
std::string redact(std::string_view proxy_url);

/// The part of a host that one site owns: its last two labels, or three under
/// a two-letter country code with a generic second level (example.co.uk). IP
/// addresses are their own site.
std::string site_key(std::string_view host);

/// What a request's outcome says about the proxy it used.
enum class Feedback {
    kOk = 1,
    kProxyFailure,  // proxy or network error: the proxy is broken
    kBlocked,       // the site refused this client: the proxy's IP is burnt there
    kOther          // the request failed for a reason that is not the proxy's
};

class ProxyPool {
  public:
    using Clock = std::chrono::steady_clock;

    ProxyPool(std::vector<std::string> proxies, Strategy strategy, std::chrono::seconds bench);

    /// The proxy for a request to url; nullopt when the pool is empty or every
    /// proxy is benched.
    std::optional<std::string> pick(std::string_view url, Clock::time_point now = Clock::now());
    /// Feedback after the request. Returns true when it benched the proxy.
    bool report(std::string_view proxy, std::string_view url, Feedback feedback,
                Clock::time_point now = Clock::now());

    size_t size() const { return proxies_.size(); }
    size_t benched(Clock::time_point now = Clock::now());
    Strategy strategy() const { return strategy_; }
    std::chrono::seconds bench_duration() const { return bench_; }

  private:
    bool usable(size_t i, Clock::time_point now) const { return bench_until_[i] <= now; }
    std::optional<size_t> next_usable(size_t from, Clock::time_point now) const;

    std::vector<std::string> proxies_;
    Strategy strategy_;
    std::chrono::seconds bench_;
    std::mutex mu_;
    std::vector<Clock::time_point> bench_until_;
    size_t next_ = 0;                       // round-robin cursor
    size_t current_ = 0;                    // rotate-on-block: the proxy in use until it is blocked
    std::map<std::string, size_t> sticky_;  // site → proxy index
};

}  // namespace byparr::proxy_rotation
