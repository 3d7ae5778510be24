#include "core/concurrency_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

namespace byparr {
namespace {

using namespace std::chrono_literals;
auto in(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

TEST(ConcurrencyGate, AdmitsUpToTheLimitThenQueues) {
    ConcurrencyGate g(2, 10);
    EXPECT_EQ(g.acquire(in(10ms)), ConcurrencyGate::Admit::kAdmitted);
    EXPECT_EQ(g.acquire(in(10ms)), ConcurrencyGate::Admit::kAdmitted);
    EXPECT_EQ(g.acquire(in(20ms)), ConcurrencyGate::Admit::kTimedOut);
    EXPECT_EQ(g.in_flight(), 2u);
    EXPECT_EQ(g.queued(), 0u);
    g.release();
    EXPECT_EQ(g.acquire(in(10ms)), ConcurrencyGate::Admit::kAdmitted);
}

TEST(ConcurrencyGate, FullQueueIsRefusedAtOnce) {
    ConcurrencyGate g(1, 1);
    ASSERT_EQ(g.acquire(in(10ms)), ConcurrencyGate::Admit::kAdmitted);
    std::thread waiter([&] { EXPECT_EQ(g.acquire(in(2000ms)), ConcurrencyGate::Admit::kAdmitted); });
    while (g.queued() == 0) std::this_thread::sleep_for(1ms);
    auto t0 = std::chrono::steady_clock::now();
    EXPECT_EQ(g.acquire(in(5000ms)), ConcurrencyGate::Admit::kQueueFull);
    EXPECT_LT(std::chrono::steady_clock::now() - t0, 100ms);
    g.release();
    waiter.join();
}

TEST(ConcurrencyGate, ServesWaitersInArrivalOrder) {
    ConcurrencyGate g(1, 10);
    ASSERT_EQ(g.acquire(in(10ms)), ConcurrencyGate::Admit::kAdmitted);
    std::vector<int> order;
    std::mutex mu;
    std::vector<std::thread> ts;
    for (int i = 0; i < 4; ++i) {
        ts.emplace_back([&, i] {
            ASSERT_EQ(g.acquire(in(5000ms)), ConcurrencyGate::Admit::kAdmitted);
            {
                std::lock_guard l(mu);
                order.push_back(i);
            }
            g.release();
        });
        while (g.queued() < static_cast<uint32_t>(i + 1)) std::this_thread::sleep_for(1ms);
    }
    g.release();
    for (auto& t : ts) t.join();
    EXPECT_EQ(order, (std::vector<int>{0, 1, 2, 3}));
}

TEST(ConcurrencyGate, CloseWakesWaiters) {
    ConcurrencyGate g(1, 10);
    ASSERT_EQ(g.acquire(in(10ms)), ConcurrencyGate::Admit::kAdmitted);
    std::thread t([&] { EXPECT_EQ(g.acquire(in(5000ms)), ConcurrencyGate::Admit::kClosed); });
    while (g.queued() == 0) std::this_thread::sleep_for(1ms);
    g.close();
    t.join();
}

}  // namespace
}  // namespace byparr
