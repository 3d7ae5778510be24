#include "devtools_client.h"

#include "devtools_transport.h"

#include <poll.h>
#include <pthread.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <Poco/Base64Decoder.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>
#include <Poco/JSON/Stringifier.h>
#include <Poco/URI.h>

#include <algorithm>
#include <atomic>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <deque>
#include <iterator>
#include <mutex>
#include <set>
#include <sstream>
#include <system_error>
#include <thread>
#include <utility>

namespace byparr::browser {

namespace {

using Clock = std::chrono::steady_clock;
using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr auto kConnectRetry = std::chrono::milliseconds(50);
constexpr auto kTargetRetry = std::chrono::milliseconds(20);
constexpr size_t kMaxBufferedResponses = 64;
constexpr size_t kMaxExtraInfo = 256;
// A page that opens thousands of requests at once is busy whatever the exact number.
constexpr size_t kMaxInflightTracked = 4096;
// Measured: ExtraInfo precedes responseReceived for network loads; the wait is a fallback only.
constexpr auto kExtraInfoWait = std::chrono::milliseconds(50);

std::string lower(std::string s) {
    for (char& c : s)
        c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    return s;
}

std::string trim(const std::string& s) {
    const auto b = s.find_first_not_of(" \t");
    if (b == std::string::npos) return {};
    const auto e = s.find_last_not_of(" \t");
    return s.substr(b, e - b + 1);
}

// "de-DE,de;q=0.9,en;q=0.8" -> "de-DE,de,en": Chromium turns the list into the header itself and
// q-values passed in here end up mangled in it.
std::string sanitize_accept_language(const std::string& in) {
    std::string out;
    std::stringstream ss(in);
    std::string item;
    while (std::getline(ss, item, ',')) {
        item = trim(item.substr(0, item.find(';')));
        if (item.empty()) continue;
        if (!out.empty()) out += ',';
        out += item;
    }
    return out;
}

// Request headers of a document in the order Chrome sends them (a navigation, a form POST),
// as recorded from Chromium on the wire (tests/integration/fingerprint).
constexpr const char* kChromeOrder[] = {
    "content-length", "cache-control",  "upgrade-insecure-requests",
    "origin",         "content-type",   "user-agent",
    "accept",         "sec-fetch-site", "sec-fetch-mode",
    "sec-fetch-user", "sec-fetch-dest", "referer"};

std::string major_of(const std::string& version) {
    return version.substr(0, version.find('.'));
}

// Real Chrome 102 order. One list feeds userAgentData and the sec-ch-ua header, so they agree.
std::vector<std::pair<std::string, std::string>> brands_of(const UaOverride& ua) {
    const std::string major = major_of(ua.full_version);
    return {{" Not A;Brand", "99"}, {"Chromium", major}, {"Google Chrome", major}};
}

std::string stringify(const Poco::Dynamic::Var& v) {
    std::ostringstream os;
    Poco::JSON::Stringifier::stringify(v, os);
    return os.str();
}

std::string str_field(const Object::Ptr& o, const std::string& key) {
    if (!o || !o->has(key)) return {};
    const auto v = o->get(key);
    if (v.isEmpty()) return {};
    return v.isString() ? v.extract<std::string>() : v.convert<std::string>();
}

int int_field(const Object::Ptr& o, const std::string& key) {
    if (!o || !o->has(key)) return 0;
    const auto v = o->get(key);
    if (v.isEmpty() || !v.isNumeric()) return 0;
    return static_cast<int>(v.convert<double>());
}

// Lower-case host of a URL; empty when it does not parse.
std::string host_of(const std::string& url) {
    try {
        return lower(Poco::URI(url).getHost());
    } catch (const Poco::Exception&) {
        return {};
    }
}

Object::Ptr obj_field(const Object::Ptr& o, const std::string& key) {
    if (!o || !o->has(key)) return nullptr;
    return o->getObject(key);
}

// Chromium's Network.Response.headers joins repeated headers with '\n' and keeps the server's name
// casing; callers want one lower-case key per header.
std::map<std::string, std::string> normalize_headers(const Object::Ptr& headers) {
    std::map<std::string, std::string> out;
    if (!headers) return out;
    for (const auto& [name, value] : *headers) {
        const std::string key = lower(name);
        const std::string sep = key == "set-cookie" ? "\n" : ", ";
        std::string raw = value.isString() ? value.extract<std::string>() : value.toString();
        std::string joined;
        std::stringstream ss(raw);
        std::string part;
        while (std::getline(ss, part, '\n')) {
            if (!joined.empty()) joined += sep;
            joined += part;
        }
        auto [it, inserted] = out.emplace(key, joined);
        if (!inserted) it->second += sep + joined;
    }
    return out;
}

DocumentResponse to_document_response(const Object::Ptr& response, const std::string& frame_id,
                                      bool redirect) {
    DocumentResponse r;
    r.url = str_field(response, "url");
    r.status = int_field(response, "status");
    r.status_text = str_field(response, "statusText");
    r.headers = normalize_headers(obj_field(response, "headers"));
    r.frame_id = frame_id;
    if (!redirect) r.mime_type = str_field(response, "mimeType");
    r.redirect = redirect;
    return r;
}

}  // namespace

struct DevToolsClient::Impl : std::enable_shared_from_this<DevToolsClient::Impl> {
    using CommandCallback = std::function<void(Object::Ptr result, std::string error)>;

    // The eventfd exists from the start so post() never races with start() over it.
    Impl(int p, std::unique_ptr<DevToolsTransport> pipe_conn)
        : port(p), pipe(std::move(pipe_conn)), wake_fd(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}
    ~Impl() {
        if (wake_fd >= 0) ::close(wake_fd);
    }

    // ---- shared between threads -------------------------------------------------------------
    const int port;  // WebSocket mode; 0 over a pipe
    // Pipe mode: the connection handed in, taken by the first connect. There is no second
    // one: a closed pipe means the browser is gone.
    std::unique_ptr<DevToolsTransport> pipe;
    const bool pipe_mode = pipe != nullptr;
    const int wake_fd;
    std::mutex mu;                            // guards tasks, started
    std::deque<std::function<void()>> tasks;  // run on the I/O thread
    bool started = false;
    std::atomic<bool> stop{false};
    std::atomic<bool> is_connected{false};
    std::thread thread;
    // The socket the I/O thread may currently block on, so the destructor can shut it down
    // instead of waiting for Chromium (whose UI thread may be the very thread destroying us).
    std::mutex fd_mu;
    int blocking_fd = -1;

