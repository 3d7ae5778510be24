#include "core/registry.h"

#include <Poco/JSON/Parser.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "core/json_writer.h"
#include "core/log.h"
#include "core/plugin_state.h"

namespace fs = std::filesystem;

namespace byparr {

// What one component may read through byparr_config::get: the settings its plugin declared
// (manifest "settings"), with their values from the host's environment, and nothing else.
struct ConfigCtx {
    std::string plugin_id;
    std::set<std::string> declared;
    std::map<std::string, std::string> values;  // declared and set
    std::mutex mu;                              // guards warned
    std::set<std::string> warned;
};

void Component::record_success() {
    std::lock_guard<std::mutex> lock(mu_);
    consecutive_faults_ = 0;
}

void Component::record_fault(const std::string& reason, bool hang) {
    ++faults_;
    std::lock_guard<std::mutex> lock(mu_);
    last_fault_ = reason;
    // The abandoned call may have come back between the abandon and this report:
    // then it holds no thread and counts as an ordinary fault.
    if (hang && abandoned_.load() == 0) hang = false;
    // A hang trips the breaker at once: each hung call holds a thread until the
    // plugin returns, so one more is one too many.
    if (hang || ++consecutive_faults_ >= kBreakerThreshold) {
        open_until_ = std::chrono::steady_clock::now() + kBreakerCooloff;
        opened_by_hang_ = hang;
        consecutive_faults_ = 0;
        log::warning("registry", "component '{}' taken out of the chain for {} s: {}", def.id,
                     kBreakerCooloff.count(), reason);
    }
}

void Component::note_abandoned() {
    std::lock_guard<std::mutex> lock(mu_);
    ++abandoned_;
    abandoned_at_ = std::chrono::steady_clock::now();
}

void Component::note_returned_after_abandon() {
    std::lock_guard<std::mutex> lock(mu_);
    if (--abandoned_ > 0) return;
    auto late = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::steady_clock::now() - abandoned_at_);
    // A call that was merely late (a huge page, a slow kill) holds no thread any
    // more: keeping the component out for the whole cool-off would turn one slow
    // page into a minute of "no solver" for every client.
    if (opened_by_hang_ && std::chrono::steady_clock::now() < open_until_) {
        open_until_ = {};
        opened_by_hang_ = false;
        log::warning("registry",
                     "component '{}' returned {} ms after its call was abandoned; back in the "
                     "chain",
                     def.id, late.count());
    }
}

bool Component::available(std::chrono::steady_clock::time_point now) const {
    if (instance == nullptr) return false;
    std::lock_guard<std::mutex> lock(mu_);
    return now >= open_until_;
}

std::string Component::health_reason() const {
    if (instance == nullptr) return create_error;
    std::lock_guard<std::mutex> lock(mu_);
    if (std::chrono::steady_clock::now() < open_until_) {
        auto left = std::chrono::duration_cast<std::chrono::seconds>(
            open_until_ - std::chrono::steady_clock::now());
        return "circuit open for " + std::to_string(left.count() + 1) + " s: " + last_fault_;
    }
    return "";
}

