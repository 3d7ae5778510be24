// The clearance cache: cookies that cleared a challenge, reused for later
// requests to the same site through the same proxy with the same user agent
// (Cloudflare binds cf_clearance to the UA and the client IP).
//
// Lookups are memory only (a hash lookup under a shared lock, microseconds).
// Behind memory sit up to two ClearanceStores (core/clearance_store.h):
// SQLite (<state_dir>/cache.db), read once at start, and Redis
// (CACHE_BACKEND), read on a memory miss; both are written on every change.
//
// It also keeps the per-site engine memory (which solver passed a site), under
// the site key, in the same three places and with the same failure rules.
//
// Thread-safe. Failures of SQLite or Redis never fail a call: the store logs a
// warning and the cache carries on in memory.
//
// The key lives in core/clearance_key.h, single flight in core/single_flight.h;
// both are included here for the callers that used to find them in this file.
#pragma once

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

#include "core/clearance_key.h"
#include "core/clearance_store.h"
#include "core/single_flight.h"
#include "core/solution.h"

namespace byparr {

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
    std::mutex write_mu_;                     // orders writers, so memory, SQLite and Redis agree
    std::unique_ptr<ClearanceStore> sqlite_;  // read at start
    std::unique_ptr<ClearanceStore> redis_;   // read on a miss
};

}  // namespace byparr
