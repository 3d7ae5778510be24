#include "host/admin_server.h"

#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <Poco/URI.h>

#include <algorithm>
#include <cmath>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include "core/clearance_cache.h"
#include "core/json_writer.h"
#include "core/log.h"
#include "core/proc_tree.h"
#include "host/quiet_http_server.h"

namespace byparr {

namespace {

// `env`: the server's settings, to say which declared ones are set (never their values:
// a setting may be a secret). Null: no details.
void write_plugin(JsonWriter& w, const PluginRecord& p, bool details,
                  const std::map<std::string, std::string>* env = nullptr) {
    w.begin_object().field("id", p.manifest.id).field("name", p.manifest.name);
    w.field("version", p.manifest.version).field("dir", p.dir);
    w.field("status", to_string(p.refusal));
    if (!p.loaded()) w.field("reason", p.detail);
    if (details) {
        w.field("description", p.manifest.description).field("library", p.library_path);
        w.field("manifest", p.manifest_path);
        w.key("abi").begin_object().field("major", static_cast<int64_t>(p.manifest.abi_major));
        w.field("minor", static_cast<int64_t>(p.manifest.abi_minor)).end_object();
        w.key("capabilities").begin_array();
        for (const auto& c : p.manifest.capabilities)
            w.value(c);
        w.end_array();
        w.key("settings").begin_array();
        for (const auto& name : p.manifest.settings) {
            w.begin_object().field("name", name);
            if (env) w.field("set", env->count(name) > 0);
            w.end_object();
        }
        w.end_array();
    }
    w.end_object();
}

void write_component(JsonWriter& w, const ComponentStatus& s) {
    w.begin_object().field("id", s.id).field("plugin", s.plugin_id);
    w.field("kind", to_string(s.kind)).field("state", s.state());
    w.field("enabled", s.enabled).field("description", s.description);
    if (!s.reason.empty()) w.field("reason", s.reason);
    if (s.order >= 0) w.field("order", s.order);
    w.field("calls", static_cast<int64_t>(s.calls)).field("faults", static_cast<int64_t>(s.faults));
    w.end_object();
}

// Resident set size from /proc: what `byparrctl stats` shows as memory.
int64_t resident_bytes() {
    std::ifstream in("/proc/self/statm");
    long long pages = 0, resident = 0;
    if (!(in >> pages >> resident)) return 0;
    return static_cast<int64_t>(resident) * ::sysconf(_SC_PAGESIZE);
}

}  // namespace

std::string plugins_json(const Registry& registry) {
    JsonWriter w;
    w.begin_object().key("plugins").begin_array();
    for (const auto& p : registry.plugins())
        write_plugin(w, p, false);
    w.end_array().key("components").begin_array();
    for (const auto& s : registry.status())
        write_component(w, s);
    w.end_array().end_object();
    return w.take();
}

std::optional<std::string> plugin_info_json(const Registry& registry, const std::string& id) {
    // An id names a plugin or a component; either way show the plugin and all
    // of its components, since they are enabled and faulted one by one.
    std::string plugin_id = id;
    auto status = registry.status();
    for (const auto& s : status)
        if (s.id == id) plugin_id = s.plugin_id;
    const PluginRecord* rec = nullptr;
    for (const auto& p : registry.plugins())
        if (p.manifest.id == plugin_id) rec = &p;
    if (rec == nullptr) return std::nullopt;
    JsonWriter w;
    w.begin_object().key("plugin");
    write_plugin(w, *rec, true, &registry.config().raw);
    w.key("components").begin_array();
    for (const auto& s : status)
        if (s.plugin_id == plugin_id) write_component(w, s);
    w.end_array().end_object();
    return w.take();
}

namespace {

using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

std::string error_json(const std::string& m) {
    JsonWriter w;
    w.begin_object().field("status", "error").field("message", m).end_object();
    return w.take();
}

std::string ok_json(const std::string& m) {
    JsonWriter w;
    w.begin_object().field("status", "ok").field("message", m).end_object();
    return w.take();
}

class AdminHandler : public Poco::Net::HTTPRequestHandler {
  public:
    AdminHandler(Registry& r, V1Service& s, ClearanceCache* c) : r_(r), s_(s), cache_(c) {}

