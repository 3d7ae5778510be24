#include "plugins/browser/host/supervisor.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <fstream>

namespace byparr::browser {
namespace {

constexpr auto kCallMargin = std::chrono::milliseconds(50);
constexpr auto kStopGrace = std::chrono::seconds(3);
constexpr auto kHousekeepingCall = std::chrono::seconds(2);
constexpr auto kPssInterval = std::chrono::seconds(2);

std::string opt_string(const Poco::JSON::Object::Ptr& o, const std::string& key) {
    if (!o || !o->has(key) || o->isNull(key)) return "";
    try {
        return o->get(key).convert<std::string>();
    } catch (const Poco::Exception&) {
        return "";
    }
}

bool opt_bool(const Poco::JSON::Object::Ptr& o, const std::string& key, bool fallback) {
    if (!o || !o->has(key) || o->isNull(key)) return fallback;
    try {
        return o->get(key).convert<bool>();
    } catch (const Poco::Exception&) {
        return fallback;
    }
}

Poco::JSON::Object::Ptr session_fields(const std::string& id) {
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("session", id);
    return o;
}

}  // namespace

byparr_error_kind map_error_kind(const std::string& kind) {
    if (kind == "timeout") return BYPARR_ERROR_TIMEOUT;
    if (kind == "blocked") return BYPARR_ERROR_BLOCKED;
    if (kind == "captcha") return BYPARR_ERROR_CAPTCHA;
    if (kind == "network") return BYPARR_ERROR_NETWORK;
    if (kind == "proxy") return BYPARR_ERROR_PROXY;
    if (kind == "invalid") return BYPARR_ERROR_INVALID_REQUEST;
    if (kind == "unknown_session") return BYPARR_ERROR_UNKNOWN_SESSION;
    if (kind == "cancelled") return BYPARR_ERROR_CANCELLED;
    if (kind == "check_failed") return BYPARR_ERROR_UNSUPPORTED;
    return BYPARR_ERROR_INTERNAL;
}

Supervisor::Supervisor(Settings settings) : settings_(std::move(settings)) {
    // Only a file read: the UA of the last run answers GET / without a browser.
    std::ifstream f(settings_.state_dir + "/user-agent");
    std::getline(f, user_agent_);
}

Supervisor::~Supervisor() {
    shutdown(std::chrono::seconds(2));
}

std::string Supervisor::key_of(const Proxy& p) const {
    if (settings_.proxy_per_context) return {};
    return p.url.empty() ? std::string() : p.url + '\n' + p.username;
}

void Supervisor::add_proxy(Poco::JSON::Object& fields, const Proxy& proxy,
                           const WorkerProcess& worker) const {
    if (!settings_.proxy_per_context || proxy.url.empty()) return;
    // With BLOCK_PRIVATE_TARGETS, the context's route through the worker's egress guard.
    const Proxy p = worker.context_proxy(proxy);
    Poco::JSON::Object::Ptr o = new Poco::JSON::Object;
    o->set("url", p.url);
    if (!p.username.empty()) {
        o->set("username", p.username);
        o->set("password", p.password);
    }
    fields.set("proxy", o);
}

Outcome Supervisor::from_reply(const CallReply& r) {
    Outcome o;
    o.result = r.result;
    o.error = r.error;
    switch (r.status) {
        case CallReply::Status::kOk:
            o.ok = true;
            break;
        case CallReply::Status::kTimeout:
            o.kind = BYPARR_ERROR_TIMEOUT;
            o.message = r.message;
            break;
        case CallReply::Status::kExited:
            o.kind = r.message == "browser worker was stopped" ? BYPARR_ERROR_CANCELLED
                                                               : BYPARR_ERROR_INTERNAL;
            o.message = r.message;
            break;
        case CallReply::Status::kError:
            o.kind = map_error_kind(r.error_kind);
            o.message = r.message.empty() ? r.error_kind : r.message;
            if (o.kind == BYPARR_ERROR_CAPTCHA) {
                // The host shows this as "Captcha detected (<message>)".
                std::string k = opt_string(r.error, "captchaKind");
                o.message = k.empty() ? "unknown kind" : k;
            }
            break;
    }
    return o;
}

void Supervisor::ensure_timer_locked() {
    if (!timer_.joinable() && !timer_stop_) timer_ = std::thread(&Supervisor::timer_loop, this);
}

WorkerLaunch Supervisor::launch_for(const Proxy& proxy) {
    WorkerLaunch launch;
    launch.executable = settings_.worker_path;
    // A worker that takes proxies per request starts without one.
    if (!settings_.proxy_per_context)
        launch.proxy = Proxy(proxy.url, proxy.username, proxy.password);
    launch.rules = settings_.rules;
    launch.lang = settings_.lang;
    launch.timezone = settings_.timezone;
    launch.display = settings_.display;
    launch.on_output = settings_.worker_output;
    launch.target_guard = settings_.target_guard;
    launch.routed_proxies = settings_.proxy_per_context;
    launch.on_target_refused = settings_.on_target_refused;
    launch.disable_sandbox = sandbox_disabled();
    return launch;
}

bool Supervisor::retire_least_used_idle_locked() {
    std::shared_ptr<Slot> victim;
    for (auto& s : slots_) {
        if (s->state == State::kRunning && s->in_flight == 0 && s->sessions == 0 &&
            (!victim || s->last_used < victim->last_used))
            victim = s;
    }
    if (victim) retire_locked(victim, nullptr);
    return victim != nullptr;
}

std::shared_ptr<Supervisor::Slot> Supervisor::acquire(const Proxy& proxy,
                                                      Clock::time_point deadline, Outcome* err) {
    const std::string key = key_of(proxy);
    std::unique_lock<std::mutex> lock(mutex_);
    for (;;) {
        if (shutting_down_) {
            *err = Outcome{false, BYPARR_ERROR_CANCELLED, "the solver is shutting down", {}, {}};
            return nullptr;
        }
        ensure_timer_locked();
        auto it = active_.find(key);
        if (it != active_.end()) {
            auto slot = it->second;
            if (slot->state == State::kRunning && !slot->proc->exited()) {
                ++slot->in_flight;
                slot->last_used = Clock::now();
                return slot;
            }
            if (slot->state == State::kStarting) {
                if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
                    *err = Outcome{false,
                                   BYPARR_ERROR_TIMEOUT,
                                   "the browser worker did not start in time",
                                   {},
                                   {}};
                    return nullptr;
                }
                continue;
            }
            // Dead but its exit handler has not run yet: never hand it out.
            retire_locked(slot, slot->proc->stopping() ? nullptr : "crash");
            continue;
        }
        if (slots_.size() >= settings_.max_workers) {
            if (retire_least_used_idle_locked()) continue;
            if (cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
                *err = Outcome{false,
                               BYPARR_ERROR_TIMEOUT,
                               "all browser workers are busy (BROWSER_MAX_WORKERS=" +
                                   std::to_string(settings_.max_workers) + ")",
                               {},
                               {}};
                return nullptr;
            }
            continue;
        }
        break;
    }