namespace {

byparr_str config_get(void* ctx, byparr_str key) {
    auto* c = static_cast<ConfigCtx*>(ctx);
    std::string name(key.data ? key.data : "", key.len);
    if (c->declared.count(name) == 0) {
        // Tell the plugin's author once why the value is missing.
        std::lock_guard<std::mutex> lock(c->mu);
        if (c->warned.insert(name).second)
            log::warning("plugins",
                         "plugin '{}' read setting '{}' it does not declare; it reads as unset "
                         "(declare it: byparr_add_plugin(... SETTINGS {}))",
                         c->plugin_id, name.substr(0, 64), name.substr(0, 64));
        return byparr_str{nullptr, 0};
    }
    auto it = c->values.find(name);
    if (it == c->values.end()) return byparr_str{nullptr, 0};
    return byparr_str{it->second.data(), it->second.size()};
}

struct ErrorSink {
    std::string message;
    byparr_error_kind kind = BYPARR_ERROR_INTERNAL;
};

void sink_add(void*, byparr_str) {}
void sink_error(void* ctx, byparr_error_kind kind, byparr_str msg) {
    auto* s = static_cast<ErrorSink*>(ctx);
    s->kind = kind;
    s->message.assign(msg.data ? msg.data : "", msg.len);
}

void* call_create(const RegisteredComponent& def, void* plugin_ctx, const byparr_config* cfg,
                  const byparr_list_writer* err) {
    switch (def.kind) {
        case Kind::kSolver:
            return def.solver.create(plugin_ctx, cfg, err);
        case Kind::kCookieSource:
            return def.cookie_source.create(plugin_ctx, cfg, err);
        case Kind::kProxyProvider:
            return def.proxy_provider.create(plugin_ctx, cfg, err);
        case Kind::kCaptchaSolver:
            return def.captcha_solver.create(plugin_ctx, cfg, err);
    }
    return nullptr;
}

void call_destroy(const RegisteredComponent& def, void* instance) {
    switch (def.kind) {
        case Kind::kSolver:
            def.solver.destroy(instance);
            break;
        case Kind::kCookieSource:
            def.cookie_source.destroy(instance);
            break;
        case Kind::kProxyProvider:
            def.proxy_provider.destroy(instance);
            break;
        case Kind::kCaptchaSolver:
            def.captcha_solver.destroy(instance);
            break;
    }
}

void call_shutdown(const RegisteredComponent& def, void* instance, uint32_t ms) {
    void (*fn)(void*, uint32_t) = nullptr;
    switch (def.kind) {
        case Kind::kSolver:
            fn = def.solver.shutdown;
            break;
        case Kind::kCookieSource:
            fn = def.cookie_source.shutdown;
            break;
        case Kind::kProxyProvider:
            fn = def.proxy_provider.shutdown;
            break;
        case Kind::kCaptchaSolver:
            fn = def.captcha_solver.shutdown;
            break;
    }
    if (fn) fn(instance, ms);
}

// Runs create()+shutdown()+destroy() in a forked child. Returns an empty string
// when the child exited cleanly, else why not. The child touches only the
// plugin's code and async-signal-tolerant host code, then _exit()s.
std::string probe_in_child(const RegisteredComponent& def, void* plugin_ctx,
                           const byparr_config* cfg, std::chrono::milliseconds timeout) {
    pid_t pid = fork();
    if (pid < 0) return "";  // cannot probe: fall back to trusting create()
    if (pid == 0) {
        // Quiet: the real create() logs once, in the parent.
        int devnull = ::open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, 1);
            dup2(devnull, 2);
        }
        ErrorSink sink;
        byparr_list_writer w{sizeof(byparr_list_writer), &sink, &sink_add, &sink_error};
        void* inst = call_create(def, plugin_ctx, cfg, &w);
        if (inst) {
            call_shutdown(def, inst, 1000);
            call_destroy(def, inst);
        }
        _exit(0);
    }
    auto deadline = std::chrono::steady_clock::now() + timeout;
    int status = 0;
    while (true) {
        pid_t r = waitpid(pid, &status, WNOHANG);
        if (r == pid) break;
        if (r < 0 && errno != EINTR) return "";
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, &status, 0);
            return "create() did not return within " + std::to_string(timeout.count()) + " ms";
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (WIFSIGNALED(status))
        return std::string("crashed in create() (signal ") + std::to_string(WTERMSIG(status)) +
               ", " + strsignal(WTERMSIG(status)) + ")";
    // The child ends with _exit(0); any other status means create() ended the
    // process itself (exit(), abort() caught by a sanitizer's handler, …).
    if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
        return "create() ended the process (exit status " + std::to_string(WEXITSTATUS(status)) +
               ")";
    return "";
}

}  // namespace

// The chain when SOLVERS is unset: the browser first; imported cookies answer
// what the browser passes on (and requests that name them).
Registry::Registry(Config config, RegistryOptions options)
    : config_(std::move(config)), options_(options) {}

Registry::~Registry() {
    shutdown(std::chrono::milliseconds(2000));
}

std::string Registry::state_file() const {
    return plugin_state_file(config_.state_dir);
}

void Registry::load_all() {
    auto path = plugin_search_path(config_.plugin_path);
    plugins_ = discover_plugins(path);
    for (auto& rec : plugins_) {
        load_plugin(rec);
        if (!rec.loaded()) {
            log::warning("plugins", "plugin '{}' refused ({}): {}", rec.manifest.id,
                         to_string(rec.refusal), rec.detail);
            continue;
        }
        log::info("plugins", "loaded plugin '{}' {} from {}", rec.manifest.id, rec.manifest.version,
                  rec.dir);
        for (const auto& def : rec.components)
            create_component(rec, def);
    }
    if (plugins_.empty()) log::warning("plugins", "no plugins found on {}", fmt::join(path, ":"));
    load_state();
}

