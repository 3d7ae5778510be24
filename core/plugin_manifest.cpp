#include "core/plugin_manifest.h"

#include <Poco/JSON/Parser.h>
#include <byparr/settings.hpp>

namespace byparr {

bool is_valid_id(std::string_view id) {
    if (id.empty() || id.size() > 64) return false;
    for (size_t i = 0; i < id.size(); ++i) {
        char c = id[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (c == '-' && i > 0);
        if (!ok) return false;
    }
    return true;
}

std::optional<PluginManifest> parse_manifest(std::string_view json, std::string* error) {
    auto fail = [&](const std::string& m) -> std::optional<PluginManifest> {
        if (error) *error = m;
        return std::nullopt;
    };
    if (json.size() > 64 * 1024) return fail("manifest is larger than 64 KiB");
    Poco::JSON::Object::Ptr obj;
    try {
        Poco::JSON::Parser p;
        auto v = p.parse(std::string(json));
        if (v.type() != typeid(Poco::JSON::Object::Ptr)) return fail("manifest is not a JSON object");
        obj = v.extract<Poco::JSON::Object::Ptr>();
    } catch (const Poco::Exception& e) {
        return fail("manifest is not valid JSON: " + e.message());
    }
    PluginManifest m;
    auto str = [&](const char* k, bool required, std::string* out) -> bool {
        if (!obj->has(k) || obj->get(k).isEmpty()) {
            if (required) {
                if (error) *error = std::string("'") + k + "' is missing";
                return false;
            }
            return true;
        }
        auto v = obj->get(k);
        if (!v.isString()) {
            if (error) *error = std::string("'") + k + "' must be a string";
            return false;
        }
        *out = v.extract<std::string>();
        return true;
    };
    if (!str("id", true, &m.id) || !str("version", true, &m.version) ||
        !str("library", true, &m.library) || !str("name", false, &m.name) ||
        !str("description", false, &m.description))
        return std::nullopt;
    if (!is_valid_id(m.id)) return fail("'id' must match [a-z0-9][a-z0-9-]*, got '" + m.id + "'");
    if (m.library.find('/') != std::string::npos || m.library.empty() || m.library[0] == '.')
        return fail("'library' must be a plain file name beside the manifest");
    if (m.name.empty()) m.name = m.id;
    auto abi = obj->getObject("abi");
    if (!abi) return fail("'abi' must be an object {\"major\": N, \"minor\": N}");
    for (const char* k : {"major", "minor"}) {
        auto v = abi->get(k);
        if (v.isEmpty() || !v.isInteger() || v.convert<int64_t>() < 0 ||
            v.convert<int64_t>() > 1000000)
            return fail(std::string("'abi.") + k + "' must be a non-negative integer");
        (std::string(k) == "major" ? m.abi_major : m.abi_minor) = v.convert<uint32_t>();
    }
    if (obj->has("capabilities")) {
        auto caps = obj->getArray("capabilities");
        if (!caps) return fail("'capabilities' must be an array of strings");
        for (size_t i = 0; i < caps->size(); ++i) {
            auto v = caps->get(static_cast<unsigned>(i));
            if (!v.isString()) return fail("'capabilities' must be an array of strings");
            m.capabilities.push_back(v.extract<std::string>());
        }
    }
    // Checked here, at load, so a plugin that asks for the host's secret, or for a name no
    // environment variable can have, is refused with the reason before any of its code runs.
    if (obj->has("settings")) {
        auto arr = obj->getArray("settings");
        if (!arr) return fail("'settings' must be an array of environment variable names");
        for (size_t i = 0; i < arr->size(); ++i) {
            auto v = arr->get(static_cast<unsigned>(i));
            if (!v.isString()) return fail("'settings' must be an array of strings");
            std::string name = v.extract<std::string>();
            if (!settings::is_setting_name(name))
                return fail("'settings' entry '" + name.substr(0, 64) +
                            "' is not an environment variable name ([A-Z_][A-Z0-9_]*)");
            if (name == "API_KEY")
                return fail("'settings' may not name API_KEY (the host's secret)");
            m.settings.push_back(std::move(name));
        }
    }
    return m;
}

}  // namespace byparr