    auto slot = std::make_shared<Slot>();
    slot->key = key;
    slot->proxy = proxy;
    slot->last_used = Clock::now();
    active_[key] = slot;
    slots_.push_back(slot);
    lock.unlock();

    return start_worker(slot, deadline, err);
}

std::shared_ptr<Supervisor::Slot> Supervisor::start_worker(const std::shared_ptr<Slot>& slot,
                                                           Clock::time_point deadline,
                                                           Outcome* err) {
    const std::string& key = slot->key;
    std::unique_lock<std::mutex> lock(mutex_, std::defer_lock);
    std::weak_ptr<Slot> weak = slot;
    auto proc = std::make_unique<WorkerProcess>(
        launch_for(slot->proxy), [this, weak](WorkerProcess* p) { on_worker_exit(weak, p); });
    std::string error;
    bool started = false;
    try {
        started = proc->start(std::min(deadline, Clock::now() + settings_.start_timeout), &error);
    } catch (const std::exception& e) {  // e.g. no thread: the slot must not stay "starting"
        error = e.what();
    }
    if (started && proc->exited()) {
        started = false;
        error = "browser worker exited right after start-up";
    }
    if (!started) {
        proc.reset();  // kills and reaps
        lock.lock();
        if (active_[key] == slot) active_.erase(key);
        slots_.erase(std::remove(slots_.begin(), slots_.end(), slot), slots_.end());
        slot->state = State::kRetired;
        cv_.notify_all();
        bool late = Clock::now() >= deadline;
        *err = Outcome{false,
                       late ? BYPARR_ERROR_TIMEOUT : BYPARR_ERROR_INTERNAL,
                       "could not start the browser worker: " + error,
                       {},
                       {}};
        return nullptr;
    }
    remember_user_agent(proc->user_agent());
    lock.lock();
    slot->proc = std::move(proc);
    slot->state = State::kRunning;
    slot->in_flight = 1;
    slot->last_used = Clock::now();
    // Its exit handler ignores a slot still starting, so a crash right after
    // `ready` is noticed here; the call that follows fails at once.
    if (slot->proc->exited()) retire_locked(slot, "crash");
    cv_.notify_all();
    return slot;
}

