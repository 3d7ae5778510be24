// byparr: the HTTP host. Reads its configuration from the environment (see
// --help), loads plugins, serves the FlareSolverr v1 API until SIGTERM/SIGINT.
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/Util/HelpFormatter.h>
#include <Poco/Util/ServerApplication.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <thread>

#include "core/config.h"
#include "core/log.h"
#include "core/registry.h"
#include "host/admin_server.h"
#include "host/http_routes.h"
#include "host/instance_lock.h"
#include "host/quiet_http_server.h"
#include "host/v1_service.h"

namespace {

constexpr const char* kEnvHelp = R"(Configuration (environment variables):
  HOST                 address to listen on                  (default 0.0.0.0)
  PORT                 port to listen on, 0 = any free       (default 8191)
  LOG_LEVEL            debug, info, warning, error           (default info)
  LOG_FORMAT           text or json                          (default text)
  LOG_HTML             log the final HTML at debug level     (default false)
  SOLVER_TIMEOUT       cap on any solve, seconds             (default 60)
  MAX_CONCURRENT       solves at once                        (default 5)
  MAX_QUEUE            requests waiting for a slot           (default 50)
  CACHE_DURATION       clearance cache lifetime, seconds     (default 3600)
  PROXY_URL            default proxy (http://, socks4://, socks5://)
  PROXY_USERNAME, PROXY_PASSWORD   its credentials
  DISABLE_MEDIA        do not load images/CSS/fonts          (default false)
  LANG                 browser language (e.g. de_DE.UTF-8)
  TZ                   time zone pages see, IANA name (e.g. Europe/Berlin; default: system's)
  SOLVERS              solver chain order and allow-list, comma-separated; an
                       unknown id refuses to start (exit 78) (default webengine,cookie-import)
  ESCALATE_AFTER       seconds a solver gets on a challenge before the rest of the
                       request's time goes to the next solver, 0 = never (default 15)
  BYPARR_STATE_DIR     state directory                       (default ~/.local/state/byparr,
                                                              /var/lib/byparr for root)
  BYPARR_PLUGIN_PATH   plugin directories, colon-separated   (default <exe>/../lib/byparr/plugins)
  SHUTDOWN_GRACE       seconds in-flight requests get on SIGTERM (default 10)
  MAX_BODY_BYTES       largest accepted request body         (default 1048576)
  MAX_RESPONSE_BYTES   page HTML returned, larger is cut and flagged with
                       solution.responseTruncated            (default 20971520)
  API_KEY              when set, POST /v1 requires "Authorization: Bearer <key>" or an
                       "apiKey" field (GET /, /health, /metrics stay open)
  BLOCK_PRIVATE_TARGETS  refuse loopback, LAN, link-local and cloud metadata targets,
                       checked at connect time (default false; see README)
  BLOCK_PRIVATE_TARGETS_ALLOW  CIDR ranges exempted from it, comma-separated
                       (e.g. 192.168.1.20/32 for a LAN indexer)
  BROWSER_SANDBOX      Chromium's sandbox: auto (on when it can start, else off with
                       one warning), on, off                 (default auto)
  PROMETHEUS_ENABLED   also serve /metrics on PROMETHEUS_PORT, as FlareSolverr
                                                             (default false)
  PROMETHEUS_PORT      that port                             (default 8192)
  BROWSER_POOL_IDLE_TIMEOUT  seconds without a request before the browser keeps only one
                       warm page                             (default 30)
  BROWSER_DISPLAY      offscreen, or xvfb for WebGL (one Xvfb per worker, more memory)
                                                             (default offscreen)
  CHROMIUM_PATH        the chromium solver's browser         (default /usr/bin/chromium)
  CHROMIUM_DISPLAY     xvfb (a window under its own Xvfb) or headless  (default xvfb)
  BROWSER_IDLE_TIMEOUT, BROWSER_MEMORY_LIMIT, BROWSER_MAX_PAGES, MAX_SESSIONS:
                       see README (webengine and chromium plugins)

GET /health answers 200 when at least one solver passed its start-up self-test (a
local page loaded through it) and can serve; 503 with the reasons otherwise.
One instance per BYPARR_STATE_DIR (locked) and per port.
)";

// Binds and listens; "" or why not, in words an operator can act on.
std::string listen_on(Poco::Net::ServerSocket& socket, const std::string& host, uint16_t port) {
    try {
        socket.bind(Poco::Net::SocketAddress(host, port), /*reuseAddress=*/true,
                    /*reusePort=*/false);
        socket.listen(128);
        return "";
    } catch (const Poco::Net::NetException& e) {
        if (e.code() == EADDRINUSE || e.displayText().find("in use") != std::string::npos)
            return "the port is already in use (another Byparr or FlareSolverr?); stop it or "
                   "choose another PORT";
        return e.displayText();
    } catch (const Poco::Exception& e) {
        return e.displayText();
    }
}

// "" when every SOLVERS id is a loaded solver; otherwise the refusal message.
std::string unknown_solvers(const byparr::Config& cfg, const byparr::Registry& registry) {
    std::vector<std::string> known;
    for (const auto& s : registry.status())
        if (s.kind == byparr::Kind::kSolver) known.push_back(s.id);
    std::vector<std::string> unknown;
    for (const auto& id : cfg.solvers)
        if (std::find(known.begin(), known.end(), id) == known.end()) unknown.push_back(id);
    if (unknown.empty()) return "";
    std::string msg = "SOLVERS names ";
    for (size_t i = 0; i < unknown.size(); ++i)
        msg += (i ? ", '" : "'") + unknown[i] + "'";
    msg += unknown.size() == 1 ? ", which is not a known solver" : ", which are not known solvers";
    msg += "; known solver ids: ";
    if (known.empty()) msg += "(none: no solver plugin loaded; check BYPARR_PLUGIN_PATH)";
    for (size_t i = 0; i < known.size(); ++i)
        msg += (i ? ", " : "") + known[i];
    return msg;
}

class ByparrApp : public Poco::Util::ServerApplication {
  protected:
    void defineOptions(Poco::Util::OptionSet& options) override {
        ServerApplication::defineOptions(options);
        options.addOption(
            Poco::Util::Option("help", "h", "print this help and exit")
                .required(false)
                .repeatable(false)
                .callback(Poco::Util::OptionCallback<ByparrApp>(this, &ByparrApp::on_help)));
        options.addOption(
            Poco::Util::Option("version", "v", "print the version and exit")
                .required(false)
                .repeatable(false)
                .callback(Poco::Util::OptionCallback<ByparrApp>(this, &ByparrApp::on_version)));
    }

