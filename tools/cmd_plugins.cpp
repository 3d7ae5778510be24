// byparrctl plugins: list (also with the server stopped), info, enable, disable, order.
#include "tools/ctl.h"

#include <Poco/Dynamic/Var.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/json_writer.h"
#include "core/plugin_loader.h"
#include "core/plugin_state.h"
#include "tools/text_table.h"

namespace fs = std::filesystem;
using Poco::JSON::Array;
using Poco::JSON::Object;

namespace byparr::ctl {

namespace {

constexpr const char* kPluginsHelp = R"(Usage: byparrctl [--json] plugins list
       byparrctl [--json] plugins info ID
       byparrctl [--json] plugins enable ID
       byparrctl [--json] plugins disable ID
       byparrctl [--json] plugins order ID...

  list      every plugin and component with its state (enabled, disabled, faulted and why),
            solver order, calls and faults. With the server stopped, lists the installed
            plugins from their manifests and the saved state, without loading them.
  info      one plugin (by plugin or component id): manifest, files, components.
  enable    put a component back into service. Saved in <state dir>/plugins.json.
  disable   take a component out of service; requests naming it get an error.
  order     the solver chain order; solvers not named keep their place after these.
)";

void print_components(const Array::Ptr& comps) {
    TextTable t(
        {"COMPONENT", "PLUGIN", "KIND", "STATE", "ORDER", "CALLS", "FAULTS", "DESCRIPTION"});
    std::vector<std::string> reasons;
    for (size_t i = 0; comps && i < comps->size(); ++i) {
        auto o = comps->getObject(static_cast<unsigned>(i));
        std::string order = o->has("order") ? integer(num(o, "order") + 1) : "-";
        t.add({str(o, "id"), str(o, "plugin"), str(o, "kind"), str(o, "state"), order,
               integer(num(o, "calls")), integer(num(o, "faults")),
               ellipsize(str(o, "description"), 60)});
        if (!str(o, "reason").empty()) reasons.push_back(str(o, "id") + ": " + str(o, "reason"));
    }
    if (t.empty()) {
        std::cout << "no components loaded\n";
    } else {
        t.print(std::cout);
    }
    for (const auto& r : reasons)
        std::cout << "  " << r << "\n";
}

int plugins_list_online(const Context& c, const Reply& r) {
    if (r.status != 200) return fail(error_message(r));
    if (c.opt.json) {
        // Same shape as the offline listing's, which says running:false.
        std::string body = r.body;
        if (body.size() > 1 && body.front() == '{') body.insert(1, "\"running\":true,");
        std::cout << body << "\n";
        return kOk;
    }
    auto o = parse_object(r.body);
    print_components(o->getArray("components"));
    auto plugins = o->getArray("plugins");
    TextTable refused({"PLUGIN", "VERSION", "STATUS", "REASON"});
    for (size_t i = 0; plugins && i < plugins->size(); ++i) {
        auto p = plugins->getObject(static_cast<unsigned>(i));
        if (str(p, "status") != "loaded")
            refused.add({str(p, "id"), str(p, "version"), str(p, "status"), str(p, "reason")});
    }
    if (!refused.empty()) {
        std::cout << "\nrefused plugins:\n";
        refused.print(std::cout);
    }
    return kOk;
}

// With the server stopped: manifests plus plugins.json, estimating each plugin's
// state by the registry's default rules. No plugin code runs.
int plugins_list_offline(const Context& c, const std::string& why) {
    std::string err;
    auto cfg = Config::from_env(&err);
    if (!cfg) return fail("invalid configuration: " + err);
    auto plugins = discover_plugins(plugin_search_path(cfg->plugin_path));

    // The registry's own rules and file (core/plugin_state.h), so this listing
    // and the server's agree on every state.
    std::string state_file = plugin_state_file(c.state_dir);
    std::string why_unreadable, state_note;
    PluginState state = PluginState::load(state_file, &why_unreadable);
    if (!why_unreadable.empty()) state_note = "unreadable " + state_file + ": " + why_unreadable;
    auto is_solver = [](const PluginRecord& p) {
        const auto& caps = p.manifest.capabilities;
        return std::find(caps.begin(), caps.end(), "solver") != caps.end();
    };
    std::vector<std::string> solvers;
    for (const auto& p : plugins)
        if (p.loaded() && is_solver(p)) solvers.push_back(p.manifest.id);
    std::vector<std::string> order = state.chain_order(cfg->solvers, default_solvers(), solvers);
    const auto& configured = cfg->solvers.empty() ? default_solvers() : cfg->solvers;
    auto state_of = [&](const PluginRecord& p) -> std::string {
        if (!p.loaded()) return "refused";
        return state.is_enabled(p.manifest.id, is_solver(p), configured) ? "enabled" : "disabled";
    };
    auto join = [](const std::vector<std::string>& v, const char* sep) {
        std::string s;
        for (const auto& x : v)
            s += (s.empty() ? "" : sep) + x;
        return s;
    };

    if (c.opt.json) {
        JsonWriter w;
        w.begin_object().field("running", false).field("socket", c.socket);
        w.field("stateFile", state_file).key("plugins").begin_array();
        for (const auto& p : plugins) {
            w.begin_object().field("id", p.manifest.id).field("name", p.manifest.name);
            w.field("version", p.manifest.version).field("dir", p.dir);
            w.field("status", to_string(p.refusal));  // as the server's: "loaded" or why not
            if (!p.loaded()) w.field("reason", p.detail);
            w.key("capabilities").begin_array();
            for (const auto& cap : p.manifest.capabilities)
                w.value(cap);
            w.end_array().field("description", p.manifest.description);
            w.field("state", state_of(p)).end_object();
        }
        w.end_array().key("order").begin_array();
        for (const auto& id : order)
            w.value(id);
        w.end_array().end_object();
        std::cout << w.str() << "\n";
        return kOk;
    }
    std::cout << why << "; showing installed plugins from their manifests.\n\n";
    TextTable t({"PLUGIN", "VERSION", "CAPABILITIES", "STATE", "DESCRIPTION"});
    std::vector<std::string> problems;
    for (const auto& p : plugins) {
        t.add({p.manifest.id, p.manifest.version, join(p.manifest.capabilities, ","), state_of(p),
               ellipsize(p.manifest.description, 60)});
        if (!p.loaded())
            problems.push_back(p.manifest_path + ": " + to_string(p.refusal) + ": " + p.detail);
    }
    if (t.empty()) {
        std::cout << "no plugins found on " << join(plugin_search_path(cfg->plugin_path), ":")
                  << "\n";
    } else {
        t.print(std::cout);
    }
    for (const auto& p : problems)
        std::cout << "  " << p << "\n";
    std::cout << "\nsolver order: " << join(order, ", ") << "\n";
    std::cout << "states are from " << state_file
              << " and the defaults; the server decides per component when it starts.\n";
    if (!state_note.empty()) std::cout << state_note << "\n";
    return kOk;
}

int plugins_info(const Context& c, const std::string& id) {
    auto r = admin(c, "GET", "/plugins/" + encode_segment(id));
    if (r.status != 200) return fail(error_message(r));
    if (c.opt.json) {
        std::cout << r.body << "\n";
        return kOk;
    }
    auto o = parse_object(r.body);
    auto p = o->getObject("plugin");
    std::string caps;
    if (auto arr = p->getArray("capabilities"))
        for (size_t i = 0; i < arr->size(); ++i)
            caps +=
                (caps.empty() ? "" : ", ") + arr->getElement<std::string>(static_cast<unsigned>(i));
    auto abi = p->getObject("abi");
    TextTable t({"FIELD", "VALUE"});
    t.add({"plugin", str(p, "id")});
    t.add({"name", str(p, "name")});
    t.add({"version", str(p, "version")});
    t.add({"status", str(p, "status") + (str(p, "reason").empty() ? "" : ": " + str(p, "reason"))});
    t.add({"abi", integer(num(abi, "major")) + "." + integer(num(abi, "minor"))});
    t.add({"capabilities", caps});
    // What the plugin reads from the server's environment (byparr_add_plugin SETTINGS), and
    // whether the server has it; values are never shown (they may be secrets).
    std::string settings;
    if (auto arr = p->getArray("settings"))
        for (size_t i = 0; i < arr->size(); ++i) {
            auto s = arr->getObject(static_cast<unsigned>(i));
            if (!s) continue;
            settings += (settings.empty() ? "" : ", ") + str(s, "name") +
                        (s->has("set") ? (s->getValue<bool>("set") ? " (set)" : " (unset)") : "");
        }
    t.add({"settings", settings.empty() ? "(none)" : settings});
    t.add({"description", str(p, "description")});
    t.add({"directory", str(p, "dir")});
    t.add({"library", str(p, "library")});
    t.add({"manifest", str(p, "manifest")});
    // The field/value table reads better without its header row.
    std::ostringstream buf;
    t.print(buf);
    std::string text = buf.str();
    std::cout << text.substr(text.find('\n') + 1) << "\n";
    print_components(o->getArray("components"));
    return kOk;
}

}  // namespace

