// DevTools protocol client for the browser workers (Qt WebEngine over its WebSocket endpoint,
// Chromium over --remote-debugging-pipe; the transport is in devtools_transport.h, the identity
// a session applies in ua_emulation.h, the implementation in devtools_client_impl.h).
//
// Qt WebEngine 6.4 has no API for the main document's real status and response headers, nor for a
// user agent that is consistent across navigator.userAgent, navigator.platform, userAgentData
// and the sec-ch-ua headers. Chromium's DevTools endpoint (enabled with
// QTWEBENGINE_REMOTE_DEBUGGING=127.0.0.1:<port> before QApplication exists) has both, so the
// worker talks to it through this class.
//
// Threading contract (the reason this class exists in this shape):
//   Chromium serves DevTools HTTP and WebSocket traffic on the browser UI thread, which in Qt
//   WebEngine is the Qt main thread. A Qt-thread caller that waited for a DevTools reply would
//   deadlock. So:
//   - every public method only enqueues work and returns at once (never does I/O);
//   - all network I/O runs on the client's own thread;
//   - every callback runs on that thread: marshal to Qt yourself (QMetaObject::invokeMethod with
//     Qt::QueuedConnection). Callbacks may call back into the client/session (no lock is held),
//     but must not block for long: they stall all DevTools traffic while they run.
//   - once ~DevToolsClient has begun, no callback runs any more (pending ones are dropped), so a
//     callback never touches Qt objects that are being torn down with the client.
//   - when idle (no pending request, no attach in progress) the thread blocks in poll() without
//     a timeout: no CPU use.
//
// One browser-level WebSocket is kept for the life of the client; pages are attached with
// Target.attachToTarget {flatten: true}. The UA override lives only as long as that connection
// and the session: detaching (or dropping the last DevToolsSession reference) ends it for that
// page. If the connection drops, every session ends with it (its requests fail) and the next
// attach() reconnects.
//
// Runtime.enable is never sent: pages can detect it. Runtime.evaluate works without it.
//
// Security: a page can reach the debugging port (Chromium 102 accepts any Origin). The worker must
// block page requests to port() with a request interceptor.

#pragma once

