// Soak: a bounded run of mixed load at MAX_CONCURRENT through the real host and the real
// webengine worker against local test sites, sampling what the process tree costs. Proves
// that every request is answered and that memory, processes and descriptors stay flat.
//
//   BYPARR_SOAK_SECONDS         length of the load (default 75; `make soak` runs 600)
//   BYPARR_SOAK_WARMUP_SECONDS  samples ignored by the flatness checks (default: a quarter
//                               of the run, between 20 and 60 s)
//   BYPARR_SOAK_CSV             where the samples go (default <build>/soak/soak.csv);
//                               tests/soak/plot.sh turns it into a PNG
#include <gtest/gtest.h>

#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <numeric>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

#include "tests/support/byparr_server.h"
#include "tests/support/http_client.h"
#include "tests/support/proc_stats.h"
#include "tests/support/test_process.h"
#include "tests/support/test_site.h"

#include "byparr/build_paths.h"

namespace byparr::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using Json = Poco::JSON::Object::Ptr;

constexpr int kClients = 3;  // == MAX_CONCURRENT: the gate is full, nothing queues long

// Flatness after warm-up, chosen from measured runs (see docs/soak/): the worker's heap and
// Chromium's caches grow in steps and a page-count recycle (BROWSER_MAX_PAGES) drops them
// again, so a leak shows as the last third's mean well above the first third's.
constexpr double kPssFactor = 1.15;
constexpr double kPssSlackMib = 30;
// Renderers come and go with pages, and the worker replaces its pages about once a minute
// (a peak of ~12 processes and ~145 worker fds for a second or two), so growth is judged on
// the median, which a leak moves and a peak does not; the peaks get absolute caps with room
// above the measured ones (12 processes, 18 host fds, 146 worker fds).
constexpr std::size_t kProcessSlack = 1;
constexpr std::size_t kHostFdSlack = 3;
constexpr std::size_t kWorkerFdSlack = 10;
constexpr std::size_t kMaxProcesses = 20;
constexpr std::size_t kMaxHostFds = 40;
constexpr std::size_t kMaxWorkerFds = 300;

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v != nullptr && *v != '\0' ? std::atoi(v) : fallback;
}

double seconds_since(Clock::time_point t0) {
    return std::chrono::duration<double>(Clock::now() - t0).count();
}

enum class Op { kPlain, kChallenge, kSetCookie, kNotFound, kSlow, kSession, kCacheHit, kNever };

const char* op_name(Op op) {
    switch (op) {
        case Op::kPlain:
            return "plain";
        case Op::kChallenge:
            return "challenge";
        case Op::kSetCookie:
            return "set-cookie";
        case Op::kNotFound:
            return "404";
        case Op::kSlow:
            return "slow";
        case Op::kSession:
            return "session";
        case Op::kCacheHit:
            return "cache-hit";
        case Op::kNever:
            return "never";
    }
    return "?";
}

// A reply that is a proper v1 envelope, or why it is not.
struct Envelope {
    Json json;
    std::string status, message, problem;
    bool ok() const { return problem.empty() && status == "ok"; }
};

Envelope call(const std::string& base, const std::string& body, int timeout_ms) {
    Envelope e;
    try {
        HttpResult r = post_json(base + "/v1", body, timeout_ms);
        Poco::JSON::Parser parser;
        e.json = parser.parse(r.body).extract<Json>();
        e.status = e.json->optValue<std::string>("status", "");
        e.message = e.json->optValue<std::string>("message", "");
        bool shaped =
            e.json->has("startTimestamp") && e.json->has("endTimestamp") && e.json->has("version");
        if (!shaped || (e.status == "ok" && r.status != 200) ||
            (e.status == "error" && (r.status < 400 || e.message.rfind("Error: ", 0) != 0)) ||
            (e.status != "ok" && e.status != "error"))
            e.problem =
                "not an envelope (HTTP " + std::to_string(r.status) + "): " + r.body.substr(0, 200);
    } catch (const std::exception& ex) {
        e.problem = std::string("no answer: ") + ex.what();
    }
    return e;
}

struct Sample {
    double t_s = 0, pss_mib = 0;
    std::size_t processes = 0, host_fds = 0, worker_fds = 0, workers = 0;
    long done = 0, failed = 0;
};

double mean_pss(const std::vector<Sample>& v) {
    if (v.empty()) return 0;
    double sum = 0;
    for (const auto& s : v)
        sum += s.pss_mib;
    return sum / static_cast<double>(v.size());
}

template <typename F>
std::size_t median_of(const std::vector<Sample>& v, F field) {
    std::vector<std::size_t> x;
    for (const auto& s : v)
        x.push_back(field(s));
    if (x.empty()) return 0;
    std::nth_element(x.begin(), x.begin() + static_cast<long>(x.size() / 2), x.end());
    return x[x.size() / 2];
}

