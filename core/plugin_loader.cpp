#include "core/plugin_loader.h"

#include <boost/dll/shared_library.hpp>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <sstream>

#include "core/config.h"
#include "core/elf_exports.h"
#include "core/log.h"

namespace fs = std::filesystem;

namespace byparr {

class LoadedLibrary {
  public:
    boost::dll::shared_library lib;
};

const char* to_string(LoadRefusal r) {
    switch (r) {
        case LoadRefusal::kNone:
            return "loaded";
        case LoadRefusal::kManifestInvalid:
            return "manifest-invalid";
        case LoadRefusal::kLibraryMissing:
            return "library-missing";
        case LoadRefusal::kMissingEntrySymbol:
            return "missing-entry-symbol";
        case LoadRefusal::kWrongAbiMajor:
            return "wrong-abi-major";
        case LoadRefusal::kNewerAbiMinor:
            return "newer-abi-minor";
        case LoadRefusal::kLoadFailed:
            return "load-failed";
        case LoadRefusal::kInvalidModule:
            return "invalid-module";
        case LoadRefusal::kTruncatedStruct:
            return "truncated-struct";
        case LoadRefusal::kOversizedStruct:
            return "oversized-struct";
        case LoadRefusal::kManifestMismatch:
            return "manifest-mismatch";
        case LoadRefusal::kLoadRefused:
            return "load-refused";
        case LoadRefusal::kDuplicateId:
            return "duplicate-id";
    }
    return "?";
}

const char* to_string(RegisteredComponent::Kind k) {
    switch (k) {
        case RegisteredComponent::Kind::kSolver:
            return "solver";
        case RegisteredComponent::Kind::kCookieSource:
            return "cookie-source";
        case RegisteredComponent::Kind::kProxyProvider:
            return "proxy-provider";
        case RegisteredComponent::Kind::kCaptchaSolver:
            return "captcha-solver";
    }
    return "?";
}

std::vector<std::string> plugin_search_path(const std::string& configured) {
    std::vector<std::string> out;
    if (!configured.empty()) {
        std::stringstream ss(configured);
        std::string item;
        while (std::getline(ss, item, ':'))
            if (!item.empty()) out.push_back(item);
        return out;
    }
    out.push_back((fs::path(executable_dir()) / ".." / "lib" / "byparr" / "plugins")
                      .lexically_normal()
                      .string());
    return out;
}

std::vector<PluginRecord> discover_plugins(const std::vector<std::string>& path) {
    std::vector<PluginRecord> out;
    for (const auto& root : path) {
        std::error_code ec;
        if (!fs::is_directory(root, ec)) continue;
        std::vector<fs::path> dirs;
        for (const auto& e : fs::directory_iterator(root, ec))
            if (e.is_directory(ec)) dirs.push_back(e.path());
        std::sort(dirs.begin(), dirs.end());  // deterministic order
        for (const auto& dir : dirs) {
            std::vector<fs::path> manifests;
            for (const auto& f : fs::directory_iterator(dir, ec)) {
                auto name = f.path().filename().string();
                if (name.size() > 12 && name.ends_with(".plugin.json"))
                    manifests.push_back(f.path());
            }
            std::sort(manifests.begin(), manifests.end());
            for (const auto& mp : manifests) {
                PluginRecord r;
                r.dir = dir.string();
                r.manifest_path = mp.string();
                r.manifest.id =
                    mp.filename().string().substr(0, mp.filename().string().size() - 12);
                std::ifstream in(mp, std::ios::binary);
                std::stringstream buf;
                buf << in.rdbuf();
                std::string err;
                auto m = in ? parse_manifest(buf.str(), &err) : std::nullopt;
                if (!in) err = "cannot read the manifest";
                if (!m) {
                    r.refusal = LoadRefusal::kManifestInvalid;
                    r.detail = mp.filename().string() + ": " + err;
                } else {
                    r.manifest = *m;
                    r.library_path = (dir / m->library).string();
                }
                out.push_back(std::move(r));
            }
        }
    }
    // The same id twice: the first on the path wins, like $PATH.
    std::set<std::string> seen;
    for (auto& r : out) {
        if (!r.loaded()) continue;
        if (!seen.insert(r.manifest.id).second) {
            r.refusal = LoadRefusal::kDuplicateId;
            r.detail = "plugin id '" + r.manifest.id + "' is already provided earlier on the path";
        }
    }
    return out;
}

namespace {

// The smallest module struct a 1.0 plugin may pass: everything up to unload.
constexpr size_t kModuleMinSize = offsetof(byparr_module_v1, unload) + sizeof(void*);

}  // namespace

// The host side of one plugin: its host API table and context. Lives as long as
// the library (plugins keep the table pointer to log), hence heap-allocated and
// owned by the record.
struct PluginHost {
    PluginRecord* record = nullptr;
    std::string plugin_id;
    bool registering = false;  // register_* only valid during load()
    std::vector<std::string> problems;
    bool oversized = false;
    byparr_host_api_v1 api{};
};
using LoadCtx = PluginHost;

namespace {

template <typename T>
bool copy_sized(LoadCtx* c, const T* in, T* out, const char* what) {
    if (in == nullptr) {
        c->problems.push_back(std::string(what) + ": NULL registration");
        return false;
    }
    if (in->struct_size > sizeof(T)) {
        c->problems.push_back(std::string(what) + ": struct_size " +
                              std::to_string(in->struct_size) + " is larger than ABI " +
                              std::to_string(BYPARR_ABI_MAJOR) + "." +
                              std::to_string(BYPARR_ABI_MINOR) + "'s " + std::to_string(sizeof(T)));
        c->oversized = true;
        return false;
    }
    if (in->struct_size < offsetof(T, description) + sizeof(byparr_str)) {
        c->problems.push_back(std::string(what) + ": struct_size " +
                              std::to_string(in->struct_size) + " is too small");
        return false;
    }
    std::memset(out, 0, sizeof(T));
    std::memcpy(out, in, in->struct_size);
    return true;
}

bool accept(LoadCtx* c, RegisteredComponent comp, bool has_required) {
    if (!is_valid_id(comp.id)) {
        c->problems.push_back("component id '" + comp.id + "' must match [a-z0-9][a-z0-9-]*");
        return false;
    }
    if (!has_required) {
        c->problems.push_back("component '" + comp.id + "' lacks a required function");
        return false;
    }
    for (const auto& existing : c->record->components)
        if (existing.id == comp.id) {
            c->problems.push_back("component id '" + comp.id + "' registered twice");
            return false;
        }
    c->record->components.push_back(std::move(comp));
    return true;
}

std::string sv(byparr_str s) {
    return s.data ? std::string(s.data, s.len) : std::string();
}

void host_log(void* ctx, byparr_log_level level, byparr_str msg) {
    auto* c = static_cast<LoadCtx*>(ctx);
    log::Level l = level == BYPARR_LOG_DEBUG     ? log::Level::kDebug
                   : level == BYPARR_LOG_WARNING ? log::Level::kWarning
                   : level == BYPARR_LOG_ERROR   ? log::Level::kError
                                                 : log::Level::kInfo;
    log::write(l, c->plugin_id, sv(msg));
}

bool registering(LoadCtx* c, const char* what) {
    if (c->registering) return true;
    log::warning(c->plugin_id, "{} registration outside load() ignored", what);
    return false;
}

bool reg_solver(void* ctx, const byparr_solver_v1* s) {
    auto* c = static_cast<LoadCtx*>(ctx);
    if (!registering(c, "solver")) return false;
    RegisteredComponent comp{RegisteredComponent::Kind::kSolver, "", "", {}, {}, {}, {}};
    if (!copy_sized(c, s, &comp.solver, "solver")) return false;
    comp.id = sv(comp.solver.id);
    comp.description = sv(comp.solver.description);
    return accept(c, std::move(comp),
                  comp.solver.create && comp.solver.solve && comp.solver.destroy);
}

bool reg_cookie_source(void* ctx, const byparr_cookie_source_v1* s) {
    auto* c = static_cast<LoadCtx*>(ctx);
    if (!registering(c, "cookie source")) return false;
    RegisteredComponent comp{RegisteredComponent::Kind::kCookieSource, "", "", {}, {}, {}, {}};
    if (!copy_sized(c, s, &comp.cookie_source, "cookie source")) return false;
    comp.id = sv(comp.cookie_source.id);
    comp.description = sv(comp.cookie_source.description);
    const auto& k = comp.cookie_source;
    return accept(c, std::move(comp), k.create && k.lookup && k.destroy);
}

bool reg_proxy_provider(void* ctx, const byparr_proxy_provider_v1* s) {
    auto* c = static_cast<LoadCtx*>(ctx);
    if (!registering(c, "proxy provider")) return false;
    RegisteredComponent comp{RegisteredComponent::Kind::kProxyProvider, "", "", {}, {}, {}, {}};
    if (!copy_sized(c, s, &comp.proxy_provider, "proxy provider")) return false;
    comp.id = sv(comp.proxy_provider.id);
    comp.description = sv(comp.proxy_provider.description);
    const auto& k = comp.proxy_provider;
    return accept(c, std::move(comp), k.create && k.pick && k.destroy);
}

bool reg_captcha_solver(void* ctx, const byparr_captcha_solver_v1* s) {
    auto* c = static_cast<LoadCtx*>(ctx);
    if (!registering(c, "captcha solver")) return false;
    RegisteredComponent comp{RegisteredComponent::Kind::kCaptchaSolver, "", "", {}, {}, {}, {}};
    if (!copy_sized(c, s, &comp.captcha_solver, "captcha solver")) return false;
    comp.id = sv(comp.captcha_solver.id);
    comp.description = sv(comp.captcha_solver.description);
    const auto& k = comp.captcha_solver;
    return accept(c, std::move(comp), k.create && k.solve && k.destroy);
}

void refuse(PluginRecord& r, LoadRefusal why, std::string detail) {
    r.refusal = why;
    r.detail = std::move(detail);
    r.components.clear();
}

}  // namespace

namespace {

// Rules that need no code: the manifest already says what the binary is for. Then the
// symbol table, before dlopen: loading runs static constructors, which a library that
// is not a Byparr plugin at all should never get to do. False: refused.
bool check_before_open(PluginRecord& r) {
    const auto& m = r.manifest;
    if (m.abi_major != BYPARR_ABI_MAJOR) {
        refuse(r, LoadRefusal::kWrongAbiMajor,
               "built for plugin ABI " + std::to_string(m.abi_major) + ", host speaks " +
                   std::to_string(BYPARR_ABI_MAJOR));
        return false;
    }
    if (m.abi_minor > BYPARR_ABI_MINOR) {
        refuse(r, LoadRefusal::kNewerAbiMinor,
               "built against ABI 1." + std::to_string(m.abi_minor) + ", host speaks 1." +
                   std::to_string(BYPARR_ABI_MINOR) + ": upgrade Byparr");
        return false;
    }
    std::error_code ec;
    if (!fs::is_regular_file(r.library_path, ec)) {
        refuse(r, LoadRefusal::kLibraryMissing, "library " + r.library_path + " not found");
        return false;
    }
    std::string elf_error;
    auto symbols = elf_exported_symbols(r.library_path, &elf_error);
    if (!symbols) {
        refuse(r, LoadRefusal::kLoadFailed, "not a loadable library: " + elf_error);
        return false;
    }
    if (std::find(symbols->begin(), symbols->end(), BYPARR_ENTRY_SYMBOL_V1) != symbols->end())
        return true;
    for (const auto& s : *symbols) {
        if (s.rfind("byparr_plugin_query_v", 0) == 0) {
            refuse(r, LoadRefusal::kWrongAbiMajor, "exports " + s + " but this host speaks ABI 1");
            return false;
        }
    }
    refuse(r, LoadRefusal::kMissingEntrySymbol,
           std::string("does not export ") + BYPARR_ENTRY_SYMBOL_V1);
    return false;
}

// Maps the library for good, or null (refused).
std::shared_ptr<LoadedLibrary> open_library(PluginRecord& r) {
    // Never unloaded (no hot unload): a call the host abandoned may still be
    // running in the library, and plugins may keep pointers into it. The
    // libraries live in a process-wide list that is never destroyed, so the
    // leak checker sees them as reachable, not lost.
    static auto* keep_loaded = new std::vector<std::shared_ptr<LoadedLibrary>>;
    static std::mutex keep_mu;
    auto lib = std::make_shared<LoadedLibrary>();
    {
        std::lock_guard<std::mutex> lock(keep_mu);
        keep_loaded->push_back(lib);
    }
    try {
        // Local binding: two plugins may carry different copies of the same
        // library (fmt, their own helpers) without one resolving into the other.
        lib->lib.load(fs::path(r.library_path),
                      boost::dll::load_mode::rtld_local | boost::dll::load_mode::rtld_now);
    } catch (const std::exception& e) {
        refuse(r, LoadRefusal::kLoadFailed, e.what());
        return nullptr;
    }
    return lib;
}

// The module the entry point describes, checked against the ABI and the manifest, or
// null (refused). *copy: the part of it this host knows.
const byparr_module_v1* query_module(PluginRecord& r, LoadedLibrary& lib, byparr_module_v1* copy) {
    byparr_plugin_query_v1_fn query = nullptr;
    try {
        query = lib.lib.get<const byparr_module_v1*()>(BYPARR_ENTRY_SYMBOL_V1);
    } catch (const std::exception& e) {
        refuse(r, LoadRefusal::kMissingEntrySymbol, e.what());
        return nullptr;
    }
    const byparr_module_v1* mod = query ? query() : nullptr;
    auto refused = [&](LoadRefusal why, std::string detail) {
        refuse(r, why, std::move(detail));
        return nullptr;
    };
    if (mod == nullptr) return refused(LoadRefusal::kInvalidModule, "query returned NULL");
    if (mod->struct_size < kModuleMinSize)
        return refused(LoadRefusal::kTruncatedStruct, "module struct_size " +
                                                          std::to_string(mod->struct_size) + " < " +
                                                          std::to_string(kModuleMinSize));
    if (mod->abi_major != BYPARR_ABI_MAJOR)
        return refused(LoadRefusal::kWrongAbiMajor,
                       "module says ABI " + std::to_string(mod->abi_major));
    if (mod->abi_minor > BYPARR_ABI_MINOR)
        return refused(LoadRefusal::kNewerAbiMinor,
                       "module says ABI 1." + std::to_string(mod->abi_minor) + ", host speaks 1." +
                           std::to_string(BYPARR_ABI_MINOR));
    // Same or older minor, yet larger than the newest struct this host knows:
    // the plugin is lying about its version or corrupt; reading it is unsafe.
    if (mod->struct_size > sizeof(byparr_module_v1))
        return refused(LoadRefusal::kOversizedStruct,
                       "module struct_size " + std::to_string(mod->struct_size) +
                           " is larger than ABI 1." + std::to_string(mod->abi_minor) + " allows (" +
                           std::to_string(sizeof(byparr_module_v1)) + ")");
    *copy = byparr_module_v1{};
    std::memcpy(copy, mod, mod->struct_size);
    const auto& m = r.manifest;
    std::string bin_id = copy->id ? copy->id : "", bin_version = copy->version ? copy->version : "";
    if (bin_id != m.id || bin_version != m.version)
        return refused(LoadRefusal::kManifestMismatch, "binary is " + bin_id + " " + bin_version +
                                                           ", manifest says " + m.id + " " +
                                                           m.version);
    if (copy->load == nullptr) return refused(LoadRefusal::kInvalidModule, "module has no load()");
    return mod;
}

}  // namespace

void load_plugin(PluginRecord& r) {
    if (!r.loaded() || !check_before_open(r)) return;
    auto lib = open_library(r);
    if (!lib) return;
    byparr_module_v1 mc{};
    const byparr_module_v1* mod = query_module(r, *lib, &mc);
    if (mod == nullptr) return;

    auto host = std::make_shared<PluginHost>();
    LoadCtx& ctx = *host;
    ctx.record = &r;
    ctx.plugin_id = r.manifest.id;
    byparr_host_api_v1& api = host->api;
    api.struct_size = sizeof api;
    api.abi_major = BYPARR_ABI_MAJOR;
    api.abi_minor = BYPARR_ABI_MINOR;
    api.host_ctx = &ctx;
    api.log = &host_log;
    api.register_solver = &reg_solver;
    api.register_cookie_source = &reg_cookie_source;
    api.register_proxy_provider = &reg_proxy_provider;
    api.register_captcha_solver = &reg_captcha_solver;
    void* plugin_ctx = nullptr;
    ctx.registering = true;
    bool ok = mc.load(&api, &plugin_ctx);
    ctx.registering = false;
    ctx.record = nullptr;  // records move; only load() needed it
    if (!ok || !ctx.problems.empty() || r.components.empty()) {
        std::string why = !ctx.problems.empty() ? ctx.problems.front()
                          : !ok                 ? "load() returned false"
                                                : "load() registered no component";
        if (mc.unload) mc.unload(plugin_ctx);
        // The library stays mapped and the table alive: the plugin may have
        // kept pointers to both, and there is no hot unload.
        r.library = lib;
        r.host = host;
        return refuse(r, ctx.oversized ? LoadRefusal::kOversizedStruct : LoadRefusal::kLoadRefused,
                      why);
    }
    r.plugin_ctx = plugin_ctx;
    r.module = mod;
    r.library = std::move(lib);
    r.host = std::move(host);
}

}  // namespace byparr
