#include "core/plugin_marshal.h"

#include <algorithm>
#include <cstring>

namespace byparr {

std::string from_view(byparr_str s) {
    return s.data ? std::string(s.data, s.len) : std::string();
}
byparr_str view(const std::string& s) {
    return byparr_str{s.data(), s.size()};
}

namespace {

ResultSink* cs(void* ctx) {
    return static_cast<ResultSink*>(ctx);
}

// Writer callbacks. They lock because an abandoned call may still write while the
// request thread has moved on (it no longer reads, but the state must stay sane).
void w_url(void* c, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.url = from_view(v);
}
void w_status(void* c, int32_t s) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.status = s;
}
void w_ua(void* c, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.user_agent = from_view(v);
}
void w_response(void* c, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.response = from_view(v);
    cs(c)->solution.has_response = true;
}
void w_response_bytes(void* c, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.response = from_view(v);
    cs(c)->solution.has_response = true;
    cs(c)->solution.response_binary = true;
}
void w_header(void* c, byparr_str k, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.headers.emplace_back(from_view(k), from_view(v));
}
void w_cookie(void* c, const byparr_cookie* k) {
    if (k == nullptr) return;
    byparr_cookie x{};
    std::memcpy(&x, k, std::min<size_t>(k->struct_size, sizeof x));
    Cookie out{from_view(x.name),      from_view(x.value), from_view(x.domain), from_view(x.path),
               from_view(x.same_site), x.expires_s,        x.http_only,         x.secure};
    if (out.path.empty()) out.path.push_back('/');  // not = "/": GCC 12 warns falsely (-Wrestrict)
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.cookies.push_back(std::move(out));
}
void w_screenshot(void* c, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.screenshot = from_view(v);
}
void w_turnstile(void* c, byparr_str v) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.turnstile_token = from_view(v);
}
void w_challenge(void* c, byparr_str rule, byparr_str kind) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->solution.challenge = true;
    cs(c)->solution.challenge_rule = from_view(rule);
    cs(c)->solution.challenge_kind = from_view(kind);
}
void w_error(void* c, byparr_error_kind kind, byparr_str msg) {
    std::lock_guard l(cs(c)->mu);
    cs(c)->has_error = true;
    cs(c)->error_kind = kind;
    cs(c)->error = from_view(msg);
}
bool is_cancelled(void* c) {
    return cs(c)->cancelled.load();
}

}  // namespace

byparr_result_writer result_writer(ResultSink* state) {
    return byparr_result_writer{sizeof(byparr_result_writer),
                                state,
                                &w_url,
                                &w_status,
                                &w_ua,
                                &w_response,
                                &w_header,
                                &w_cookie,
                                &w_screenshot,
                                &w_turnstile,
                                &w_challenge,
                                &w_error,
                                &w_response_bytes};
}

namespace {

void l_add(void* c, byparr_str v) {
    auto* s = static_cast<ListSink*>(c);
    std::lock_guard l(s->mu);
    s->items.push_back(from_view(v));
}
void l_error(void* c, byparr_error_kind k, byparr_str m) {
    auto* s = static_cast<ListSink*>(c);
    std::lock_guard l(s->mu);
    s->has_error = true;
    s->kind = k;
    s->error = from_view(m);
}

}  // namespace

byparr_list_writer list_writer(ListSink* s) {
    return byparr_list_writer{sizeof(byparr_list_writer), s, &l_add, &l_error};
}

namespace {

void m_add(void* c, byparr_metric_kind kind, byparr_str sample) {
    auto* s = static_cast<MetricSink*>(c);
    std::lock_guard l(s->mu);
    s->samples.emplace_back(kind, from_view(sample));
}

}  // namespace

byparr_metric_writer metric_writer(MetricSink* s) {
    return byparr_metric_writer{sizeof(byparr_metric_writer), s, &m_add};
}

std::shared_ptr<SolveJob> make_solve_job(const SolveRequest& r, uint32_t budget_ms,
                                         uint32_t extra_flags, ResultSink* state) {
    auto job = std::make_shared<SolveJob>();
    job->req = r;
    for (const auto& k : job->req.cookies) {
        byparr_cookie x{};
        x.struct_size = sizeof x;
        x.name = view(k.name);
        x.value = view(k.value);
        x.domain = view(k.domain);
        x.path = view(k.path);
        x.same_site = view(k.same_site);
        x.expires_s = k.expires_s;
        x.http_only = k.http_only;
        x.secure = k.secure;
        job->cookies.push_back(x);
    }
    auto& q = job->creq;
    q.struct_size = sizeof q;
    q.method = job->req.cmd == Command::kRequestPost ? BYPARR_METHOD_POST : BYPARR_METHOD_GET;
    q.url = view(job->req.url);
    q.post_data = view(job->req.post_data);
    q.session_id = view(job->req.session);
    q.request_id = view(job->req.request_id);
    q.user_agent = view(job->req.user_agent);
    q.proxy = byparr_proxy{sizeof(byparr_proxy), view(job->req.proxy.url),
                           view(job->req.proxy.username), view(job->req.proxy.password)};
    q.cookies = job->cookies.empty() ? nullptr : job->cookies.data();
    q.cookie_count = job->cookies.size();
    q.flags = job->req.flags | extra_flags;
    q.timeout_ms = budget_ms;
    q.wait_after_ms = job->req.wait_ms;
    q.session_ttl_ms = job->req.session_ttl_ms;
    q.is_cancelled = &is_cancelled;
    q.cancel_ctx = state;
    q.timezone = view(job->req.proxy.timezone);
    for (const auto& h : job->req.ext.headers)
        job->headers.push_back(byparr_header{sizeof(byparr_header), view(h.name), view(h.value)});
    q.headers = job->headers.empty() ? nullptr : job->headers.data();
    q.header_count = job->headers.size();
    q.header_scope = job->req.ext.header_scope == HeaderScope::kSite ? BYPARR_HEADERS_SITE
                                                                     : BYPARR_HEADERS_DOCUMENT;
    q.content_type = view(job->req.ext.content_type);
    q.tabs_till_verify = static_cast<uint32_t>(std::max(0, job->req.ext.tabs_till_verify));
    job->writer = result_writer(state);
    return job;
}

}  // namespace byparr