    void post(std::function<void()> fn) {
        {
            std::lock_guard lock(mu);
            if (stop) return;
            tasks.push_back(std::move(fn));
        }
        wake();
    }
    void wake() const {
        if (wake_fd < 0) return;
        const uint64_t one = 1;
        // A full counter still leaves the fd readable, so a failed write needs no handling.
        [[maybe_unused]] auto n = ::write(wake_fd, &one, sizeof one);
    }
    void set_blocking_fd(int fd) {
        std::lock_guard lock(fd_mu);
        blocking_fd = fd;
    }

    // ---- I/O thread only --------------------------------------------------------------------
    struct Pending {
        std::string session_id;
        CommandCallback cb;
        uint64_t timer = 0;
    };
    struct Timer {
        Clock::time_point at;
        std::function<void()> fn;
    };
    struct Outgoing {
        DocumentResponse r;
        std::string request_id;
        Clock::time_point deadline;
        bool complete = false;
    };
    struct SessionState {
        std::string target_id;
        std::string main_frame_id;  // until Page.getFrameTree answers: target id (same in Chromium)
        std::function<void(const DocumentResponse&)> doc_cb;
        DevToolsSession::EventCallback event_cb;
        std::deque<DocumentResponse> buffered;                      // until a callback is set
        std::deque<Outgoing> outq;                                  // in order, awaiting ExtraInfo
        std::map<std::string, std::deque<Object::Ptr>> extra_info;  // requestId -> ExtraInfo
        std::vector<std::pair<std::string, std::string>> hint_headers;  // for Fetch re-adds
        RequestRules rules;
        bool rules_set = false;  // set_request_rules() was called: we answer every paused request
        bool raw_only = false;   // take_raw_responses(): we answer response-stage pauses only
        std::function<void(const RawResponse&)> raw_cb;
        // Requests of the current document still in flight (any type, any frame): the solve
        // loop answers only once the page has gone quiet. Shared with the DevToolsSession,
        // read from the Qt thread.
        std::set<std::string> inflight;
        std::shared_ptr<std::atomic<int>> inflight_count = std::make_shared<std::atomic<int>>(0);
    };
    struct AttachOp {
        std::string marker_url;
        std::string target_id;  // known already (a target we created): no search by URL
        UaOverride ua;
        AttachCallback cb;
        uint64_t timer = 0;
        bool done = false;
        bool waiting_connect = false;
        std::string session_id;  // set once attached, to undo on failure
        std::string last_error;
    };

    std::unique_ptr<DevToolsTransport> conn;
    std::string browser_user_agent;
    std::string last_connect_error;
    Clock::time_point next_connect_at{};
    int next_id = 1;
    std::map<int, Pending> pending;
    uint64_t next_timer = 1;
    std::map<uint64_t, Timer> timers;
    std::map<std::string, SessionState> sessions;
    // Targets with an attachToTarget in flight, so concurrent attaches to one marker URL pick
    // different pages.
    std::set<std::string> attaching;
    std::vector<std::shared_ptr<AttachOp>> connect_waiters;

    template <typename F, typename... Args>
    void invoke(F& fn, Args&&... args) {
        // The destructor's promise: no callback once it has begun.
        if (stop || !fn) return;
        try {
            fn(std::forward<Args>(args)...);
        } catch (...) {
            // A throwing user callback must not take the I/O thread (and all sessions) down.
        }
    }

    // An unexpected message shape (a Poco conversion throwing) must cost one message, not the
    // thread: an exception escaping run() would terminate the whole worker.
    template <typename F>
    static void guarded(F&& fn) {
        try {
            fn();
        } catch (...) {
        }
    }

    uint64_t add_timer(std::chrono::milliseconds after, std::function<void()> fn) {
        const uint64_t id = next_timer++;
        timers.emplace(id, Timer{Clock::now() + after, std::move(fn)});
        return id;
    }
    void cancel_timer(uint64_t id) { timers.erase(id); }

    // ---- connection -------------------------------------------------------------------------

    // Blocking, but on our own thread and bounded; never on the Qt thread.
    bool try_connect() {
        if (pipe_mode) {
            if (!pipe) {
                last_connect_error = "the browser's DevTools pipe is closed";
                return false;
            }
            conn = std::move(pipe);
        } else {
            conn = connect_devtools_websocket(port, &browser_user_agent, &last_connect_error,
                                              [this](int fd) { set_blocking_fd(fd); });
            if (!conn) return false;
        }
        is_connected = true;
        last_connect_error.clear();
        return true;
    }

    void disconnect(const std::string& reason) {
        if (conn) {
            set_blocking_fd(-1);
            conn->close();
            conn.reset();
        }
        is_connected = false;
        // Everything tied to the socket is gone with it, including every page's UA override.
        sessions.clear();
        auto failed = std::move(pending);
        pending.clear();
        for (auto& [id, p] : failed) {
            cancel_timer(p.timer);
            invoke(p.cb, nullptr, "devtools connection lost: " + reason);
        }
    }

    // ---- commands ---------------------------------------------------------------------------

    void send_command(const std::string& session_id, const std::string& method, Object::Ptr params,
                      int timeout_ms, CommandCallback cb) {
        if (!conn) {
            post([this, cb = std::move(cb)]() mutable { invoke(cb, nullptr, "not connected"); });
            return;
        }
        const int id = next_id++;
        Object msg;
        msg.set("id", id);
        msg.set("method", method);
        msg.set("params", params ? params : Object::Ptr(new Object));
        if (!session_id.empty()) msg.set("sessionId", session_id);
        std::ostringstream os;
        msg.stringify(os);
        const std::string text = os.str();

        Pending p;
        p.session_id = session_id;
        p.cb = std::move(cb);
        p.timer = add_timer(std::chrono::milliseconds(timeout_ms), [this, id, method] {
            auto it = pending.find(id);
            if (it == pending.end()) return;
            auto cb = std::move(it->second.cb);
            pending.erase(it);
            invoke(cb, nullptr, method + " timed out");
        });
        pending.emplace(id, std::move(p));
        try {
            conn->send(text);
        } catch (const std::exception& e) {
            disconnect(e.what());
        }
    }

    // A command given as JSON text by a caller outside this file; answers with JSON text.
    void send_raw(const std::string& session_id, const std::string& method,
                  const std::string& params_json, int timeout_ms,
                  std::function<void(std::string json, std::string error)> cb) {
        Object::Ptr params;
        if (!params_json.empty()) {
            try {
                Poco::JSON::Parser parser;
                params = parser.parse(params_json).extract<Object::Ptr>();
            } catch (const Poco::Exception& e) {
                return invoke(cb, std::string(), "bad params: " + e.displayText());
            }
        }
        send_command(session_id, method, params, timeout_ms,
                     [this, cb = std::move(cb)](Object::Ptr result, std::string error) mutable {
                         if (!error.empty()) return invoke(cb, std::string(), error);
                         invoke(cb, stringify(result), std::string());
                     });
    }

