#include "tools/text_table.h"

#include <algorithm>

namespace byparr::ctl {

size_t display_width(const std::string& s) {
    size_t n = 0;
    for (unsigned char c : s)
        if ((c & 0xC0) != 0x80) ++n;  // count lead bytes only
    return n;
}

std::string ellipsize(const std::string& s, size_t width) {
    if (display_width(s) <= width || width == 0) return s;
    std::string out;
    size_t n = 0;
    for (size_t i = 0; i < s.size(); ++i) {
        unsigned char c = static_cast<unsigned char>(s[i]);
        if ((c & 0xC0) != 0x80 && ++n > width - 1) break;
        out += s[i];
    }
    return out + "\xE2\x80\xA6";
}

void TextTable::print(std::ostream& out, const std::string& indent) const {
    std::vector<size_t> widths(headers_.size(), 0);
    auto measure = [&](const std::vector<std::string>& row) {
        for (size_t i = 0; i < row.size() && i < widths.size(); ++i)
            widths[i] = std::max(widths[i], display_width(row[i]));
    };
    measure(headers_);
    for (const auto& r : rows_)
        measure(r);
    auto line = [&](const std::vector<std::string>& row) {
        std::string text = indent;
        for (size_t i = 0; i < widths.size(); ++i) {
            const std::string cell = i < row.size() ? row[i] : "";
            text += cell;
            if (i + 1 < widths.size())
                text += std::string(widths[i] - display_width(cell) + 2, ' ');
        }
        while (!text.empty() && text.back() == ' ')
            text.pop_back();
        out << text << '\n';
    };
    line(headers_);
    for (const auto& r : rows_)
        line(r);
}

}  // namespace byparr::ctl
