#include "core/guarded_call.h"

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "core/log.h"

namespace byparr {

namespace {

// Shared by the waiting caller and the call's thread; whoever ends last frees it.
struct CallGate {
    std::mutex mu;
    std::condition_variable cv;
    bool done = false;
    bool abandoned = false;
};

// The threads calls run on. Starting a thread per call cost more than a browserless request's
// own work; these are reused. A call takes a waiting thread or starts one, so a call never
// waits for another (a hung one keeps its thread for good, as before); a thread that waits
// kIdleExit for a call ends, so an idle host keeps none and wakes for none after that.
class CallThreads {
  public:
    static CallThreads& get() {
        // Never destroyed: detached threads may still wait on it while the process exits.
        static CallThreads* threads = new CallThreads;
        return *threads;
    }

    void run(std::function<void()> task) {
        std::unique_lock<std::mutex> lock(mu_);
        calls_.push_back(std::move(task));
        // A thread that is waiting (and not already woken for an earlier call) takes it.
        if (calls_.size() <= waiting_) {
            lock.unlock();
            cv_.notify_one();
            return;
        }
        lock.unlock();
        std::thread([this] { serve(); }).detach();
    }

  private:
    static constexpr std::chrono::seconds kIdleExit{60};

    void serve() {
        std::unique_lock<std::mutex> lock(mu_);
        for (;;) {
            if (calls_.empty()) {
                ++waiting_;
                const bool woken = cv_.wait_for(lock, kIdleExit, [&] { return !calls_.empty(); });
                --waiting_;
                if (!woken) return;
            }
            std::function<void()> call = std::move(calls_.front());
            calls_.pop_front();
            lock.unlock();
            call();
            call = nullptr;  // its captures (the component, the gate) go before the next wait
            lock.lock();
        }
    }

    std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::function<void()>> calls_;
    size_t waiting_ = 0;  // threads in cv_.wait_for
};

}  // namespace

CallEnd guarded_call(const std::shared_ptr<Component>& c, const char* entry,
                     std::chrono::steady_clock::time_point deadline, std::function<void()> body,
                     std::atomic<bool>* cancelled) {
    auto gate = std::make_shared<CallGate>();
    c->note_call();
    // The thread holds the component: a late call keeps it alive, and the
    // registry destroys no component with a call still inside.
    CallThreads::get().run([c, gate, body = std::move(body)] {
        body();
        std::lock_guard<std::mutex> lock(gate->mu);
        gate->done = true;
        if (gate->abandoned) c->note_returned_after_abandon();
        gate->cv.notify_all();
    });

    std::unique_lock<std::mutex> lock(gate->mu);
    if (gate->cv.wait_until(lock, deadline, [&] { return gate->done; })) return CallEnd::kReturned;
    gate->abandoned = true;
    if (cancelled) cancelled->store(true);
    c->note_abandoned();
    lock.unlock();
    c->record_fault(std::string(entry) + "() did not return by its deadline", /*hang=*/true);
    log::error("dispatch", "component '{}': {}() did not return within its deadline; abandoned",
               c->id(), entry);
    return CallEnd::kAbandoned;
}

}  // namespace byparr
