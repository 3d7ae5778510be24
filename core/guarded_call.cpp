#include "core/guarded_call.h"

#include <condition_variable>
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

}  // namespace

CallEnd guarded_call(const std::shared_ptr<Component>& c, const char* entry,
                     std::chrono::steady_clock::time_point deadline, std::function<void()> body,
                     std::atomic<bool>* cancelled) {
    auto gate = std::make_shared<CallGate>();
    c->note_call();
    // The thread holds the component: a late call keeps it alive, and the
    // registry destroys no component with a call still inside.
    std::thread([c, gate, body = std::move(body)] {
        body();
        std::lock_guard<std::mutex> lock(gate->mu);
        gate->done = true;
        if (gate->abandoned) c->note_returned_after_abandon();
        gate->cv.notify_all();
    }).detach();

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
