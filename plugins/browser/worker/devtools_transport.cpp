#include "devtools_transport.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <Poco/Buffer.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/WebSocket.h>
#include <Poco/StreamCopier.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <stdexcept>

namespace byparr::browser {

namespace {

// Connect-phase timeouts only matter if Chromium's UI thread (the Qt thread, for Qt
// WebEngine) is busy; the client shuts registered sockets down so it never waits for them.
constexpr Poco::Timespan::TimeDiff kConnectTimeoutUs = 500 * 1000;
constexpr Poco::Timespan::TimeDiff kIoTimeoutUs = 5 * 1000 * 1000;
constexpr int kIoTimeoutMs = 5000;
constexpr int kMaxFrameBytes = 512 * 1024 * 1024;  // screenshots/cookie dumps can be large
// A message larger than this from the pipe is a broken peer, not a page.
constexpr size_t kMaxPipeMessage = 512u * 1024 * 1024;

class WebSocketTransport : public DevToolsTransport {
  public:
    explicit WebSocketTransport(std::unique_ptr<Poco::Net::WebSocket> ws) : ws_(std::move(ws)) {}
    ~WebSocketTransport() override { close(); }

    int fd() const override { return ws_ ? ws_->impl()->sockfd() : -1; }
    bool buffered() override {
        try {
            return ws_ && ws_->available() > 0;  // bytes Poco buffered (e.g. during handshake)
        } catch (...) {
            return false;
        }
    }
    void send(const std::string& text) override {
        try {
            ws_->sendFrame(text.data(), static_cast<int>(text.size()),
                           Poco::Net::WebSocket::FRAME_TEXT);
        } catch (const Poco::Exception& e) {
            throw std::runtime_error(e.displayText());
        }
    }
    // Chromium does not fragment, but continuation frames are joined anyway.
    Read read(std::string* message, std::string* error) override {
        int flags = 0;
        int n = 0;
        try {
            n = ws_->receiveFrame(rx_, flags);
        } catch (const Poco::Exception& e) {
            *error = e.displayText();
            return Read::kClosed;
        }
        const int opcode = flags & Poco::Net::WebSocket::FRAME_OP_BITMASK;
        if (n == 0 && flags == 0) {
            *error = "closed by peer";
            return Read::kClosed;
        }
        if (opcode == Poco::Net::WebSocket::FRAME_OP_CLOSE) {
            *error = "close frame";
            return Read::kClosed;
        }
        if (opcode == Poco::Net::WebSocket::FRAME_OP_PING) {
            try {
                ws_->sendFrame(rx_.begin(), static_cast<int>(rx_.size()),
                               static_cast<int>(Poco::Net::WebSocket::FRAME_FLAG_FIN) |
                                   static_cast<int>(Poco::Net::WebSocket::FRAME_OP_PONG));
            } catch (const Poco::Exception& e) {
                *error = e.displayText();
                return Read::kClosed;
            }
            rx_.resize(0);
            return Read::kAgain;
        }
        if (opcode == Poco::Net::WebSocket::FRAME_OP_PONG) {
            rx_.resize(0);
            return Read::kAgain;
        }
        if (!(flags & Poco::Net::WebSocket::FRAME_FLAG_FIN)) return Read::kAgain;  // more to come
        message->assign(rx_.begin(), rx_.size());
        rx_.resize(0);
        return Read::kMessage;
    }
    void close() override {
        if (!ws_) return;
        try {
            ws_->close();  // not shutdown(): its close frame could block on a busy peer
        } catch (...) {
        }
        ws_.reset();
    }

  private:
    std::unique_ptr<Poco::Net::WebSocket> ws_;
    Poco::Buffer<char> rx_{0};
};

class PipeTransport : public DevToolsTransport {
  public:
    PipeTransport(int read_fd, int write_fd) : rfd_(read_fd), wfd_(write_fd) {
        for (int fd : {rfd_, wfd_})
            if (fd >= 0) ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
    }
    ~PipeTransport() override { close(); }

    int fd() const override { return rfd_; }
    bool buffered() override { return rx_.find('\0', scanned_) != std::string::npos; }

    void send(const std::string& text) override {
        if (wfd_ < 0) throw std::runtime_error("pipe closed");
        // The NUL ends the message; JSON text never contains one (it would be \u0000).
        std::string out = text;
        out.push_back('\0');
        size_t off = 0;
        const auto until =
            std::chrono::steady_clock::now() + std::chrono::milliseconds(kIoTimeoutMs);
        while (off < out.size()) {
            const ssize_t n = ::write(wfd_, out.data() + off, out.size() - off);
            if (n > 0) {
                off += static_cast<size_t>(n);
                continue;
            }
            if (n < 0 && errno == EINTR) continue;
            if (n < 0 && errno != EAGAIN) throw std::runtime_error(std::strerror(errno));
            // A full pipe: Chromium is busy. Wait for room, but not forever.
            const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                until - std::chrono::steady_clock::now());
            if (left.count() <= 0) throw std::runtime_error("browser does not read its pipe");
            pollfd p{wfd_, POLLOUT, 0};
            ::poll(&p, 1, static_cast<int>(left.count()));
            if (p.revents & (POLLERR | POLLHUP)) throw std::runtime_error("pipe closed by peer");
        }
    }

