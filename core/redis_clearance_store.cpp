// The clearance cache's shared backend (CACHE_BACKEND=redis://...): read on a
// memory miss and written on every change, so instances sharing it reuse each
// other's clearances. A dead backend costs at most one short timeout every
// few seconds, never a failed request.
#include <Poco/Exception.h>
#include <Poco/Redis/Array.h>
#include <Poco/Redis/Client.h>
#include <Poco/Redis/Type.h>
#include <Poco/URI.h>

#include <atomic>
#include <chrono>
#include <mutex>

#include "core/clearance_store.h"
#include "core/log.h"

namespace byparr {

namespace {

constexpr const char* kComponent = "cache";

class RedisClearanceStore final : public ClearanceStore {
  public:
    static std::unique_ptr<RedisClearanceStore> create(const std::string& url) {
        try {
            Poco::URI uri(url);
            if (uri.getScheme() != "redis" || uri.getHost().empty()) {
                log::warning(kComponent,
                             "CACHE_BACKEND '{}' is not redis://host[:port][/db]; "
                             "ignored",
                             log::redact_url(url));
                return nullptr;
            }
            auto r = std::unique_ptr<RedisClearanceStore>(new RedisClearanceStore);
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

    bool healthy() const override { return healthy_.load(); }

    std::optional<ClearanceRecord> find(const ClearanceKey& key) override {
        return get(entry_key(key));
    }
    std::optional<ClearanceRecord> find_latest(const ClearanceKey& key) override {
        return get(latest_key(key));
    }

    std::optional<ClearanceRecord> get(const std::string& redis_key) {
        std::optional<ClearanceRecord> out;
        run([&](Poco::Redis::Client& c) {
            Poco::Redis::Array cmd;
            cmd << "GET" << redis_key;
            auto v = c.execute<Poco::Redis::BulkString>(cmd);
            if (!v.isNull()) out = clearance_json::parse_record(v.value());
        });
        return out;
    }

    void store(const ClearanceRecord& r, int64_t now) override {
        std::string json = clearance_json::record(r);
        int64_t ttl_s = r.entry.expires_s - now;
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

    std::optional<SiteSolver> find_site_solver(const std::string& site) override {
        std::optional<SiteSolver> out;
        run([&](Poco::Redis::Client& c) {
            Poco::Redis::Array cmd;
            cmd << "GET" << kSiteSolverPrefix + site;
            auto v = c.execute<Poco::Redis::BulkString>(cmd);
            if (!v.isNull()) out = clearance_json::parse_site_solver(v.value());
        });
        return out;
    }

    void store_site_solver(const SiteSolver& m, int64_t now) override {
        std::string json = clearance_json::site_solver(m);
        int64_t ttl_s = m.expires_s - now;
        run([&](Poco::Redis::Client& c) {
            Poco::Redis::Array cmd;
            cmd << "SET" << kSiteSolverPrefix + m.site << json << "EX" << std::to_string(ttl_s);
            c.execute<std::string>(cmd);
        });
    }

    void erase(const ClearanceKey& key) override {
        run([&](Poco::Redis::Client& c) {
            Poco::Redis::Array del;
            del << "DEL" << entry_key(key);
            c.execute<Poco::Int64>(del);
            Poco::Redis::Array get;
            get << "GET" << latest_key(key);
            auto v = c.execute<Poco::Redis::BulkString>(get);
            if (v.isNull()) return;
            auto r = clearance_json::parse_record(v.value());
            if (!r || r->key.user_agent == key.user_agent) {
                Poco::Redis::Array del2;
                del2 << "DEL" << latest_key(key);
                c.execute<Poco::Int64>(del2);
            }
        });
    }

    void erase_site(const std::string& site) override {
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

    RedisClearanceStore() = default;

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

}  // namespace

std::unique_ptr<ClearanceStore> make_redis_clearance_store(const std::string& url) {
    return RedisClearanceStore::create(url);
}

}  // namespace byparr
