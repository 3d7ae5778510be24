// The few string helpers the engine needs everywhere, in one place: ASCII-only
// on purpose (hosts, header names, setting values and rule patterns are ASCII
// or compared as such; locale-dependent tolower() would not be).
#pragma once

#include <string>
#include <string_view>

namespace byparr {

/// c lower-cased if it is 'A'..'Z'; anything else unchanged.
constexpr char ascii_lower(char c) {
    return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}
constexpr char ascii_upper(char c) {
    return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
}

/// s with 'A'..'Z' lower-cased.
std::string ascii_lower(std::string_view s);
std::string ascii_upper(std::string_view s);

/// a == b ignoring ASCII case.
bool iequals(std::string_view a, std::string_view b);
/// s starts with prefix, ignoring ASCII case.
bool istarts_with(std::string_view s, std::string_view prefix);

/// s without leading and trailing white space (isspace() in the C locale).
std::string_view trim(std::string_view s);

}  // namespace byparr
