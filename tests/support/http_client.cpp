#include "tests/support/http_client.h"

#include <algorithm>
#include <cctype>
#include <sstream>
#include <stdexcept>

#include <Poco/Base64Decoder.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>

namespace byparr::test {

namespace {

std::string lower(std::string s) {
    std::transform(s.begin(), s.end(), s.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return s;
}

HttpResult perform(const HttpProxy* proxy, const std::string& method, const std::string& url,
                   const std::string& body, const std::map<std::string, std::string>& headers,
                   int timeout_ms) {
    const Poco::URI uri(url);
    if (uri.getScheme() != "http") throw std::invalid_argument("only http:// URLs: " + url);
    Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
    session.setTimeout(Poco::Timespan(static_cast<long>(timeout_ms) * 1000));
    session.setKeepAlive(false);
    if (proxy != nullptr && !proxy->host.empty()) {
        session.setProxy(proxy->host, static_cast<Poco::UInt16>(proxy->port));
        if (!proxy->username.empty()) {
            session.setProxyCredentials(proxy->username, proxy->password);
        }
    }

    const std::string target = uri.getPathAndQuery().empty() ? "/" : uri.getPathAndQuery();
    Poco::Net::HTTPRequest request(method, target, Poco::Net::HTTPMessage::HTTP_1_1);
    request.setHost(uri.getHost(), uri.getPort());
    for (const auto& [name, value] : headers)
        request.set(name, value);
    // Methods that carry no body must not announce one; POST/PUT always state a length.
    if (!body.empty() || method == "POST" || method == "PUT" || method == "PATCH") {
        request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(request) << body;

    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    HttpResult result;
    result.status = static_cast<int>(response.getStatus());
    // Without this, a body read that times out just looks like a short body: istream swallows
    // the stream buffer's exception unless badbit is in the mask, and then rethrows it as is.
    in.exceptions(std::ios::badbit);
    std::ostringstream out;
    Poco::StreamCopier::copyStream(in, out);
    result.body = out.str();
    for (const auto& [name, value] : response) {
        const std::string key = lower(name);
        auto [it, inserted] = result.headers.emplace(key, value);
        if (!inserted) it->second += "\n" + value;
        if (key == "set-cookie") result.set_cookies.push_back(value);
    }
    return result;
}

}  // namespace

std::string HttpResult::header(const std::string& name) const {
    auto it = headers.find(lower(name));
    return it == headers.end() ? "" : it->second;
}

HttpResult http_request(const std::string& method, const std::string& url, const std::string& body,
                        const std::map<std::string, std::string>& headers, int timeout_ms) {
    return perform(nullptr, method, url, body, headers, timeout_ms);
}

HttpResult http_request_via(const HttpProxy& proxy, const std::string& method,
                            const std::string& url, const std::string& body,
                            const std::map<std::string, std::string>& headers, int timeout_ms) {
    return perform(&proxy, method, url, body, headers, timeout_ms);
}

HttpResult post_json(const std::string& url, const std::string& json, int timeout_ms) {
    return http_request("POST", url, json, {{"Content-Type", "application/json"}}, timeout_ms);
}

std::string base64_decode(const std::string& text) {
    std::istringstream in(text);
    Poco::Base64Decoder dec(in);
    std::ostringstream out;
    out << dec.rdbuf();
    return out.str();
}

}  // namespace byparr::test
