// Process-wide logging: one line per event to stderr, as text or JSON
// (LOG_FORMAT=json), filtered by LOG_LEVEL. Small on purpose: no sinks, no
// rotation (journald and Docker do that).
#pragma once

#include <fmt/format.h>

#include <initializer_list>
#include <string>
#include <string_view>
#include <utility>

namespace byparr::log {

enum class Level { kDebug = 1, kInfo, kWarning, kError };

void configure(std::string_view level, std::string_view format);
Level level();
bool enabled(Level l);

/// Key/value fields, appended as `k=v` in text and as members in JSON.
using Fields = std::initializer_list<std::pair<std::string_view, std::string_view>>;

void write(Level l, std::string_view component, std::string_view message, Fields fields = {});

template <typename... A>
void debug(std::string_view comp, fmt::format_string<A...> f, A&&... a) {
    if (enabled(Level::kDebug)) write(Level::kDebug, comp, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void info(std::string_view comp, fmt::format_string<A...> f, A&&... a) {
    if (enabled(Level::kInfo)) write(Level::kInfo, comp, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void warning(std::string_view comp, fmt::format_string<A...> f, A&&... a) {
    if (enabled(Level::kWarning))
        write(Level::kWarning, comp, fmt::format(f, std::forward<A>(a)...));
}
template <typename... A>
void error(std::string_view comp, fmt::format_string<A...> f, A&&... a) {
    if (enabled(Level::kError)) write(Level::kError, comp, fmt::format(f, std::forward<A>(a)...));
}

/// "http://user:pass@host:1/" → "http://***@host:1/": for logging proxy URLs.
std::string redact_url(std::string_view url);

/// Every URL inside free text loses its credentials and its query string
/// ("https://u:p@h/x?passkey=1 failed" → "https://***@h/x?*** failed"): indexer
/// URLs carry API keys and passkeys there. write() applies it above debug.
std::string redact_text(std::string_view text);

}  // namespace byparr::log
