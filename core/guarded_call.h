// Every call into a component (solve, cookie lookup, proxy pick and report, the
// captcha hook, session calls, user_agent, metrics) goes through guarded_call:
// the call runs on a thread of its own (a reused one, never one another call is
// on) and the caller waits at most until a deadline. A call that does not return by then is
// abandoned: the caller moves on, the component's breaker opens at once (a hung call holds a
// thread; one more is one too many) and registry.enabled()/solver_chain() leave it out until the
// cool-off ends or the call comes back.
//
// Marshalling (core/plugin_marshal.h) is the caller's: `body` captures, by
// shared_ptr, every sink and C struct it touches, because an abandoned body
// may run to its end long after guarded_call returned.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>

#include "core/registry.h"

namespace byparr {

enum class CallEnd {
    kReturned = 1,  // body ran to its end; read what it wrote
    kAbandoned,     // the deadline passed first; the component is faulted
};

/// Runs body on a thread of its own (reused) and waits until `deadline`. `entry` names
/// the entry point for the fault reason and the log ("lookup", "metrics"...).
/// On abandon, *cancelled (if given; it must live as long as body's captures)
/// is set, so a plugin polling is_cancelled() can stop.
CallEnd guarded_call(const std::shared_ptr<Component>& c, const char* entry,
                     std::chrono::steady_clock::time_point deadline, std::function<void()> body,
                     std::atomic<bool>* cancelled = nullptr);

}  // namespace byparr
