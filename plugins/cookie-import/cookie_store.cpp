#include "cookie_store.h"

#include <dirent.h>

#include <algorithm>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

namespace byparr::cookie_import {
namespace {

int64_t mtime_ns(const struct stat& st) {
    return static_cast<int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
}

bool ends_with(const std::string& s, std::string_view suffix) {
    return s.size() >= suffix.size() &&
           s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// Hidden names are temp files of an atomic write in progress; .ua are sidecars.
bool is_cookie_file_name(const std::string& name) {
    if (name.empty() || name.front() == '.') return false;
    for (std::string_view s : {".ua", ".tmp", "~", ".swp", ".part"})
        if (ends_with(name, s)) return false;
    return name.find(".tmp.") == std::string::npos;  // write_file_atomic's temp names
}

bool read_file(const std::string& path, std::string* out) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    std::stringstream buf;
    buf << in.rdbuf();
    *out = buf.str();
    return true;
}

std::string first_line(const std::string& s) {
    std::string line = s.substr(0, s.find('\n'));
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
        line.pop_back();
    size_t start = line.find_first_not_of(" \t");
    return start == std::string::npos ? "" : line.substr(start);
}

}  // namespace

CookieStore::CookieStore(std::string dir, Logger log) : dir_(std::move(dir)), log_(std::move(log)) {
    std::error_code ec;
    std::filesystem::create_directories(dir_, ec);
    if (ec && log_) log_('w', "cannot create cookie folder " + dir_ + ": " + ec.message());
}

size_t CookieStore::file_count() {
    std::lock_guard<std::mutex> lock(mu_);
    refresh_locked();
    return files_.size();
}

void CookieStore::refresh() {
    std::lock_guard<std::mutex> lock(mu_);
    refresh_locked();
}

void CookieStore::refresh_locked() {
    struct stat dst {};
    if (::stat(dir_.c_str(), &dst) != 0) {
        if (!files_.empty() && log_) log_('w', "cookie folder " + dir_ + " is gone");
        files_.clear();
        dir_mtime_ns_ = -1;
        return;
    }
    auto now = std::chrono::steady_clock::now();
    if (mtime_ns(dst) == dir_mtime_ns_ && now - last_full_ < kRestatInterval) return;
    dir_mtime_ns_ = mtime_ns(dst);
    last_full_ = now;

    std::set<std::string> seen;
    DIR* d = ::opendir(dir_.c_str());
    if (d == nullptr) return;
    while (struct dirent* e = ::readdir(d)) {
        std::string name = e->d_name;
        if (!is_cookie_file_name(name)) continue;
        std::string path = dir_ + "/" + name;
        struct stat st {};
        if (::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
        seen.insert(name);
        Signature sig;
        sig.mtime_ns = mtime_ns(st);
        sig.size = st.st_size;
        struct stat ust {};
        if (::stat((path + ".ua").c_str(), &ust) == 0) {
            sig.ua_mtime_ns = mtime_ns(ust);
            sig.ua_size = ust.st_size;
        }
        auto it = files_.find(name);
        bool is_new = it == files_.end();
        if (!is_new && it->second.sig == sig) continue;
        FileState& fs = files_[name];
        load_file(name, sig, fs, is_new);
    }
    ::closedir(d);
    for (auto it = files_.begin(); it != files_.end();) {
        if (seen.count(it->first) == 0) {
            if (log_) log_('i', "cookie file " + it->first + " removed; its cookies are dropped");
            it = files_.erase(it);
        } else {
            ++it;
        }
    }
}

void CookieStore::load_file(const std::string& name, const Signature& sig, FileState& st,
                            bool is_new) {
    st.sig = sig;  // even on failure: report a broken file once, not on every lookup
    std::string path = dir_ + "/" + name;
    auto keep_note = [&] {
        return is_new || st.cookies.empty() ? std::string("; nothing imported from it")
                                            : "; keeping the " + std::to_string(st.cookies.size()) +
                                                  " cookie(s) imported from it before";
    };
    if (sig.size > kMaxFileBytes) {
        if (log_)
            log_('e', "cookie file " + path + " is larger than " + std::to_string(kMaxFileBytes) +
                          " bytes" + keep_note());
        return;
    }
    std::string text;
    if (!read_file(path, &text)) {
        if (log_) log_('e', "cannot read cookie file " + path + keep_note());
        return;
    }
    ParseResult r = parse_cookie_file(text);
    if (!r.ok()) {
        if (log_) log_('e', "cookie file " + path + ": " + r.error_text() + keep_note());
        return;
    }
    std::string ua = r.user_agent;
    std::string sidecar;
    if (sig.ua_size >= 0 && read_file(path + ".ua", &sidecar) && !first_line(sidecar).empty())
        ua = first_line(sidecar);  // the sidecar names the UA explicitly: it wins
    st.cookies = std::move(r.cookies);
    st.user_agent = std::move(ua);
    st.order = sig.mtime_ns;
    if (log_)
        log_('i', "imported " + std::to_string(st.cookies.size()) + " cookie(s) from " + path +
                      (st.user_agent.empty() ? " (no user agent)" : ""));
}

CookieStore::Match CookieStore::lookup(const std::string& url) {
    Match m;
    auto u = split_url(url);
    if (!u) return m;
    int64_t now = static_cast<int64_t>(std::time(nullptr));
    std::lock_guard<std::mutex> lock(mu_);
    refresh_locked();
    std::vector<const FileState*> order;
    for (const auto& [name, st] : files_)
        order.push_back(&st);
    std::stable_sort(order.begin(), order.end(),
                     [](const FileState* a, const FileState* b) { return a->order < b->order; });
    // Oldest first, so a newer import of the same cookie replaces the older one.
    std::map<std::string, size_t> index;
    for (const FileState* st : order) {
        bool supplied = false;
        for (const auto& c : st->cookies) {
            if (!cookie_applies(c, *u, now)) continue;
            supplied = true;
            std::string key = c.name + '\n' + c.domain + '\n' + c.path;
            auto it = index.find(key);
            if (it == index.end()) {
                index.emplace(key, m.cookies.size());
                m.cookies.push_back(c);
            } else {
                m.cookies[it->second] = c;
            }
        }
        if (supplied && !st->user_agent.empty()) m.user_agent = st->user_agent;
    }
    return m;
}

}  // namespace byparr::cookie_import
