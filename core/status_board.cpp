#include "core/status_board.h"

#include <algorithm>

namespace byparr {

namespace {
constexpr int64_t kMinuteMs = 60000;
}

bool StatusBoard::answered(const std::string& outcome) {
    return outcome == "solved" || outcome == "not_detected" || outcome == "cached";
}

bool StatusBoard::page_request(const std::string& cmd) {
    return cmd == "request.get" || cmd == "request.post";
}

void StatusBoard::record(RequestSample sample) {
    std::lock_guard<std::mutex> lock(mu_);
    if (page_request(sample.cmd)) {
        count_minute(sample);
        count_site(sample);
    }
    recent_[next_] = std::move(sample);
    next_ = (next_ + 1) % kRecent;
    stored_ = std::min(stored_ + 1, kRecent);
}

void StatusBoard::count_minute(const RequestSample& s) {
    int64_t start = s.time_ms - s.time_ms % kMinuteMs;
    Minute& m = minutes_[static_cast<size_t>((start / kMinuteMs) % kMinutes)];
    if (m.start_ms != start) m = Minute{start};  // the slot held a minute an hour ago
    ++m.requests;
    if (answered(s.outcome))
        ++m.answered;
    else
        ++m.failed;
    m.sum_ms += s.duration_ms;
    m.max_ms = std::max(m.max_ms, s.duration_ms);
}

void StatusBoard::count_site(const RequestSample& s) {
    if (s.domain.empty()) return;
    auto it = sites_.find(s.domain);
    if (it == sites_.end()) {
        if (sites_.size() >= kMaxSites) {
            // Forget the site seen longest ago: the table is for what happens now.
            auto oldest = std::min_element(sites_.begin(), sites_.end(), [](auto& a, auto& b) {
                return a.second.last_ms < b.second.last_ms;
            });
            sites_.erase(oldest);
        }
        it = sites_.emplace(s.domain, Site{s.domain, {}, {}, 0, 0}).first;
    }
    Site& site = it->second;
    ++site.outcomes[s.outcome];
    site.last_ms = s.time_ms;
    // A cached answer passed no engine: keep the one that earned the clearance.
    if (answered(s.outcome) && s.outcome != "cached" && !s.solver.empty()) {
        site.last_passed_by = s.solver;
        site.last_passed_ms = s.time_ms;
    }
}

StatusBoard::Snapshot StatusBoard::snapshot(int64_t now_ms) const {
    Snapshot out;
    int64_t this_minute = now_ms - now_ms % kMinuteMs;
    int64_t first = this_minute - (kMinutes - 1) * kMinuteMs;
    std::lock_guard<std::mutex> lock(mu_);
    out.recent.reserve(stored_);
    for (size_t i = 0; i < stored_; ++i)
        out.recent.push_back(recent_[(next_ + kRecent - 1 - i) % kRecent]);
    out.minutes.reserve(kMinutes);
    for (int64_t start = first; start <= this_minute; start += kMinuteMs) {
        const Minute& m = minutes_[static_cast<size_t>((start / kMinuteMs) % kMinutes)];
        out.minutes.push_back(m.start_ms == start ? m : Minute{start});
        out.requests_hour += out.minutes.back().requests;
        out.answered_hour += out.minutes.back().answered;
        out.failed_hour += out.minutes.back().failed;
    }
    out.sites.reserve(sites_.size());
    for (const auto& [domain, site] : sites_)
        out.sites.push_back(site);
    std::sort(out.sites.begin(), out.sites.end(),
              [](const Site& a, const Site& b) { return a.last_ms > b.last_ms; });
    return out;
}

}  // namespace byparr