template <typename F>
std::size_t max_of(const std::vector<Sample>& v, F field) {
    std::size_t m = 0;
    for (const auto& s : v)
        m = std::max(m, field(s));
    return m;
}

class Soak {
  public:
    Soak() : plain_("127.0.0.1"), challenge_("127.0.0.2"), cached_("127.0.0.3") {}

    void start_host() {
        host_ = std::make_unique<ByparrServer>(
            ServerOptions{.env = {{"MAX_CONCURRENT", std::to_string(kClients)},
                                  {"SHUTDOWN_GRACE", "5"},
                                  {"LOG_LEVEL", "warning"}}});
        base_ = host_->base();
        token_ = host_->token();
    }

    // One request (or session round) of kind op; returns "" when the answer was the
    // expected one, else what was wrong.
    std::string run(Op op, int client, long n) {
        switch (op) {
            case Op::kPlain: {
                Envelope e = call(base_, get_body(plain_.url("/plain"), 20000), 40000);
                return expect_ok(e, 200);
            }
            case Op::kChallenge: {
                // One challenge at a time, on a site that has just forgotten every
                // clearance: each one is a real solve, not a cached cookie.
                std::lock_guard<std::mutex> lock(challenge_mu_);
                try {
                    http_request("GET", challenge_.url("/cf-status/reset"), "", {}, 5000);
                } catch (const std::exception& ex) {
                    return std::string("cannot reset the challenge site: ") + ex.what();
                }
                Envelope e = call(
                    base_, get_body(challenge_.url("/cf/?delay_ms=300&zeros=2"), 30000), 50000);
                return expect_ok(e, 200);
            }
            case Op::kSetCookie: {
                Envelope e = call(base_, get_body(plain_.url("/set-cookie"), 20000), 40000);
                std::string why = expect_ok(e, 200);
                if (why.empty()) {
                    auto cookies = e.json->getObject("solution")->getArray("cookies");
                    bool sid = false;
                    for (size_t i = 0; cookies && i < cookies->size(); ++i)
                        sid |= cookies->getObject(static_cast<unsigned>(i))
                                   ->optValue<std::string>("name", "") == "sid";
                    if (!sid) why = "set-cookie: no sid cookie";
                }
                return why;
            }
            case Op::kNotFound:
                return expect_ok(call(base_, get_body(plain_.url("/status/404"), 20000), 40000),
                                 404);
            case Op::kSlow:
                return expect_ok(call(base_, get_body(plain_.url("/slow?ms=1500"), 20000), 40000),
                                 200);
            case Op::kSession: {
                std::string id = "soak-" + std::to_string(client) + "-" + std::to_string(n);
                Envelope e =
                    call(base_, R"({"cmd":"sessions.create","session":")" + id + "\"}", 30000);
                if (!e.ok()) return "sessions.create: " + describe(e);
                e = call(base_, get_body(plain_.url("/echo"), 20000, R"("session":")" + id + "\""),
                         40000);
                std::string why = expect_ok(e, 200);
                Envelope d =
                    call(base_, R"({"cmd":"sessions.destroy","session":")" + id + "\"}", 30000);
                if (!why.empty()) return "session request: " + why;
                return d.ok() ? "" : "sessions.destroy: " + describe(d);
            }
            case Op::kCacheHit: {
                Envelope e =
                    call(base_, get_body(cached_.url("/cf/"), 20000, R"("returnOnlyCookies":true)"),
                         40000);
                if (!e.ok()) return describe(e);
                auto s = e.json->getObject("solution");
                if (!s || s->has("response") || !s->getArray("cookies"))
                    return "returnOnlyCookies: unexpected solution";
                return "";
            }
            case Op::kNever: {
                Envelope e = call(base_, get_body(plain_.url("/never"), 2000), 20000);
                if (!e.problem.empty()) return e.problem;
                if (e.status != "error" || e.message.find("Timeout") == std::string::npos)
                    return "never: expected the timeout error, got " + describe(e);
                return "";
            }
        }
        return "unknown op";
    }

    static std::string describe(const Envelope& e) {
        return e.problem.empty() ? e.status + " '" + e.message + "'" : e.problem;
    }

    static std::string expect_ok(const Envelope& e, int page_status) {
        if (!e.ok()) return describe(e);
        auto s = e.json->getObject("solution");
        if (!s) return "ok without a solution";
        int got = s->optValue<int>("status", 0);
        if (got != page_status)
            return "page status " + std::to_string(got) + ", expected " +
                   std::to_string(page_status);
        return "";
    }

    Sample sample(Clock::time_point t0) const {
        Sample s;
        s.t_s = seconds_since(t0);
        pid_t root = host_->process().pid();
        s.pss_mib = tree_pss_mib(root);
        s.processes = process_tree(root).size();
        s.host_fds = open_fds(root);
        for (pid_t w : worker_processes(root)) {
            s.worker_fds += open_fds(w);
            ++s.workers;
        }
        s.done = done_.load();
        s.failed = failed_.load();
        return s;
    }

    TestSite plain_, challenge_, cached_;
    std::unique_ptr<ByparrServer> host_;
    std::string base_, token_;
    std::mutex challenge_mu_;
    std::atomic<long> done_{0}, failed_{0};
    std::atomic<bool> host_died_{false};
    std::mutex failures_mu_;
    std::vector<std::string> failures_;
    std::map<std::string, std::vector<double>> per_op_;  // seconds each request took
};