    void on_help(const std::string&, const std::string&) {
        Poco::Util::HelpFormatter hf(options());
        hf.setCommand(commandName());
        hf.setUsage("[--help] [--version]");
        hf.setHeader(
            "Byparr: a FlareSolverr-compatible anti-bot challenge solver. Serves the "
            "FlareSolverr v1 API (POST /v1) plus GET /, /health and /metrics.");
        hf.format(std::cout);
        std::cout << "\n" << kEnvHelp;
        stop_ = true;
        stopOptionsProcessing();
    }
    void on_version(const std::string&, const std::string&) {
        std::cout << "byparr " << BYPARR_VERSION << " (plugin ABI " << BYPARR_ABI_MAJOR << "."
                  << BYPARR_ABI_MINOR << ")\n";
        stop_ = true;
        stopOptionsProcessing();
    }

    int main(const std::vector<std::string>& args) override {
        if (stop_) return EXIT_OK;
        if (!args.empty()) {
            std::cerr << "byparr: unexpected argument '" << args.front() << "' (see --help)\n";
            return EXIT_USAGE;
        }
        std::string err;
        auto cfg = byparr::Config::from_env(&err);
        if (!cfg) {
            std::cerr << "byparr: invalid configuration: " << err << "\n";
            return EXIT_CONFIG;
        }
        byparr::log::configure(cfg->log_level, cfg->log_format);
        byparr::InstanceLock lock;
        if (!take_state_dir(*cfg, lock)) return EXIT_UNAVAILABLE;

        // The port before the plugins: a port in use is the commonest start-up
        // failure and needs no browser to report.
        Poco::Net::ServerSocket socket;
        std::optional<Poco::Net::ServerSocket> metrics_socket;
        if (!open_listeners(*cfg, socket, metrics_socket)) return EXIT_UNAVAILABLE;

        byparr::Registry registry(*cfg);
        registry.load_all();
        // SOLVERS is the allow-list and the order: an id no plugin provides is a
        // typo, and starting anyway would fail every request with advice about
        // enabling plugins. Refuse, like any other bad setting.
        if (std::string why = unknown_solvers(*cfg, registry); !why.empty()) {
            std::cerr << "byparr: invalid configuration: " << why << "\n";
            registry.shutdown(std::chrono::seconds(2));
            return EXIT_CONFIG;
        }
        byparr::V1Service service(*cfg, registry);
        byparr::QuietHttpServer server(new byparr::RouteFactory(service, cfg->max_body_bytes),
                                       socket, server_params(*cfg));
        server.start();
        const uint16_t port = socket.address().port();
        byparr::log::info("main", "Byparr {} listening on http://{}:{}", BYPARR_VERSION, cfg->host,
                          port);
        std::unique_ptr<byparr::QuietHttpServer> metrics_server;
        if (metrics_socket) metrics_server = start_metrics(*cfg, service, *metrics_socket);
        byparr::AdminServer admin(*cfg, registry, service);
        // A second instance has exited above, so the socket here is ours or a crashed
        // run's; without a lock (unusable state dir) start() warns as before.
        admin.start();
        service.start_self_test();
        if (std::getenv("BYPARR_ANNOUNCE_PORT")) {
            // For supervisors and tests that start us on PORT=0.
            std::printf("PORT %u\n", port);
            std::fflush(stdout);
        }

        waitForTerminationRequest();

        shut_down(*cfg, server, metrics_server.get(), admin, service, registry);
        byparr::log::info("main", "stopped");
        return EXIT_OK;
    }

