// Aligned plain-text tables for byparrctl's human output.
#pragma once

#include <ostream>
#include <string>
#include <vector>

namespace byparr::ctl {

class TextTable {
  public:
    explicit TextTable(std::vector<std::string> headers) : headers_(std::move(headers)) {}
    void add(std::vector<std::string> row) { rows_.push_back(std::move(row)); }
    bool empty() const { return rows_.empty(); }
    /// Columns separated by two spaces; the last column is not padded.
    void print(std::ostream& out, const std::string& indent = "") const;

  private:
    std::vector<std::string> headers_;
    std::vector<std::vector<std::string>> rows_;
};

/// Display width of UTF-8 text (code points; good enough for a terminal table).
size_t display_width(const std::string& s);
/// s cut to at most `width` columns, ending in "…" when cut.
std::string ellipsize(const std::string& s, size_t width);

}  // namespace byparr::ctl