    // Fails the session's pending requests; used on detach and when Chromium drops the target.
    void drop_session(const std::string& session_id, const std::string& reason) {
        DevToolsSession::EventCallback told;
        if (auto it = sessions.find(session_id); it != sessions.end())
            told = std::move(it->second.event_cb);
        sessions.erase(session_id);
        // The page's owner learns that its session is gone (the target closed or crashed, or
        // the browser went away), as the event Chromium sends for a detach.
        if (reason != "session detached") invoke(told, "Target.detachedFromTarget", "{}");
        std::vector<CommandCallback> failed;
        for (auto it = pending.begin(); it != pending.end();) {
            if (it->second.session_id == session_id) {
                cancel_timer(it->second.timer);
                failed.push_back(std::move(it->second.cb));
                it = pending.erase(it);
            } else {
                ++it;
            }
        }
        for (auto& cb : failed)
            invoke(cb, nullptr, reason);
    }

    void detach_session(const std::string& session_id) {
        if (!sessions.count(session_id)) return;
        drop_session(session_id, "session detached");
        auto params = Object::Ptr(new Object);
        params->set("sessionId", session_id);
        send_command("", "Target.detachFromTarget", params, 2000, nullptr);
    }

    // ---- attach -----------------------------------------------------------------------------

    void finish_attach(const std::shared_ptr<AttachOp>& op,
                       std::shared_ptr<DevToolsSession> session, const std::string& error) {
        if (op->done) return;
        op->done = true;
        cancel_timer(op->timer);
        if (!session && !op->session_id.empty()) detach_session(op->session_id);
        invoke(op->cb, std::move(session), error);
    }

    void start_attach(std::shared_ptr<AttachOp> op, int timeout_ms) {
        op->timer = add_timer(std::chrono::milliseconds(std::max(timeout_ms, 1)), [this, op] {
            std::string why = "attach timed out";
            if (op->waiting_connect && !last_connect_error.empty()) {
                why += " (connect: " + last_connect_error + ")";
            } else if (!op->last_error.empty()) {
                why += " (" + op->last_error + ")";
            }
            finish_attach(op, nullptr, why);
        });
        if (conn) {
            begin_attach(op);
        } else {
            op->waiting_connect = true;
            connect_waiters.push_back(op);
        }
    }

    void begin_attach(const std::shared_ptr<AttachOp>& op) {
        if (op->target_id.empty()) return find_target(op);
        attach_target(op, op->target_id);
    }

    void find_target(const std::shared_ptr<AttachOp>& op) {
        if (op->done) return;
        send_command("", "Target.getTargets", nullptr, 5000,
                     [this, op](Object::Ptr result, std::string error) {
                         if (op->done) return;
                         if (!error.empty()) return finish_attach(op, nullptr, error);
                         const std::string target_id = pick_target(result, op->marker_url);
                         if (target_id.empty()) {
                             op->last_error = "no page target with URL " + op->marker_url;
                             add_timer(kTargetRetry, [this, op] { find_target(op); });
                             return;
                         }
                         attach_target(op, target_id);
                     });
    }

    std::string pick_target(const Object::Ptr& result, const std::string& url) const {
        if (!result || !result->has("targetInfos")) return {};
        auto infos = result->getArray("targetInfos");
        for (size_t i = 0; infos && i < infos->size(); ++i) {
            auto info = infos->getObject(static_cast<unsigned>(i));
            if (str_field(info, "type") != "page" || str_field(info, "url") != url) continue;
            const std::string id = str_field(info, "targetId");
            const bool ours = attaching.count(id) ||
                              std::any_of(sessions.begin(), sessions.end(),
                                          [&](const auto& s) { return s.second.target_id == id; });
            if (!ours) return id;
        }
        return {};
    }

    void attach_target(const std::shared_ptr<AttachOp>& op, const std::string& target_id) {
        auto params = Object::Ptr(new Object);
        params->set("targetId", target_id);
        params->set("flatten", true);
        attaching.insert(target_id);
        send_command("", "Target.attachToTarget", params, 5000,
                     [this, op, target_id](Object::Ptr result, std::string error) {
                         attaching.erase(target_id);
                         const std::string session_id = str_field(result, "sessionId");
                         if (op->done) {
                             // Timed out meanwhile: do not leave a stray attached session.
                             if (!session_id.empty()) {
                                 sessions[session_id].target_id = target_id;
                                 detach_session(session_id);
                             }
                             return;
                         }
                         if (!error.empty() || session_id.empty()) {
                             return finish_attach(op, nullptr, "attachToTarget: " + error);
                         }
                         op->session_id = session_id;
                         auto& s = sessions[session_id];
                         s.target_id = target_id;
                         s.main_frame_id = target_id;
                         setup_session(op, session_id, target_id);
                     });
    }

