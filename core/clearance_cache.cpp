#include "core/clearance_cache.h"

#include <Poco/Data/SQLite/Connector.h>
#include <Poco/Data/SQLite/SQLiteException.h>
#include <Poco/Data/Session.h>
#include <Poco/Data/Statement.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Redis/Array.h>
#include <Poco/Redis/Client.h>
#include <Poco/Redis/Type.h>
#include <Poco/URI.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <filesystem>
#include <system_error>

#include "core/json_writer.h"
#include "core/log.h"
#include "core/public_suffix.h"

namespace fs = std::filesystem;
using namespace Poco::Data::Keywords;

namespace byparr {

namespace {

constexpr const char* kComponent = "cache";

std::string lowered(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return out;
}

// The authority of a URL ("user:pw@host:port"), "" if it has none.
std::string_view authority_of(std::string_view url) {
    size_t p = url.find("://");
    if (p == std::string_view::npos) return {};
    url.remove_prefix(p + 3);
    return url.substr(0, url.find_first_of("/?#"));
}

// ---- JSON of cookies and records (SQLite column and Redis value) ----

void write_cookies(JsonWriter& w, const std::vector<Cookie>& cookies) {
    w.begin_array();
    for (const Cookie& c : cookies) {
        w.begin_object()
            .field("name", c.name)
            .field("value", c.value)
            .field("domain", c.domain)
            .field("path", c.path)
            .field("sameSite", c.same_site)
            .field("expires", c.expires_s)
            .field("httpOnly", c.http_only)
            .field("secure", c.secure)
            .end_object();
    }
    w.end_array();
}

std::vector<Cookie> read_cookies(const Poco::JSON::Array::Ptr& a) {
    std::vector<Cookie> out;
    if (!a) return out;
    for (size_t i = 0; i < a->size(); ++i) {
        auto o = a->getObject(static_cast<unsigned>(i));
        if (!o) continue;
        Cookie c;
        c.name = o->optValue<std::string>("name", "");
        c.value = o->optValue<std::string>("value", "");
        c.domain = o->optValue<std::string>("domain", "");
        c.path = o->optValue<std::string>("path", "");
        c.same_site = o->optValue<std::string>("sameSite", "");
        c.expires_s = o->optValue<Poco::Int64>("expires", -1);
        c.http_only = o->optValue<bool>("httpOnly", false);
        c.secure = o->optValue<bool>("secure", false);
        out.push_back(std::move(c));
    }
    return out;
}

std::string cookies_json(const std::vector<Cookie>& cookies) {
    JsonWriter w;
    write_cookies(w, cookies);
    return w.take();
}

std::vector<Cookie> parse_cookies_json(const std::string& json) {
    Poco::JSON::Parser parser;
    return read_cookies(parser.parse(json).extract<Poco::JSON::Array::Ptr>());
}

std::string record_json(const ClearanceRecord& r) {
    JsonWriter w;
    w.begin_object()
        .field("site", r.key.site)
        .field("proxy", r.key.proxy)
        .field("userAgent", r.key.user_agent)
        .field("created", r.entry.created_s)
        .field("expires", r.entry.expires_s)
        .key("cookies");
    write_cookies(w, r.entry.cookies);
    w.end_object();
    return w.take();
}

std::optional<ClearanceRecord> parse_record_json(const std::string& json) {
    try {
        Poco::JSON::Parser parser;
        auto o = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
        ClearanceRecord r;
        r.key.site = o->getValue<std::string>("site");
        r.key.proxy = o->getValue<std::string>("proxy");
        r.key.user_agent = o->getValue<std::string>("userAgent");
        r.entry.user_agent = r.key.user_agent;
        r.entry.created_s = o->getValue<Poco::Int64>("created");
        r.entry.expires_s = o->getValue<Poco::Int64>("expires");
        r.entry.cookies = read_cookies(o->getArray("cookies"));
        return r;
    } catch (const Poco::Exception& e) {
        log::warning(kComponent, "ignoring a malformed cache record: {}", e.displayText());
    } catch (const std::exception& e) {
        log::warning(kComponent, "ignoring a malformed cache record: {}", e.what());
    }
    return std::nullopt;
}

std::string site_solver_json(const SiteSolver& m) {
    JsonWriter w;
    w.begin_object()
        .field("site", m.site)
        .field("solver", m.solver)
        .field("created", m.created_s)
        .field("expires", m.expires_s)
        .end_object();
    return w.take();
}

std::optional<SiteSolver> parse_site_solver_json(const std::string& json) {
    try {
        Poco::JSON::Parser parser;
        auto o = parser.parse(json).extract<Poco::JSON::Object::Ptr>();
        SiteSolver m;
        m.site = o->getValue<std::string>("site");
        m.solver = o->getValue<std::string>("solver");
        m.created_s = o->getValue<Poco::Int64>("created");
        m.expires_s = o->getValue<Poco::Int64>("expires");
        return m;
    } catch (const Poco::Exception& e) {
        log::warning(kComponent, "ignoring a malformed site solver record: {}", e.displayText());
    } catch (const std::exception& e) {
        log::warning(kComponent, "ignoring a malformed site solver record: {}", e.what());
    }
    return std::nullopt;
}

}  // namespace

// ---- keys ----

std::string proxy_identity(const ProxySpec& proxy) {
    if (proxy.url.empty()) return "";
    std::string_view url = proxy.url;
    size_t p = url.find("://");
    std::string scheme = p == std::string_view::npos ? "http" : lowered(url.substr(0, p));
    std::string_view auth = authority_of(url);
    if (p == std::string_view::npos) auth = url.substr(0, url.find_first_of("/?#"));
    std::string user = proxy.username;
    size_t at = auth.rfind('@');
    if (at != std::string_view::npos) {
        std::string_view info = auth.substr(0, at);
        if (user.empty()) user = std::string(info.substr(0, info.find(':')));
        auth.remove_prefix(at + 1);
    }
    std::string id = scheme + "://";
    if (!user.empty()) id += user + "@";
    return id + lowered(auth);
}

std::string site_of_url(std::string_view url) {
    std::string_view auth = authority_of(url);
    size_t at = auth.rfind('@');
    if (at != std::string_view::npos) auth.remove_prefix(at + 1);
    return registrable_domain(auth);
}

ClearanceKey make_clearance_key(std::string_view url, std::string_view user_agent,
                                const ProxySpec& proxy) {
    return ClearanceKey{site_of_url(url), std::string(user_agent), proxy_identity(proxy)};
}

// ---- SQLite persistence ----

class ClearanceCache::SqliteStore {
public:
    /// nullptr (after a warning) when no writable database can be had; then
    /// `salvaged` holds the rows of a database that can only be read.
    static std::unique_ptr<SqliteStore> open(const std::string& dir, int64_t now,
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
    std::vector<ClearanceRecord> load(int64_t now) {
        std::lock_guard<std::mutex> lock(mu_);
        try {
            session_ << "DELETE FROM clearance WHERE expires_s <= ?", use(now), now_;
            return read_rows(session_, now);
        } catch (const Poco::Exception& e) {
            log::warning(kComponent, "cannot read the clearance cache: {}", e.displayText());
        }
        return {};
    }

    void upsert(const ClearanceRecord& r, int64_t now) {
        write("store", [&] {
            std::string site = r.key.site, ua = r.key.user_agent, proxy = r.key.proxy;
            std::string cookies = cookies_json(r.entry.cookies);
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
    std::vector<SiteSolver> load_site_solvers(int64_t now) {
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

    void upsert_site_solver(const SiteSolver& m, int64_t now) {
        write("store a site solver", [&] {
            std::string site = m.site, solver = m.solver;
            Poco::Int64 created = m.created_s, expires = m.expires_s, t = now;
            session_ << "INSERT OR REPLACE INTO site_solver (site, solver, created_s, expires_s) "
                        "VALUES (?, ?, ?, ?)",
                use(site), use(solver), use(created), use(expires), now_;
            session_ << "DELETE FROM site_solver WHERE expires_s <= ?", use(t), now_;
        });
    }

    void erase(const ClearanceKey& key) {
        write("delete", [&] {
            std::string site = key.site, ua = key.user_agent, proxy = key.proxy;
            session_ << "DELETE FROM clearance WHERE site = ? AND user_agent = ? AND proxy = ?",
                use(site), use(ua), use(proxy), now_;
        });
    }

    void erase_site(const std::string& site) {
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

    explicit SqliteStore(Poco::Data::Session s) : session_(std::move(s)) {}

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
                r.entry.cookies = parse_cookies_json(cookies[i]);
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

    static std::unique_ptr<SqliteStore> try_open(const std::string& path, bool& corrupt,
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
            return std::unique_ptr<SqliteStore>(new SqliteStore(std::move(s)));
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

// ---- Redis backend ----

class ClearanceCache::RedisStore {
public:
    static std::unique_ptr<RedisStore> create(const std::string& url) {
        try {
            Poco::URI uri(url);
            if (uri.getScheme() != "redis" || uri.getHost().empty()) {
                log::warning(kComponent,
                             "CACHE_BACKEND '{}' is not redis://host[:port][/db]; "
                             "ignored",
                             log::redact_url(url));
                return nullptr;
            }
            auto r = std::unique_ptr<RedisStore>(new RedisStore);
            r->host_ = uri.getHost();
            r->port_ = uri.getPort() == 0 ? 6379 : uri.getPort();
            std::string path = uri.getPath();
            if (path.size() > 1) r->db_ = std::stoi(path.substr(1));
            std::string info = uri.getUserInfo();
            if (!info.empty()) {
                size_t colon = info.find(':');
                r->user_ = info.substr(0, colon);
                if (colon != std::string::npos) r->password_ = info.substr(colon + 1);
            }
            r->redacted_ = log::redact_url(url);
            return r;
        } catch (const std::exception& e) {
            log::warning(kComponent, "CACHE_BACKEND '{}' is invalid ({}); ignored",
                         log::redact_url(url), e.what());
        }
        return nullptr;
    }

    bool healthy() const { return healthy_.load(); }

    std::optional<ClearanceRecord> get(const std::string& redis_key) {
        std::optional<ClearanceRecord> out;
        run([&](Poco::Redis::Client& c) {
            Poco::Redis::Array cmd;
            cmd << "GET" << redis_key;
            auto v = c.execute<Poco::Redis::BulkString>(cmd);
            if (!v.isNull()) out = parse_record_json(v.value());
        });
        return out;
    }

    void set(const ClearanceRecord& r, int64_t ttl_s) {
        std::string json = record_json(r);
        run([&](Poco::Redis::Client& c) {
            // Two keys: the entry, and the site's latest entry for requests
            // that bring no UA. Both expire with the clearance.
            for (const std::string& k : {entry_key(r.key), latest_key(r.key)}) {
                Poco::Redis::Array cmd;
                cmd << "SET" << k << json << "EX" << std::to_string(ttl_s);
                c.execute<std::string>(cmd);
            }
        });
    }

    std::optional<SiteSolver> get_site_solver(const std::string& site) {
        std::optional<SiteSolver> out;
        run([&](Poco::Redis::Client& c) {
            Poco::Redis::Array cmd;
            cmd << "GET" << kSiteSolverPrefix + site;
            auto v = c.execute<Poco::Redis::BulkString>(cmd);
            if (!v.isNull()) out = parse_site_solver_json(v.value());
        });
        return out;
    }

    void set_site_solver(const SiteSolver& m, int64_t ttl_s) {
        std::string json = site_solver_json(m);
        run([&](Poco::Redis::Client& c) {
            Poco::Redis::Array cmd;
            cmd << "SET" << kSiteSolverPrefix + m.site << json << "EX" << std::to_string(ttl_s);
            c.execute<std::string>(cmd);
        });
    }

    void erase(const ClearanceKey& key) {
        run([&](Poco::Redis::Client& c) {
            Poco::Redis::Array del;
            del << "DEL" << entry_key(key);
            c.execute<Poco::Int64>(del);
            Poco::Redis::Array get;
            get << "GET" << latest_key(key);
            auto v = c.execute<Poco::Redis::BulkString>(get);
            if (v.isNull()) return;
            auto r = parse_record_json(v.value());
            if (!r || r->key.user_agent == key.user_agent) {
                Poco::Redis::Array del2;
                del2 << "DEL" << latest_key(key);
                c.execute<Poco::Int64>(del2);
            }
        });
    }

    void erase_site(const std::string& site) {
        run([&](Poco::Redis::Client& c) {
            std::string tail = site.empty() ? "*" : glob_escape(site) + "|*";
            // The site solver key is the bare site: no "|proxy|ua" tail.
            std::string solver_tail = site.empty() ? "*" : glob_escape(site);
            for (const std::string& pattern :
                 {kEntryPrefix + tail, kLatestPrefix + tail, kSiteSolverPrefix + solver_tail}) {
                std::string cursor = "0";
                do {
                    Poco::Redis::Array scan;
                    scan << "SCAN" << cursor << "MATCH" << pattern << "COUNT"
                         << "500";
                    auto reply = c.execute<Poco::Redis::Array>(scan);
                    cursor = reply.get<Poco::Redis::BulkString>(0).value();
                    auto keys = reply.get<Poco::Redis::Array>(1);
                    // An empty reply array is a "null" Array in Poco, whose size() throws.
                    if (keys.isNull() || keys.size() == 0) continue;
                    Poco::Redis::Array del;
                    del << "DEL";
                    for (size_t i = 0; i < keys.size(); ++i)
                        del << keys.get<Poco::Redis::BulkString>(i).value();
                    c.execute<Poco::Int64>(del);
                } while (cursor != "0");
            }
        });
    }

    static std::string entry_key(const ClearanceKey& k) {
        return kEntryPrefix + k.site_proxy() + '|' + k.user_agent;
    }
    static std::string latest_key(const ClearanceKey& k) { return kLatestPrefix + k.site_proxy(); }

private:
    static constexpr const char* kEntryPrefix = "byparr:clearance:";
    static constexpr const char* kLatestPrefix = "byparr:clearance-latest:";
    static constexpr const char* kSiteSolverPrefix = "byparr:site-solver:";
    // A dead backend costs at most this per attempt, and is retried only after
    // kRetryAfter, so it never slows requests down for long.
    static constexpr auto kTimeout = std::chrono::milliseconds(200);
    static constexpr auto kRetryAfter = std::chrono::seconds(5);

    RedisStore() = default;

    static std::string glob_escape(const std::string& s) {
        std::string out;
        for (char c : s) {
            if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
            out += c;
        }
        return out;
    }

    template <typename F>
    void run(F&& body) {
        std::lock_guard<std::mutex> lock(mu_);
        auto now = std::chrono::steady_clock::now();
        if (now < retry_at_) return;
        try {
            if (!client_.isConnected()) {
                client_.connect(host_, port_, Poco::Timespan(kTimeout.count() * 1000));
                client_.setReceiveTimeout(Poco::Timespan(kTimeout.count() * 1000));
                if (!password_.empty()) {
                    Poco::Redis::Array auth;
                    auth << "AUTH";
                    if (!user_.empty()) auth << user_;
                    auth << password_;
                    client_.execute<std::string>(auth);
                }
                if (db_ != 0) {
                    Poco::Redis::Array select;
                    select << "SELECT" << std::to_string(db_);
                    client_.execute<std::string>(select);
                }
            }
            body(client_);
            if (!healthy_.exchange(true))
                log::info(kComponent, "clearance cache backend {} is reachable", redacted_);
            return;
        } catch (const Poco::Exception& e) {
            fail(e.displayText());
        } catch (const std::exception& e) {
            fail(e.what());
        }
        retry_at_ = std::chrono::steady_clock::now() + kRetryAfter;
    }

    void fail(const std::string& why) {
        // After a timeout the reply stream is out of step: start afresh.
        try {
            client_.disconnect();
        } catch (...) {
        }
        if (healthy_.exchange(false) || !warned_) {
            log::warning(kComponent,
                         "clearance cache backend {} failed ({}); using memory only, "
                         "retrying in {} s",
                         redacted_, why, kRetryAfter.count());
        }
        warned_ = true;
    }

    std::mutex mu_;
    Poco::Redis::Client client_;
    std::string host_, user_, password_, redacted_;
    Poco::UInt16 port_ = 6379;
    int db_ = 0;
    std::chrono::steady_clock::time_point retry_at_{};
    std::atomic<bool> healthy_{false};
    bool warned_ = false;
};

// ---- the cache ----

ClearanceCache::ClearanceCache(Options options) : options_(std::move(options)) {
    if (!options_.clock) {
        options_.clock = [] {
            return static_cast<int64_t>(std::chrono::duration_cast<std::chrono::seconds>(
                                            std::chrono::system_clock::now().time_since_epoch())
                                            .count());
        };
    }
    if (!enabled()) return;
    int64_t now = now_s();
    if (!options_.state_dir.empty()) {
        std::vector<ClearanceRecord> rows;
        sqlite_ = SqliteStore::open(options_.state_dir, now, rows);
        if (sqlite_) rows = sqlite_->load(now);
        {
            std::unique_lock lock(mu_);
            for (ClearanceRecord& r : rows) {
                // A shorter CACHE_DURATION than when the row was written applies.
                r.entry.expires_s =
                    std::min(r.entry.expires_s, r.entry.created_s + options_.duration_s);
                if (r.entry.expires_s > now) insert_locked(r.key, std::move(r.entry));
            }
            if (sqlite_) {
                for (SiteSolver& m : sqlite_->load_site_solvers(now)) {
                    // A shorter lifetime than when the row was written applies.
                    m.expires_s = std::min(m.expires_s, m.created_s + site_solver_lifetime_s());
                    if (m.expires_s > now) site_solvers_[m.site] = std::move(m);
                }
            }
        }
    }
    if (!options_.backend_url.empty()) {
        redis_ = RedisStore::create(options_.backend_url);
        // Connects now, so a misconfigured backend is reported at start.
        if (redis_) redis_->get(RedisStore::latest_key(ClearanceKey{"byparr.invalid", "", ""}));
    }
    log::info(kComponent, "clearance cache: {} s, {} entries loaded{}{}", options_.duration_s,
              size(), sqlite_ ? ", persisted in " + options_.state_dir + "/cache.db" : "",
              redis_ ? ", shared via " + log::redact_url(options_.backend_url) : "");
}

ClearanceCache::~ClearanceCache() = default;

bool ClearanceCache::persistent() const {
    return sqlite_ != nullptr;
}
bool ClearanceCache::shared() const {
    return redis_ && redis_->healthy();
}

int64_t ClearanceCache::now_s() const {
    return options_.clock();
}

void ClearanceCache::insert_locked(const ClearanceKey& key, ClearanceEntry entry) {
    Slot& slot = slots_[key.site_proxy()];
    slot.site = key.site;
    slot.proxy = key.proxy;
    slot.by_agent[key.user_agent] = std::move(entry);
}

void ClearanceCache::purge_expired_locked(int64_t now) {
    for (auto it = slots_.begin(); it != slots_.end();) {
        auto& agents = it->second.by_agent;
        std::erase_if(agents, [&](const auto& kv) { return kv.second.expires_s <= now; });
        it = agents.empty() ? slots_.erase(it) : std::next(it);
    }
}

std::optional<ClearanceEntry> ClearanceCache::get(const ClearanceKey& key) {
    if (!enabled() || key.site.empty()) return std::nullopt;
    int64_t now = now_s();
    {
        std::shared_lock lock(mu_);
        auto it = slots_.find(key.site_proxy());
        if (it != slots_.end()) {
            auto e = it->second.by_agent.find(key.user_agent);
            if (e != it->second.by_agent.end() && e->second.expires_s > now) return e->second;
        }
    }
    if (!redis_) return std::nullopt;
    auto r = redis_->get(RedisStore::entry_key(key));
    // Another instance may run with a longer CACHE_DURATION: ours applies here.
    if (r)
        r->entry.expires_s = std::min(r->entry.expires_s, r->entry.created_s + options_.duration_s);
    if (!r || r->entry.expires_s <= now || !(r->key == key)) return std::nullopt;
    std::unique_lock lock(mu_);
    insert_locked(r->key, r->entry);
    return std::move(r->entry);
}

std::optional<ClearanceEntry> ClearanceCache::get_any_agent(const ClearanceKey& key) {
    if (!enabled() || key.site.empty()) return std::nullopt;
    int64_t now = now_s();
    {
        std::shared_lock lock(mu_);
        auto it = slots_.find(key.site_proxy());
        if (it != slots_.end()) {
            const ClearanceEntry* best = nullptr;
            for (const auto& [ua, e] : it->second.by_agent) {
                if (e.expires_s > now && (!best || e.created_s > best->created_s)) best = &e;
            }
            if (best) return *best;
        }
    }
    if (!redis_) return std::nullopt;
    auto r = redis_->get(RedisStore::latest_key(key));
    if (r)
        r->entry.expires_s = std::min(r->entry.expires_s, r->entry.created_s + options_.duration_s);
    if (!r || r->entry.expires_s <= now || r->key.site_proxy() != key.site_proxy())
        return std::nullopt;
    std::unique_lock lock(mu_);
    insert_locked(r->key, r->entry);
    return std::move(r->entry);
}

std::optional<ClearanceEntry> ClearanceCache::put(const ClearanceKey& key,
                                                  std::vector<Cookie> cookies) {
    if (!enabled() || key.site.empty()) return std::nullopt;
    int64_t now = now_s();
    // Expired cookies are deletions the site made; they clear nothing.
    std::erase_if(cookies, [&](const Cookie& c) { return c.expires_s > 0 && c.expires_s <= now; });
    ClearanceRecord r;
    r.key = key;
    r.entry.user_agent = key.user_agent;
    r.entry.created_s = now;
    r.entry.expires_s = now + options_.duration_s;
    for (const Cookie& c : cookies)
        if (c.expires_s > 0) r.entry.expires_s = std::min(r.entry.expires_s, c.expires_s);
    r.entry.cookies = std::move(cookies);
    if (r.entry.expires_s <= now) return std::nullopt;

    std::lock_guard<std::mutex> writer(write_mu_);
    {
        std::unique_lock lock(mu_);
        purge_expired_locked(now);
        insert_locked(key, r.entry);
    }
    if (sqlite_) sqlite_->upsert(r, now);
    if (redis_) redis_->set(r, r.entry.expires_s - now);
    return r.entry;
}

bool ClearanceCache::invalidate(const ClearanceKey& key) {
    if (!enabled()) return false;
    std::lock_guard<std::mutex> writer(write_mu_);
    bool found = false;
    {
        std::unique_lock lock(mu_);
        auto it = slots_.find(key.site_proxy());
        if (it != slots_.end()) {
            found = it->second.by_agent.erase(key.user_agent) > 0;
            if (it->second.by_agent.empty()) slots_.erase(it);
        }
    }
    if (sqlite_) sqlite_->erase(key);
    if (redis_) redis_->erase(key);
    return found;
}

size_t ClearanceCache::flush(std::string_view site_or_url) {
    if (!enabled()) return 0;
    std::string site;
    if (!site_or_url.empty()) {
        site = site_or_url.find("://") != std::string_view::npos ? site_of_url(site_or_url)
                                                                 : registrable_domain(site_or_url);
        if (site.empty()) return 0;
    }
    std::lock_guard<std::mutex> writer(write_mu_);
    size_t dropped = 0;
    {
        std::unique_lock lock(mu_);
        for (auto it = slots_.begin(); it != slots_.end();) {
            if (site.empty() || it->second.site == site) {
                dropped += it->second.by_agent.size();
                it = slots_.erase(it);
            } else {
                ++it;
            }
        }
        // A flushed site starts afresh: the normal chain order too.
        if (site.empty())
            site_solvers_.clear();
        else
            site_solvers_.erase(site);
    }
    if (sqlite_) sqlite_->erase_site(site);
    if (redis_) redis_->erase_site(site);
    return dropped;
}

std::vector<ClearanceRecord> ClearanceCache::list() const {
    std::vector<ClearanceRecord> out;
    int64_t now = now_s();
    {
        std::shared_lock lock(mu_);
        for (const auto& [k, slot] : slots_) {
            for (const auto& [ua, e] : slot.by_agent)
                if (e.expires_s > now) out.push_back({{slot.site, ua, slot.proxy}, e});
        }
    }
    std::sort(out.begin(), out.end(), [](const ClearanceRecord& a, const ClearanceRecord& b) {
        return std::tie(a.key.site, a.key.proxy, a.key.user_agent) <
               std::tie(b.key.site, b.key.proxy, b.key.user_agent);
    });
    return out;
}

size_t ClearanceCache::size() const {
    int64_t now = now_s();
    std::shared_lock lock(mu_);
    size_t n = 0;
    for (const auto& [k, slot] : slots_)
        for (const auto& [ua, e] : slot.by_agent)
            n += e.expires_s > now ? 1 : 0;
    return n;
}

// ---- per-site engine memory ----

int64_t ClearanceCache::site_solver_lifetime_s() const {
    return std::max<int64_t>(86400, 2 * options_.duration_s);
}

std::optional<std::string> ClearanceCache::site_solver(const std::string& site) {
    if (!enabled() || site.empty()) return std::nullopt;
    int64_t now = now_s();
    {
        std::shared_lock lock(mu_);
        auto it = site_solvers_.find(site);
        if (it != site_solvers_.end() && it->second.expires_s > now) return it->second.solver;
    }
    if (!redis_) return std::nullopt;
    auto m = redis_->get_site_solver(site);
    if (m) m->expires_s = std::min(m->expires_s, m->created_s + site_solver_lifetime_s());
    if (!m || m->site != site || m->solver.empty() || m->expires_s <= now) return std::nullopt;
    std::unique_lock lock(mu_);
    site_solvers_[site] = *m;
    return m->solver;
}

void ClearanceCache::remember_site_solver(const std::string& site, const std::string& solver) {
    if (!enabled() || site.empty() || solver.empty()) return;
    int64_t now = now_s();
    SiteSolver m{site, solver, now, now + site_solver_lifetime_s()};
    std::lock_guard<std::mutex> writer(write_mu_);
    {
        std::unique_lock lock(mu_);
        auto it = site_solvers_.find(site);
        if (it != site_solvers_.end() && it->second.solver == solver &&
            it->second.expires_s - now > site_solver_lifetime_s() / 2)
            return;
        std::erase_if(site_solvers_, [&](const auto& kv) { return kv.second.expires_s <= now; });
        site_solvers_[site] = m;
    }
    if (sqlite_) sqlite_->upsert_site_solver(m, now);
    if (redis_) redis_->set_site_solver(m, m.expires_s - now);
}

std::vector<SiteSolver> ClearanceCache::site_solvers() const {
    std::vector<SiteSolver> out;
    int64_t now = now_s();
    std::shared_lock lock(mu_);
    for (const auto& [site, m] : site_solvers_)
        if (m.expires_s > now) out.push_back(m);
    return out;  // std::map: sorted by site already
}

// ---- single flight ----

SingleFlight::Ticket::Ticket(SingleFlight* owner, std::string key, std::shared_ptr<Flight> f,
                             bool leader)
    : owner_(owner), key_(std::move(key)), flight_(std::move(f)), leader_(leader) {}

SingleFlight::Ticket::Ticket(Ticket&& o) noexcept
    : owner_(o.owner_), key_(std::move(o.key_)), flight_(std::move(o.flight_)), leader_(o.leader_) {
    o.leader_ = false;
}

SingleFlight::Ticket::~Ticket() {
    if (!leader_ || !flight_) return;
    SolveOutcome o;
    o.ok = false;
    o.error_kind = BYPARR_ERROR_INTERNAL;
    o.error = "the solve this request was waiting for ended without a result";
    publish(o);
}

void SingleFlight::Ticket::publish(const SolveOutcome& outcome) {
    if (!leader_ || !flight_) return;
    owner_->finish(key_, flight_, outcome);
    leader_ = false;  // published once; the destructor has nothing left to do
}

std::optional<SolveOutcome> SingleFlight::Ticket::wait(
    std::chrono::steady_clock::time_point deadline) const {
    if (!flight_ || leader_) return std::nullopt;  // a leader waiting on itself would hang
    std::unique_lock<std::mutex> lock(flight_->mu);
    ++flight_->followers;
    bool done =
        flight_->cv.wait_until(lock, deadline, [&] { return flight_->outcome.has_value(); });
    --flight_->followers;
    if (!done) return std::nullopt;
    return flight_->outcome;
}

size_t SingleFlight::Ticket::followers() const {
    if (!flight_) return 0;
    std::lock_guard<std::mutex> lock(flight_->mu);
    return flight_->followers;
}

SingleFlight::Ticket SingleFlight::join_or_lead(const std::string& key) {
    std::lock_guard<std::mutex> lock(mu_);
    auto [it, inserted] = flights_.try_emplace(key);
    if (inserted) it->second = std::make_shared<Flight>();
    return Ticket(this, key, it->second, inserted);
}

size_t SingleFlight::in_flight() const {
    std::lock_guard<std::mutex> lock(mu_);
    return flights_.size();
}

void SingleFlight::finish(const std::string& key, const std::shared_ptr<Flight>& f,
                          SolveOutcome outcome) {
    {
        // Unlisted first: a request arriving from now on starts a new flight
        // (it will find the cache filled) rather than joining a finished one.
        std::lock_guard<std::mutex> lock(mu_);
        auto it = flights_.find(key);
        if (it != flights_.end() && it->second == f) flights_.erase(it);
    }
    {
        std::lock_guard<std::mutex> lock(f->mu);
        f->outcome = std::move(outcome);
    }
    f->cv.notify_all();
}

}  // namespace byparr