    void handleRequest(HTTPServerRequest& req, HTTPServerResponse& resp) override {
        int status = 200;
        std::string body;
        try {
            body = route(req, &status);
        } catch (const std::exception& e) {
            status = 500;
            body = error_json(e.what());
        }
        resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(status));
        resp.setContentType("application/json");
        resp.setContentLength64(static_cast<Poco::Int64>(body.size()));
        resp.sendBuffer(body.data(), body.size());
    }

  private:
    static std::string decoded(const std::string& s) {
        std::string out;
        Poco::URI::decode(s, out);
        return out;
    }

    std::string read_body(HTTPServerRequest& req) {
        std::string body;
        char buf[8192];
        std::istream& in = req.stream();
        while (in && body.size() < (4u << 20)) {
            in.read(buf, sizeof buf);
            body.append(buf, static_cast<size_t>(in.gcount()));
        }
        return body;
    }

    std::string route(HTTPServerRequest& req, int* status) {
        std::string path = req.getURI();
        const std::string& m = req.getMethod();
        if (path == "/plugins" && m == "GET") return plugins_json(r_);
        const std::string prefix = "/plugins/";
        if (path.rfind(prefix, 0) == 0 && m == "GET") {
            if (auto info = plugin_info_json(r_, decoded(path.substr(prefix.size())))) return *info;
            *status = 404;
            return error_json("no plugin or component '" + decoded(path.substr(prefix.size())) +
                              "'");
        }
        if (path.rfind(prefix, 0) == 0 && m == "POST") {
            std::string rest = path.substr(prefix.size());
            auto slash = rest.find('/');
            if (rest == "order") {
                Poco::JSON::Parser p;
                auto arr = p.parse(read_body(req)).extract<Poco::JSON::Array::Ptr>();
                std::vector<std::string> ids;
                for (size_t i = 0; i < arr->size(); ++i)
                    ids.push_back(arr->getElement<std::string>(static_cast<unsigned>(i)));
                if (auto err = r_.set_order(ids)) {
                    *status = http_status(err->kind);
                    return error_json(err->message);
                }
                return ok_json("order saved");
            }
            if (slash != std::string::npos) {
                std::string id = decoded(rest.substr(0, slash)), verb = rest.substr(slash + 1);
                if (verb == "enable" || verb == "disable") {
                    if (auto err = r_.set_enabled(id, verb == "enable")) {
                        *status = http_status(err->kind);  // typed (core/plugin_state.h)
                        return error_json(err->message);
                    }
                    return ok_json(id + " " + verb + "d");
                }
            }
        }
        if (path == "/stats" && m == "GET") return stats();
        if (path == "/sessions" && m == "GET") {
            auto o = s_.pipeline().dispatcher().session_list("");
            JsonWriter w;
            w.begin_object().key("sessions").begin_array();
            for (const auto& id : o.sessions)
                w.value(id);
            w.end_array().end_object();
            return w.take();
        }
        if (path.rfind("/sessions/", 0) == 0 && m == "DELETE") {
            auto o = s_.pipeline().dispatcher().session_destroy(decoded(path.substr(10)), "");
            if (!o.ok) {
                *status = 404;
                return error_json("The session doesn't exist.");
            }
            return ok_json("The session has been removed.");
        }
        if (cache_ != nullptr && path == "/cache" && m == "GET") return cache_list();
        if (cache_ != nullptr && path == "/cache/flush" && m == "POST") {
            std::string site, body = read_body(req);
            if (body.find_first_not_of(" \t\r\n") != std::string::npos) {
                Poco::JSON::Parser p;
                auto o = p.parse(body).extract<Poco::JSON::Object::Ptr>();
                if (o && o->has("site")) site = o->getValue<std::string>("site");
            }
            size_t n = cache_->flush(site);
            JsonWriter w;
            w.begin_object().field("status", "ok");
            w.field("message", "flushed " + std::to_string(n) + " cached clearance(s)" +
                                   (site.empty() ? "" : " of " + site));
            w.field("flushed", static_cast<int64_t>(n)).end_object();
            return w.take();
        }
        if (path == "/metrics" && m == "GET") {
            JsonWriter w;
            w.begin_object().field("text", s_.metrics().body).end_object();
            return w.take();
        }
        *status = 404;
        return error_json("no admin route " + m + " " + path);
    }

