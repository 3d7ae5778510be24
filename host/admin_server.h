// The admin endpoint byparrctl talks to: HTTP over a Unix socket in the state
// directory (mode 0600), so that nothing on the network can reach it and only the
// service's own user (or root) can. The public port never serves admin actions.
#pragma once

#include <memory>
#include <optional>
#include <string>

#include <sys/types.h>

#include "core/config.h"
#include "core/registry.h"
#include "host/v1_service.h"

namespace byparr {

class QuietHttpServer;

class ClearanceCache;

class AdminServer {
  public:
    AdminServer(const Config& config, Registry& registry, V1Service& service);
    /// The cache behind GET /cache and POST /cache/flush (default: the service's);
    /// without one they answer 404 and byparrctl says the server has none. Call
    /// before start().
    void set_cache(ClearanceCache* cache) { cache_ = cache; }
    ~AdminServer();
    /// Binds <state_dir>/admin.sock; logs and carries on without it on failure.
    /// Call only while holding the state directory's InstanceLock: a socket file
    /// found there is then a crashed run's and is replaced.
    void start();
    void stop();
    std::string socket_path() const;

  private:
    const Config& config_;
    Registry& registry_;
    V1Service& service_;
    ClearanceCache* cache_ = nullptr;
    std::unique_ptr<QuietHttpServer> server_;
    // The socket file this server bound (device, inode): stop() removes the path
    // only while it is still that file, never one another process put there.
    dev_t sock_dev_ = 0;
    ino_t sock_ino_ = 0;
};

/// JSON of every plugin (loaded or refused) and component, as `byparrctl plugins
/// list --json` prints it. Also used with the server stopped (from manifests).
std::string plugins_json(const Registry& registry);

/// JSON of one plugin (by plugin or component id) with all its components, as
/// `byparrctl plugins info` prints it; nullopt when no such id is loaded.
std::optional<std::string> plugin_info_json(const Registry& registry, const std::string& id);

}  // namespace byparr
