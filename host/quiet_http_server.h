// Poco's HTTPServer, minus its idle wake-ups. Poco::Net::TCPServer polls the listening
// socket every 250 ms (and Poco 1.11's poll() creates and closes an epoll instance each
// time): two listeners cost the idle host ~5 ms of CPU per 10 s, 8 wake-ups a second.
// This one sleeps in poll(2) without a timeout on the listening socket and a pipe that
// stop() writes to, so it wakes only for a connection or to stop; connections are served by Poco's
// own dispatcher and HTTP connection classes, so requests, keep-alive, timeouts and stopAll()
// behave exactly as with HTTPServer.
#pragma once

#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/ServerSocket.h>

#include <Poco/ThreadPool.h>

#include <atomic>
#include <memory>
#include <thread>

namespace Poco::Net {
class TCPServerDispatcher;
}

namespace byparr {

class QuietHttpServer {
  public:
    /// Takes a bound, listening socket. Handlers run on a thread pool of this server's
    /// own, sized to params->getMaxThreads(): HTTPServer used Poco's default pool, which
    /// stops at 16 threads for every server together, so a burst of long solves left
    /// /health and /metrics waiting behind them and MAX_QUEUE never filled.
    QuietHttpServer(Poco::Net::HTTPRequestHandlerFactory::Ptr factory,
                    const Poco::Net::ServerSocket& socket, Poco::Net::HTTPServerParams::Ptr params);
    ~QuietHttpServer();  // stopAll(true) unless stopped
    QuietHttpServer(const QuietHttpServer&) = delete;
    QuietHttpServer& operator=(const QuietHttpServer&) = delete;

    void start();
    /// Stops accepting; connections already accepted finish their requests.
    void stop();
    /// stop(), then ends every connection: after its current request, or at once
    /// (abort_current).
    void stopAll(bool abort_current);

  private:
    void run();

    Poco::Net::HTTPRequestHandlerFactory::Ptr factory_;
    std::unique_ptr<Poco::ThreadPool> pool_;  // outlives the dispatcher's threads
    Poco::Net::ServerSocket socket_;
    Poco::Net::TCPServerDispatcher* dispatcher_ = nullptr;  // reference-counted by Poco
    std::thread thread_;
    std::atomic<bool> stopped_{false};
    bool started_ = false;
    int wake_[2] = {-1, -1};  // stop() writes to [1]; the accept loop polls [0]
};

}  // namespace byparr