    std::string cache_list() {
        auto now = static_cast<int64_t>(std::time(nullptr));
        JsonWriter w;
        w.begin_object().key("entries").begin_array();
        for (const auto& rec : cache_->list()) {
            w.begin_object().field("site", rec.key.site).field("proxy", rec.key.proxy);
            w.field("userAgent", rec.key.user_agent);
            w.field("cookies", static_cast<int64_t>(rec.entry.cookies.size()));
            w.field("expiresInSeconds", std::max<int64_t>(0, rec.entry.expires_s - now));
            w.end_object();
        }
        w.end_array().key("siteSolvers").begin_array();
        for (const auto& m : cache_->site_solvers()) {
            w.begin_object().field("site", m.site).field("solver", m.solver);
            w.field("expiresInSeconds", std::max<int64_t>(0, m.expires_s - now)).end_object();
        }
        w.end_array().end_object();
        return w.take();
    }

    static std::string label_of(const Labels& labels, const char* name) {
        for (const auto& [k, v] : labels)
            if (k == name) return v;
        return "";
    }

    // The figures byparrctl stats shows, each defined once here (and in its --help).
    std::string stats() {
        auto& mx = s_.pipeline().metrics();
        JsonWriter w;
        w.begin_object();
        write_request_figures(w, mx);
        write_load_figures(w);
        write_solver_figures(w, mx);
        write_solver_samples(w);
        w.end_object();
        return w.take();
    }

    // Page requests, their outcomes and latency, session commands, invalid requests, cache.
    static void write_request_figures(JsonWriter& w, const Metrics& mx) {
        auto sum = [&](const char* result) {
            return mx.value("byparr_requests_total", {{"cmd", "request.get"}, {"result", result}}) +
                   mx.value("byparr_requests_total", {{"cmd", "request.post"}, {"result", result}});
        };
        // Page requests: request.get/request.post that passed validation. Session
        // commands and invalid requests are not attempts to get a page.
        double solved = sum("solved"), not_detected = sum("not_detected"), cached = sum("cached");
        std::map<std::string, double> failed;
        for (const char* r : {"timeout", "blocked", "captcha", "proxy", "error", "busy"})
            failed[r] = sum(r);
        double failed_total = 0;
        for (const auto& [k, v] : failed)
            failed_total += v;
        double answered = solved + not_detected + cached;
        double page_requests = answered + failed_total;
        double invalid =
            mx.value("byparr_requests_total", {{"cmd", "invalid"}, {"result", "invalid"}}) +
            sum("invalid");
        double sessions = 0;
        for (const char* cmd : {"sessions.create", "sessions.list", "sessions.destroy"})
            for (const char* r : {"ok", "error", "invalid"})
                sessions += mx.value("byparr_requests_total", {{"cmd", cmd}, {"result", r}});
        double hits = mx.value("byparr_cache_hits_total"),
               misses = mx.value("byparr_cache_misses_total");
        auto num = [](double v) { return std::isnan(v) ? 0.0 : v; };
        auto pages_only = [](const Labels& l) {
            for (const auto& [k, v] : l)
                if (k == "cmd") return v == "request.get" || v == "request.post";
            return false;
        };
        w.field("pageRequests", page_requests).field("answered", answered);
        w.field("solved", solved).field("notDetected", not_detected).field("cached", cached);
        w.field("failed", failed_total);
        w.key("failedByReason").begin_object();
        for (const auto& [k, v] : failed)
            w.field(k, v);
        w.end_object();
        w.field("solveRate", page_requests > 0 ? answered / page_requests : 0.0);
        w.field("sessionCommands", sessions).field("invalidRequests", invalid);
        w.field("p50Seconds", num(mx.quantile("byparr_request_duration_seconds", 0.5, pages_only)));
        w.field("p95Seconds",
                num(mx.quantile("byparr_request_duration_seconds", 0.95, pages_only)));
        w.field("cacheHits", hits).field("cacheMisses", misses);
        w.field("cacheHitRate", hits + misses > 0 ? hits / (hits + misses) : 0.0);
    }