  private:
    // The state directory, and one instance per state directory: a second one would share
    // the cache and the admin socket with the first. Checked before anything is started.
    // False: another instance holds it (said in the log).
    static bool take_state_dir(const byparr::Config& cfg, byparr::InstanceLock& lock) {
        std::error_code ec;
        std::filesystem::create_directories(cfg.state_dir, ec);
        if (ec)
            byparr::log::warning("main",
                                 "state directory {} is not usable ({}); settings will "
                                 "not persist",
                                 cfg.state_dir, ec.message());
        switch (lock.acquire(cfg.state_dir)) {
            case byparr::InstanceLock::Result::kAcquired:
                break;
            case byparr::InstanceLock::Result::kHeld: {
                std::string who = lock.holder_pid() > 0 ? "PID " + std::to_string(lock.holder_pid())
                                                        : "another process";
                byparr::log::error("main",
                                   "another Byparr ({}) is running with the state directory {} "
                                   "(lock {}); stop it, or give this instance its own "
                                   "BYPARR_STATE_DIR and PORT",
                                   who, cfg.state_dir, lock.path());
                return false;
            }
            case byparr::InstanceLock::Result::kUnavailable:
                if (!ec)  // the directory's own warning said it already
                    byparr::log::warning("main",
                                         "cannot lock {} ({}); a second instance on this "
                                         "state directory would not be refused",
                                         lock.path(), lock.error());
                break;
        }
        return true;
    }