void Supervisor::release(const std::shared_ptr<Slot>& slot, bool page_served,
                         const std::string& session_id, bool hurry) {
    // Measured outside the lock: it walks /proc and every Chromium process's
    // smaps_rollup, 20-40 ms on a busy 2-core machine, and the reply waits for it.
    // Memory grows slowly, so at most once per kPssInterval per worker (always
    // after a worker's first request).
    bool measure = false;
    if (settings_.memory_limit_bytes > 0 && !hurry) {
        std::lock_guard<std::mutex> lock(mutex_);
        const auto now = Clock::now();
        if (slot->pss_measured == Clock::time_point{} || now - slot->pss_measured >= kPssInterval) {
            slot->pss_measured = now;
            measure = true;
        }
    }
    uint64_t pss = 0;
    if (measure && slot->proc && !slot->proc->exited()) pss = tree_pss_bytes(slot->proc->pid());
    std::lock_guard<std::mutex> lock(mutex_);
    --slot->in_flight;
    slot->last_used = Clock::now();
    if (page_served) {
        ++slot->pages;
        ++pages_total_;
    }
    if (!session_id.empty()) {
        auto it = sessions_.find(session_id);
        if (it != sessions_.end() && it->second.slot == slot) {
            it->second.in_use = std::max(0, it->second.in_use - 1);
            it->second.last_used = Clock::now();
        }
    }
    // Sessions live in the process, so a worker that holds some is not recycled.
    if (slot->state == State::kRunning && slot->sessions == 0) {
        const char* reason = nullptr;
        if (settings_.max_pages > 0 && slot->pages >= settings_.max_pages) reason = "pages";
        if (settings_.memory_limit_bytes > 0 && pss > settings_.memory_limit_bytes)
            reason = "memory";
        if (reason) {
            // Draining: new requests go to a fresh worker; this one ends with its last.
            slot->state = State::kDraining;
            ++restarts_[reason];
            auto it = active_.find(slot->key);
            if (it != active_.end() && it->second == slot) active_.erase(it);
            cv_.notify_all();
        }
    }
    if (slot->state == State::kDraining && slot->in_flight == 0) retire_locked(slot, nullptr);
    timer_cv_.notify_all();
}

void Supervisor::retire_locked(const std::shared_ptr<Slot>& slot, const char* reason) {
    if (slot->state == State::kRetired) return;
    if (reason) ++restarts_[reason];
    slot->state = State::kRetired;
    auto it = active_.find(slot->key);
    if (it != active_.end() && it->second == slot) active_.erase(it);
    slots_.erase(std::remove(slots_.begin(), slots_.end(), slot), slots_.end());
    for (auto s = sessions_.begin(); s != sessions_.end();) {
        s = s->second.slot == slot ? sessions_.erase(s) : std::next(s);
    }
    retire_.push_back(slot);
    cv_.notify_all();
    timer_cv_.notify_all();
}

void Supervisor::on_worker_exit(const std::weak_ptr<Slot>& weak, WorkerProcess* proc) {
    // Runs on the worker's reader thread: pending calls have already failed.
    auto slot = weak.lock();
    if (!slot) return;
    std::lock_guard<std::mutex> lock(mutex_);
    if (slot->state == State::kStarting || slot->state == State::kRetired) return;
    retire_locked(slot, proc->stopping() ? nullptr : "crash");
}

