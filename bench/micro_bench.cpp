// Micro-benchmarks of the request path that does not involve a browser:
// parsing and validating a /v1 body, serialising an answer, and the cost of the
// plugin boundary (a call through the C ABI and through the dispatcher, which
// adds the deadline thread) against a direct C++ call; the metrics one request
// writes, and one /metrics scrape.
#include <benchmark/benchmark.h>

#include <filesystem>

#include "byparr/build_paths.h"
#include "core/dispatcher.h"
#include "core/log.h"
#include "core/registry.h"
#include "core/v1_request.h"
#include "host/v1_service.h"

namespace {

using namespace byparr;

const char* kProwlarrBody =
    R"({"maxTimeout":60000,"cmd":"request.get","url":"https://indexer.example.org/search?q=linux&cat=5000","proxy":{}})";

void BM_ParseProwlarrRequest(benchmark::State& s) {
    for (auto _ : s)
        benchmark::DoNotOptimize(parse_v1_request(kProwlarrBody));
}
BENCHMARK(BM_ParseProwlarrRequest);

void BM_ParseRequestWith20Cookies(benchmark::State& s) {
    std::string body = R"({"cmd":"request.get","url":"https://a.example.org/","cookies":[)";
    for (int i = 0; i < 20; ++i)
        body +=
            std::string(i ? "," : "") + R"({"name":"c)" + std::to_string(i) +
            R"(","value":"0123456789abcdef0123456789abcdef","domain":".example.org","path":"/","httpOnly":true,"secure":true,"expiry":1900000000})";
    body += "]}";
    for (auto _ : s)
        benchmark::DoNotOptimize(parse_v1_request(body));
}
BENCHMARK(BM_ParseRequestWith20Cookies);

Config bench_config() {
    std::string err;
    auto state =
        std::filesystem::temp_directory_path() / ("byparr-bench-" + std::to_string(getpid()));
    auto c = Config::from_map(
        {{"BYPARR_PLUGIN_PATH", std::string(byparr::build_paths::kFixturePluginDir) + "/good"},
         {"BYPARR_STATE_DIR", state.string()},
         {"SOLVERS", "echo-solver"},
         {"LOG_LEVEL", "error"}},
        &err);
    return *c;
}

struct Fixture {
    Fixture() : registry(bench_config(), RegistryOptions{false, {}}) {
        log::configure("error", "text");
        registry.load_all();
        service = std::make_unique<V1Service>(registry.config(), registry);
    }
    Registry registry;
    std::unique_ptr<V1Service> service;
};

Fixture& fixture() {
    static Fixture f;
    return f;
}

// The whole /v1 path minus the socket: parse, gate, dispatch through the C ABI on
// a deadline thread, serialise.
void BM_HandleV1ThroughEchoPlugin(benchmark::State& s) {
    auto& f = fixture();
    for (auto _ : s)
        benchmark::DoNotOptimize(f.service->handle_v1(kProwlarrBody));
}
BENCHMARK(BM_HandleV1ThroughEchoPlugin);

void BM_SerialiseLargeAnswer(benchmark::State& s) {
    auto& f = fixture();
    // The echo solver puts the request in the page; a 200 KiB postData makes a
    // page of that size to escape and copy.
    std::string body = R"({"cmd":"request.post","url":"https://a.example.org/","postData":")" +
                       std::string(200 * 1024, 'x') + "\"}";
    for (auto _ : s)
        benchmark::DoNotOptimize(f.service->handle_v1(body));
    s.SetBytesProcessed(int64_t(s.iterations()) * int64_t(body.size()));
}
BENCHMARK(BM_SerialiseLargeAnswer);

