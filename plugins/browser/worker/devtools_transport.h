// How DevToolsClient reaches Chromium's DevTools server: whole JSON messages over
// a WebSocket (Qt WebEngine's QTWEBENGINE_REMOTE_DEBUGGING endpoint) or over the
// pipe pair of `chromium --remote-debugging-pipe` (messages end with a NUL byte).
// The client's protocol logic (sessions, attach, document responses) is the same
// over both; only these few calls differ.
//
// Used only on the client's I/O thread. Every call is bounded in time: a write
// waits at most a few seconds for a peer that does not read.
#pragma once

#include <functional>
#include <memory>
#include <string>

namespace byparr::browser {

class DevToolsTransport {
  public:
    enum class Read { kMessage, kAgain, kClosed };

    virtual ~DevToolsTransport() = default;

    // The descriptor to poll for POLLIN.
    virtual int fd() const = 0;
    // Input already read from fd() that holds at least one more whole message (or part
    // of one, for the WebSocket): read() before polling again.
    virtual bool buffered() = 0;
    // One message. Throws std::runtime_error when the connection is unusable.
    virtual void send(const std::string& text) = 0;
    // kMessage: *message holds the next one. kAgain: nothing whole yet (control frames,
    // a partial message). kClosed: the peer is gone; *error says how.
    virtual Read read(std::string* message, std::string* error) = 0;
    virtual void close() = 0;
};

// GET /json/version on 127.0.0.1:port, then the browser WebSocket. Blocking, bounded
// (0.5 s to connect, 5 s per I/O). *browser_ua gets the browser's User-Agent.
// register_fd is told the socket it is about to block on (-1 when done), so a
// destructor on another thread can shut it down instead of waiting.
std::unique_ptr<DevToolsTransport> connect_devtools_websocket(
    int port, std::string* browser_ua, std::string* error,
    const std::function<void(int fd)>& register_fd);

// Chromium's end of --remote-debugging-pipe: it reads commands from its fd 3 and writes
// replies and events to its fd 4. read_fd is ours of the second, write_fd ours of the
// first; the transport owns both and makes them non-blocking.
std::unique_ptr<DevToolsTransport> make_devtools_pipe(int read_fd, int write_fd);

}  // namespace byparr::browser
