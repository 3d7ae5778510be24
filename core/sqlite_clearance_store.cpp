// The clearance cache's file: <state_dir>/cache.db, SQLite in WAL mode. Read
// once at start, written on every change; a failing disk turns it into a
// no-op with one warning per outage.
#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <unistd.h>

#include <filesystem>
#include <mutex>
#include <system_error>

#include "core/clearance_store.h"
#include "core/log.h"

namespace fs = std::filesystem;
using namespace Poco::Data::Keywords;

namespace byparr {

namespace {

constexpr const char* kComponent = "cache";

class SqliteClearanceStore final : public ClearanceStore {
  public:
    /// nullptr (after a warning) when no writable database can be had; then
    /// `salvaged` holds the rows of a database that can only be read.
    static std::unique_ptr<SqliteClearanceStore> open(const std::string& dir, int64_t now,
                                                      std::vector<ClearanceRecord>& salvaged) {
        static std::once_flag registered;
        std::call_once(registered, [] { Poco::Data::SQLite::Connector::registerConnector(); });

        std::error_code ec;
        // Cookies are credentials: a directory made here is the owner's only
        // (an existing one keeps the permissions its admin chose).
        if (fs::create_directories(dir, ec) && !ec)
            fs::permissions(dir, fs::perms::owner_all, fs::perm_options::replace, ec);
        if (ec) {
            log::warning(kComponent,
                         "cannot create state directory {}: {}; the clearance cache "
                         "is memory-only",
                         dir, ec.message());
            return nullptr;
        }
        std::string path = (fs::path(dir) / "cache.db").string();
        bool exists = fs::exists(path, ec);
        // Checked up front: Poco retries a failing open until its login
        // timeout, which would stall the start for that long. WAL mode also
        // needs to create files next to the database.
        if (::access(dir.c_str(), W_OK | X_OK) != 0 ||
            (exists && ::access(path.c_str(), R_OK | W_OK) != 0)) {
            if (exists && ::access(path.c_str(), R_OK) == 0) salvaged = load_read_only(path, now);
            log::warning(
                kComponent, "{} is not writable; the clearance cache is memory-only{}",
                exists ? path : dir,
                salvaged.empty() ? "" : fmt::format(" ({} entries read)", salvaged.size()));
            return nullptr;
        }
        bool corrupt = false;
        std::string why;
        if (auto s = try_open(path, corrupt, why)) return s;
        if (corrupt && fs::exists(path, ec)) {
            std::string aside = path + ".corrupt-" + std::to_string(now);
            fs::rename(path, aside, ec);
            if (ec) {
                log::warning(kComponent,
                             "{} is corrupt ({}) and cannot be set aside: {}; the "
                             "clearance cache is memory-only",
                             path, why, ec.message());
                return nullptr;
            }
            // A WAL belongs to the file it was written for; it must not be
            // replayed into the new one.
            for (const char* ext : {"-wal", "-shm"}) {
                if (fs::exists(path + ext, ec)) fs::rename(path + ext, aside + ext, ec);
            }
            log::warning(kComponent,
                         "{} is corrupt ({}): moved to {}, starting with an empty "
                         "clearance cache",
                         path, why, aside);
            if (auto s = try_open(path, corrupt, why)) return s;
        }
        log::warning(kComponent, "cannot use {}: {}; the clearance cache is memory-only", path,
                     why);
        return nullptr;
    }

    /// All rows; expired ones are deleted first.
    std::vector<ClearanceRecord> load(int64_t now) override {
        std::lock_guard<std::mutex> lock(mu_);
        try {
            session_ << "DELETE FROM clearance WHERE expires_s <= ?", use(now), now_;
            return read_rows(session_, now);
        } catch (const Poco::Exception& e) {
            log::warning(kComponent, "cannot read the clearance cache: {}", e.displayText());
        }
        return {};
    }

    void store(const ClearanceRecord& r, int64_t now) override {
        write("store", [&] {
            std::string site = r.key.site, ua = r.key.user_agent, proxy = r.key.proxy;
            std::string cookies = clearance_json::cookies(r.entry.cookies);
            Poco::Int64 created = r.entry.created_s, expires = r.entry.expires_s, t = now;
            session_ << "INSERT OR REPLACE INTO clearance "
                        "(site, user_agent, proxy, cookies, created_s, expires_s) "
                        "VALUES (?, ?, ?, ?, ?, ?)",
                use(site), use(ua), use(proxy), use(cookies), use(created), use(expires), now_;
            // Purging here keeps the file as small as the live set without a timer.
            session_ << "DELETE FROM clearance WHERE expires_s <= ?", use(t), now_;
        });
    }