std::shared_ptr<Supervisor::Slot> Supervisor::open_session(const std::string& id,
                                                           const Proxy& proxy, bool hold,
                                                           bool* existed,
                                                           Clock::time_point deadline,
                                                           Outcome* err) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (sessions_.count(id) == 0 && sessions_.size() >= settings_.max_sessions) {
            *err = Outcome{
                false,
                BYPARR_ERROR_INVALID_REQUEST,
                "too many sessions (MAX_SESSIONS=" + std::to_string(settings_.max_sessions) + ")",
                {},
                {}};
            return nullptr;
        }
    }
    auto slot = acquire(proxy, deadline, err);
    if (!slot) return nullptr;
    Poco::JSON::Object::Ptr fields = session_fields(id);
    add_proxy(*fields, proxy, *slot->proc);
    CallReply r = slot->proc->call("session.create", fields, deadline);
    if (r.status != CallReply::Status::kOk) {
        release(slot, false, "");
        *err = from_reply(r);
        return nullptr;
    }
    bool created = opt_bool(r.result, "created", true);
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto now = Clock::now();
        auto [it, inserted] = sessions_.emplace(id, Session{slot, now, now, 0, proxy.timezone});
        if (inserted) ++slot->sessions;
        if (existed) *existed = !created || !inserted;
        if (hold && it->second.slot == slot) ++it->second.in_use;
    }
    if (!hold) {
        release(slot, false, "");
        return slot;
    }
    return slot;
}

std::shared_ptr<Supervisor::Slot> Supervisor::use_session(const std::string& id, const Proxy& proxy,
                                                          uint32_t ttl_ms,
                                                          Clock::time_point deadline,
                                                          Outcome* err) {
    std::shared_ptr<Slot> expired;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = sessions_.find(id);
        if (it != sessions_.end()) {
            auto& s = it->second;
            auto age = Clock::now() - s.created;
            if (ttl_ms > 0 && age > std::chrono::milliseconds(ttl_ms)) {
                expired = s.slot;  // too old: destroy, then recreate below
                --expired->sessions;
                sessions_.erase(it);
            } else if (s.slot->state != State::kRetired && s.slot->proc &&
                       !s.slot->proc->exited()) {
                // A known session stays in its own worker; the request proxy is ignored.
                ++s.slot->in_flight;
                ++s.in_use;
                s.last_used = Clock::now();
                return s.slot;
            } else {
                sessions_.erase(it);
            }
        }
    }
    if (expired && expired->proc)
        expired->proc->call("session.destroy", session_fields(id),
                            std::min(deadline, Clock::now() + kHousekeepingCall));
    // Unknown: created on the fly, as the contract says.
    return open_session(id, proxy, true, nullptr, deadline, err);
}

Outcome Supervisor::solve(Poco::JSON::Object::Ptr request, const std::string& session_id,
                          const Proxy& proxy, uint32_t session_ttl_ms, Clock::time_point deadline) {
    Outcome err;
    auto slot = session_id.empty() ? acquire(proxy, deadline, &err)
                                   : use_session(session_id, proxy, session_ttl_ms, deadline, &err);
    if (!slot) return err;
    auto budget = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now() -
                                                                        kCallMargin);
    if (budget.count() <= 0) {
        release(slot, false, session_id);
        return Outcome{false, BYPARR_ERROR_TIMEOUT, "no time left to load the page", {}, {}};
    }
    request->set("timeoutMs", static_cast<Poco::Int64>(budget.count()));
    request->set("session", session_id);
    // A session's context has its proxy since session.create.
    if (session_id.empty()) add_proxy(*request, proxy, *slot->proc);
    if (!session_id.empty()) {
        // A session keeps the zone of the proxy it was created with, as it keeps the proxy.
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = sessions_.find(session_id);
        const std::string& zone = it != sessions_.end() ? it->second.timezone : proxy.timezone;
        if (zone.empty())
            request->remove("timezone");
        else
            request->set("timezone", zone);
    }
    Poco::JSON::Object::Ptr fields = new Poco::JSON::Object;
    fields->set("request", request);
    uint64_t id = 0;
    CallReply r = slot->proc->call("solve", fields, deadline, &id);
    if (r.status == CallReply::Status::kTimeout) {
        Poco::JSON::Object::Ptr cancel = new Poco::JSON::Object;
        cancel->set("target", static_cast<Poco::UInt64>(id));
        slot->proc->notify("cancel", cancel);
    }
    // A reply at (or past) its deadline must not also wait for the memory check: a
    // renderer holding a huge page takes 100 ms and more to measure. The next
    // release of this worker measures instead.
    const bool hurry = r.status == CallReply::Status::kTimeout ||
                       Clock::now() + std::chrono::milliseconds(50) >= deadline;
    release(slot, r.status != CallReply::Status::kExited, session_id, hurry);
    return from_reply(r);
}

