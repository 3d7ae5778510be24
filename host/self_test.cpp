#include "host/self_test.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>

#include "core/log.h"

namespace byparr {
namespace {

constexpr const char* kPage =
    "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Byparr self-test</title>"
    "</head><body><p id=\"ok\">Byparr self-test</p></body></html>";

class PageHandler : public Poco::Net::HTTPRequestHandler {
  public:
    void handleRequest(Poco::Net::HTTPServerRequest&,
                       Poco::Net::HTTPServerResponse& resp) override {
        // Every path gets the page (the browser also asks for /favicon.ico).
        resp.setContentType("text/html; charset=utf-8");
        resp.setContentLength64(static_cast<Poco::Int64>(std::char_traits<char>::length(kPage)));
        resp.send() << kPage;
    }
};

class PageFactory : public Poco::Net::HTTPRequestHandlerFactory {
  public:
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest&) override {
        return new PageHandler;
    }
};

}  // namespace

SelfTest::SelfTest(const Config& config, Registry& registry, Dispatcher& dispatcher)
    : config_(config), registry_(registry), dispatcher_(dispatcher) {}

SelfTest::~SelfTest() {
    join();
}

void SelfTest::join() {
    if (thread_.joinable()) thread_.join();
}

void SelfTest::start() {
    {
        std::lock_guard<std::mutex> lock(mu_);
        for (const auto& c : registry_.solver_chain())
            results_[c->id()] = Result{};
    }
    thread_ = std::thread([this] { run(); });
}

void SelfTest::run() {
    // A listener of its own on loopback, up only while the test runs: the page is
    // never served on the public port.
    std::unique_ptr<Poco::Net::HTTPServer> server;
    std::string url;
    try {
        Poco::Net::ServerSocket sock(Poco::Net::SocketAddress("127.0.0.1", 0));
        auto* params = new Poco::Net::HTTPServerParams;
        params->setMaxThreads(2);
        params->setKeepAlive(false);
        server = std::make_unique<Poco::Net::HTTPServer>(new PageFactory, sock, params);
        server->start();
        url = "http://127.0.0.1:" + std::to_string(sock.address().port()) + "/byparr-self-test";
    } catch (const Poco::Exception& e) {
        log::warning("health", "self-test page could not be served: {}", e.displayText());
    }
    for (const auto& c : registry_.solver_chain()) {  // chain order: the default first
        const std::string id = c->id();
        Result r;
        auto t0 = std::chrono::steady_clock::now();
        if (url.empty()) {
            r.self_test = "failed";
            r.reason = "the self-test page could not be served";
        } else {
            SolveRequest sr;
            sr.request_id = "self-test";
            sr.url = url;
            sr.solver = id;
            sr.timeout_ms =
                static_cast<uint32_t>(std::min<int64_t>(std::chrono::milliseconds(kTimeout).count(),
                                                        int64_t(config_.solver_timeout_s) * 1000));
            SolveOutcome o = dispatcher_.probe(id, sr);
            if (o.ok) {
                r.self_test = "passed";
            } else if (config_.block_private_targets &&
                       o.error.find("BLOCK_PRIVATE_TARGETS") != std::string::npos) {
                // The egress guard refused the loopback page: the browser started and
                // asked for it, which is what the test is for.
                r.self_test = "passed";
            } else if (o.not_applicable) {
                // A solver that answers only some sites (cookie-import: those it holds
                // cookies for) declined the page: not broken, but no proof it can serve.
                r.self_test = "not applicable";
                r.reason =
                    "it answers only the sites it is made for; it declined the "
                    "self-test page";
            } else {
                r.self_test = "failed";
                r.reason = "self-test page did not load: " + o.error;
            }
        }
        r.ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                   std::chrono::steady_clock::now() - t0)
                   .count();
        if (r.self_test == "passed")
            log::info("health", "solver '{}' passed its self-test in {} ms", id, r.ms);
        else if (r.self_test == "not applicable")
            log::info("health", "solver '{}' declined the self-test page: {}", id, r.reason);
        else
            log::warning("health", "solver '{}' failed its self-test: {}", id, r.reason);
        std::lock_guard<std::mutex> lock(mu_);
        results_[id] = r;
    }
    if (server) server->stopAll(true);
    finished_ = true;
}

std::vector<SolverHealth> SelfTest::report() const {
    std::vector<SolverHealth> out;
    auto chain = registry_.solver_chain();
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& s : registry_.status()) {
        if (s.kind != Kind::kSolver || !s.enabled) continue;
        SolverHealth h;
        h.id = s.id;
        auto it = results_.find(s.id);
        if (it != results_.end()) {
            h.self_test = it->second.self_test;
            h.self_test_ms = it->second.ms;
        } else {
            h.self_test = "not run";
        }
        bool in_chain = false;
        for (const auto& c : chain)
            in_chain |= c->id() == s.id;
        if (!in_chain) {
            h.reason = s.reason.empty() ? "not in the solver chain" : s.reason;
        } else if (h.self_test == "running") {
            h.reason = "self-test running";
        } else if (h.self_test == "failed" || h.self_test == "not applicable") {
            h.reason = it->second.reason;
        }
        h.ready = h.reason.empty();
        out.push_back(std::move(h));
    }
    return out;
}

}  // namespace byparr