void Registry::create_component(const PluginRecord& rec, const RegisteredComponent& def) {
    auto comp = std::make_shared<Component>();
    comp->def = def;
    comp->plugin_id = rec.manifest.id;
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& c : components_)
            if (c->id() == def.id) {
                log::warning("plugins", "component id '{}' from '{}' already taken by '{}'", def.id,
                             rec.manifest.id, c->plugin_id);
                return;
            }
    }
    std::string state_dir = config_.state_dir + "/plugins/" + rec.manifest.id;
    std::error_code ec;
    fs::create_directories(state_dir, ec);
    config_strings_.push_back(std::make_unique<std::string>(rec.dir));
    const std::string& plugin_dir = *config_strings_.back();
    config_strings_.push_back(std::make_unique<std::string>(state_dir));
    const std::string& sdir = *config_strings_.back();
    // Components read settings through this context until destroy(), which runs
    // before the registry goes away.
    auto owned = std::make_unique<ConfigCtx>();
    owned->plugin_id = rec.manifest.id;
    for (const auto& name : rec.manifest.settings) {
        owned->declared.insert(name);
        if (auto it = config_.raw.find(name); it != config_.raw.end())
            owned->values[name] = it->second;
    }
    config_ctxs_.push_back(std::move(owned));
    auto* cctx = config_ctxs_.back().get();
    byparr_config cfg{sizeof(byparr_config), &config_get, cctx,
                      byparr_str{plugin_dir.data(), plugin_dir.size()},
                      byparr_str{sdir.data(), sdir.size()}};

    if (options_.probe_create) {
        std::string why = probe_in_child(def, rec.plugin_ctx, &cfg, options_.probe_timeout);
        if (!why.empty()) {
            comp->create_error = why;
            log::error("plugins", "component '{}' faulted: {}", def.id, why);
            std::lock_guard<std::mutex> lock(mu_);
            components_.push_back(comp);
            return;
        }
    }
    ErrorSink sink;
    byparr_list_writer w{sizeof(byparr_list_writer), &sink, &sink_add, &sink_error};
    comp->instance = call_create(def, rec.plugin_ctx, &cfg, &w);
    if (comp->instance == nullptr) {
        comp->create_error = sink.message.empty() ? "create() returned NULL" : sink.message;
        log::error("plugins", "component '{}' faulted: {}", def.id, comp->create_error);
    } else {
        log::debug("plugins", "created {} '{}'", to_string(def.kind), def.id);
    }
    std::lock_guard<std::mutex> lock(mu_);
    components_.push_back(comp);
}

void Registry::load_state() {
    std::string why;
    PluginState saved = PluginState::load(state_file(), &why);
    if (!why.empty()) log::warning("registry", "ignoring unreadable {}: {}", state_file(), why);
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::string> solvers;  // in load order: those not in the order go last
    for (const auto& c : components_)
        if (c->kind() == Kind::kSolver) solvers.push_back(c->id());
    state_ = std::move(saved);
    order_ = state_.chain_order(config_.solvers, default_solvers(), solvers);
}

bool Registry::is_enabled(const std::string& id) const {
    // set_enabled() writes state_ under mu_ while request threads ask (#17).
    std::lock_guard<std::mutex> lock(mu_);
    return is_enabled_locked(id);
}

bool Registry::is_enabled_locked(const std::string& id) const {
    const auto& configured = config_.solvers.empty() ? default_solvers() : config_.solvers;
    for (const auto& c : components_)
        if (c->id() == id) return state_.is_enabled(id, c->kind() == Kind::kSolver, configured);
    return false;
}

std::vector<ComponentStatus> Registry::status() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<ComponentStatus> out;
    for (const auto& c : components_) {
        ComponentStatus s;
        s.id = c->id();
        s.plugin_id = c->plugin_id;
        s.description = c->def.description;
        s.kind = c->kind();
        s.enabled = is_enabled_locked(c->id());
        s.reason = c->health_reason();
        s.faulted = !s.reason.empty();
        s.calls = c->calls();
        s.faults = c->faults();
        if (c->kind() == Kind::kSolver) {
            auto it = std::find(order_.begin(), order_.end(), c->id());
            if (it != order_.end()) s.order = static_cast<int>(it - order_.begin());
        }
        out.push_back(std::move(s));
    }
    return out;
}

