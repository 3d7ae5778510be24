#include "core/log.h"

#include <cctype>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <mutex>

#include "core/json_writer.h"

namespace byparr::log {
namespace {

std::atomic<Level> g_level{Level::kInfo};
std::atomic<bool> g_json{false};
std::mutex g_mutex;

const char* name(Level l) {
    switch (l) {
        case Level::kDebug:
            return "debug";
        case Level::kInfo:
            return "info";
        case Level::kWarning:
            return "warning";
        case Level::kError:
            return "error";
    }
    return "?";
}

std::string timestamp() {
    using namespace std::chrono;
    auto now = system_clock::now();
    std::time_t t = system_clock::to_time_t(now);
    auto ms = duration_cast<milliseconds>(now.time_since_epoch()).count() % 1000;
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[64];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<int>(ms));
    return buf;
}

// Fields whose name says they carry a measure ("duration_ms", "status") are
// written as JSON numbers, so log pipelines can sum and compare them without a
// parse step; anything else (ids like "000123" included) stays a string.
bool numeric_field(std::string_view k, std::string_view v) {
    bool measure =
        k == "status" || k.ends_with("_ms") || k.ends_with("_s") || k.ends_with("_bytes");
    if (!measure || v.empty() || v.size() > 24) return false;
    size_t i = v[0] == '-' ? 1 : 0;
    if (i == v.size() || !std::isdigit(static_cast<unsigned char>(v[i]))) return false;
    if (v[i] == '0' && i + 1 < v.size() && v[i + 1] != '.') return false;  // no leading zeros
    bool dot = false;
    for (; i < v.size(); ++i) {
        if (v[i] == '.' && !dot && i + 1 < v.size()) {
            dot = true;
            continue;
        }
        if (!std::isdigit(static_cast<unsigned char>(v[i]))) return false;
    }
    return true;
}

}  // namespace

void configure(std::string_view level, std::string_view format) {
    Level l = Level::kInfo;
    if (level == "debug")
        l = Level::kDebug;
    else if (level == "warning")
        l = Level::kWarning;
    else if (level == "error")
        l = Level::kError;
    g_level = l;
    g_json = format == "json";
}

Level level() {
    return g_level.load();
}
bool enabled(Level l) {
    return static_cast<int>(l) >= static_cast<int>(g_level.load());
}

void write(Level l, std::string_view component, std::string_view message, Fields fields) {
    if (!enabled(l)) return;
    // Secrets stay out of logs above debug: messages can quote a URL (a failed
    // load, a plugin's complaint), and URLs carry keys and proxy credentials.
    std::string redacted;
    if (l != Level::kDebug && message.find("://") != std::string_view::npos) {
        redacted = redact_text(message);
        message = redacted;
    }
    std::string line;
    if (g_json) {
        JsonWriter w;
        w.begin_object().field("ts", timestamp()).field("level", name(l));
        w.field("component", component).field("msg", message);
        for (const auto& [k, v] : fields) {
            if (numeric_field(k, v))
                w.key(k).raw(v);
            else
                w.field(k, v);
        }
        w.end_object();
        line = w.take();
    } else {
        line = fmt::format("{} {:<7} [{}] {}", timestamp(), name(l), component, message);
        for (const auto& [k, v] : fields) {
            bool quote = v.find(' ') != std::string_view::npos || v.empty();
            line += quote ? fmt::format(" {}=\"{}\"", k, v) : fmt::format(" {}={}", k, v);
        }
    }
    line += '\n';
    std::lock_guard<std::mutex> lock(g_mutex);
    std::fwrite(line.data(), 1, line.size(), stderr);
    std::fflush(stderr);
}

std::string redact_url(std::string_view url) {
    auto scheme = url.find("://");
    if (scheme == std::string_view::npos) return std::string(url);
    auto at = url.find('@', scheme + 3);
    auto slash = url.find('/', scheme + 3);
    if (at == std::string_view::npos || (slash != std::string_view::npos && at > slash))
        return std::string(url);
    return std::string(url.substr(0, scheme + 3)) + "***" + std::string(url.substr(at));
}

std::string redact_text(std::string_view text) {
    auto scheme_char = [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '+' || c == '-' || c == '.';
    };
    auto url_end = [](char c) {
        return std::isspace(static_cast<unsigned char>(c)) || c == '"' || c == '\'' || c == '<' ||
               c == '>' || c == '`';
    };
    std::string out;
    out.reserve(text.size());
    size_t i = 0;
    while (i < text.size()) {
        size_t sep = text.find("://", i);
        if (sep == std::string_view::npos) break;
        size_t start = sep;
        while (start > i && scheme_char(text[start - 1]))
            --start;
        if (start == sep) {  // "://" without a scheme: not a URL
            out.append(text.substr(i, sep + 3 - i));
            i = sep + 3;
            continue;
        }
        size_t end = sep + 3;
        while (end < text.size() && !url_end(text[end]))
            ++end;
        std::string_view url = text.substr(start, end - start);
        std::string clean = redact_url(url);
        if (auto q = clean.find_first_of("?#"); q != std::string::npos)
            clean = clean.substr(0, q) + "?***";
        out.append(text.substr(i, start - i));
        out += clean;
        i = end;
    }
    out.append(text.substr(i));
    return out;
}

}  // namespace byparr::log