    // SO_REUSEADDR only (restart while old connections linger); never SO_REUSEPORT, which
    // lets a second process listen on the same port and take half the requests. False: a
    // port cannot be had (said in the log).
    static bool open_listeners(const byparr::Config& cfg, Poco::Net::ServerSocket& socket,
                               std::optional<Poco::Net::ServerSocket>& metrics_socket) {
        if (std::string why = listen_on(socket, cfg.host, cfg.port); !why.empty()) {
            byparr::log::error("main", "cannot listen on {}:{}: {}", cfg.host, cfg.port, why);
            return false;
        }
        if (!cfg.prometheus_enabled) return true;
        metrics_socket.emplace();
        if (std::string why = listen_on(*metrics_socket, cfg.host, cfg.prometheus_port);
            !why.empty()) {
            byparr::log::error("main", "cannot listen on {}:{} (PROMETHEUS_PORT): {}", cfg.host,
                               cfg.prometheus_port, why);
            return false;
        }
        return true;
    }

    static Poco::Net::HTTPServerParams* server_params(const byparr::Config& cfg) {
        auto* params = new Poco::Net::HTTPServerParams;
        // Enough threads for every solve, the queue, and cheap requests beside them.
        params->setMaxThreads(static_cast<int>(cfg.max_concurrent + cfg.max_queue + 16));
        params->setMaxQueued(256);
        params->setKeepAlive(true);
        params->setTimeout(Poco::Timespan(30, 0));  // read/write timeout: slowloris
        params->setKeepAliveTimeout(Poco::Timespan(30, 0));
        params->setServerName("Byparr");
        return params;
    }

    static std::unique_ptr<byparr::QuietHttpServer> start_metrics(const byparr::Config& cfg,
                                                                  byparr::V1Service& service,
                                                                  Poco::Net::ServerSocket& socket) {
        auto* mp = new Poco::Net::HTTPServerParams;
        mp->setMaxThreads(4);
        mp->setKeepAlive(true);
        mp->setTimeout(Poco::Timespan(30, 0));
        mp->setServerName("Byparr");
        auto server = std::make_unique<byparr::QuietHttpServer>(
            new byparr::MetricsRouteFactory(service), socket, mp);
        server->start();
        byparr::log::info("main", "Prometheus metrics on http://{}:{}/metrics", cfg.host,
                          socket.address().port());
        return server;
    }

    // No new requests; what is in flight gets SHUTDOWN_GRACE, then the plugins stop.
    static void shut_down(const byparr::Config& cfg, byparr::QuietHttpServer& server,
                          byparr::QuietHttpServer* metrics_server, byparr::AdminServer& admin,
                          byparr::V1Service& service, byparr::Registry& registry) {
        byparr::log::info("main", "shutting down: no new requests; {} in flight", service.active());
        server.stop();  // stops accepting; open connections finish
        if (metrics_server) metrics_server->stopAll(true);
        admin.stop();
        auto grace_end =
            std::chrono::steady_clock::now() + std::chrono::seconds(cfg.shutdown_grace_s);
        while (service.active() > 0 && std::chrono::steady_clock::now() < grace_end)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        service.stop_accepting();
        // What is still running past the grace is cancelled by the plugins' shutdown
        // (workers stopped, waits ended): those requests then answer with an error
        // envelope. They must be able to send it before stopAll() closes their
        // sockets, and must have left the plugin before destroy() runs under them.
        registry.stop_components(std::chrono::seconds(5));
        service.self_test().join();  // its call has left the solver once stopped
        auto drain_end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
        while (service.active() > 0 && std::chrono::steady_clock::now() < drain_end)
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (service.active() > 0)
            byparr::log::warning("main", "{} request(s) did not end after the grace period",
                                 service.active());
        registry.shutdown(std::chrono::seconds(5));
        server.stopAll(true);
    }

    bool stop_ = false;
};

}  // namespace

int main(int argc, char** argv) {
    // Block the termination signals before any thread exists, so every thread
    // inherits the mask and a SIGTERM that arrives during start-up waits for
    // waitForTerminationRequest() (which sigwait()s on them) instead of killing
    // the process with plugins half started. Child processes must unblock them.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGQUIT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    // A full disk can show up as RLIMIT_FSIZE (or a quota that raises SIGXFSZ):
    // by default that signal kills the process. Ignored, the write fails with
    // EFBIG, which the cache and the registry report and survive.
    signal(SIGXFSZ, SIG_IGN);
    ByparrApp app;
    return app.run(argc, argv);
}
