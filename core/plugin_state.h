// The one home of plugin enable-state and its file, <state dir>/plugins.json:
// what is persisted, how a component's enabled state follows from it, and the
// atomic write. The registry (the running server) and byparrctl (offline, the
// server stopped) both use it, so they cannot disagree about a state.
//
// Also the admin error type: what an admin change can fail with, typed, so the
// admin endpoint maps it to an HTTP status by kind and never by its wording.
//
// No plugin code and no HTTP: byparrctl links it (from byparr_core, a static
// library, so only what it uses) without the host.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace byparr {

/// What an admin change (enable, disable, order) can fail with.
struct AdminError {
    enum class Kind {
        kNotFound = 1,  // no such component / solver
        kInvalid,       // the request itself is wrong
        kIo,            // the change is made but could not be saved
    };
    Kind kind = Kind::kIo;
    std::string message;
};

/// The HTTP status of an admin error: 404, 400, 500.
int http_status(AdminError::Kind kind);

/// plugins.json: the user's explicit choices and the solver order.
struct PluginState {
    std::map<std::string, bool> explicit_state;  // id → enabled, as chosen
    std::vector<std::string> order;              // the persisted solver order; may be empty

    /// The state at `path`: empty when the file is missing. A file that cannot
    /// be parsed gives the empty state and its reason in *error.
    static PluginState load(const std::string& path, std::string* error);
    std::string to_json() const;
    /// Writes to_json() to path atomically (creating its directory).
    std::optional<std::string> save(const std::string& path) const;

    /// Whether a component is enabled: the explicit choice if there is one;
    /// otherwise non-solvers are (harmless when unconfigured), and solvers only
    /// when they are in `configured` (SOLVERS, or the default chain), so a
    /// plugin dropped into the path takes no traffic until enabled.
    bool is_enabled(const std::string& id, bool is_solver,
                    const std::vector<std::string>& configured) const;

    /// The solver chain order: `configured` when SOLVERS is set (an operator
    /// who sets it expects it to hold after a restart), else the persisted
    /// order, else `defaults`; then the `solvers` not named, in their order.
    std::vector<std::string> chain_order(const std::vector<std::string>& configured,
                                         const std::vector<std::string>& defaults,
                                         const std::vector<std::string>& solvers) const;
};

/// The solver chain when SOLVERS is unset: webengine, cookie-import.
const std::vector<std::string>& default_solvers();

/// The file name of the state in a state directory.
std::string plugin_state_file(const std::string& state_dir);

/// Atomically replaces `path` with `content` (write temp, fsync, rename, fsync dir).
std::optional<std::string> write_file_atomic(const std::string& path, const std::string& content);

}  // namespace byparr