    // All set-up commands are sent at once (no round trip each): a page paused for the debugger
    // would answer none of them until resumed, and it is simply faster.
    void setup_session(const std::shared_ptr<AttachOp>& op, const std::string& session_id,
                       const std::string& target_id) {
        struct Join {
            int outstanding = 0;
            std::string error;
            std::string main_frame_id;
        };
        auto join = std::make_shared<Join>();
        auto done_one = [this, op, join, session_id, target_id](const std::string& what,
                                                                const std::string& error) {
            if (!error.empty() && join->error.empty()) join->error = what + ": " + error;
            if (--join->outstanding > 0 || op->done) return;
            if (!join->error.empty()) return finish_attach(op, nullptr, join->error);
            auto it = sessions.find(session_id);
            if (it == sessions.end()) return finish_attach(op, nullptr, "target went away");
            if (!join->main_frame_id.empty()) it->second.main_frame_id = join->main_frame_id;
            std::shared_ptr<DevToolsSession> session(
                new DevToolsSession(weak_from_this(), session_id, target_id,
                                    it->second.main_frame_id, it->second.inflight_count));
            finish_attach(op, std::move(session), "");
        };
        auto simple = [done_one](std::string what) {
            return [done_one, what](Object::Ptr, std::string error) { done_one(what, error); };
        };

        const UaOverride& ua = op->ua;
        const std::string user_agent = ua.user_agent.empty() ? browser_user_agent : ua.user_agent;
        const std::string major = major_of(ua.full_version);

        const bool emulate = ua.emulate && !user_agent.empty();
        join->outstanding = (!emulate                 ? 2
                             : ua.intercept_documents ? 5
                                                      : 4) +
                            (ua.timezone.empty() ? 0 : 1) + (ua.locale.empty() ? 0 : 1);
        // Chromium keeps response bodies of an enabled session for Network.getResponseBody, by
        // default up to ~100 MB per page: a long-lived worker page must not grow that far.
        auto net = Object::Ptr(new Object);
        net->set("maxTotalBufferSize", 4 * 1024 * 1024);
        net->set("maxResourceBufferSize", 2 * 1024 * 1024);
        send_command(session_id, "Network.enable", net, 5000, simple("Network.enable"));
        send_command(session_id, "Page.getFrameTree", nullptr, 5000,
                     [done_one, join](Object::Ptr result, std::string error) {
                         auto tree = obj_field(result, "frameTree");
                         join->main_frame_id = str_field(obj_field(tree, "frame"), "id");
                         done_one("Page.getFrameTree", error);
                     });
        if (!ua.timezone.empty()) {
            auto tz = Object::Ptr(new Object);
            tz->set("timezoneId", ua.timezone);
            send_command(session_id, "Emulation.setTimezoneOverride", tz, 5000,
                         simple("Emulation.setTimezoneOverride"));
        }
        if (!ua.locale.empty()) {
            auto lo = Object::Ptr(new Object);
            lo->set("locale", ua.locale);
            send_command(session_id, "Emulation.setLocaleOverride", lo, 5000,
                         simple("Emulation.setLocaleOverride"));
        }
        if (!emulate) return;

        auto brand_list = Array::Ptr(new Array);
        auto full_list = Array::Ptr(new Array);
        for (const auto& [brand, version] : brands_of(ua)) {
            auto b = Object::Ptr(new Object);
            b->set("brand", brand);
            b->set("version", version);
            brand_list->add(b);
            auto f = Object::Ptr(new Object);
            f->set("brand", brand);
            f->set("version", version == major ? ua.full_version : version + ".0.0.0");
            full_list->add(f);
        }
        auto meta = Object::Ptr(new Object);
        meta->set("brands", brand_list);
        meta->set("fullVersionList", full_list);
        meta->set("fullVersion", ua.full_version);
        meta->set("platform", ua.ch_platform);
        meta->set("platformVersion", ua.platform_version);
        meta->set("architecture", ua.architecture);
        meta->set("model", std::string());
        meta->set("mobile", false);
        meta->set("bitness", ua.bitness);

        auto over = Object::Ptr(new Object);
        over->set("userAgent", user_agent);
        const std::string langs = sanitize_accept_language(ua.accept_language);
        if (!langs.empty()) over->set("acceptLanguage", langs);
        over->set("platform", ua.platform);
        over->set("userAgentMetadata", meta);
        send_command(session_id, "Emulation.setUserAgentOverride", over, 5000,
                     simple("Emulation.setUserAgentOverride"));

        // The override adds sec-ch-ua* to subresources only; the top navigation needs them too.
        const auto hints = DevToolsClient::client_hint_headers(ua);
        auto headers = Object::Ptr(new Object);
        for (const auto& [name, value] : hints)
            headers->set(name, value);
        auto hp = Object::Ptr(new Object);
        hp->set("headers", headers);
        send_command(session_id, "Network.setExtraHTTPHeaders", hp, 5000,
                     simple("Network.setExtraHTTPHeaders"));

        if (!ua.intercept_documents) return;
        if (auto it = sessions.find(session_id); it != sessions.end()) {
            it->second.hint_headers = hints;
        }
        auto pattern = Object::Ptr(new Object);
        pattern->set("urlPattern", std::string("*"));
        pattern->set("resourceType", std::string("Document"));
        pattern->set("requestStage", std::string("Request"));
        auto patterns = Array::Ptr(new Array);
        patterns->add(pattern);
        auto fp = Object::Ptr(new Object);
        fp->set("patterns", patterns);
        send_command(session_id, "Fetch.enable", fp, 5000, simple("Fetch.enable"));
    }

    // ---- incoming ---------------------------------------------------------------------------

    void deliver(SessionState& s, DocumentResponse r) {
        if (!s.doc_cb) {
            if (s.buffered.size() < kMaxBufferedResponses) s.buffered.push_back(std::move(r));
            return;
        }
        auto cb = s.doc_cb;  // the callback may replace itself or detach: s is not used after
        invoke(cb, r);
    }

    // Response.headers lacks Set-Cookie; only responseReceivedExtraInfo (the raw headers) has it.
    // Takes the first stored ExtraInfo of request_id with the same status and replaces the
    // headers with its raw ones. False if none has arrived yet.
    static bool merge_extra_info(SessionState& s, const std::string& request_id,
                                 DocumentResponse& r) {
        auto it = s.extra_info.find(request_id);
        if (it == s.extra_info.end()) return false;
        auto& infos = it->second;
        for (auto e = infos.begin(); e != infos.end(); ++e) {
            if (int_field(*e, "statusCode") != r.status) continue;
            r.headers = normalize_headers(obj_field(*e, "headers"));
            infos.erase(infos.begin(), e + 1);
            if (infos.empty()) s.extra_info.erase(it);
            return true;
        }
        return false;
    }

    // Queues a document response so hops stay in order while one waits for its ExtraInfo.
    void queue_document(const std::string& session_id, SessionState& s,
                        const std::string& request_id, DocumentResponse r) {
        Outgoing out;
        out.request_id = request_id;
        // Non-network documents (data:, file:, cache without network) never get ExtraInfo.
        out.complete = merge_extra_info(s, request_id, r) || r.url.rfind("http", 0) != 0;
        out.deadline = Clock::now() + kExtraInfoWait;
        out.r = std::move(r);
        s.outq.push_back(std::move(out));
        if (!s.outq.back().complete) {
            add_timer(kExtraInfoWait, [this, session_id] { flush_documents(session_id); });
        }
        flush_documents(session_id);
    }

    void flush_documents(const std::string& session_id) {
        for (;;) {
            auto it = sessions.find(session_id);  // re-looked up: a callback may detach
            if (it == sessions.end()) return;
            auto& q = it->second.outq;
            if (q.empty()) return;
            if (!q.front().complete && Clock::now() < q.front().deadline) return;
            DocumentResponse r = std::move(q.front().r);
            q.pop_front();
            deliver(it->second, std::move(r));
        }
    }