    Read read(std::string* message, std::string* error) override {
        if (take(message)) return Read::kMessage;
        char buf[65536];
        for (;;) {
            const ssize_t n = ::read(rfd_, buf, sizeof buf);
            if (n > 0) {
                rx_.append(buf, static_cast<size_t>(n));
                if (rx_.size() > kMaxPipeMessage) {
                    *error = "message too large";
                    return Read::kClosed;
                }
                if (static_cast<size_t>(n) == sizeof buf) continue;  // maybe more waiting
                break;
            }
            if (n == 0) {
                *error = "browser closed its pipe";
                return Read::kClosed;
            }
            if (errno == EINTR) continue;
            if (errno == EAGAIN) break;
            *error = std::strerror(errno);
            return Read::kClosed;
        }
        return take(message) ? Read::kMessage : Read::kAgain;
    }

    void close() override {
        for (int* fd : {&rfd_, &wfd_}) {
            if (*fd >= 0) ::close(*fd);
            *fd = -1;
        }
    }

  private:
    bool take(std::string* message) {
        const size_t end = rx_.find('\0', scanned_);
        if (end == std::string::npos) {
            scanned_ = rx_.size();
            return false;
        }
        message->assign(rx_, 0, end);
        rx_.erase(0, end + 1);
        scanned_ = 0;
        return true;
    }

    int rfd_;
    int wfd_;
    std::string rx_;
    size_t scanned_ = 0;  // no NUL before this offset of rx_
};

Poco::Net::StreamSocket open_socket(int port, const std::function<void(int)>& register_fd) {
    Poco::Net::StreamSocket s;
    s.connect(Poco::Net::SocketAddress("127.0.0.1", static_cast<Poco::UInt16>(port)),
              Poco::Timespan(kConnectTimeoutUs));
    s.setNoDelay(true);
    s.setReceiveTimeout(Poco::Timespan(kIoTimeoutUs));
    s.setSendTimeout(Poco::Timespan(kIoTimeoutUs));
    register_fd(s.impl()->sockfd());
    return s;
}

}  // namespace

std::unique_ptr<DevToolsTransport> connect_devtools_websocket(
    int port, std::string* browser_ua, std::string* error,
    const std::function<void(int fd)>& register_fd) {
    // Clears the registration before the socket it names is closed, so a shutdown from
    // another thread can never hit an fd number that was meanwhile reused.
    struct FdGuard {
        const std::function<void(int)>& reg;
        ~FdGuard() { reg(-1); }
    };
    try {
        std::string ws_path;
        {
            auto sock = open_socket(port, register_fd);
            FdGuard guard{register_fd};
            Poco::Net::HTTPClientSession cs(sock);
            Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, "/json/version",
                                       Poco::Net::HTTPMessage::HTTP_1_1);
            // Chromium rejects DevTools HTTP requests whose Host is not an IP or localhost.
            req.setHost("127.0.0.1", static_cast<Poco::UInt16>(port));
            cs.sendRequest(req);
            Poco::Net::HTTPResponse resp;
            std::istream& is = cs.receiveResponse(resp);
            std::string body;
            Poco::StreamCopier::copyToString(is, body);
            if (resp.getStatus() != Poco::Net::HTTPResponse::HTTP_OK) {
                throw std::runtime_error("/json/version: HTTP " +
                                         std::to_string(static_cast<int>(resp.getStatus())));
            }
            Poco::JSON::Parser parser;
            auto info = parser.parse(body).extract<Poco::JSON::Object::Ptr>();
            const std::string url = info->optValue<std::string>("webSocketDebuggerUrl", "");
            *browser_ua = info->optValue<std::string>("User-Agent", "");
            const auto pos = url.find("/devtools/");
            if (pos == std::string::npos) {
                throw std::runtime_error("/json/version has no browser webSocketDebuggerUrl");
            }
            ws_path = url.substr(pos);
        }
        std::unique_ptr<Poco::Net::WebSocket> socket;
        {
            auto sock = open_socket(port, register_fd);
            FdGuard guard{register_fd};
            Poco::Net::HTTPClientSession cs(sock);
            Poco::Net::HTTPRequest req(Poco::Net::HTTPRequest::HTTP_GET, ws_path,
                                       Poco::Net::HTTPMessage::HTTP_1_1);
            req.setHost("127.0.0.1", static_cast<Poco::UInt16>(port));
            Poco::Net::HTTPResponse resp;
            socket = std::make_unique<Poco::Net::WebSocket>(cs, req, resp);
        }
        socket->setMaxPayloadSize(kMaxFrameBytes);
        socket->setReceiveTimeout(Poco::Timespan(kIoTimeoutUs));
        socket->setSendTimeout(Poco::Timespan(kIoTimeoutUs));
        socket->setNoDelay(true);
        register_fd(socket->impl()->sockfd());
        return std::make_unique<WebSocketTransport>(std::move(socket));
    } catch (const Poco::Exception& e) {
        *error = e.displayText();
    } catch (const std::exception& e) {
        *error = e.what();
    }
    return nullptr;
}

std::unique_ptr<DevToolsTransport> make_devtools_pipe(int read_fd, int write_fd) {
    return std::make_unique<PipeTransport>(read_fd, write_fd);
}

}  // namespace byparr::browser
