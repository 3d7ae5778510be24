// A session's event routing: main-frame document responses (with the raw headers of
// Network.responseReceivedExtraInfo, which alone carry Set-Cookie), requests in flight, and
// the Fetch pauses the session answers itself (client hints and the client's headers on
// document requests, documents that are not HTML taken at their response).
//
// Separate from the client's core and from attachment because it is the hot path (every
// network event of every page passes here) and the part whose rules follow Chromium's event
// order; the rest of the client does not need to know them.
#include "devtools_client.h"

#include "core/strings.h"
#include "devtools_client_impl.h"
#include "ua_emulation.h"

#include <Poco/Base64Decoder.h>
#include <Poco/URI.h>

#include <algorithm>
#include <iterator>
#include <sstream>

namespace byparr::browser {

using namespace devtools_detail;

namespace {

constexpr size_t kMaxBufferedResponses = 64;
constexpr size_t kMaxExtraInfo = 256;
// A page that opens thousands of requests at once is busy whatever the exact number.
constexpr size_t kMaxInflightTracked = 4096;
// Measured: ExtraInfo precedes responseReceived for network loads; the wait is a fallback only.
constexpr auto kExtraInfoWait = std::chrono::milliseconds(50);

// Lower-case host of a URL; empty when it does not parse.
std::string host_of(const std::string& url) {
    try {
        return ascii_lower(Poco::URI(url).getHost());
    } catch (const Poco::Exception&) {
        return {};
    }
}

// Chromium's Network.Response.headers joins repeated headers with '\n' and keeps the server's name
// casing; callers want one lower-case key per header.
std::map<std::string, std::string> normalize_headers(const Object::Ptr& headers) {
    std::map<std::string, std::string> out;
    if (!headers) return out;
    for (const auto& [name, value] : *headers) {
        const std::string key = ascii_lower(name);
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

void DevToolsClient::Impl::deliver(SessionState& s, DocumentResponse r) {
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
bool DevToolsClient::Impl::merge_extra_info(SessionState& s, const std::string& request_id,
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
void DevToolsClient::Impl::queue_document(const std::string& session_id, SessionState& s,
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

void DevToolsClient::Impl::flush_documents(const std::string& session_id) {
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
void DevToolsClient::Impl::enable_fetch(const std::string& session_id, const SessionState& s,
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

void DevToolsClient::Impl::on_response_paused(const std::string& session_id, const SessionState& s,
                                              const Object::Ptr& params) {
    const std::string request_id = str_field(params, "requestId");
    RawResponse raw;
    raw.status = int_field(params, "responseStatusCode");
    if (auto list = params->getArray("responseHeaders")) {
        for (size_t i = 0; i < list->size(); ++i) {
            auto h = list->getObject(static_cast<unsigned>(i));
            const std::string name = ascii_lower(str_field(h, "name"));
            auto [it, added] = raw.headers.emplace(name, str_field(h, "value"));
            if (!added) it->second += (name == "set-cookie" ? "\n" : ", ") + str_field(h, "value");
        }
    }
    if (auto it = raw.headers.find("content-type"); it != raw.headers.end())
        raw.mime_type = ascii_lower(trim(it->second.substr(0, it->second.find(';'))));
    const bool main_doc = str_field(params, "resourceType") == "Document" &&
                          str_field(params, "frameId") == s.main_frame_id;
    const bool redirect = raw.status >= 300 && raw.status < 400 && raw.headers.count("location");
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
    send_command(session_id, "Fetch.getResponseBody", bp, 60000,
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
void DevToolsClient::Impl::on_request_paused(const std::string& session_id, const SessionState& s,
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
            if (iequals(h.first, name)) return true;
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
    // in Chrome's order: sec-ch-ua* first, then the rest by chrome_header_rank.
    for (const auto& [name, value] : s.hint_headers)
        add(name, value);
    if (headers) {
        std::vector<std::pair<std::string, std::string>> rest;
        for (const auto& [name, value] : *headers) {
            if (istarts_with(name, "sec-ch-ua") || is_client_header(name)) continue;
            rest.emplace_back(name,
                              value.isString() ? value.extract<std::string>() : value.toString());
        }
        // Unknown names rank after the known ones and keep their order (a stable sort).
        std::stable_sort(rest.begin(), rest.end(), [](const auto& a, const auto& b) {
            return chrome_header_rank(a.first) < chrome_header_rank(b.first);
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

void DevToolsClient::Impl::on_event(const std::string& method, const std::string& session_id,
                                    const Object::Ptr& params) {
    if (method == "Target.detachedFromTarget") {
        const std::string sid = str_field(params, "sessionId");
        if (sessions.count(sid)) drop_session(sid, "target detached");
        return;
    }
    if (session_id.empty()) return;
    auto it = sessions.find(session_id);
    if (it == sessions.end()) return;
    if (it->second.event_cb) {
        // A copy: the callback may detach the session (and so destroy s's callback).
        auto cb = it->second.event_cb;
        invoke(cb, method, params ? stringify(params) : std::string("{}"));
        it = sessions.find(session_id);
        if (it == sessions.end()) return;
    }
    on_session_event(method, session_id, it->second, params);
}

void DevToolsClient::Impl::on_session_event(const std::string& method,
                                            const std::string& session_id, SessionState& s,
                                            const Object::Ptr& params) {
    if (method == "Fetch.requestPaused") {
        // Only our own interception (intercept_documents); the owner answers the rest.
        const bool response_stage =
            params->has("responseStatusCode") || params->has("responseErrorReason");
        if (response_stage && s.raw_only)
            on_response_paused(session_id, s, params);
        else if (!s.hint_headers.empty() || s.rules_set)
            on_request_paused(session_id, s, params);
    } else if (method == "Network.responseReceivedExtraInfo") {
        on_extra_info(session_id, s, params);
    } else if (method == "Network.loadingFinished" || method == "Network.loadingFailed") {
        on_loading_done(session_id, s, str_field(params, "requestId"));
    } else if (method == "Network.requestWillBeSent") {
        on_request_will_be_sent(session_id, s, params);
    } else if (method == "Network.responseReceived") {
        if (str_field(params, "type") != "Document") return;
        if (str_field(params, "frameId") != s.main_frame_id) return;
        queue_document(session_id, s, str_field(params, "requestId"),
                       to_document_response(obj_field(params, "response"), s.main_frame_id, false));
    }
}

// Kept for every request (the type is unknown here and it often precedes requestWillBeSent);
// dropped on loadingFinished/Failed, and bounded.
void DevToolsClient::Impl::on_extra_info(const std::string& session_id, SessionState& s,
                                         const Object::Ptr& params) {
    const std::string request_id = str_field(params, "requestId");
    if (s.extra_info.size() >= kMaxExtraInfo) s.extra_info.erase(s.extra_info.begin());
    s.extra_info[request_id].push_back(params);
    for (auto& out : s.outq) {
        if (out.complete || out.request_id != request_id) continue;
        out.complete = merge_extra_info(s, request_id, out.r);
        break;
    }
    flush_documents(session_id);
}

void DevToolsClient::Impl::on_loading_done(const std::string& session_id, SessionState& s,
                                           const std::string& request_id) {
    s.inflight.erase(request_id);
    s.inflight_count->store(static_cast<int>(s.inflight.size()));
    s.extra_info.erase(request_id);
    bool waiting = false;
    for (auto& out : s.outq) {
        if (out.request_id == request_id && !out.complete) waiting = out.complete = true;
    }
    if (waiting) flush_documents(session_id);
}

void DevToolsClient::Impl::on_request_will_be_sent(const std::string& session_id, SessionState& s,
                                                   const Object::Ptr& params) {
    const std::string request_id = str_field(params, "requestId");
    const bool main_document =
        str_field(params, "type") == "Document" && str_field(params, "frameId") == s.main_frame_id;
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
}

}  // namespace byparr::browser