TEST(Soak, MixedLoadIsAnsweredAndMemoryProcessesAndFdsStayFlat) {
    if (::access((ByparrServer::plugin_dir() + "/webengine/byparr-webengine-worker").c_str(),
                 X_OK) != 0)
        GTEST_SKIP() << "byparr-webengine-worker is not built";
    const int duration_s = std::max(20, env_int("BYPARR_SOAK_SECONDS", 75));
    const int warmup_s = env_int("BYPARR_SOAK_WARMUP_SECONDS", std::clamp(duration_s / 4, 20, 60));
    const char* csv_env = std::getenv("BYPARR_SOAK_CSV");
    const std::string csv_path = csv_env != nullptr && *csv_env != '\0'
                                     ? std::string(csv_env)
                                     : std::string(build_paths::kBuildDir) + "/soak/soak.csv";

    Soak soak;
    soak.start_host();
    ASSERT_FALSE(soak.base_.empty());
    // The cache-hit requests need one clearance in the cache first.
    Envelope prime =
        call(soak.base_, get_body(soak.cached_.url("/cf/?delay_ms=200&zeros=2"), 30000), 50000);
    ASSERT_TRUE(prime.ok()) << Soak::describe(prime);

    // Written as it is sampled: a run cut short still leaves its data.
    std::filesystem::create_directories(std::filesystem::path(csv_path).parent_path());
    std::ofstream csv(csv_path, std::ios::trunc);
    ASSERT_TRUE(csv.good()) << "cannot write " << csv_path;
    csv << "t_s,pss_mib,processes,host_fds,worker_fds,workers,requests_done,requests_failed\n";
    std::vector<Sample> samples;
    auto record = [&](const Sample& s) {
        char line[160];
        std::snprintf(line, sizeof line, "%.1f,%.1f,%zu,%zu,%zu,%zu,%ld,%ld\n", s.t_s, s.pss_mib,
                      s.processes, s.host_fds, s.worker_fds, s.workers, s.done, s.failed);
        csv << line << std::flush;
        samples.push_back(s);
    };

    const auto t0 = Clock::now();
    const auto end = t0 + std::chrono::seconds(duration_s);
    std::atomic<bool> sampling{true};
    std::thread sampler([&] {
        while (sampling) {
            record(soak.sample(t0));
            for (int i = 0; i < 10 && sampling; ++i)
                std::this_thread::sleep_for(100ms);
        }
    });

    // Weights of the mix: mostly what indexers do (plain pages, cached clearances), with
    // every path that holds resources (sessions, timeouts, challenges) in it.
    const std::vector<std::pair<Op, int>> mix{
        {Op::kPlain, 4}, {Op::kChallenge, 1}, {Op::kSetCookie, 2}, {Op::kNotFound, 2},
        {Op::kSlow, 1},  {Op::kSession, 1},   {Op::kCacheHit, 3},  {Op::kNever, 1}};
    int total_weight = 0;
    for (const auto& [op, w] : mix)
        total_weight += w;
    std::vector<std::thread> clients;
    for (int c = 0; c < kClients; ++c) {
        clients.emplace_back([&, c] {
            std::mt19937 rng(static_cast<unsigned>(1000 + c));
            std::uniform_int_distribution<int> pick(0, total_weight - 1);
            for (long n = 0; Clock::now() < end; ++n) {
                int r = pick(rng);
                Op op = mix.back().first;
                for (const auto& [o, w] : mix) {
                    if (r < w) {
                        op = o;
                        break;
                    }
                    r -= w;
                }
                const auto started = Clock::now();
                std::string why = soak.run(op, c, n);
                const double took_s = seconds_since(started);
                ++soak.done_;
                // A dead host answers nothing: stop instead of spinning on refusals.
                if (!why.empty() && !soak.host_->process().running()) soak.host_died_ = true;
                if (soak.host_died_) break;
                std::lock_guard<std::mutex> lock(soak.failures_mu_);
                soak.per_op_[op_name(op)].push_back(took_s);
                if (!why.empty()) {
                    ++soak.failed_;
                    soak.failures_.push_back(std::string(op_name(op)) + " at " +
                                             std::to_string(seconds_since(t0)) + " s: " + why);
                }
            }
        });
    }
    for (auto& t : clients)
        t.join();
    sampling = false;
    sampler.join();
    record(soak.sample(t0));
    EXPECT_TRUE(csv.good()) << "cannot write " << csv_path;

    std::string ops;
    for (auto& [name, took] : soak.per_op_) {
        std::sort(took.begin(), took.end());
        char part[128];
        std::snprintf(part, sizeof part, " %s=%zu (p50 %.2f s, max %.2f s)", name.c_str(),
                      took.size(), took[took.size() / 2], took.back());
        ops += part;
    }
    std::printf("soak: %d s (warm-up %d s), %ld requests,%s; %ld failed\nsoak: CSV %s\n",
                duration_s, warmup_s, soak.done_.load(), ops.c_str(), soak.failed_.load(),
                csv_path.c_str());

    if (soak.host_died_) {
        auto st = soak.host_->process().wait_exit(0ms);
        int ws = st.value_or(-1);
        ADD_FAILURE() << "byparr died during the soak: "
                      << (WIFSIGNALED(ws) ? "signal " + std::to_string(WTERMSIG(ws))
                                          : "exit status " + std::to_string(WEXITSTATUS(ws)));
    }
    // Every request got the answer its kind calls for.
    EXPECT_EQ(soak.failed_.load(), 0);
    for (size_t i = 0; i < soak.failures_.size() && i < 15; ++i)
        ADD_FAILURE() << soak.failures_[i];
    EXPECT_GE(soak.done_.load(), duration_s / 2) << "the load did not run";

    ASSERT_FALSE(soak.host_died_);

    std::vector<Sample> after;
    for (const auto& s : samples)
        if (s.t_s >= warmup_s) after.push_back(s);
    ASSERT_GE(after.size(), 9u) << "too few samples after warm-up";
    const size_t third = after.size() / 3;
    std::vector<Sample> first(after.begin(), after.begin() + static_cast<long>(third));
    std::vector<Sample> last(after.end() - static_cast<long>(third), after.end());
    const double pss_first = mean_pss(first), pss_last = mean_pss(last);
    const double pss_limit = pss_first * kPssFactor + kPssSlackMib;
    auto procs = [](const Sample& s) { return s.processes; };
    auto host_fds = [](const Sample& s) { return s.host_fds; };
    auto worker_fds = [](const Sample& s) { return s.worker_fds; };
    std::printf(
        "soak: PSS start %.1f MiB, first third %.1f, last third %.1f (limit %.1f = x%.2f "
        "+ %.0f), end %.1f, peak %.1f MiB\n",
        samples.front().pss_mib, pss_first, pss_last, pss_limit, kPssFactor, kPssSlackMib,
        samples.back().pss_mib,
        std::max_element(samples.begin(), samples.end(), [](auto& a, auto& b) {
            return a.pss_mib < b.pss_mib;
        })->pss_mib);
    std::printf(
        "soak: median first/last third: processes %zu/%zu, host fds %zu/%zu, worker fds "
        "%zu/%zu; max after warm-up: processes %zu, host fds %zu, worker fds %zu\n",
        median_of(first, procs), median_of(last, procs), median_of(first, host_fds),
        median_of(last, host_fds), median_of(first, worker_fds), median_of(last, worker_fds),
        max_of(after, procs), max_of(after, host_fds), max_of(after, worker_fds));
    EXPECT_LE(pss_last, pss_limit) << "memory grew after warm-up";
    EXPECT_LE(median_of(last, procs), median_of(first, procs) + kProcessSlack);
    EXPECT_LE(median_of(last, host_fds), median_of(first, host_fds) + kHostFdSlack);
    EXPECT_LE(median_of(last, worker_fds), median_of(first, worker_fds) + kWorkerFdSlack);
    EXPECT_LE(max_of(after, procs), kMaxProcesses);
    EXPECT_LE(max_of(after, host_fds), kMaxHostFds);
    EXPECT_LE(max_of(after, worker_fds), kMaxWorkerFds);

    // And the tree goes away whole on SIGTERM.
    ASSERT_EQ(::kill(soak.host_->process().pid(), SIGTERM), 0);
    auto status = soak.host_->process().wait_exit(20s);
    ASSERT_TRUE(status.has_value()) << "byparr did not exit after SIGTERM";
    EXPECT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0) << "wait status " << *status;
    auto left = processes_with_env(soak.token_);
    for (int i = 0; i < 30 && !left.empty(); ++i) {
        std::this_thread::sleep_for(100ms);
        left = processes_with_env(soak.token_);
    }
    EXPECT_TRUE(left.empty()) << left.size() << " process(es) outlived the host, e.g. "
                              << (left.empty() ? "" : comm_of(left.front()));
}

}  // namespace
}  // namespace byparr::test