    // Fetch patterns for what the session intercepts: documents (client hints, the client's
    // headers), every request (site-wide headers), documents at their response (raw ones).
    void enable_fetch(const std::string& session_id, const SessionState& s,
                      std::function<void()> done) {
        auto patterns = Array::Ptr(new Array);
        auto add = [&patterns](const char* type, const char* stage) {
            auto pattern = Object::Ptr(new Object);
            pattern->set("urlPattern", std::string("*"));
            if (type) pattern->set("resourceType", std::string(type));
            pattern->set("requestStage", std::string(stage));
            patterns->add(pattern);
        };
        if (!s.rules.site_host.empty())
            add(nullptr, "Request");
        else if (!s.hint_headers.empty() || !s.rules.headers.empty())
            add("Document", "Request");
        if (s.rules.capture_raw) add("Document", "Response");
        auto fp = Object::Ptr(new Object);
        fp->set("patterns", patterns);
        send_command(
            session_id, patterns->size() ? "Fetch.enable" : "Fetch.disable", fp, 5000,
            [this, done = std::move(done)](Object::Ptr, std::string) mutable { invoke(done); });
    }

    void on_response_paused(const std::string& session_id, const SessionState& s,
                            const Object::Ptr& params) {
        const std::string request_id = str_field(params, "requestId");
        RawResponse raw;
        raw.status = int_field(params, "responseStatusCode");
        if (auto list = params->getArray("responseHeaders")) {
            for (size_t i = 0; i < list->size(); ++i) {
                auto h = list->getObject(static_cast<unsigned>(i));
                const std::string name = lower(str_field(h, "name"));
                auto [it, added] = raw.headers.emplace(name, str_field(h, "value"));
                if (!added)
                    it->second += (name == "set-cookie" ? "\n" : ", ") + str_field(h, "value");
            }
        }
        if (auto it = raw.headers.find("content-type"); it != raw.headers.end())
            raw.mime_type = lower(trim(it->second.substr(0, it->second.find(';'))));
        const bool main_doc = str_field(params, "resourceType") == "Document" &&
                              str_field(params, "frameId") == s.main_frame_id;
        const bool redirect =
            raw.status >= 300 && raw.status < 400 && raw.headers.count("location");
        const bool html = raw.mime_type.empty() || raw.mime_type == "text/html" ||
                          raw.mime_type == "application/xhtml+xml";
        if (!main_doc || redirect || html || !s.raw_cb || params->has("responseErrorReason")) {
            auto cp = Object::Ptr(new Object);
            cp->set("requestId", request_id);
            send_command(session_id, "Fetch.continueRequest", cp, 5000, nullptr);
            return;
        }
        raw.url = str_field(obj_field(params, "request"), "url");
        auto bp = Object::Ptr(new Object);
        bp->set("requestId", request_id);
        send_command(
            session_id, "Fetch.getResponseBody", bp, 60000,
            [this, session_id, request_id, raw](Object::Ptr r, std::string error) mutable {
                if (error.empty() && r) {
                    raw.body = str_field(r, "body");
                    if (r->has("base64Encoded") && r->get("base64Encoded").convert<bool>()) {
                        std::istringstream in(raw.body);
                        Poco::Base64Decoder decoder(in);
                        raw.body.assign(std::istreambuf_iterator<char>(decoder),
                                        std::istreambuf_iterator<char>());
                    }
                }
                // The tab shows an empty page in the document's place: no viewer, no download.
                auto fp = Object::Ptr(new Object);
                fp->set("requestId", request_id);
                fp->set("responseCode", 200);
                auto headers = Array::Ptr(new Array);
                auto type = Object::Ptr(new Object);
                type->set("name", std::string("Content-Type"));
                type->set("value", std::string("text/html"));
                headers->add(type);
                fp->set("responseHeaders", headers);
                // base64 of "<!DOCTYPE html><html><head></head><body></body></html>"
                fp->set("body", std::string("PCFET0NUWVBFIGh0bWw+PGh0bWw+PGhlYWQ+"
                                            "PC9oZWFkPjxib2R5PjwvYm9keT48L2h0bWw+"));
                send_command(session_id, "Fetch.fulfillRequest", fp, 5000, nullptr);
                auto it = sessions.find(session_id);
                if (error.empty() && it != sessions.end() && it->second.raw_cb) {
                    auto cb = it->second.raw_cb;
                    invoke(cb, raw);
                }
            });
    }

    // Chromium 102 in Qt strips sec-ch-ua* from a navigation's redirect hops (its client-hint
    // handling removes them on redirect and the embedder never re-adds them), while
    // setExtraHTTPHeaders only reaches the first hop. Re-adding them on every paused Document
    // request keeps the top navigation consistent with subresources.
    void on_request_paused(const std::string& session_id, const SessionState& s,
                           const Object::Ptr& params) {
        if (params->has("responseStatusCode") || params->has("responseErrorReason"))
            return on_response_paused(session_id, s, params);
        const bool document = str_field(params, "resourceType") == "Document";
        const std::string url = str_field(obj_field(params, "request"), "url");
        const bool main_doc = document && str_field(params, "frameId") == s.main_frame_id;
        const bool client =
            !s.rules.headers.empty() &&
            (main_doc || (!s.rules.site_host.empty() && host_of(url) == s.rules.site_host));
        if (!document && !client) {
            // Paused only for site-wide headers, and not to that host: untouched.
            auto cp = Object::Ptr(new Object);
            cp->set("requestId", str_field(params, "requestId"));
            send_command(session_id, "Fetch.continueRequest", cp, 5000, nullptr);
            return;
        }
        auto is_client_header = [&](const std::string& name) {
            if (!client) return false;
            for (const auto& h : s.rules.headers)
                if (lower(h.first) == lower(name)) return true;
            return false;
        };
        auto headers = obj_field(obj_field(params, "request"), "headers");
        auto list = Array::Ptr(new Array);
        auto add = [&list](const std::string& name, const std::string& value) {
            auto h = Object::Ptr(new Object);
            h->set("name", name);
            h->set("value", value);
            list->add(h);
        };
        // The headers given here go on the wire in this order, after Host and Connection and
        // before what the network stack adds (Sec-Fetch-*, Accept-Encoding, Accept-Language,
        // Cookie). The paused request's headers arrive as a sorted JSON object, so put them
        // in Chrome's order: sec-ch-ua* first, then the rest by kChromeOrder.
        for (const auto& [name, value] : s.hint_headers)
            add(name, value);
        if (headers) {
            std::vector<std::pair<std::string, std::string>> rest;
            for (const auto& [name, value] : *headers) {
                if (lower(name).rfind("sec-ch-ua", 0) == 0 || is_client_header(name)) continue;
                rest.emplace_back(
                    name, value.isString() ? value.extract<std::string>() : value.toString());
            }
            auto rank = [](const std::string& name) {
                const std::string n = lower(name);
                for (size_t i = 0; i < std::size(kChromeOrder); ++i)
                    if (n == kChromeOrder[i]) return i;
                return std::size(kChromeOrder);  // unknown: after the known ones, as given
            };
            std::stable_sort(rest.begin(), rest.end(), [&](const auto& a, const auto& b) {
                return rank(a.first) < rank(b.first);
            });
            for (const auto& [name, value] : rest)
                add(name, value);
        }
        if (client)  // the client's, last and in its order
            for (const auto& [name, value] : s.rules.headers)
                add(name, value);
        auto cp = Object::Ptr(new Object);
        cp->set("requestId", str_field(params, "requestId"));
        cp->set("headers", list);
        // No reply handling: if this fails the request is gone anyway (e.g. page closed).
        send_command(session_id, "Fetch.continueRequest", cp, 5000, nullptr);
    }

