// The clearance cache: cookies that cleared a challenge, reused for later
// requests to the same site through the same proxy with the same user agent
// (Cloudflare binds cf_clearance to the UA and the client IP), and single-flight
// solving, so a burst of requests for one site costs one solve.
//
// Lookups are memory only (a hash lookup under a shared lock, microseconds);
// SQLite (<state_dir>/cache.db) is written on every change and read once at
// start; Redis (CACHE_BACKEND) is written on every change and read on a memory
// miss, so instances sharing it reuse each other's clearances.
//
// It also keeps the per-site engine memory (which solver passed a site), under
// the site key, in the same three places and with the same failure rules.
//
// Thread-safe. Failures of SQLite or Redis never fail a call: the cache logs a
// warning and carries on in memory.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "core/solution.h"
#include "core/v1_request.h"

namespace byparr {

/// What a clearance is valid for.
struct ClearanceKey {
    std::string site;        // registrable domain of the URL host ("example.co.uk")
    std::string user_agent;  // the UA the cookies were obtained with
    std::string proxy;       // proxy_identity(): "" for none; never holds a password
    bool operator==(const ClearanceKey&) const = default;

    /// site + proxy: the single-flight key and the key of get_any_agent().
    std::string site_proxy() const { return site + '|' + proxy; }
};

/// "scheme://[user@]host:port" of a proxy, lower-cased, without the password
/// (neither ProxySpec::password nor one embedded in the URL): two proxy
/// accounts are different exits, but the password must not reach the cache
/// file, Redis or `byparrctl cache list`. "" for no proxy.
std::string proxy_identity(const ProxySpec& proxy);

/// registrable_domain() of the URL's host; "" when the URL has no host.
std::string site_of_url(std::string_view url);

/// {site_of_url(url), user_agent, proxy_identity(proxy)}.
ClearanceKey make_clearance_key(std::string_view url, std::string_view user_agent,
                                const ProxySpec& proxy);

struct ClearanceEntry {
    std::vector<Cookie> cookies;
    std::string user_agent;  // == key.user_agent; the cookies are only valid with it
    int64_t created_s = 0;   // unix seconds
    int64_t expires_s = 0;   // unix seconds; a miss from then on
};

struct ClearanceRecord {
    ClearanceKey key;
    ClearanceEntry entry;
};

/// The solver that last passed a site (per-site engine memory): tried first for
/// the site next time, so a site that only a later solver of the chain gets
/// past does not cost every request an ESCALATE_AFTER on the first one.
struct SiteSolver {
    std::string site;    // registrable domain, as ClearanceKey::site
    std::string solver;  // component id
    int64_t created_s = 0;
    int64_t expires_s = 0;
};

class ClearanceCache {
public:
    struct Options {
        int64_t duration_s = 0;   // CACHE_DURATION; <= 0 disables the cache entirely
        std::string state_dir;    // "" → no persistence; created (0700) if missing
        std::string backend_url;  // CACHE_BACKEND: "" or redis://[:password@]host[:port][/db]
        /// Wall clock in unix seconds; tests inject one. Default: system_clock.
        std::function<int64_t()> clock;
    };

    /// Loads <state_dir>/cache.db (purging expired rows) and connects to the
    /// backend. Never throws for I/O reasons: a corrupt database is renamed to
    /// cache.db.corrupt-<epoch> and replaced, an unwritable one leaves the cache
    /// memory-only, an unreachable Redis is retried later; each with a warning.
    explicit ClearanceCache(Options options);
    ~ClearanceCache();
    ClearanceCache(const ClearanceCache&) = delete;
    ClearanceCache& operator=(const ClearanceCache&) = delete;

    bool enabled() const { return options_.duration_s > 0; }
    /// SQLite is in use (false: memory-only, by choice or after a failure).
    bool persistent() const;
    /// A Redis backend is configured and its last operation succeeded.
    bool shared() const;

    /// The fresh entry for exactly this key, or nullopt (also when disabled).
    std::optional<ClearanceEntry> get(const ClearanceKey& key);
    /// The most recent fresh entry for key.site + key.proxy, whatever its user
    /// agent (key.user_agent is ignored): for requests that bring no UA. The
    /// caller must then use entry.user_agent, since the cookies are bound to it.
    std::optional<ClearanceEntry> get_any_agent(const ClearanceKey& key);

    /// Stores the cookies a solve produced under key (key.user_agent must be the
    /// UA the solver used: Solution::user_agent). Cookies already expired are
    /// dropped; expires_s = min(now + duration, earliest expires_s > 0 among
    /// the cookies). Returns the stored entry; nullopt when disabled, when the
    /// key has no site or when the result would already be expired.
    std::optional<ClearanceEntry> put(const ClearanceKey& key, std::vector<Cookie> cookies);

