// Discovers plugins on the plugin path and loads them through Boost.DLL, applying
// every rule of the ABI before any plugin code runs beyond the side-effect-free
// query function (architecture.md, "The plugin boundary").
#pragma once

#include <byparr/abi.h>

#include <memory>
#include <string>
#include <vector>

#include "core/plugin_manifest.h"

namespace byparr {

/// Why a plugin was refused. Zero is never a valid value.
enum class LoadRefusal {
    kNone = 1,            // loaded
    kManifestInvalid,     // unreadable or invalid <id>.plugin.json
    kLibraryMissing,      // the manifest's library file is not there
    kMissingEntrySymbol,  // byparr_plugin_query_v1 is not exported
    kWrongAbiMajor,       // built for another major (manifest or module)
    kNewerAbiMinor,       // built against a newer minor than this host
    kLoadFailed,          // dlopen failed (missing dependency, not an ELF…)
    kInvalidModule,       // query returned NULL or a module without load()
    kTruncatedStruct,     // module struct_size smaller than ABI 1.0's
    kOversizedStruct,     // a struct larger than its declared ABI version allows
    kManifestMismatch,    // id/version in the binary differ from the manifest
    kLoadRefused,         // load() returned false or registered nothing valid
    kDuplicateId,         // another plugin already has this id
};

const char* to_string(LoadRefusal r);

/// A component as registered by a plugin (the host's zero-extended copy).
struct RegisteredComponent {
    enum class Kind { kSolver = 1, kCookieSource, kProxyProvider, kCaptchaSolver } kind;
    std::string id, description;
    byparr_solver_v1 solver{};
    byparr_cookie_source_v1 cookie_source{};
    byparr_proxy_provider_v1 proxy_provider{};
    byparr_captcha_solver_v1 captcha_solver{};
};

const char* to_string(RegisteredComponent::Kind k);

class LoadedLibrary;  // keeps the shared library mapped for the process's life
struct PluginHost;    // the host API table handed to the plugin

struct PluginRecord {
    PluginManifest manifest;  // as read (may be partial when the manifest is invalid)
    std::string dir, manifest_path, library_path;
    LoadRefusal refusal = LoadRefusal::kNone;
    std::string detail;  // human reason for a refusal
    std::vector<RegisteredComponent> components;
    void* plugin_ctx = nullptr;
    const byparr_module_v1* module = nullptr;
    std::shared_ptr<LoadedLibrary> library;
    std::shared_ptr<PluginHost> host;
    bool loaded() const { return refusal == LoadRefusal::kNone; }
};

/// The directories searched: BYPARR_PLUGIN_PATH (colon-separated) if set, else
/// <exe dir>/../lib/byparr/plugins.
std::vector<std::string> plugin_search_path(const std::string& configured);

/// Reads every <dir>/<id>/<id>.plugin.json under the path, without loading code.
std::vector<PluginRecord> discover_plugins(const std::vector<std::string>& path);

/// Loads one discovered plugin and calls its load() with a host API table that
/// stays valid for the process's life. On refusal sets record.refusal/detail and
/// never throws. A refused plugin's library may stay mapped (no hot unload).
void load_plugin(PluginRecord& record);

}  // namespace byparr