    void on_event(const std::string& method, const std::string& session_id,
                  const Object::Ptr& params) {
        if (method == "Target.detachedFromTarget") {
            const std::string sid = str_field(params, "sessionId");
            if (sessions.count(sid)) drop_session(sid, "target detached");
            return;
        }
        if (session_id.empty()) return;
        auto it = sessions.find(session_id);
        if (it == sessions.end()) return;
        SessionState& s = it->second;
        if (s.event_cb) {
            // A copy: the callback may detach the session (and so destroy s's callback).
            auto cb = s.event_cb;
            invoke(cb, method, params ? stringify(params) : std::string("{}"));
            it = sessions.find(session_id);
            if (it == sessions.end()) return;
        }
        const std::string request_id = str_field(params, "requestId");
        if (method == "Fetch.requestPaused") {
            // Only our own interception (intercept_documents); the owner answers the rest.
            const bool response_stage =
                params->has("responseStatusCode") || params->has("responseErrorReason");
            if (response_stage && s.raw_only)
                on_response_paused(session_id, s, params);
            else if (!s.hint_headers.empty() || s.rules_set)
                on_request_paused(session_id, s, params);
        } else if (method == "Network.responseReceivedExtraInfo") {
            // Kept for every request (the type is unknown here and it often precedes
            // requestWillBeSent); dropped on loadingFinished/Failed, and bounded.
            if (s.extra_info.size() >= kMaxExtraInfo) s.extra_info.erase(s.extra_info.begin());
            s.extra_info[request_id].push_back(params);
            for (auto& out : s.outq) {
                if (out.complete || out.request_id != request_id) continue;
                out.complete = merge_extra_info(s, request_id, out.r);
                break;
            }
            flush_documents(session_id);
        } else if (method == "Network.loadingFinished" || method == "Network.loadingFailed") {
            s.inflight.erase(request_id);
            s.inflight_count->store(static_cast<int>(s.inflight.size()));
            s.extra_info.erase(request_id);
            bool waiting = false;
            for (auto& out : s.outq) {
                if (out.request_id == request_id && !out.complete) waiting = out.complete = true;
            }
            if (waiting) flush_documents(session_id);
        } else if (method == "Network.requestWillBeSent") {
            const bool main_document = str_field(params, "type") == "Document" &&
                                       str_field(params, "frameId") == s.main_frame_id;
            // A new main document (not a redirect hop of it) ends every request of the last one,
            // whether or not Chromium reports each as failed.
            if (main_document && !obj_field(params, "redirectResponse")) s.inflight.clear();
            if (s.inflight.size() < kMaxInflightTracked) s.inflight.insert(request_id);
            s.inflight_count->store(static_cast<int>(s.inflight.size()));
            if (!main_document) return;
            if (auto redirect = obj_field(params, "redirectResponse")) {
                queue_document(session_id, s, request_id,
                               to_document_response(redirect, s.main_frame_id, true));
            }
        } else if (method == "Network.responseReceived") {
            if (str_field(params, "type") != "Document") return;
            if (str_field(params, "frameId") != s.main_frame_id) return;
            queue_document(
                session_id, s, request_id,
                to_document_response(obj_field(params, "response"), s.main_frame_id, false));
        }
    }

    void on_message(const std::string& text) {
        Object::Ptr msg;
        try {
            Poco::JSON::Parser parser;
            msg = parser.parse(text).extract<Object::Ptr>();
        } catch (const Poco::Exception&) {
            return;  // not ours to fix; Chromium does not send malformed JSON
        }
        if (!msg) return;
        if (msg->has("id")) {
            const int id = int_field(msg, "id");
            auto it = pending.find(id);
            if (it == pending.end()) return;
            auto cb = std::move(it->second.cb);
            cancel_timer(it->second.timer);
            pending.erase(it);
            if (auto err = obj_field(msg, "error")) {
                std::string what = str_field(err, "message");
                const std::string data = str_field(err, "data");
                if (!data.empty()) what += ": " + data;
                if (what.empty()) what = "protocol error";
                invoke(cb, nullptr, what);
            } else {
                auto result = obj_field(msg, "result");
                invoke(cb, result ? result : Object::Ptr(new Object), std::string());
            }
            return;
        }
        on_event(str_field(msg, "method"), str_field(msg, "sessionId"), obj_field(msg, "params"));
    }

    void read_message() {
        std::string text, error;
        switch (conn->read(&text, &error)) {
            case DevToolsTransport::Read::kClosed:
                return disconnect(error);
            case DevToolsTransport::Read::kAgain:
                return;
            case DevToolsTransport::Read::kMessage:
                guarded([&] { on_message(text); });
        }
    }

    // ---- loop -------------------------------------------------------------------------------