    // Memory of the process tree and of the host alone; the gate's load.
    void write_load_figures(JsonWriter& w) {
        w.field("memoryBytes", static_cast<int64_t>(process_tree_pss_bytes(::getpid())));
        w.field("hostResidentBytes", resident_bytes());
        w.field("inFlight", static_cast<int64_t>(s_.pipeline().gate().in_flight()));
        w.field("queued", static_cast<int64_t>(s_.pipeline().gate().queued()));
    }

    // Per solver: each outcome of its calls; escalations by source and target.
    static void write_solver_figures(JsonWriter& w, const Metrics& mx) {
        std::map<std::string, std::map<std::string, double>> outcomes;
        for (const auto& [labels, v] : mx.series("byparr_solver_outcomes_total"))
            outcomes[label_of(labels, "solver")][label_of(labels, "outcome")] = v;
        w.key("solverOutcomes").begin_object();
        for (const auto& [solver, by] : outcomes) {
            w.key(solver).begin_object();
            for (const auto& [outcome, v] : by)
                w.field(outcome, v);
            w.end_object();
        }
        w.end_object();
        w.key("escalations").begin_array();
        for (const auto& [labels, v] : mx.series("byparr_escalations_total")) {
            w.begin_object().field("from", label_of(labels, "from"));
            w.field("to", label_of(labels, "to")).field("count", v).end_object();
        }
        w.end_array();
    }

    // The solvers' own samples ("name value" lines), numbers only.
    void write_solver_samples(JsonWriter& w) {
        w.key("solver").begin_object();
        for (const auto& line : s_.pipeline().dispatcher().solver_metrics()) {
            auto sp = line.rfind(' ');
            if (sp == std::string::npos) continue;
            try {
                w.field(line.substr(0, sp), std::stod(line.substr(sp + 1)));
            } catch (...) {
            }
        }
        w.end_object();
    }

    Registry& r_;
    V1Service& s_;
    ClearanceCache* cache_;
};

class AdminFactory : public Poco::Net::HTTPRequestHandlerFactory {
  public:
    AdminFactory(Registry& r, V1Service& s, ClearanceCache* c) : r_(r), s_(s), cache_(c) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(const HTTPServerRequest&) override {
        return new AdminHandler(r_, s_, cache_);
    }

  private:
    Registry& r_;
    V1Service& s_;
    ClearanceCache* cache_;
};

}  // namespace

AdminServer::AdminServer(const Config& config, Registry& registry, V1Service& service)
    : config_(config),
      registry_(registry),
      service_(service),
      cache_(&service.pipeline().cache()) {}

AdminServer::~AdminServer() {
    stop();
}

std::string AdminServer::socket_path() const {
    return config_.state_dir + "/admin.sock";
}

void AdminServer::start() {
    std::string path = socket_path();
    try {
        ::unlink(path.c_str());  // a stale socket from a crashed run
        // The umask makes the socket 0600 from the moment it exists: no window in
        // which another user could connect before a chmod.
        mode_t old = ::umask(0177);
        Poco::Net::ServerSocket sock;
        sock.bind(Poco::Net::SocketAddress(Poco::Net::AddressFamily::UNIX_LOCAL, path));
        ::umask(old);
        ::chmod(path.c_str(), 0600);
        struct stat st {};
        if (::lstat(path.c_str(), &st) == 0) {
            sock_dev_ = st.st_dev;
            sock_ino_ = st.st_ino;
        }
        sock.listen(16);
        auto* params = new Poco::Net::HTTPServerParams;
        params->setMaxThreads(4);
        params->setKeepAlive(false);
        server_ = std::make_unique<QuietHttpServer>(new AdminFactory(registry_, service_, cache_),
                                                    sock, params);
        server_->start();
        log::info("admin", "admin socket at {}", path);
    } catch (const Poco::Exception& e) {
        log::warning("admin",
                     "admin socket {} unavailable ({}); byparrctl will not reach this "
                     "server",
                     path, e.displayText());
    }
}

void AdminServer::stop() {
    if (!server_) return;
    server_->stopAll(true);
    server_.reset();
    std::string path = socket_path();
    struct stat st {};
    if (sock_ino_ != 0 && ::lstat(path.c_str(), &st) == 0 && st.st_dev == sock_dev_ &&
        st.st_ino == sock_ino_)
        ::unlink(path.c_str());
}

}  // namespace byparr
