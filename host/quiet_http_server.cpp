#include "host/quiet_http_server.h"

#include <Poco/Net/HTTPServerConnectionFactory.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/Net/TCPServerDispatcher.h>
#include <Poco/ThreadPool.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>

#include <algorithm>
#include <chrono>

#include "core/log.h"

namespace byparr {

QuietHttpServer::QuietHttpServer(Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                                 const Poco::Net::ServerSocket& socket,
                                 Poco::Net::HTTPServerParams::Ptr params)
    : factory_(factory), socket_(socket) {
    // Idle pool threads wait without a timeout; the pool trims them only when it is
    // asked for a thread, so it adds no wake-ups at rest.
    pool_ = std::make_unique<Poco::ThreadPool>(1, std::max(2, params->getMaxThreads()));
    dispatcher_ = new Poco::Net::TCPServerDispatcher(
        new Poco::Net::HTTPServerConnectionFactory(params, factory_), *pool_, params);
    if (::pipe2(wake_, O_CLOEXEC) != 0) wake_[0] = wake_[1] = -1;
}

QuietHttpServer::~QuietHttpServer() {
    try {
        stopAll(true);
    } catch (...) {
    }
    // The dispatcher's threads have been told to stop; wait for them before the pool
    // (and the dispatcher they reference) goes.
    pool_->joinAll();
    dispatcher_->release();
    pool_.reset();
    for (int fd : wake_)
        if (fd >= 0) ::close(fd);
}

void QuietHttpServer::start() {
    if (started_) return;
    started_ = true;
    thread_ = std::thread([this] { run(); });
}

void QuietHttpServer::run() {
    while (!stopped_) {
        pollfd fds[2] = {{socket_.impl()->sockfd(), POLLIN, 0}, {wake_[0], POLLIN, 0}};
        // No timeout: this thread costs nothing until a client connects or stop().
        int rc = ::poll(fds, wake_[0] >= 0 ? 2 : 1, wake_[0] >= 0 ? -1 : 250);
        if (stopped_) break;
        if (rc < 0 && errno != EINTR) std::this_thread::sleep_for(std::chrono::milliseconds(50));
        if (rc <= 0 || !(fds[0].revents & (POLLIN | POLLERR | POLLHUP))) continue;
        try {
            Poco::Net::StreamSocket ss = socket_.acceptConnection();
            if (stopped_) break;
            if (ss.address().family() != Poco::Net::AddressFamily::UNIX_LOCAL)
                ss.setNoDelay(true);  // as TCPServer does
            dispatcher_->enqueue(ss);
        } catch (const Poco::Exception& e) {
            if (stopped_) break;
            // Out of descriptors or memory: let it recover rather than spin (TCPServer
            // waits 50 ms too). A client that reset before accept() lands here as well.
            log::debug("http", "accept failed: {}", e.displayText());
            std::this_thread::sleep_for(std::chrono::milliseconds(50));
        }
    }
}

void QuietHttpServer::stop() {
    if (stopped_.exchange(true)) return;
    if (started_) {
        char b = 1;
        if (wake_[1] >= 0) {
            while (::write(wake_[1], &b, 1) < 0 && errno == EINTR) {
            }
        }
        thread_.join();
    }
    socket_.close();
    dispatcher_->stop();
}

namespace {

// HTTPRequestHandlerFactory::serverStopped is protected and befriends only HTTPServer;
// its open connections listen to it to close. A derived class may name the member, and
// the member pointer it yields works on any factory.
struct StopEvent : Poco::Net::HTTPRequestHandlerFactory {
    static auto member() { return &StopEvent::serverStopped; }
};

}  // namespace

void QuietHttpServer::stopAll(bool abort_current) {
    stop();
    const bool abort = abort_current;
    ((*factory_).*StopEvent::member())(this, abort);
}

}  // namespace byparr
