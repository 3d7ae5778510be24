// Poco request handlers for the public port: GET /, /health, /metrics, POST /v1,
// 404 and 405 in the contract's JSON.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>

#include "host/v1_service.h"

namespace byparr {

class RouteFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    RouteFactory(V1Service& service, size_t max_body_bytes)
        : service_(service), max_body_(max_body_bytes) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest& request) override;

private:
    V1Service& service_;
    size_t max_body_;
};

/// The PROMETHEUS_PORT listener: GET /metrics (and /) only.
class MetricsRouteFactory : public Poco::Net::HTTPRequestHandlerFactory {
public:
    explicit MetricsRouteFactory(V1Service& service) : service_(service) {}
    Poco::Net::HTTPRequestHandler* createRequestHandler(
        const Poco::Net::HTTPServerRequest& request) override;

private:
    V1Service& service_;
};

}  // namespace byparr
