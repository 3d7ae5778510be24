// Every loaded component with its state: enabled or disabled (persisted in the
// state directory), faulted (create failed, or its circuit breaker is open), and
// the solver chain order. Thread-safe: the HTTP threads read it while the admin
// endpoint changes it.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/plugin_loader.h"
#include "core/plugin_state.h"

namespace byparr {

struct ConfigCtx;
using Kind = RegisteredComponent::Kind;

/// One live component. Handed out as shared_ptr so an in-flight call keeps it.
class Component {
  public:
    RegisteredComponent def;
    std::string plugin_id;
    void* instance = nullptr;  // NULL when create failed
    std::string create_error;  // why instance is NULL

    const std::string& id() const { return def.id; }
    Kind kind() const { return def.kind; }

    // Circuit breaker: a component that keeps failing on its own account (internal
    // errors, hangs, crashes — not blocks or captchas, which are the site's) is
    // taken out of the chain for a cool-off, then tried again.
    void record_success();
    void record_fault(const std::string& reason, bool hang);
    bool available(std::chrono::steady_clock::time_point now) const;
    std::string health_reason() const;
    uint64_t calls() const { return calls_.load(); }
    uint64_t faults() const { return faults_.load(); }
    int abandoned_calls() const { return abandoned_.load(); }
    void note_call() { ++calls_; }
    void note_abandoned();
    /// An abandoned call came back: when none is left, a breaker that a hang
    /// opened closes again (it only guards against hung threads piling up).
    void note_returned_after_abandon();

    static constexpr int kBreakerThreshold = 3;
    static constexpr std::chrono::seconds kBreakerCooloff{60};

  private:
    mutable std::mutex mu_;
    int consecutive_faults_ = 0;
    std::chrono::steady_clock::time_point open_until_{};
    std::string last_fault_;
    bool opened_by_hang_ = false;
    std::chrono::steady_clock::time_point abandoned_at_{};
    std::atomic<uint64_t> calls_{0}, faults_{0};
    std::atomic<int> abandoned_{0};
};

struct ComponentStatus {
    std::string id, plugin_id, description;
    Kind kind = Kind::kSolver;
    bool enabled = false;
    bool faulted = false;  // create failed or breaker open
    std::string reason;
    int order = -1;  // position in the solver chain, -1 if not a solver / disabled
    uint64_t calls = 0, faults = 0;
    const char* state() const { return faulted ? "faulted" : enabled ? "enabled" : "disabled"; }
};

struct RegistryOptions {
    /// Run each component's create() once in a forked child first, so a plugin
    /// that crashes there is faulted instead of taking the host down.
    bool probe_create = true;
    std::chrono::milliseconds probe_timeout{5000};
};

class Registry {
  public:
    Registry(Config config, RegistryOptions options = {});
    ~Registry();
    Registry(const Registry&) = delete;
    Registry& operator=(const Registry&) = delete;

    /// Discovers, loads and creates every plugin on the path; applies persisted
    /// state. Refusals and faults are logged and kept, never thrown.
    void load_all();

    const std::vector<PluginRecord>& plugins() const { return plugins_; }
    std::vector<ComponentStatus> status() const;

    /// Enabled, available solvers in chain order.
    std::vector<std::shared_ptr<Component>> solver_chain() const;
    std::vector<std::shared_ptr<Component>> enabled(Kind kind) const;
    std::shared_ptr<Component> find(const std::string& id) const;
    bool is_enabled(const std::string& id) const;

    /// Admin changes; persisted (core/plugin_state.h). A typed error on failure;
    /// kIo: the change holds in memory but was not saved.
    std::optional<AdminError> set_enabled(const std::string& id, bool enabled);
    std::optional<AdminError> set_order(const std::vector<std::string>& ids);

    /// Runs every component's shutdown verb (deadline shared) and destroys nothing,
    /// so calls still inside a component can end while it is alive. Once only;
    /// shutdown() does not repeat it.
    void stop_components(std::chrono::milliseconds deadline);

    /// stop_components() unless done, then destroys the components with no call
    /// still running; then unloads plugins.
    void shutdown(std::chrono::milliseconds deadline);

    const Config& config() const { return config_; }
    std::string state_file() const;

  private:
    void create_component(const PluginRecord& rec, const RegisteredComponent& def);
    void load_state();
    bool is_enabled_locked(const std::string& id) const;  // caller holds mu_
    std::optional<AdminError> save_state() const;         // caller holds mu_

    Config config_;
    RegistryOptions options_;
    std::vector<PluginRecord> plugins_;
    mutable std::mutex mu_;
    std::vector<std::shared_ptr<Component>> components_;
    PluginState state_;               // persisted user choices (its order: as loaded)
    std::vector<std::string> order_;  // the effective solver order
    bool stopped_ = false;            // shutdown verbs ran
    bool shut_down_ = false;          // components destroyed
    // Strings handed to plugins through byparr_config::get must outlive them.
    std::vector<std::unique_ptr<std::string>> config_strings_;
    std::vector<std::unique_ptr<ConfigCtx>> config_ctxs_;
};

}  // namespace byparr