    /// Drops the entry for key (the site challenged again despite its
    /// cookies), here, in SQLite and in Redis. True if there was one in memory.
    /// Other instances sharing Redis keep a copy they already read until it
    /// expires or their own next request for the site is challenged.
    bool invalidate(const ClearanceKey& key);

    /// Drops every entry of a site (host, site or URL; normalised with
    /// registrable_domain), or all entries when site is empty. Returns how many
    /// were dropped from memory; SQLite and Redis are cleared as well.
    size_t flush(std::string_view site = {});

    /// Fresh entries of this instance (memory), sorted by site, proxy and UA:
    /// for `byparrctl cache list`. Entries only in Redis are not listed.
    std::vector<ClearanceRecord> list() const;

    /// Fresh entries in memory (a gauge; expired ones not yet purged excluded).
    size_t size() const;

    /// The solver that passed `site` (a ClearanceKey::site) within
    /// site_solver_lifetime_s(), from memory, else from Redis; nullopt when
    /// none or when the cache is disabled.
    std::optional<std::string> site_solver(const std::string& site);
    /// Remembers that `solver` passed `site`, here, in SQLite and in Redis. A
    /// repeat of what is remembered is written again only once half its
    /// lifetime is gone, so a busy site does not cost a write per request.
    void remember_site_solver(const std::string& site, const std::string& solver);
    /// Sites with a remembered solver, sorted by site (byparrctl, tests).
    std::vector<SiteSolver> site_solvers() const;
    /// How long a remembered solver stays: max(1 day, 2 x CACHE_DURATION).
    /// Longer than a clearance on purpose: the memory matters exactly when the
    /// clearance has run out and the site must be solved again. A site's
    /// protection level changes over days, not hours; a stale memory costs
    /// little (the remembered solver is tried first and, if it no longer
    /// passes, escalation relearns), while a forgotten one costs ESCALATE_AFTER.
    int64_t site_solver_lifetime_s() const;

private:
    class SqliteStore;
    class RedisStore;
    struct Slot {  // all entries of one site + proxy, by user agent
        std::string site, proxy;
        std::map<std::string, ClearanceEntry> by_agent;
    };

    int64_t now_s() const;
    void insert_locked(const ClearanceKey& key, ClearanceEntry entry);
    void purge_expired_locked(int64_t now);

    Options options_;
    mutable std::shared_mutex mu_;                    // guards slots_ and site_solvers_
    std::unordered_map<std::string, Slot> slots_;     // by ClearanceKey::site_proxy()
    std::map<std::string, SiteSolver> site_solvers_;  // by site
    std::mutex write_mu_;  // orders writers, so memory, SQLite and Redis agree
    std::unique_ptr<SqliteStore> sqlite_;
    std::unique_ptr<RedisStore> redis_;
};

/// Single-flight solving: the first request for a key leads (solves), the ones
/// that arrive while it runs follow (wait for its outcome instead of solving).
///
///   auto t = flights.join_or_lead(key.site_proxy());
///   if (t.leader()) { SolveOutcome o = solve(); t.publish(o); }
///   else if (auto o = t.wait(deadline)) { /* reuse *o */ } else { /* own timeout */ }
///
/// A leader Ticket destroyed without publish() publishes an internal error, so
/// followers never wait for a leader that threw or returned early.
class SingleFlight {
    struct Flight;

public:
    class Ticket {
    public:
        Ticket(Ticket&& other) noexcept;
        Ticket& operator=(Ticket&&) = delete;
        Ticket(const Ticket&) = delete;
        ~Ticket();

        bool leader() const { return leader_; }
        /// Followers waiting on this flight right now (for tests and metrics).
        size_t followers() const;
        /// Leader only: hands the outcome to every follower (present and
        /// joining until now) and ends the flight; later calls are ignored.
        void publish(const SolveOutcome& outcome);
        /// Follower only: the leader's outcome, or nullopt at the deadline.
        std::optional<SolveOutcome> wait(std::chrono::steady_clock::time_point deadline) const;

    private:
        friend class SingleFlight;
        Ticket(SingleFlight* owner, std::string key, std::shared_ptr<Flight> f, bool leader);
        SingleFlight* owner_;
        std::string key_;
        std::shared_ptr<Flight> flight_;
        bool leader_;
    };

    Ticket join_or_lead(const std::string& key);
    /// Keys being solved right now.
    size_t in_flight() const;

private:
    struct Flight {
        std::mutex mu;
        std::condition_variable cv;
        std::optional<SolveOutcome> outcome;
        size_t followers = 0;
    };
    void finish(const std::string& key, const std::shared_ptr<Flight>& f, SolveOutcome outcome);

    mutable std::mutex mu_;
    std::unordered_map<std::string, std::shared_ptr<Flight>> flights_;
};

}  // namespace byparr