    /// Fresh remembered solvers; expired ones are deleted first.
    std::vector<SiteSolver> load_site_solvers(int64_t now) override {
        std::lock_guard<std::mutex> lock(mu_);
        std::vector<SiteSolver> out;
        try {
            Poco::Int64 t = now;
            session_ << "DELETE FROM site_solver WHERE expires_s <= ?", use(t), now_;
            std::vector<std::string> sites, solvers;
            std::vector<Poco::Int64> created, expires;
            session_ << "SELECT site, solver, created_s, expires_s FROM site_solver", into(sites),
                into(solvers), into(created), into(expires), now_;
            for (size_t i = 0; i < sites.size(); ++i)
                out.push_back(SiteSolver{sites[i], solvers[i], created[i], expires[i]});
        } catch (const Poco::Exception& e) {
            log::warning(kComponent, "cannot read the site solvers: {}", e.displayText());
        }
        return out;
    }

    void store_site_solver(const SiteSolver& m, int64_t now) override {
        write("store a site solver", [&] {
            std::string site = m.site, solver = m.solver;
            Poco::Int64 created = m.created_s, expires = m.expires_s, t = now;
            session_ << "INSERT OR REPLACE INTO site_solver (site, solver, created_s, expires_s) "
                        "VALUES (?, ?, ?, ?)",
                use(site), use(solver), use(created), use(expires), now_;
            session_ << "DELETE FROM site_solver WHERE expires_s <= ?", use(t), now_;
        });
    }

    void erase(const ClearanceKey& key) override {
        write("delete", [&] {
            std::string site = key.site, ua = key.user_agent, proxy = key.proxy;
            session_ << "DELETE FROM clearance WHERE site = ? AND user_agent = ? AND proxy = ?",
                use(site), use(ua), use(proxy), now_;
        });
    }

    void erase_site(const std::string& site) override {
        write("flush", [&] {
            if (site.empty()) {
                session_ << "DELETE FROM clearance", now_;
                session_ << "DELETE FROM site_solver", now_;
            } else {
                std::string s = site;
                session_ << "DELETE FROM clearance WHERE site = ?", use(s), now_;
                session_ << "DELETE FROM site_solver WHERE site = ?", use(s), now_;
            }
        });
    }

  private:
    // Poco's `now` keyword clashes with our local variables' name; alias it.
    static constexpr auto& now_ = Poco::Data::Keywords::now;

    explicit SqliteClearanceStore(Poco::Data::Session s) : session_(std::move(s)) {}

    // Poco retries a failing open for this long; the access() checks in open()
    // make that rare, this bounds it.
    static constexpr std::size_t kLoginTimeoutS = 2;

    /// Fresh rows of session's clearance table; malformed ones are skipped.
    static std::vector<ClearanceRecord> read_rows(Poco::Data::Session& session, int64_t now) {
        std::vector<std::string> sites, agents, proxies, cookies;
        std::vector<Poco::Int64> created, expires;
        Poco::Int64 t = now;
        session << "SELECT site, user_agent, proxy, cookies, created_s, expires_s "
                   "FROM clearance WHERE expires_s > ?",
            use(t), into(sites), into(agents), into(proxies), into(cookies), into(created),
            into(expires), now_;
        std::vector<ClearanceRecord> out;
        for (size_t i = 0; i < sites.size(); ++i) {
            ClearanceRecord r;
            r.key = ClearanceKey{sites[i], agents[i], proxies[i]};
            try {
                r.entry.cookies = clearance_json::parse_cookies(cookies[i]);
            } catch (const Poco::Exception& e) {
                log::warning(kComponent, "skipping a malformed cache row for {}: {}", sites[i],
                             e.displayText());
                continue;
            }
            r.entry.user_agent = agents[i];
            r.entry.created_s = created[i];
            r.entry.expires_s = expires[i];
            out.push_back(std::move(r));
        }
        return out;
    }