    void run() {
        pthread_setname_np(pthread_self(), "byparr-devtools");
        // A pipe is there from the start (and there is no other): no lazy connect.
        if (pipe_mode) try_connect();
        while (!stop) {
            // 1. Work handed in from other threads (and deferred by ourselves).
            for (;;) {
                std::deque<std::function<void()>> batch;
                {
                    std::lock_guard lock(mu);
                    batch.swap(tasks);
                }
                if (batch.empty()) break;
                for (auto& fn : batch) {
                    if (stop) return;
                    guarded(fn);
                }
            }
            if (stop) return;

            // 2. Due timers (a timer may add or cancel others, so pick them one at a time).
            for (;;) {
                const auto now = Clock::now();
                auto due = std::find_if(timers.begin(), timers.end(),
                                        [&](const auto& t) { return t.second.at <= now; });
                if (due == timers.end()) break;
                auto fn = std::move(due->second.fn);
                timers.erase(due);
                guarded(fn);
                if (stop) return;
            }

            // 3. Connect when an attach waits for it.
            std::erase_if(connect_waiters, [](const auto& op) { return op->done; });
            if (!conn && !connect_waiters.empty() && Clock::now() >= next_connect_at) {
                if (try_connect()) {
                    auto waiters = std::move(connect_waiters);
                    connect_waiters.clear();
                    for (auto& op : waiters) {
                        op->waiting_connect = false;
                        begin_attach(op);
                    }
                } else {
                    next_connect_at = Clock::now() + kConnectRetry;
                }
                if (stop) return;
                continue;  // re-run tasks/timers before sleeping
            }

            // 4. Sleep until a socket, a wake-up or the next deadline. No deadline -> no timeout:
            // an idle client costs no CPU.
            int timeout_ms = -1;
            auto deadline = Clock::time_point::max();
            for (const auto& [id, t] : timers)
                deadline = std::min(deadline, t.at);
            if (!conn && !connect_waiters.empty()) deadline = std::min(deadline, next_connect_at);
            if (deadline != Clock::time_point::max()) {
                const auto left =
                    std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
                timeout_ms = static_cast<int>(std::max<int64_t>(left.count() + 1, 0));
            }
            const bool buffered = conn && conn->buffered();
            if (buffered) timeout_ms = 0;

            pollfd fds[2] = {{wake_fd, POLLIN, 0}, {conn ? conn->fd() : -1, POLLIN, 0}};
            const int rc = ::poll(fds, conn ? 2 : 1, timeout_ms);
            if (stop) return;
            if (rc < 0) continue;  // EINTR
            if (fds[0].revents & POLLIN) {
                uint64_t v;
                [[maybe_unused]] auto n = ::read(wake_fd, &v, sizeof v);
            }
            if (conn && (buffered || (fds[1].revents & (POLLIN | POLLHUP | POLLERR)))) {
                read_message();
                // Drain whatever else is already here before going back to sleep.
                for (int i = 0; conn && i < 256; ++i) {
                    pollfd p{conn->fd(), POLLIN, 0};
                    if (!conn->buffered() && ::poll(&p, 1, 0) <= 0) break;
                    read_message();
                }
            }
        }
    }

