// The status page's memory of recent traffic: bounded, per minute, per site.
#include "core/status_board.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace byparr {
namespace {

constexpr int64_t kT0 = 1'700'000'040'000;  // a minute boundary

RequestSample page(int64_t t, std::string domain, std::string outcome, double ms,
                   std::string solver = "webengine") {
    RequestSample s;
    s.time_ms = t;
    s.cmd = "request.get";
    s.domain = std::move(domain);
    s.outcome = std::move(outcome);
    s.solver = std::move(solver);
    s.duration_ms = ms;
    return s;
}

TEST(StatusBoard, KeepsTheLastHundredRequestsNewestFirst) {
    StatusBoard b;
    for (int i = 0; i < 250; ++i)
        b.record(page(kT0 + i, "d" + std::to_string(i), "solved", i));
    auto snap = b.snapshot(kT0 + 1000);
    ASSERT_EQ(snap.recent.size(), StatusBoard::kRecent);
    EXPECT_EQ(snap.recent.front().domain, "d249");
    EXPECT_EQ(snap.recent.back().domain, "d150");
}

TEST(StatusBoard, FewerThanHundredAreAllShown) {
    StatusBoard b;
    b.record(page(kT0, "a", "solved", 5));
    b.record(page(kT0 + 1, "b", "error", 7));
    auto snap = b.snapshot(kT0 + 2);
    ASSERT_EQ(snap.recent.size(), 2u);
    EXPECT_EQ(snap.recent[0].domain, "b");
}

TEST(StatusBoard, BucketsLatencyPerMinuteOverTheLastHour) {
    StatusBoard b;
    b.record(page(kT0 + 1000, "a", "solved", 100));
    b.record(page(kT0 + 2000, "a", "blocked", 300));
    b.record(page(kT0 + 61000, "a", "not_detected", 50));
    auto snap = b.snapshot(kT0 + 61000);
    ASSERT_EQ(snap.minutes.size(), size_t(StatusBoard::kMinutes));
    const auto& last = snap.minutes.back();
    const auto& before = snap.minutes[snap.minutes.size() - 2];
    EXPECT_EQ(last.start_ms, kT0 + 60000);
    EXPECT_EQ(last.requests, 1u);
    EXPECT_EQ(before.start_ms, kT0);
    EXPECT_EQ(before.requests, 2u);
    EXPECT_EQ(before.failed, 1u);
    EXPECT_DOUBLE_EQ(before.sum_ms, 400);
    EXPECT_DOUBLE_EQ(before.max_ms, 300);
    EXPECT_EQ(snap.requests_hour, 3u);
    EXPECT_EQ(snap.answered_hour, 2u);
    EXPECT_EQ(snap.failed_hour, 1u);
    // Minutes are in order and one apart, empty ones included.
    for (size_t i = 1; i < snap.minutes.size(); ++i)
        EXPECT_EQ(snap.minutes[i].start_ms - snap.minutes[i - 1].start_ms, 60000);
}

TEST(StatusBoard, AMinuteOlderThanAnHourIsForgottenWithoutATimer) {
    StatusBoard b;
    b.record(page(kT0, "a", "solved", 100));
    // An hour later nothing was recorded in between: the snapshot skips the stale slot.
    auto snap = b.snapshot(kT0 + 60 * 60000);
    EXPECT_EQ(snap.requests_hour, 0u);
    // A request landing in the same slot an hour later replaces it.
    b.record(page(kT0 + 60 * 60000, "a", "solved", 10));
    snap = b.snapshot(kT0 + 60 * 60000);
    EXPECT_EQ(snap.requests_hour, 1u);
    EXPECT_DOUBLE_EQ(snap.minutes.back().max_ms, 10);
}

TEST(StatusBoard, SessionCommandsAreListedButNotCountedAsPages) {
    StatusBoard b;
    RequestSample s;
    s.time_ms = kT0;
    s.cmd = "sessions.list";
    s.outcome = "ok";
    b.record(s);
    auto snap = b.snapshot(kT0);
    EXPECT_EQ(snap.recent.size(), 1u);
    EXPECT_EQ(snap.requests_hour, 0u);
    EXPECT_TRUE(snap.sites.empty());
}

TEST(StatusBoard, SitesCountOutcomesAndRememberTheEngineThatLastPassed) {
    StatusBoard b;
    b.record(page(kT0, "a.example", "solved", 10, "webengine"));
    b.record(page(kT0 + 1, "a.example", "timeout", 10, "webengine"));
    b.record(page(kT0 + 2, "a.example", "solved", 10, "chromium"));
    b.record(page(kT0 + 3, "a.example", "cached", 1, "cache"));  // no engine passed
    b.record(page(kT0 + 4, "b.example", "blocked", 10, "webengine"));
    auto snap = b.snapshot(kT0 + 5);
    ASSERT_EQ(snap.sites.size(), 2u);
    EXPECT_EQ(snap.sites[0].domain, "b.example");  // most recent first
    EXPECT_EQ(snap.sites[0].last_passed_by, "");
    const auto& a = snap.sites[1];
    EXPECT_EQ(a.outcomes.at("solved"), 2u);
    EXPECT_EQ(a.outcomes.at("timeout"), 1u);
    EXPECT_EQ(a.outcomes.at("cached"), 1u);
    EXPECT_EQ(a.last_passed_by, "chromium");
}

TEST(StatusBoard, SiteTableIsBoundedDroppingTheLeastRecent) {
    StatusBoard b;
    for (size_t i = 0; i < StatusBoard::kMaxSites + 10; ++i)
        b.record(page(kT0 + int64_t(i), "s" + std::to_string(i), "solved", 1));
    auto snap = b.snapshot(kT0 + 1000);
    EXPECT_EQ(snap.sites.size(), StatusBoard::kMaxSites);
    for (const auto& s : snap.sites)
        EXPECT_NE(s.domain, "s0");
}

TEST(StatusBoard, RecordsFromManyThreadsWhileTheStatusPageReads) {
    // Request threads record while /status.json reads (TSan runs this too).
    StatusBoard b;
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&b, t] {
            for (int i = 0; i < 500; ++i)
                b.record(page(kT0 + i, "t" + std::to_string(t), i % 3 ? "solved" : "error", i));
        });
    size_t seen = 0;
    for (int i = 0; i < 50; ++i)
        seen = std::max(seen, b.snapshot(kT0 + 1000).recent.size());
    for (auto& t : threads)
        t.join();
    auto snap = b.snapshot(kT0 + 1000);
    EXPECT_EQ(snap.recent.size(), StatusBoard::kRecent);
    EXPECT_EQ(snap.requests_hour, 2000u);
    EXPECT_EQ(snap.sites.size(), 4u);
    EXPECT_LE(seen, StatusBoard::kRecent);
}

}  // namespace
}  // namespace byparr
