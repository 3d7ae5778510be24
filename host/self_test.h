// The start-up self-test behind /health: each solver of the chain loads a small
// page served on 127.0.0.1 by this process, as FlareSolverr tests its browser at
// start. Without it the service could report healthy while every solve fails
// (e.g. Chromium's sandbox refused by the container's seccomp profile). Runs on a
// background thread so the port answers at once; /health says "starting" until
// it is done.
#pragma once

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "core/config.h"
#include "core/dispatcher.h"
#include "core/registry.h"

namespace byparr {

struct SolverHealth {
    std::string id;
    bool ready = false;
    std::string self_test;  // "passed", "failed", "not applicable", "running", "not run"
    std::string reason;     // why not ready (empty when ready)
    int64_t self_test_ms = -1;
};

class SelfTest {
  public:
    SelfTest(const Config& config, Registry& registry, Dispatcher& dispatcher);
    ~SelfTest();  // waits for a running test (bounded by its timeout)
    SelfTest(const SelfTest&) = delete;
    SelfTest& operator=(const SelfTest&) = delete;

    /// Starts testing every solver of the chain, one after another.
    void start();
    bool finished() const { return finished_.load(); }
    /// Waits for the test thread (shutdown: before components are destroyed).
    void join();
    /// Every enabled solver: ready when it passed its self-test (or was enabled
    /// later and never tested) and is in the chain now (not faulted).
    std::vector<SolverHealth> report() const;

    /// How long one solver may take to load the page (a cold browser start is
    /// ~1 s on the reference machine; a loaded 2-core box needs more).
    static constexpr std::chrono::seconds kTimeout{30};

  private:
    void run();
    struct Result {
        std::string self_test = "running";
        std::string reason;
        int64_t ms = -1;
    };

    const Config& config_;
    Registry& registry_;
    Dispatcher& dispatcher_;
    mutable std::mutex mu_;
    std::map<std::string, Result> results_;
    std::atomic<bool> finished_{false};
    std::thread thread_;
};

}  // namespace byparr