    void shutdown_thread() {
        std::deque<std::function<void()>> dropped;
        {
            std::lock_guard lock(mu);
            stop = true;
            dropped.swap(tasks);
        }
        // Destroyed outside the lock: a task may own the last DevToolsSession reference, whose
        // destructor posts (and so takes the lock).
        dropped.clear();
        wake();
        {
            // Unblocks a receive that waits on Chromium, whose UI thread may be the caller.
            std::lock_guard lock(fd_mu);
            if (blocking_fd >= 0) ::shutdown(blocking_fd, SHUT_RDWR);
        }
        if (thread.joinable()) thread.join();
        // Drop user callbacks here, on the destroying thread, while the client still exists:
        // their captured state may reference it.
        timers.clear();
        pending.clear();
        sessions.clear();
        connect_waiters.clear();
        if (conn) conn->close();
        conn.reset();
        pipe.reset();
        is_connected = false;
    }
};

// ---- DevToolsClient -----------------------------------------------------------------------------

DevToolsClient::DevToolsClient(int port)
    : port_(port), impl_(std::make_shared<Impl>(port, nullptr)) {}

DevToolsClient::DevToolsClient(int read_fd, int write_fd)
    : port_(0), impl_(std::make_shared<Impl>(0, make_devtools_pipe(read_fd, write_fd))) {}

DevToolsClient::~DevToolsClient() {
    impl_->shutdown_thread();
}

void DevToolsClient::start() {
    std::lock_guard lock(impl_->mu);
    if (impl_->started) return;
    // Without the eventfd the idle thread could never be woken: fail loudly instead.
    if (impl_->wake_fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
    impl_->started = true;
    impl_->thread = std::thread([impl = impl_.get()] { impl->run(); });
}

void DevToolsClient::attach(std::string marker_url, UaOverride ua, int timeout_ms,
                            AttachCallback cb) {
    auto op = std::make_shared<Impl::AttachOp>();
    op->marker_url = std::move(marker_url);
    op->ua = std::move(ua);
    op->cb = std::move(cb);
    Impl* impl = impl_.get();
    impl_->post([impl, op, timeout_ms] { impl->start_attach(op, timeout_ms); });
}

void DevToolsClient::attach_target(std::string target_id, UaOverride ua, int timeout_ms,
                                   AttachCallback cb) {
    auto op = std::make_shared<Impl::AttachOp>();
    op->target_id = std::move(target_id);
    op->ua = std::move(ua);
    op->cb = std::move(cb);
    Impl* impl = impl_.get();
    impl_->post([impl, op, timeout_ms] { impl->start_attach(op, timeout_ms); });
}

void DevToolsClient::command(std::string method, std::string params_json, ResultCallback cb,
                             int timeout_ms) {
    Impl* p = impl_.get();
    impl_->post([p, method = std::move(method), params_json = std::move(params_json),
                 cb = std::move(cb), timeout_ms]() mutable {
        p->send_raw("", method, params_json, timeout_ms, std::move(cb));
    });
}

bool DevToolsClient::connected() const {
    return impl_->is_connected;
}

int DevToolsClient::chrome_header_rank(const std::string& name) {
    const std::string n = lower(name);
    if (n.rfind("sec-ch-ua", 0) == 0) return -1;
    for (size_t i = 0; i < std::size(kChromeOrder); ++i)
        if (n == kChromeOrder[i]) return static_cast<int>(i);
    return static_cast<int>(std::size(kChromeOrder));
}

std::vector<std::pair<std::string, std::string>> DevToolsClient::client_hint_headers(
    const UaOverride& ua) {
    std::string sec_ch_ua;
    for (const auto& [brand, version] : brands_of(ua)) {
        if (!sec_ch_ua.empty()) sec_ch_ua += ", ";
        sec_ch_ua += "\"" + brand + "\";v=\"" + version + "\"";
    }
    return {{"sec-ch-ua", sec_ch_ua},
            {"sec-ch-ua-mobile", "?0"},
            {"sec-ch-ua-platform", "\"" + ua.ch_platform + "\""}};
}

// ---- DevToolsSession ----------------------------------------------------------------------------

DevToolsSession::DevToolsSession(std::weak_ptr<DevToolsClient::Impl> impl, std::string session_id,
                                 std::string target_id, std::string main_frame_id,
                                 std::shared_ptr<const std::atomic<int>> inflight)
    : impl_(std::move(impl)),
      session_id_(std::move(session_id)),
      target_id_(std::move(target_id)),
      main_frame_id_(std::move(main_frame_id)),
      inflight_(std::move(inflight)) {}

int DevToolsSession::inflight_requests() const {
    return inflight_ ? inflight_->load() : 0;
}

DevToolsSession::~DevToolsSession() {
    detach();
}

void DevToolsSession::on_document_response(std::function<void(const DocumentResponse&)> cb) {
    auto impl = impl_.lock();
    if (!impl) return;
    DevToolsClient::Impl* p = impl.get();
    impl->post([p, sid = session_id_, cb = std::move(cb)]() mutable {
        auto it = p->sessions.find(sid);
        if (it == p->sessions.end()) return;
        it->second.doc_cb = std::move(cb);
        if (!it->second.doc_cb) return;
        auto buffered = std::move(it->second.buffered);
        it->second.buffered.clear();
        for (auto& r : buffered) {
            auto again = p->sessions.find(sid);  // a callback may have detached the session
            if (again == p->sessions.end() || !again->second.doc_cb) return;
            auto f = again->second.doc_cb;
            p->invoke(f, r);
        }
    });
}

void DevToolsSession::send(std::string method, std::string params_json, ResultCallback cb,
                           int timeout_ms) {
    auto impl = impl_.lock();
    if (!impl) return;
    DevToolsClient::Impl* p = impl.get();
    impl->post([p, sid = session_id_, method = std::move(method),
                params_json = std::move(params_json), cb = std::move(cb), timeout_ms]() mutable {
        if (!p->sessions.count(sid)) return p->invoke(cb, std::string(), "session detached");
        p->send_raw(sid, method, params_json, timeout_ms, std::move(cb));
    });
}

void DevToolsSession::set_request_rules(RequestRules rules, std::function<void()> done) {
    auto impl = impl_.lock();
    if (!impl) {
        if (done) done();  // nothing to set up: the navigation goes ahead without
        return;
    }
    DevToolsClient::Impl* p = impl.get();
    impl->post([p, sid = session_id_, rules = std::move(rules), done = std::move(done)]() mutable {
        auto it = p->sessions.find(sid);
        if (it == p->sessions.end()) return p->invoke(done);
        rules.site_host = lower(rules.site_host);
        it->second.rules = std::move(rules);
        it->second.rules_set = true;
        p->enable_fetch(sid, it->second, std::move(done));
    });
}

void DevToolsSession::on_raw_response(std::function<void(const RawResponse&)> cb) {
    auto impl = impl_.lock();
    if (!impl) return;
    DevToolsClient::Impl* p = impl.get();
    impl->post([p, sid = session_id_, cb = std::move(cb)]() mutable {
        auto it = p->sessions.find(sid);
        if (it != p->sessions.end()) it->second.raw_cb = std::move(cb);
    });
}

void DevToolsSession::take_raw_responses() {
    auto impl = impl_.lock();
    if (!impl) return;
    DevToolsClient::Impl* p = impl.get();
    impl->post([p, sid = session_id_] {
        auto it = p->sessions.find(sid);
        if (it == p->sessions.end()) return;
        it->second.raw_only = true;
        it->second.rules.capture_raw = true;
    });
}

void DevToolsSession::on_event(EventCallback cb) {
    auto impl = impl_.lock();
    if (!impl) return;
    DevToolsClient::Impl* p = impl.get();
    impl->post([p, sid = session_id_, cb = std::move(cb)]() mutable {
        auto it = p->sessions.find(sid);
        if (it != p->sessions.end()) it->second.event_cb = std::move(cb);
    });
}

void DevToolsSession::get_cookies(std::vector<std::string> urls, ResultCallback cb) {
    auto impl = impl_.lock();
    if (!impl) return;
    DevToolsClient::Impl* p = impl.get();
    impl->post([p, sid = session_id_, urls = std::move(urls), cb = std::move(cb)]() mutable {
        if (!p->sessions.count(sid)) return p->invoke(cb, std::string(), "session detached");
        auto params = Object::Ptr(new Object);
        if (!urls.empty()) {
            auto list = Array::Ptr(new Array);
            for (const auto& u : urls)
                list->add(u);
            params->set("urls", list);
        }
        p->send_command(sid, "Network.getCookies", params, 10000,
                        [p, cb = std::move(cb)](Object::Ptr result, std::string error) mutable {
                            if (!error.empty()) return p->invoke(cb, std::string(), error);
                            auto cookies = result->getArray("cookies");
                            p->invoke(cb, cookies ? stringify(cookies) : std::string("[]"),
                                      std::string());
                        });
    });
}

void DevToolsSession::evaluate(std::string expression, ResultCallback cb, int timeout_ms) {
    auto impl = impl_.lock();
    if (!impl) return;
    DevToolsClient::Impl* p = impl.get();
    impl->post([p, sid = session_id_, expression = std::move(expression), cb = std::move(cb),
                timeout_ms]() mutable {
        if (!p->sessions.count(sid)) return p->invoke(cb, std::string(), "session detached");
        auto params = Object::Ptr(new Object);
        params->set("expression", expression);
        params->set("returnByValue", true);
        params->set("awaitPromise", true);
        p->send_command(
            sid, "Runtime.evaluate", params, timeout_ms,
            [p, cb = std::move(cb)](Object::Ptr result, std::string error) mutable {
                if (!error.empty()) return p->invoke(cb, std::string(), error);
                if (auto ex = obj_field(result, "exceptionDetails")) {
                    std::string what = str_field(obj_field(ex, "exception"), "description");
                    if (what.empty()) what = str_field(ex, "text");
                    return p->invoke(cb, std::string(), "exception: " + what);
                }
                auto value = obj_field(result, "result");
                std::string json = "null";
                if (value && value->has("value")) {
                    json = stringify(value->get("value"));
                } else if (value && value->has("unserializableValue")) {
                    // NaN, Infinity, -0, 1n: not JSON, handed over as a string.
                    json = stringify(Poco::Dynamic::Var(str_field(value, "unserializableValue")));
                }
                p->invoke(cb, json, std::string());
            });
    });
}

void DevToolsSession::detach() {
    auto impl = impl_.lock();
    if (!impl) return;
    DevToolsClient::Impl* p = impl.get();
    impl->post([p, sid = session_id_] { p->detach_session(sid); });
}

}  // namespace byparr::browser