#include "ua_emulation.h"

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace byparr::browser {

// The main frame's document response (one per redirect hop too).
struct DocumentResponse {
    std::string url;
    int status = 0;
    std::string status_text;
    // Lower-case names. Repeated values are joined with ", ", except set-cookie (joined with "\n").
    // Taken from the raw received headers (Network.responseReceivedExtraInfo) when they arrive
    // within 50 ms, as only those carry Set-Cookie; else from Network.Response.headers.
    std::map<std::string, std::string> headers;
    std::string frame_id;
    std::string mime_type;  // empty for redirect hops
    bool redirect = false;  // true when taken from requestWillBeSent.redirectResponse
};

class DevToolsSession;

// What a session does to its page's requests (the client's headers, documents that are
// not HTML), from the next navigation on.
struct RequestRules {
    // Added to the main frame's document requests and their redirect hops, in this order
    // after the browser's own (a same-named one of the browser's is replaced).
    std::vector<std::pair<std::string, std::string>> headers;
    std::string site_host;  // not empty: every request to this host gets them too
    // Take a main-frame document that is not HTML at its response (on_raw_response); the page
    // shows an empty document in its place, so no viewer or download starts.
    bool capture_raw = false;
};

// A main-frame document taken at its response (RequestRules::capture_raw).
struct RawResponse {
    std::string url;
    int status = 0;
    std::string mime_type;                       // lower case, no parameters
    std::map<std::string, std::string> headers;  // lower-case names
    std::string body;
};

class DevToolsClient {
  public:
    using AttachCallback =
        std::function<void(std::shared_ptr<DevToolsSession> session, std::string error)>;

    using ResultCallback = std::function<void(std::string json, std::string error)>;

    // Does nothing until start(). Over the WebSocket of Chromium's DevTools HTTP server on
    // 127.0.0.1:port (Qt WebEngine's QTWEBENGINE_REMOTE_DEBUGGING).
    explicit DevToolsClient(int port);
    // Over `chromium --remote-debugging-pipe`: read_fd is ours of Chromium's fd 4, write_fd
    // ours of its fd 3. The client owns both. When the pipe closes (the browser is gone),
    // every session ends and every later call fails: there is no reconnect.
    DevToolsClient(int read_fd, int write_fd);
    // Stops the I/O thread and closes the socket. Takes a few ms even when the thread is blocked
    // on Chromium (the socket is shut down under it). No callback runs after this begins.
    ~DevToolsClient();

    DevToolsClient(const DevToolsClient&) = delete;
    DevToolsClient& operator=(const DevToolsClient&) = delete;

    // Spawns the I/O thread. The browser endpoint is connected lazily on the first attach()
    // (GET /json/version -> webSocketDebuggerUrl), retried until that attach's timeout, because the
    // DevTools server only starts once the WebEngine context exists. Idempotent.
    void start();

    // Finds the page target whose URL equals marker_url exactly (retrying Target.getTargets
    // briefly: the target may appear a few ms after the load), attaches with flatten:true,
    // enables Network, learns the main frame id, applies the UA override and sec-ch-ua headers,
    // then calls cb(session, ""). On failure or after timeout_ms: cb(nullptr, error).
    // Targets already attached (or being attached) by this client are skipped, so pages that
    // share a marker URL each get their own session. Attach once per page and keep the session:
    // the override lives as long as it does.
    void attach(std::string marker_url, UaOverride ua, int timeout_ms, AttachCallback cb);

    // Attaches to a target by id (one this client created with Target.createTarget), as
    // attach() does after finding one by URL.
    void attach_target(std::string target_id, UaOverride ua, int timeout_ms, AttachCallback cb);

    // A browser-level command (Target.*, Browser.*): params_json is a JSON object ("" = {});
    // `json` is the result object. Called back on the I/O thread.
    void command(std::string method, std::string params_json, ResultCallback cb,
                 int timeout_ms = 10000);

    // True while the browser connection is open.
    bool connected() const;
    int port() const { return port_; }

    // The sec-ch-ua, sec-ch-ua-mobile and sec-ch-ua-platform headers attach() sends for ua,
    // for a request interceptor that must send identical values (ua_emulation.h's).
    static std::vector<std::pair<std::string, std::string>> client_hint_headers(
        const UaOverride& ua);

    // Where a request header goes when a paused request's headers (a sorted JSON object) are
    // sent back with Fetch.continueRequest: sec-ch-ua* first (-1), then Chrome's own order
    // for a document, then the rest (their order kept by a stable sort). ua_emulation.h's.
    static int chrome_header_rank(const std::string& name);

    struct Impl;  // public only so DevToolsSession's implementation can name it

  private:
    int port_;
    std::shared_ptr<Impl> impl_;
};

// One attached page. Obtained from DevToolsClient::attach. Dropping the last reference detaches.
// All methods are thread-safe, non-blocking, and call back on the client's I/O thread. If the
// client is gone or the session detached, requests are answered with an error (on the I/O thread)
// or, when the client itself no longer exists, dropped.
class DevToolsSession {
  public:
    using ResultCallback = std::function<void(std::string json, std::string error)>;

    ~DevToolsSession();
    DevToolsSession(const DevToolsSession&) = delete;
    DevToolsSession& operator=(const DevToolsSession&) = delete;

    // Main-frame Document responses, in order: each redirect hop (30x) and then the final one.
    // Responses that arrived before a callback was set are buffered (up to 64) and delivered when
    // it is set, so there is no race between attach and the first navigation. Replaces any
    // previous callback; an empty function clears it.
    void on_document_response(std::function<void(const DocumentResponse&)> cb);

    // Every event of this session (method, params as JSON text), before the client's own
    // handling; the session's end (target closed or crashed, browser gone) arrives as
    // "Target.detachedFromTarget". Events before a callback is set are not kept. Replaces any
    // previous callback.
    using EventCallback = std::function<void(const std::string& method, const std::string& json)>;
    void on_event(EventCallback cb);

    // Replaces the session's RequestRules; `done` (on the I/O thread) once Fetch is set up
    // for them, so the navigation that follows is covered.
    void set_request_rules(RequestRules rules, std::function<void()> done);
    // Documents taken under RequestRules::capture_raw, one call each. Replaces any previous
    // callback.
    void on_raw_response(std::function<void(const RawResponse&)> cb);
    // For an owner that enables Fetch itself (with a Document pattern at the Response stage):
    // the session answers every response-stage pause on its I/O thread, taking documents
    // that are not HTML (on_raw_response) and letting the rest go at once, so the owner
    // never waits a round trip through its own thread for them. Request-stage pauses stay
    // the owner's.
    void take_raw_responses();

    // Network.getCookies: `json` is the JSON array of cookie objects (HttpOnly included).
    // Empty urls: the cookies of the page's current URL.
    void get_cookies(std::vector<std::string> urls, ResultCallback cb);

    // Runtime.evaluate with returnByValue and awaitPromise (without Runtime.enable). `json` is the
    // JSON of the value ("null" for undefined); a thrown exception is reported as the error.
    void evaluate(std::string expression, ResultCallback cb, int timeout_ms = 10000);

    // Sends a raw command on this session (escape hatch for e.g. Input.dispatchMouseEvent).
    // params_json must be a JSON object ("" = {}); `json` is the result object.
    void send(std::string method, std::string params_json, ResultCallback cb,
              int timeout_ms = 10000);

    // Target.detachFromTarget. Idempotent. Pending requests of this session fail with
    // "session detached"; the document callback is dropped.
    void detach();

    // Network requests of the page's current document that have started and not yet finished
    // or failed (all frames the session sees, every type). Thread-safe; 0 after detach.
    int inflight_requests() const;

    const std::string& session_id() const { return session_id_; }
    const std::string& target_id() const { return target_id_; }
    const std::string& main_frame_id() const { return main_frame_id_; }

  private:
    friend struct DevToolsClient::Impl;
    DevToolsSession(std::weak_ptr<DevToolsClient::Impl> impl, std::string session_id,
                    std::string target_id, std::string main_frame_id,
                    std::shared_ptr<const std::atomic<int>> inflight);

    std::weak_ptr<DevToolsClient::Impl> impl_;
    std::string session_id_;
    std::string target_id_;
    std::string main_frame_id_;
    std::shared_ptr<const std::atomic<int>> inflight_;
};

}  // namespace byparr::browser
