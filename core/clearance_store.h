// Where clearances live besides memory: the store interface the clearance
// cache writes through, and the records it stores. Two stores implement it:
//   - sqlite_clearance_store: <state_dir>/cache.db, read once at start
//     (load_*), written on every change;
//   - redis_clearance_store: CACHE_BACKEND, read on a memory miss (find_*),
//     written on every change, shared between instances.
// A store never throws and never fails a call: it logs and carries on, and
// the cache keeps working in memory.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clearance_key.h"
#include "core/solution.h"

namespace byparr {

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

/// A place clearances and site solvers are kept. Every call is thread-safe
/// and best effort (see the file comment). `now` is unix seconds.
class ClearanceStore {
  public:
    virtual ~ClearanceStore() = default;

    /// Fresh records / site solvers, for a store read once at start; expired
    /// ones may be purged. A store read on a miss returns nothing here.
    virtual std::vector<ClearanceRecord> load(int64_t /*now*/) { return {}; }
    virtual std::vector<SiteSolver> load_site_solvers(int64_t /*now*/) { return {}; }

    /// The record for exactly this key / the latest one of key.site_proxy()
    /// whatever its agent / the site's solver, for a store read on a miss.
    virtual std::optional<ClearanceRecord> find(const ClearanceKey&) { return std::nullopt; }
    virtual std::optional<ClearanceRecord> find_latest(const ClearanceKey&) { return std::nullopt; }
    virtual std::optional<SiteSolver> find_site_solver(const std::string& /*site*/) {
        return std::nullopt;
    }

    virtual void store(const ClearanceRecord& record, int64_t now) = 0;
    virtual void store_site_solver(const SiteSolver& solver, int64_t now) = 0;
    virtual void erase(const ClearanceKey& key) = 0;
    /// Every record and the site solver of `site`; everything when empty.
    virtual void erase_site(const std::string& site) = 0;

    /// The last operation succeeded (a shared store reports its reachability).
    virtual bool healthy() const { return true; }
};

/// The JSON both stores keep records in (SQLite's cookies column, Redis
/// values). The parsers log and return nullopt/empty on malformed input,
/// except parse_cookies_json, which throws Poco::Exception (the caller names
/// the row it skips).
namespace clearance_json {
std::string cookies(const std::vector<Cookie>& cookies);
std::vector<Cookie> parse_cookies(const std::string& json);
std::string record(const ClearanceRecord& r);
std::optional<ClearanceRecord> parse_record(const std::string& json);
std::string site_solver(const SiteSolver& m);
std::optional<SiteSolver> parse_site_solver(const std::string& json);
}  // namespace clearance_json

/// <dir>/cache.db. nullptr (after a warning) when no writable database can be
/// had: then `salvaged` holds the rows of a database that can only be read.
/// A corrupt database is renamed to cache.db.corrupt-<now> and replaced.
std::unique_ptr<ClearanceStore> open_sqlite_clearance_store(const std::string& dir, int64_t now,
                                                            std::vector<ClearanceRecord>& salvaged);

/// redis://[:password@]host[:port][/db]; nullptr (after a warning) when the URL
/// is not one. Connects lazily; a dead backend is retried every few seconds.
std::unique_ptr<ClearanceStore> make_redis_clearance_store(const std::string& url);

}  // namespace byparr
