#include "core/metrics.h"

#include <gtest/gtest.h>

namespace byparr {
namespace {

TEST(Metrics, RendersCountersGaugesAndCumulativeHistograms) {
    Metrics m;
    m.counter("x_total", "help x");
    m.histogram("d_seconds", "durations", {0.1, 1});
    m.inc("x_total", {{"a", "q\"uote"}}, 2);
    m.observe("d_seconds", {}, 0.05);
    m.observe("d_seconds", {}, 0.5);
    m.observe("d_seconds", {}, 5);
    std::string t = m.render();
    EXPECT_NE(t.find("# TYPE x_total counter\n"), std::string::npos);
    EXPECT_NE(t.find("x_total{a=\"q\\\"uote\"} 2\n"), std::string::npos) << t;
    EXPECT_NE(t.find("d_seconds_bucket{le=\"0.1\"} 1\n"), std::string::npos) << t;
    EXPECT_NE(t.find("d_seconds_bucket{le=\"1\"} 2\n"), std::string::npos) << t;
    EXPECT_NE(t.find("d_seconds_bucket{le=\"+Inf\"} 3\n"), std::string::npos) << t;
    EXPECT_NE(t.find("d_seconds_count 3\n"), std::string::npos) << t;
    EXPECT_DOUBLE_EQ(m.value("x_total"), 2);
    EXPECT_LE(m.quantile("d_seconds", 0.5), 1.0);
}

TEST(Metrics, SeriesListsEveryLabelSetOfAFamily) {
    Metrics m;
    m.counter("e_total", "escalations");
    m.inc("e_total", {{"from", "b"}, {"to", "c"}}, 0);
    m.inc("e_total", {{"from", "a"}, {"to", "b"}}, 3);
    auto s = m.series("e_total");
    ASSERT_EQ(s.size(), 2u);
    EXPECT_EQ(s[0].first, (Labels{{"from", "a"}, {"to", "b"}}));
    EXPECT_DOUBLE_EQ(s[0].second, 3);
    EXPECT_DOUBLE_EQ(s[1].second, 0);
    EXPECT_TRUE(m.series("nope").empty());
}

}  // namespace
}  // namespace byparr
