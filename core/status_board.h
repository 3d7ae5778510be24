// What the status page shows about recent traffic: the last requests, latency
// per minute over the last hour, and per-site outcomes.
//
// Fed once per /v1 request by SolvePipeline::finish (the same place that writes
// the metrics and the access line), read by GET /status.json. Bounded: 100
// requests, 60 minute buckets, kMaxSites sites. Cheap: record() holds one mutex
// for a copy of a few short strings and no allocation beyond them; nothing runs
// in between requests (no timer, no thread): a bucket is recycled when a request
// lands in its minute slot again, and snapshot() skips buckets older than the hour.
//
// Privacy: a sample holds a host name, never a URL, query string, cookie or
// header. The pipeline puts nothing else in.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace byparr {

struct RequestSample {
    int64_t time_ms = 0;  // Unix epoch, when the answer was sent
    std::string id;       // the request id (as in the access line)
    std::string cmd, domain, outcome, rule, solver, cache;
    int http_status = 0;
    double duration_ms = 0;
};

class StatusBoard {
  public:
    static constexpr size_t kRecent = 100;
    static constexpr int kMinutes = 60;
    static constexpr size_t kMaxSites = 200;

    struct Minute {
        int64_t start_ms = 0;  // Unix epoch of the minute's start
        uint32_t requests = 0, answered = 0, failed = 0;
        double sum_ms = 0, max_ms = 0;
    };
    struct Site {
        std::string domain;
        std::map<std::string, uint64_t> outcomes;  // outcome -> requests
        std::string last_passed_by;                // solver of the last answered request
        int64_t last_ms = 0, last_passed_ms = 0;
    };
    struct Snapshot {
        std::vector<RequestSample> recent;  // newest first
        std::vector<Minute> minutes;        // kMinutes entries, oldest first, empty ones too
        std::vector<Site> sites;            // most recently seen first
        uint64_t requests_hour = 0, answered_hour = 0, failed_hour = 0;
    };

    /// "Answered" for page requests: the client got a page or cookies.
    static bool answered(const std::string& outcome);
    /// request.get / request.post: what latency, solve rate and sites count.
    static bool page_request(const std::string& cmd);

    void record(RequestSample sample);
    Snapshot snapshot(int64_t now_ms) const;

  private:
    void count_minute(const RequestSample& s);
    void count_site(const RequestSample& s);

    mutable std::mutex mu_;
    std::array<RequestSample, kRecent> recent_;
    size_t next_ = 0, stored_ = 0;
    std::array<Minute, kMinutes> minutes_{};
    std::map<std::string, Site> sites_;
};

}  // namespace byparr
