#include "core/clearance_cache.h"

#include <algorithm>
#include <chrono>
#include <tuple>

#include "core/log.h"
#include "core/public_suffix.h"

namespace byparr {

namespace {
constexpr const char* kComponent = "cache";
}  // namespace

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
        sqlite_ = open_sqlite_clearance_store(options_.state_dir, now, rows);
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
        redis_ = make_redis_clearance_store(options_.backend_url);
        // Connects now, so a misconfigured backend is reported at start.
        if (redis_) redis_->find_latest(ClearanceKey{"byparr.invalid", "", ""});
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
    auto r = redis_->find(key);
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
    auto r = redis_->find_latest(key);
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
    if (sqlite_) sqlite_->store(r, now);
    if (redis_) redis_->store(r, now);
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
    auto m = redis_->find_site_solver(site);
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
    if (sqlite_) sqlite_->store_site_solver(m, now);
    if (redis_) redis_->store_site_solver(m, now);
}

std::vector<SiteSolver> ClearanceCache::site_solvers() const {
    std::vector<SiteSolver> out;
    int64_t now = now_s();
    std::shared_lock lock(mu_);
    for (const auto& [site, m] : site_solvers_)
        if (m.expires_s > now) out.push_back(m);
    return out;  // std::map: sorted by site already
}

}  // namespace byparr