int cmd_plugins(Context& c) {
    const auto& a = c.opt.args;
    if (c.opt.help) {
        std::cout << kPluginsHelp;
        return kOk;
    }
    if (a.size() < 2)
        throw UsageError("plugins needs a subcommand: list, info, enable, disable, order");
    const std::string& sub = a[1];
    if (sub == "list") {
        if (a.size() != 2) throw UsageError("plugins list takes no arguments");
        Reply r;
        try {
            r = admin(c, "GET", "/plugins");
        } catch (const Unreachable& e) {
            return plugins_list_offline(c, e.what());
        }
        return plugins_list_online(c, r);
    }
    if (sub == "info") {
        if (a.size() != 3) throw UsageError("plugins info takes one ID");
        return plugins_info(c, a[2]);
    }
    if (sub == "enable" || sub == "disable") {
        if (a.size() != 3) throw UsageError("plugins " + sub + " takes one ID");
        auto r = admin(c, "POST", "/plugins/" + encode_segment(a[2]) + "/" + sub);
        return print_result(c, r, a[2] + " " + sub + "d");
    }
    if (sub == "order") {
        if (a.size() < 3) throw UsageError("plugins order takes one or more solver IDs");
        JsonWriter w;
        w.begin_array();
        for (size_t i = 2; i < a.size(); ++i)
            w.value(a[i]);
        w.end_array();
        auto r = admin(c, "POST", "/plugins/order", w.str());
        if (r.status >= 300) return fail(error_message(r));
        if (c.opt.json) {
            std::cout << r.body << "\n";
            return kOk;
        }
        std::string ids;
        for (size_t i = 2; i < a.size(); ++i)
            ids += (i > 2 ? ", " : "") + a[i];
        std::cout << "solver order saved: " << ids << " (then the others)\n";
        return kOk;
    }
    throw UsageError("unknown plugins subcommand '" + sub + "'");
}

}  // namespace byparr::ctl