    /// Reads a database that cannot be written (read-only file or directory),
    /// so a restart on a read-only volume still reuses what it holds.
    static std::vector<ClearanceRecord> load_read_only(const std::string& path, int64_t now) {
        // immutable=1: a WAL database cannot be opened read-only when its
        // -shm cannot be created; a cleanly closed database has no WAL left.
        for (const char* mode : {"?mode=ro", "?mode=ro&immutable=1"}) {
            try {
                Poco::Data::Session s("SQLite", "file:" + path + mode, kLoginTimeoutS);
                return read_rows(s, now);
            } catch (const Poco::Exception& e) {
                log::debug(kComponent, "reading {} read-only ({}): {}", path, mode,
                           e.displayText());
            }
        }
        return {};
    }

    static std::unique_ptr<SqliteClearanceStore> try_open(const std::string& path, bool& corrupt,
                                                          std::string& why) {
        corrupt = false;
        try {
            Poco::Data::Session s("SQLite", path, kLoginTimeoutS);
            std::vector<std::string> check;
            s << "PRAGMA integrity_check", into(check), now_;
            if (check.size() != 1 || check[0] != "ok") {
                corrupt = true;
                why = "integrity check: " + (check.empty() ? std::string("no result") : check[0]);
                return nullptr;
            }
            // WAL: readers never block the writer; NORMAL sync is durable
            // across process crashes, which is what a cache needs.
            s << "PRAGMA journal_mode=WAL", now_;
            s << "PRAGMA synchronous=NORMAL", now_;
            s << "PRAGMA busy_timeout=2000", now_;
            s << "CREATE TABLE IF NOT EXISTS clearance ("
                 "site TEXT NOT NULL, user_agent TEXT NOT NULL, proxy TEXT NOT NULL, "
                 "cookies TEXT NOT NULL, created_s INTEGER NOT NULL, "
                 "expires_s INTEGER NOT NULL, PRIMARY KEY (site, user_agent, proxy))",
                now_;
            s << "CREATE TABLE IF NOT EXISTS site_solver ("
                 "site TEXT PRIMARY KEY, solver TEXT NOT NULL, created_s INTEGER NOT NULL, "
                 "expires_s INTEGER NOT NULL)",
                now_;
            std::error_code ec;
            for (const char* ext : {"", "-wal", "-shm"}) {
                if (fs::exists(path + ext, ec))
                    fs::permissions(path + ext, fs::perms::owner_read | fs::perms::owner_write,
                                    fs::perm_options::replace, ec);
            }
            return std::unique_ptr<SqliteClearanceStore>(new SqliteClearanceStore(std::move(s)));
        } catch (const Poco::Data::SQLite::CorruptImageException& e) {
            corrupt = true;
            why = e.displayText();
        } catch (const Poco::Exception& e) {
            why = e.displayText();
            // SQLITE_NOTADB and a few corruption codes arrive as generic
            // exceptions; their messages are SQLite's fixed texts.
            corrupt = why.find("not a database") != std::string::npos ||
                      why.find("malformed") != std::string::npos ||
                      why.find("corrupt") != std::string::npos;
        } catch (const std::exception& e) {
            why = e.what();
        }
        return nullptr;
    }

    template <typename F>
    void write(const char* what, F&& body) {
        std::lock_guard<std::mutex> lock(mu_);
        try {
            session_.begin();
            try {
                body();
                session_.commit();
            } catch (...) {
                if (session_.isTransaction()) session_.rollback();
                throw;
            }
            if (failing_) log::info(kComponent, "the clearance cache file is writable again");
            failing_ = false;
        } catch (const Poco::Exception& e) {
            // Once per outage: a read-only or full disk would otherwise log on
            // every solve.
            if (!failing_)
                log::warning(kComponent, "cannot {} in the clearance cache file: {}", what,
                             e.displayText());
            failing_ = true;
        }
    }

    std::mutex mu_;
    Poco::Data::Session session_;
    bool failing_ = false;
};

}  // namespace

std::unique_ptr<ClearanceStore> open_sqlite_clearance_store(
    const std::string& dir, int64_t now, std::vector<ClearanceRecord>& salvaged) {
    return SqliteClearanceStore::open(dir, now, salvaged);
}

}  // namespace byparr