Outcome Supervisor::session_create(const std::string& id, const Proxy& proxy, bool* existed,
                                   Clock::time_point deadline) {
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = sessions_.find(id);
        if (it != sessions_.end() && it->second.slot->state != State::kRetired) {
            *existed = true;
            return Outcome{true, BYPARR_ERROR_INTERNAL, "", {}, {}};
        }
    }
    Outcome err;
    if (!open_session(id, proxy, false, existed, deadline, &err)) return err;
    return Outcome{true, BYPARR_ERROR_INTERNAL, "", {}, {}};
}

std::vector<std::string> Supervisor::session_list() {
    std::lock_guard<std::mutex> lock(mutex_);
    std::vector<std::string> ids;
    for (const auto& [id, s] : sessions_)
        if (s.slot->state != State::kRetired) ids.push_back(id);
    return ids;
}

Outcome Supervisor::session_destroy(const std::string& id, Clock::time_point deadline) {
    std::shared_ptr<Slot> slot;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        auto it = sessions_.find(id);
        if (it == sessions_.end() || it->second.slot->state == State::kRetired) {
            return Outcome{
                false, BYPARR_ERROR_UNKNOWN_SESSION, "The session doesn't exist.", {}, {}};
        }
        slot = it->second.slot;
        sessions_.erase(it);
        --slot->sessions;
        slot->last_used = Clock::now();
        timer_cv_.notify_all();  // the worker may be idle now
    }
    if (slot->proc) slot->proc->call("session.destroy", session_fields(id), deadline);
    return Outcome{true, BYPARR_ERROR_INTERNAL, "", {}, {}};
}

void Supervisor::timer_loop() {
    std::unique_lock<std::mutex> lock(mutex_);
    while (!timer_stop_) {
        if (!retire_.empty()) {
            auto batch = std::move(retire_);
            retire_.clear();
            lock.unlock();
            for (auto& s : batch) {
                if (!s->proc) continue;
                s->proc->request_stop();
                if (!s->proc->wait_exited(Clock::now() + kStopGrace)) s->proc->kill_group();
                s->proc->join();
            }
            batch.clear();
            lock.lock();
            continue;
        }
        auto now = Clock::now();
        auto next = Clock::time_point::max();
        if (settings_.idle_timeout.count() > 0) {
            std::vector<std::shared_ptr<Slot>> idle;
            for (auto& s : slots_) {
                if (s->state != State::kRunning || s->in_flight > 0 || s->sessions > 0) continue;
                auto due = s->last_used + settings_.idle_timeout;
                if (due <= now)
                    idle.push_back(s);
                else
                    next = std::min(next, due);
            }
            for (auto& s : idle)
                retire_locked(s, "idle");
            if (!idle.empty()) continue;
        }
        if (settings_.session_idle_timeout.count() > 0) {
            std::vector<std::pair<std::string, std::shared_ptr<Slot>>> expired;
            for (auto it = sessions_.begin(); it != sessions_.end();) {
                auto due = it->second.last_used + settings_.session_idle_timeout;
                if (it->second.in_use == 0 && due <= now) {
                    auto slot = it->second.slot;
                    --slot->sessions;
                    slot->last_used = now;  // its own idle time starts now
                    expired.emplace_back(it->first, slot);
                    it = sessions_.erase(it);
                } else {
                    if (it->second.in_use == 0) next = std::min(next, due);
                    ++it;
                }
            }
            if (!expired.empty()) {
                lock.unlock();
                for (auto& [id, slot] : expired) {
                    if (slot->proc)
                        slot->proc->call("session.destroy", session_fields(id),
                                         Clock::now() + kHousekeepingCall);
                }
                expired.clear();
                lock.lock();
                continue;
            }
        }
        // Sleeps until the next deadline or a change: no CPU while idle.
        if (next == Clock::time_point::max())
            timer_cv_.wait(lock);
        else
            timer_cv_.wait_until(lock, next);
    }
}

