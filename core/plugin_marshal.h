// Marshalling between the host's types and the C ABI's (sdk/include/byparr/abi.h)
// for calls into a component: views of host strings, the writer callbacks a
// plugin answers through, and the C request of one solve() call.
//
// Everything here is only data; the call itself, with its deadline, abandon and
// breaker, is core/guarded_call.h. Sinks lock, because an abandoned call may
// still write into one after the caller stopped reading it: hold sinks (and a
// SolveJob) by shared_ptr in the call so they outlive a late plugin.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <byparr/abi.h>
#include "core/solution.h"

namespace byparr {

std::string from_view(byparr_str s);
/// A view of s; valid while s lives and is not changed.
byparr_str view(const std::string& s);

/// What a byparr_result_writer wrote: a solution or an error. `cancelled` is
/// what the plugin's is_cancelled() reads.
struct ResultSink {
    std::mutex mu;
    std::atomic<bool> cancelled{false};
    byparr_outcome outcome = BYPARR_OUTCOME_FAILED;  // set by the caller from the return
    Solution solution;
    bool has_error = false;
    byparr_error_kind error_kind = BYPARR_ERROR_INTERNAL;
    std::string error;
};
byparr_result_writer result_writer(ResultSink* sink);

/// What a byparr_list_writer wrote: items or an error.
struct ListSink {
    std::mutex mu;
    std::vector<std::string> items;
    bool has_error = false;
    byparr_error_kind kind = BYPARR_ERROR_INTERNAL;
    std::string error;
};
byparr_list_writer list_writer(ListSink* sink);

/// What a byparr_metric_writer wrote: samples with their family's kind.
struct MetricSink {
    std::mutex mu;
    std::vector<std::pair<byparr_metric_kind, std::string>> samples;
};
byparr_metric_writer metric_writer(MetricSink* sink);

/// Everything the C structs of one solve() call point into, owned together.
struct SolveJob {
    SolveRequest req;
    std::vector<byparr_cookie> cookies;
    std::vector<byparr_header> headers;
    byparr_request creq{};
    byparr_result_writer writer{};
};
/// The C request for r with `budget_ms` and r's flags plus `extra_flags` (BYPARR_REQ_*
/// bits for this call only), answering into `sink` (which the job does not own: keep both
/// alive for the call).
std::shared_ptr<SolveJob> make_solve_job(const SolveRequest& r, uint32_t budget_ms,
                                         uint32_t extra_flags, ResultSink* sink);

}  // namespace byparr
