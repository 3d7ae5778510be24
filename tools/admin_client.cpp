#include "tools/admin_client.h"

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/URI.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <istream>
#include <iterator>

namespace byparr::ctl {
namespace {

Reply exchange(Poco::Net::HTTPClientSession& session, const std::string& method,
               const std::string& path, const std::string& body, const std::string& host) {
    Poco::Net::HTTPRequest req(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    req.setHost(host);
    req.set("User-Agent", "byparrctl");
    if (!body.empty() || method == "POST") {
        req.setContentType("application/json");
        req.setContentLength64(static_cast<Poco::Int64>(body.size()));
    }
    std::ostream& out = session.sendRequest(req);
    out << body;
    Poco::Net::HTTPResponse resp;
    std::istream& in = session.receiveResponse(resp);
    Reply r;
    r.status = static_cast<int>(resp.getStatus());
    r.body.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
    return r;
}

}  // namespace

Reply admin_request(const std::string& socket_path, const std::string& method,
                    const std::string& path, const std::string& body, int timeout_s) {
    const std::string not_running =
        "byparr is not running (no admin socket at " + socket_path + ")";
    struct stat st {};
    if (::stat(socket_path.c_str(), &st) != 0) {
        if (errno == EACCES)
            throw Unreachable("cannot reach the admin socket " + socket_path +
                              ": permission denied (run byparrctl as the service's user or root)");
        throw Unreachable(not_running);
    }
    Poco::Net::StreamSocket sock;
    try {
        sock.connect(Poco::Net::SocketAddress(Poco::Net::AddressFamily::UNIX_LOCAL, socket_path),
                     Poco::Timespan(5, 0));
    } catch (const Poco::Net::ConnectionRefusedException&) {
        throw Unreachable(not_running);  // a stale socket left by a crashed server
    } catch (const Poco::Exception& e) {
        if (e.code() == EACCES || e.displayText().find("ermission") != std::string::npos)
            throw Unreachable("cannot connect to the admin socket " + socket_path +
                              ": permission denied (run byparrctl as the service's user or root)");
        if (e.code() == ENOENT || e.code() == ECONNREFUSED) throw Unreachable(not_running);
        throw Unreachable("cannot connect to the admin socket " + socket_path + ": " +
                          e.displayText());
    }
    try {
        Poco::Net::HTTPClientSession session(sock);
        session.setTimeout(Poco::Timespan(timeout_s, 0));
        return exchange(session, method, path, body, "localhost");
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("admin request " + method + " " + path +
                                 " failed: " + e.displayText());
    }
}

Reply http_post_json(const std::string& base_url, const std::string& path, const std::string& body,
                     int timeout_s) {
    Poco::URI uri;
    try {
        uri = Poco::URI(base_url);
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("invalid URL '" + base_url + "': " + e.displayText());
    }
    if (uri.getScheme() != "http" || uri.getHost().empty())
        throw std::runtime_error("invalid URL '" + base_url + "': expected http://host:port");
    std::string full = uri.getPath();
    while (!full.empty() && full.back() == '/')
        full.pop_back();
    full += path;
    try {
        Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
        session.setTimeout(Poco::Timespan(timeout_s, 0));
        return exchange(session, "POST", full, body, uri.getHost());
    } catch (const Poco::Net::ConnectionRefusedException&) {
        throw Unreachable("byparr is not reachable at " + base_url + " (connection refused)");
    } catch (const Poco::Net::NetException& e) {
        throw Unreachable("byparr is not reachable at " + base_url + " (" + e.displayText() + ")");
    } catch (const Poco::TimeoutException&) {
        throw std::runtime_error("no answer from " + base_url + " within " +
                                 std::to_string(timeout_s) + " s");
    } catch (const Poco::Exception& e) {
        throw std::runtime_error("request to " + base_url + " failed: " + e.displayText());
    }
}

std::string encode_segment(const std::string& s) {
    std::string out;
    Poco::URI::encode(s, "/?#%&+ ", out);
    return out;
}

}  // namespace byparr::ctl
