// One parsing rule for every setting, shared by the host (core/config.cpp) and plugins
// (byparr::sdk::Config's typed getters), so `BROWSER_X=yes` means the same wherever it is
// read. Header-only C++17, no dependencies.
//
//   - Blanks around a value are ignored; unset or empty means "use the fallback".
//   - bool:     1, true, yes, on  /  0, false, no, off  (any case).
//   - int:      an optional '-' and decimal digits, within the caller's [min, max].
//   - duration: a non-negative integer with an optional unit: ms, s, m, h. Without a unit it
//               counts seconds, as every *_TIMEOUT setting does ("30" = "30s" = 30 000 ms).
//   - list:     comma-separated; items trimmed, empty items dropped ("a, b,,c" = a, b, c).
//   - Anything else is invalid: the getter says which setting and what it expected.
#ifndef BYPARR_SETTINGS_HPP
#define BYPARR_SETTINGS_HPP

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

namespace byparr::settings {

inline std::string_view trim(std::string_view v) {
    const char* blanks = " \t\r\n";
    auto b = v.find_first_not_of(blanks);
    if (b == std::string_view::npos) return {};
    return v.substr(b, v.find_last_not_of(blanks) - b + 1);
}

inline bool iequals(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        char x = a[i] >= 'A' && a[i] <= 'Z' ? static_cast<char>(a[i] - 'A' + 'a') : a[i];
        if (x != b[i]) return false;
    }
    return true;
}

/// `v` must be non-empty after trim(); false when it is no boolean.
inline bool parse_bool(std::string_view v, bool* out) {
    v = trim(v);
    for (const char* t : {"1", "true", "yes", "on"})
        if (iequals(v, t)) return *out = true, true;
    for (const char* f : {"0", "false", "no", "off"})
        if (iequals(v, f)) return *out = false, true;
    return false;
}

inline bool parse_int(std::string_view v, int64_t min, int64_t max, int64_t* out) {
    v = trim(v);
    bool neg = !v.empty() && v.front() == '-';
    if (neg) v.remove_prefix(1);
    if (v.empty() || v.size() > 18) return false;
    int64_t n = 0;
    for (char c : v) {
        if (c < '0' || c > '9') return false;
        n = n * 10 + (c - '0');
    }
    if (neg) n = -n;
    if (n < min || n > max) return false;
    *out = n;
    return true;
}

inline bool parse_duration(std::string_view v, std::chrono::milliseconds* out) {
    v = trim(v);
    size_t digits = 0;
    while (digits < v.size() && v[digits] >= '0' && v[digits] <= '9')
        ++digits;
    std::string_view unit = trim(v.substr(digits));
    int64_t n = 0, per_unit = 1000;
    if (unit.empty() || unit == "s")
        per_unit = 1000;
    else if (unit == "ms")
        per_unit = 1;
    else if (unit == "m")
        per_unit = 60 * 1000;
    else if (unit == "h")
        per_unit = 3600 * 1000;
    else
        return false;
    // Up to ~100 years in ms: no overflow.
    if (!parse_int(v.substr(0, digits), 0, std::numeric_limits<int64_t>::max() / (3600 * 1000), &n))
        return false;
    *out = std::chrono::milliseconds(n * per_unit);
    return true;
}

inline std::vector<std::string> parse_list(std::string_view v) {
    std::vector<std::string> out;
    while (true) {
        auto comma = v.find(',');
        std::string_view item = trim(v.substr(0, comma));
        if (!item.empty()) out.emplace_back(item);
        if (comma == std::string_view::npos) break;
        v.remove_prefix(comma + 1);
    }
    return out;
}

/// A setting name as plugins declare it: [A-Z_][A-Z0-9_]*, at most 128 characters.
inline bool is_setting_name(std::string_view name) {
    if (name.empty() || name.size() > 128 || (name[0] >= '0' && name[0] <= '9')) return false;
    for (char c : name)
        if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_')) return false;
    return true;
}

}  // namespace byparr::settings

#endif  // BYPARR_SETTINGS_HPP
