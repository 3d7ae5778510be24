// <id>.plugin.json: what a plugin is, read without running any of its code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace byparr {

struct PluginManifest {
    std::string id, name, version, description, library;
    uint32_t abi_major = 0, abi_minor = 0;
    std::vector<std::string> capabilities;
    // Environment variables the plugin reads (byparr_add_plugin SETTINGS): the host passes
    // exactly these to its components' byparr_config::get.
    std::vector<std::string> settings;
};

/// Parses and validates a manifest. On error returns nullopt and sets *error to a
/// message naming the field ("'abi.minor' must be a non-negative integer").
std::optional<PluginManifest> parse_manifest(std::string_view json, std::string* error);

/// A component or plugin id: [a-z0-9][a-z0-9-]{0,63}.
bool is_valid_id(std::string_view id);

}  // namespace byparr