// The metric updates SolvePipeline::finish and the cache step make for one solved page
// request, on the host's own registry: what adopting another metrics library would have
// to beat on the hot path.
void BM_RecordOneRequestsMetrics(benchmark::State& s) {
    auto& mx = fixture().service->pipeline().metrics();
    const Labels outcome{{"solver", "echo-solver"}, {"outcome", "solved"}};
    const Labels request{{"cmd", "request.get"}, {"result", "solved"}};
    const Labels cmd{{"cmd", "request.get"}};
    const Labels domain{{"domain", "indexer.example.org"}, {"result", "solved"}};
    const Labels domain_only{{"domain", "indexer.example.org"}};
    for (auto _ : s) {
        mx.inc("byparr_cache_misses_total");
        mx.inc("byparr_solver_outcomes_total", outcome);
        mx.inc("byparr_requests_total", request);
        mx.observe("byparr_request_duration_seconds", cmd, 0.42);
        mx.inc("flaresolverr_request_total", domain);
        mx.observe("flaresolverr_request_duration", domain_only, 0.42);
    }
}
BENCHMARK(BM_RecordOneRequestsMetrics);

// One scrape of /metrics: the host's families plus the solvers' samples.
void BM_ScrapeMetrics(benchmark::State& s) {
    auto& f = fixture();
    for (auto _ : s)
        benchmark::DoNotOptimize(f.service->metrics());
}
BENCHMARK(BM_ScrapeMetrics);

// One solve() through the C ABI function pointer: the boundary itself (request
// conversion in the wrapper, writer callbacks) without the dispatcher's thread.
void BM_SolveThroughCAbi(benchmark::State& s) {
    auto& f = fixture();
    auto c = f.registry.find("echo-solver");
    std::string url = "https://a.example.org/";
    byparr_request q{};
    q.struct_size = sizeof q;
    q.method = BYPARR_METHOD_GET;
    q.url = {url.data(), url.size()};
    q.timeout_ms = 1000;
    struct Sink {
        size_t n = 0;
    } sink;
    auto str_cb = [](void* ctx, byparr_str v) { static_cast<Sink*>(ctx)->n += v.len; };
    auto int_cb = [](void* ctx, int32_t v) { static_cast<Sink*>(ctx)->n += size_t(v); };
    auto hdr_cb = [](void* ctx, byparr_str k, byparr_str v) {
        static_cast<Sink*>(ctx)->n += k.len + v.len;
    };
    auto cookie_cb = [](void* ctx, const byparr_cookie* k) {
        static_cast<Sink*>(ctx)->n += k->name.len;
    };
    auto err_cb = [](void*, byparr_error_kind, byparr_str) {};
    byparr_result_writer w{sizeof w,  &sink,  str_cb, int_cb, str_cb, str_cb, hdr_cb,
                           cookie_cb, str_cb, str_cb, hdr_cb, err_cb, str_cb};
    for (auto _ : s)
        benchmark::DoNotOptimize(c->def.solver.solve(c->instance, &q, &w));
}
BENCHMARK(BM_SolveThroughCAbi);

// The same work as a direct C++ call, for comparison: what the boundary costs.
struct DirectEcho {
    Solution solve(const std::string& url) {
        Solution s;
        s.url = url;
        s.status = 200;
        s.user_agent = "EchoSolver/1.0";
        s.headers.emplace_back("content-type", "text/html");
        s.response =
            R"({"method":"GET","postData":"","cookies":"","proxy":"","session":"","timeoutMs":1000,"flags":0})";
        s.cookies.push_back(Cookie{"echo", "1", "example.test", "/", "Lax", -1, false, false});
        return s;
    }
};
void BM_SolveDirectCall(benchmark::State& s) {
    DirectEcho d;
    std::string url = "https://a.example.org/";
    for (auto _ : s)
        benchmark::DoNotOptimize(d.solve(url));
}
BENCHMARK(BM_SolveDirectCall);

// Dispatcher: chain lookup, C structs, deadline thread, wait.
void BM_DispatchThroughChain(benchmark::State& s) {
    auto& f = fixture();
    SolveRequest r;
    r.url = "https://a.example.org/";
    r.timeout_ms = 1000;
    for (auto _ : s)
        benchmark::DoNotOptimize(f.service->dispatcher().solve(r));
}
BENCHMARK(BM_DispatchThroughChain);

}  // namespace

BENCHMARK_MAIN();
