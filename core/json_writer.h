// A small streaming JSON writer. The host writes its answers with it rather than
// building Poco::JSON objects because the contract fixes key order and requires
// "omitted, never null" fields, and because the cached-answer path is measured
// in microseconds.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace byparr {

class JsonWriter {
  public:
    JsonWriter& begin_object() {
        sep();
        out_ += '{';
        first_ = true;
        return *this;
    }
    JsonWriter& end_object() {
        out_ += '}';
        first_ = false;
        return *this;
    }
    JsonWriter& begin_array() {
        sep();
        out_ += '[';
        first_ = true;
        return *this;
    }
    JsonWriter& end_array() {
        out_ += ']';
        first_ = false;
        return *this;
    }
    JsonWriter& key(std::string_view k) {
        sep();
        append_string(k);
        out_ += ':';
        first_ = true;  // the value that follows takes no comma
        return *this;
    }
    JsonWriter& value(std::string_view s) {
        sep();
        append_string(s);
        return *this;
    }
    JsonWriter& value(const char* s) { return value(std::string_view(s)); }
    JsonWriter& value(const std::string& s) { return value(std::string_view(s)); }
    JsonWriter& value(bool b) {
        sep();
        out_ += b ? "true" : "false";
        return *this;
    }
    JsonWriter& value(int64_t n) {
        sep();
        out_ += std::to_string(n);
        return *this;
    }
    JsonWriter& value(int n) { return value(static_cast<int64_t>(n)); }
    JsonWriter& value(uint64_t n) {
        sep();
        out_ += std::to_string(n);
        return *this;
    }
    JsonWriter& value(double d);
    JsonWriter& null() {
        sep();
        out_ += "null";
        return *this;
    }
    /// Inserts already-serialised JSON as a value.
    JsonWriter& raw(std::string_view json) {
        sep();
        out_ += json;
        return *this;
    }

    template <typename T>
    JsonWriter& field(std::string_view k, const T& v) {
        key(k);
        return value(v);
    }

    const std::string& str() const { return out_; }
    std::string take() { return std::move(out_); }
    void reserve(size_t n) { out_.reserve(n); }

    /// Appends s as a JSON string literal (quoted, escaped). Invalid UTF-8 bytes
    /// are replaced with U+FFFD so the output is always valid JSON.
    static void escape_into(std::string& out, std::string_view s);

  private:
    void sep() {
        if (!first_) out_ += ',';
        first_ = false;
    }
    void append_string(std::string_view s) { escape_into(out_, s); }

    std::string out_;
    bool first_ = true;
};

/// True when s is well-formed UTF-8 (no overlongs, no surrogates).
bool is_valid_utf8(std::string_view s);

/// The longest prefix of s of at most max_bytes that does not split a UTF-8
/// sequence (a cut answer must still be valid JSON text).
std::string_view utf8_prefix(std::string_view s, size_t max_bytes);

}  // namespace byparr
