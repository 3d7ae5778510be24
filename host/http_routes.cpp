#include "host/http_routes.h"

#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>

#include <istream>

#include "core/json_writer.h"
#include "core/log.h"
#include "host/status_page.h"

namespace byparr {
namespace {

using Poco::Net::HTTPRequestHandler;
using Poco::Net::HTTPServerRequest;
using Poco::Net::HTTPServerResponse;

void send(HTTPServerResponse& resp, const HttpReply& r) {
    resp.setStatus(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(r.status));
    resp.setContentType(r.content_type);
    for (const auto& [k, v] : r.headers)
        resp.set(k, v);
    resp.setContentLength64(static_cast<Poco::Int64>(r.body.size()));
    resp.sendBuffer(r.body.data(), r.body.size());
}

std::string plain_error(int status, const std::string& message) {
    JsonWriter w;
    w.begin_object().field("error", message).field("status_code", status).end_object();
    return w.take();
}

class Handler : public HTTPRequestHandler {
  public:
    Handler(V1Service& s, size_t max_body) : s_(s), max_body_(max_body) {}

    void handleRequest(HTTPServerRequest& req, HTTPServerResponse& resp) override {
        try {
            route(req, resp);
        } catch (const std::exception& e) {
            // Last line of defence: whatever happened, the client gets the envelope
            // and this thread goes back to the pool.
            log::error("http", "handler failed: {}", e.what());
            if (!resp.sent())
                send(resp, s_.error_reply(500, std::string("Internal error: ") + e.what()));
        }
    }

  private:
    void route(HTTPServerRequest& req, HTTPServerResponse& resp) {
        std::string path = req.getURI();
        if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
        const std::string& m = req.getMethod();
        auto only = [&](const char* allowed) {
            if (m == allowed || (std::string(allowed) == "GET" && m == "HEAD")) return true;
            HttpReply r{405,
                        plain_error(405, "Method not allowed."),
                        "application/json",
                        {{"Allow", allowed}}};
            send(resp, r);
            return false;
        };
        if (path == "/") {
            if (only("GET")) send(resp, s_.index());
        } else if (path == "/health") {
            if (only("GET")) send(resp, s_.health());
        } else if (path == "/metrics") {
            if (only("GET")) send(resp, s_.metrics());
        } else if (path == "/v1") {
            if (only("POST")) handle_v1(req, resp);
        } else if (path == "/status.json") {
            if (only("GET"))
                send(resp, status_authorized(req) ? status_json(s_) : status_unauthorized());
        } else if (auto page = status_asset(path)) {
            // The page and its script and style: a person's view, so behind the key too.
            if (only("GET")) send(resp, status_authorized(req) ? *page : status_unauthorized());
        } else {
            std::string shown = path.size() > 200 ? path.substr(0, 200) + "..." : path;
            send(resp,
                 HttpReply{
                     404, plain_error(404, "Not found: '" + shown + "'"), "application/json", {}});
        }
    }

    bool status_authorized(const HTTPServerRequest& req) const {
        return byparr::status_authorized(s_.pipeline().config(), req.get("Authorization", ""));
    }

    void handle_v1(HTTPServerRequest& req, HTTPServerResponse& resp) {
        // Refuse by the declared length first, so a huge body is never read.
        if (req.hasContentLength() &&
            req.getContentLength64() > static_cast<Poco::Int64>(max_body_)) {
            // Read (and drop) a moderately oversized body before answering: a
            // client still sending when we close gets a reset instead of the 413.
            // Anything beyond 16 MiB is not worth the bandwidth; it gets the reset.
            if (req.getContentLength64() <= (16 << 20)) {
                char sink[16384];
                std::istream& in = req.stream();
                while (in.read(sink, sizeof sink) || in.gcount() > 0) {
                }
            }
            send(resp, s_.error_reply(413, "Request body is larger than " +
                                               std::to_string(max_body_) + " bytes."));
            resp.setKeepAlive(false);
            return;
        }
        std::string body;
        RequestMeta meta;
        meta.request_id = req.get("X-Request-Id", "");
        meta.client = req.clientAddress().toString();
        // Neither Content-Length nor chunked: the body is empty (RFC 9112 6.3). Poco
        // would read until the client closes, which a client waiting for the answer
        // never does: it hung for the 30 s socket timeout.
        if (!req.hasContentLength() && !req.getChunkedTransferEncoding()) {
            send(resp, s_.handle_v1(body, req.get("Authorization", ""), meta));
            return;
        }
        body.reserve(req.hasContentLength() ? static_cast<size_t>(req.getContentLength64()) : 1024);
        std::istream& in = req.stream();
        char buf[16384];
        while (in) {
            in.read(buf, sizeof buf);
            body.append(buf, static_cast<size_t>(in.gcount()));
            if (body.size() > max_body_) {
                send(resp, s_.error_reply(413, "Request body is larger than " +
                                                   std::to_string(max_body_) + " bytes."));
                resp.setKeepAlive(false);
                return;
            }
        }
        send(resp, s_.handle_v1(body, req.get("Authorization", ""), meta));
    }

    V1Service& s_;
    size_t max_body_;
};

}  // namespace

Poco::Net::HTTPRequestHandler* RouteFactory::createRequestHandler(const HTTPServerRequest&) {
    return new Handler(service_, max_body_);
}

namespace {

// PROMETHEUS_PORT: /metrics only, as FlareSolverr's exporter port.
class MetricsHandler : public HTTPRequestHandler {
  public:
    explicit MetricsHandler(V1Service& s) : s_(s) {}
    void handleRequest(HTTPServerRequest& req, HTTPServerResponse& resp) override {
        std::string path = req.getURI();
        if (auto q = path.find('?'); q != std::string::npos) path.resize(q);
        if (path != "/metrics" && path != "/") {
            send(resp, HttpReply{404,
                                 plain_error(404, "Not found: '" + path.substr(0, 200) + "'"),
                                 "application/json",
                                 {}});
            return;
        }
        send(resp, s_.metrics());
    }

  private:
    V1Service& s_;
};

}  // namespace

Poco::Net::HTTPRequestHandler* MetricsRouteFactory::createRequestHandler(const HTTPServerRequest&) {
    return new MetricsHandler(service_);
}

}  // namespace byparr
