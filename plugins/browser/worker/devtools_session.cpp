// The DevToolsSession API: each call is posted to the client's I/O thread, where it reads or
// changes its session's state (devtools_client_impl.h). Separate from devtools_client.cpp so
// the client's core holds only the thread, the connection and the command plumbing.
#include "devtools_client.h"

#include "core/strings.h"
#include "devtools_client_impl.h"

namespace byparr::browser {

using namespace devtools_detail;

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
        rules.site_host = ascii_lower(rules.site_host);
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