std::vector<std::shared_ptr<Component>> Registry::solver_chain() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::shared_ptr<Component>> out;
    auto now = std::chrono::steady_clock::now();
    for (const auto& id : order_)
        for (const auto& c : components_)
            if (c->id() == id && c->kind() == Kind::kSolver && is_enabled_locked(id) &&
                c->available(now))
                out.push_back(c);
    return out;
}

std::vector<std::shared_ptr<Component>> Registry::enabled(Kind kind) const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<std::shared_ptr<Component>> out;
    auto now = std::chrono::steady_clock::now();
    for (const auto& c : components_)
        if (c->kind() == kind && is_enabled_locked(c->id()) && c->available(now)) out.push_back(c);
    return out;
}

std::shared_ptr<Component> Registry::find(const std::string& id) const {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& c : components_)
        if (c->id() == id) return c;
    return nullptr;
}

std::optional<AdminError> Registry::set_enabled(const std::string& id, bool enabled) {
    std::lock_guard<std::mutex> lock(mu_);
    bool known = std::any_of(components_.begin(), components_.end(),
                             [&](const auto& c) { return c->id() == id; });
    if (!known) return AdminError{AdminError::Kind::kNotFound, "no component '" + id + "'"};
    state_.explicit_state[id] = enabled;
    log::info("registry", "component '{}' {}", id, enabled ? "enabled" : "disabled");
    return save_state();
}

std::optional<AdminError> Registry::set_order(const std::vector<std::string>& ids) {
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& id : ids) {
        bool solver = std::any_of(components_.begin(), components_.end(), [&](const auto& c) {
            return c->id() == id && c->kind() == Kind::kSolver;
        });
        // The order names the solvers: one that is not there makes the request invalid.
        if (!solver) return AdminError{AdminError::Kind::kInvalid, "no solver '" + id + "'"};
    }
    std::vector<std::string> order = ids;
    for (const auto& id : order_)
        if (std::find(order.begin(), order.end(), id) == order.end()) order.push_back(id);
    order_ = order;
    return save_state();
}

std::optional<AdminError> Registry::save_state() const {
    PluginState s = state_;
    s.order = order_;  // the effective order, so a restart keeps it whatever the defaults
    auto err = s.save(state_file());
    if (!err) return std::nullopt;
    log::warning("registry", "state not saved: {}", *err);
    return AdminError{AdminError::Kind::kIo, *err};
}

void Registry::stop_components(std::chrono::milliseconds deadline) {
    std::vector<std::shared_ptr<Component>> comps;
    {
        std::lock_guard<std::mutex> lock(mu_);
        // Plugins are promised one shutdown call, however the host gets there.
        if (stopped_) return;
        stopped_ = true;
        comps = components_;
    }
    auto ms = static_cast<uint32_t>(deadline.count());
    for (const auto& c : comps)
        if (c->instance) call_shutdown(c->def, c->instance, ms);
}

void Registry::shutdown(std::chrono::milliseconds deadline) {
    std::vector<std::shared_ptr<Component>> comps;
    {
        std::lock_guard<std::mutex> lock(mu_);
        if (shut_down_) return;
        shut_down_ = true;
    }
    stop_components(deadline);
    {
        std::lock_guard<std::mutex> lock(mu_);
        comps = components_;
    }
    for (const auto& c : comps) {
        if (!c->instance) continue;
        // A call the host abandoned may still be running inside the plugin:
        // destroying under it would crash. Leaking it at exit is harmless.
        if (c->abandoned_calls() > 0) {
            log::warning("registry", "not destroying '{}': {} call(s) still running", c->id(),
                         c->abandoned_calls());
            continue;
        }
        call_destroy(c->def, c->instance);
        c->instance = nullptr;
    }
    for (auto& rec : plugins_)
        if (rec.loaded() && rec.module) {
            byparr_module_v1 mc{};
            std::memcpy(&mc, rec.module, std::min<size_t>(rec.module->struct_size, sizeof mc));
            if (mc.unload) mc.unload(rec.plugin_ctx);
        }
}

}  // namespace byparr