void Supervisor::remember_user_agent(const std::string& ua) {
    if (ua.empty()) return;
    std::lock_guard<std::mutex> lock(ua_mutex_);
    if (ua == user_agent_) return;
    user_agent_ = ua;
    if (settings_.state_dir.empty()) return;
    // Write then rename, so a reader never sees half a UA.
    std::string path = settings_.state_dir + "/user-agent";
    std::string tmp = path + ".tmp";
    {
        std::ofstream f(tmp, std::ios::trunc);
        f << ua << '\n';
        if (!f) return;
    }
    std::rename(tmp.c_str(), path.c_str());
}

std::string Supervisor::user_agent() {
    std::lock_guard<std::mutex> lock(ua_mutex_);
    return user_agent_;
}

void Supervisor::shutdown(std::chrono::milliseconds grace) {
    auto deadline = Clock::now() + grace;
    std::vector<std::shared_ptr<Slot>> all;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        if (shutting_down_ && !timer_.joinable() && slots_.empty() && retire_.empty()) return;
        shutting_down_ = true;
        timer_stop_ = true;
        timer_cv_.notify_all();
        cv_.notify_all();
    }
    if (timer_.joinable()) timer_.join();
    {
        std::lock_guard<std::mutex> lock(mutex_);
        all = slots_;
        all.insert(all.end(), retire_.begin(), retire_.end());
        slots_.clear();
        retire_.clear();
        active_.clear();
        sessions_.clear();
    }
    for (auto& s : all)
        if (s->proc) s->proc->request_stop();
    for (auto& s : all)
        if (s->proc) s->proc->wait_exited(deadline);
    for (auto& s : all) {
        if (!s->proc) continue;
        s->proc->kill_group();
        s->proc->join();
    }
}

void Supervisor::metrics(std::vector<std::string>& lines) {
    std::vector<pid_t> pids;
    std::map<std::string, uint64_t> restarts;
    uint64_t pages = 0;
    size_t sessions = 0, workers = 0;
    {
        std::lock_guard<std::mutex> lock(mutex_);
        for (auto& s : slots_) {
            if (!s->proc || s->proc->exited()) continue;
            ++workers;
            pids.push_back(s->proc->pid());
        }
        restarts = restarts_;
        pages = pages_total_;
        sessions = sessions_.size();
    }
    lines.push_back("browser_workers " + std::to_string(workers));
    lines.push_back("browser_memory_bytes " + std::to_string(tree_pss_bytes(pids)));
    for (const char* reason : {"crash", "memory", "pages", "idle"}) {
        lines.push_back(std::string("browser_restarts_total{reason=\"") + reason + "\"} " +
                        std::to_string(restarts[reason]));
    }
    lines.push_back("browser_pages_total " + std::to_string(pages));
    lines.push_back("browser_sessions " + std::to_string(sessions));
}

// Once per process, at the first worker start rather than in the constructor: the
// host probes create() in a forked child, which would test and warn a second time.
bool Supervisor::sandbox_disabled() {
    std::call_once(sandbox_once_, [this] {
        if (settings_.sandbox == "off") {
            sandbox_disabled_ = true;
            return;
        }
        std::string why = sandbox_unavailable_reason();
        if (why.empty()) return;
        if (settings_.sandbox == "on" && ::geteuid() == 0) {
            if (settings_.warn)
                settings_.warn(
                    "BROWSER_SANDBOX=on cannot hold: running as root, and Chromium "
                    "never sandboxes root; run as an unprivileged user");
            return;
        }
        if (settings_.sandbox == "on") {
            if (settings_.warn)
                settings_.warn("BROWSER_SANDBOX=on but Chromium's sandbox cannot start: " + why +
                               ". Browser workers will fail to start; run the container with "
                               "--security-opt seccomp=unconfined (or a profile that allows "
                               "user namespaces), or set BROWSER_SANDBOX=auto");
            return;
        }
        sandbox_disabled_ = true;
        bool root = ::geteuid() == 0;
        if (settings_.warn)
            settings_.warn("Chromium's sandbox cannot start: " + why +
                           ". Running the browser without it (BROWSER_SANDBOX=auto): pages "
                           "still load and solve, but a compromised renderer would have this "
                           "process's rights. To keep the sandbox, " +
                           std::string(root ? "run as an unprivileged user"
                                            : "allow user namespaces (docker run "
                                              "--security-opt seccomp=unconfined)") +
                           "; to silence this, set BROWSER_SANDBOX=off");
    });
    return sandbox_disabled_;
}

}  // namespace byparr::browser
