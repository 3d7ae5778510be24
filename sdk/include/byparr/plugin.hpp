// Header-only C++17 wrapper over <byparr/abi.h>, compiled into the plugin.
//
// A plugin author writes ordinary C++ classes (Solver, CookieSource, ProxyProvider,
// CaptchaSolver) and one macro:
//
//     class Hello : public byparr::sdk::Solver { ... };
//     static void register_components(byparr::sdk::Registrar& r) {
//         r.add_solver<Hello>("hello", "Answers every request with a greeting");
//     }
//     BYPARR_PLUGIN(register_components)
//
// The plugin's id and version are compiled in by byparr_add_plugin() (the macros
// BYPARR_PLUGIN_ID and BYPARR_PLUGIN_VERSION), from the same arguments that write
// its manifest, so the two cannot disagree.
//
// Everything that crosses into the host goes through noexcept trampolines that
// catch every exception: a throwing plugin fails its call, it never unwinds into
// the host (which may use another C++ runtime).
#ifndef BYPARR_PLUGIN_HPP
#define BYPARR_PLUGIN_HPP

#include <byparr/abi.h>
#include <byparr/proxy.hpp>
#include <byparr/settings.hpp>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <exception>
#include <limits>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace byparr::sdk {

inline byparr_str view(std::string_view s) noexcept {
    return byparr_str{s.data(), s.size()};
}
inline std::string str(byparr_str s) {
    return s.data ? std::string(s.data, s.len) : std::string();
}

/// Reads a size-tagged struct the way the ABI demands: copy what both sides know,
/// zero the rest. Used for structs the host hands in (it may be older or newer).
template <typename T>
T read_sized(const T* in) noexcept {
    T out;
    std::memset(&out, 0, sizeof out);
    if (in == nullptr) return out;
    size_t n = in->struct_size < sizeof(T) ? in->struct_size : sizeof(T);
    std::memcpy(&out, in, n);
    return out;
}

struct Cookie {
    std::string name, value, domain, path, same_site;
    int64_t expires_s = -1;  // -1: session cookie
    bool http_only = false;
    bool secure = false;
};

// The host's proxy type (byparr/proxy.hpp), under the name plugins have always used.
using Proxy = byparr::Proxy;

/// A request header the client asked to send (ABI 1.2).
struct Header {
    std::string name, value;
};

struct Error {
    byparr_error_kind kind = BYPARR_ERROR_INTERNAL;
    std::string message;
};

/// A request, copied out of the host's borrowed structs so that a solver may keep
/// it past the call (for example to hand it to another thread).
class Request {
  public:
    explicit Request(const byparr_request* r) : started_(std::chrono::steady_clock::now()) {
        byparr_request c = read_sized(r);
        method = c.method == BYPARR_METHOD_POST ? BYPARR_METHOD_POST : BYPARR_METHOD_GET;
        url = str(c.url);
        post_data = str(c.post_data);
        session_id = str(c.session_id);
        request_id = str(c.request_id);
        user_agent = str(c.user_agent);
        byparr_proxy p = read_sized(&c.proxy);
        proxy = Proxy{str(p.url), str(p.username), str(p.password), str(c.timezone)};
        for (size_t i = 0; c.cookies != nullptr && i < c.cookie_count; ++i) {
            // Cookies are size-tagged too, but packed as an array of the writer's
            // struct; the stride is therefore the writer's sizeof, which the first
            // element's struct_size tells.
            const auto* base = reinterpret_cast<const unsigned char*>(c.cookies);
            size_t stride =
                c.cookies[0].struct_size ? c.cookies[0].struct_size : sizeof(byparr_cookie);
            byparr_cookie k = read_sized(reinterpret_cast<const byparr_cookie*>(base + i * stride));
            cookies.push_back(Cookie{str(k.name), str(k.value), str(k.domain), str(k.path),
                                     str(k.same_site), k.expires_s, k.http_only, k.secure});
        }
        for (size_t i = 0; c.headers != nullptr && i < c.header_count; ++i) {
            // Packed like the cookies: the stride is the writer's sizeof.
            const auto* base = reinterpret_cast<const unsigned char*>(c.headers);
            size_t stride =
                c.headers[0].struct_size ? c.headers[0].struct_size : sizeof(byparr_header);
            byparr_header h = read_sized(reinterpret_cast<const byparr_header*>(base + i * stride));
            headers.push_back(Header{str(h.name), str(h.value)});
        }
        header_scope =
            c.header_scope == BYPARR_HEADERS_SITE ? BYPARR_HEADERS_SITE : BYPARR_HEADERS_DOCUMENT;
        content_type = str(c.content_type);
        tabs_till_verify = c.tabs_till_verify;
        flags = c.flags;
        timeout_ms = c.timeout_ms;
        wait_after_ms = c.wait_after_ms;
        session_ttl_ms = c.session_ttl_ms;
        is_cancelled_ = c.is_cancelled;
        cancel_ctx_ = c.cancel_ctx;
    }

    byparr_method method = BYPARR_METHOD_GET;
    std::string url, post_data, session_id, request_id, user_agent;
    Proxy proxy;
    std::vector<Cookie> cookies;
    std::vector<Header> headers;  // ABI 1.2: in the client's order
    byparr_header_scope header_scope = BYPARR_HEADERS_DOCUMENT;
    std::string content_type;  // of post_data; empty: application/x-www-form-urlencoded
    uint32_t tabs_till_verify = 0;
    uint32_t flags = 0;
    uint32_t timeout_ms = 0;
    uint32_t wait_after_ms = 0;
    uint32_t session_ttl_ms = 0;

    bool return_only_cookies() const { return flags & BYPARR_REQ_RETURN_ONLY_COOKIES; }
    bool return_screenshot() const { return flags & BYPARR_REQ_RETURN_SCREENSHOT; }
    bool disable_media() const { return flags & BYPARR_REQ_DISABLE_MEDIA; }
    /// The client asked for this solver by id.
    bool named_solver() const { return flags & BYPARR_REQ_NAMED_SOLVER; }
    /// A later solver takes over if this one reports a failed bot check (abi.h).
    bool may_hand_over() const { return flags & BYPARR_REQ_MAY_HAND_OVER; }
    std::chrono::steady_clock::time_point deadline() const {
        return started_ + std::chrono::milliseconds(timeout_ms);
    }
    /// True once the host gave up on this request. Only valid during solve().
    bool cancelled() const { return is_cancelled_ != nullptr && is_cancelled_(cancel_ctx_); }

  private:
    std::chrono::steady_clock::time_point started_;
    bool (*is_cancelled_)(void*) = nullptr;
    void* cancel_ctx_ = nullptr;
};

/// Writes a solve result into the host. Thin and copy-free: every call copies
/// into host memory before returning.
class Result {
  public:
    explicit Result(const byparr_result_writer* w) : w_(read_sized(w)) {}
    void set_url(std::string_view v) {
        if (w_.set_url) w_.set_url(w_.ctx, view(v));
    }
    void set_status(int status) {
        if (w_.set_status) w_.set_status(w_.ctx, status);
    }
    void set_user_agent(std::string_view v) {
        if (w_.set_user_agent) w_.set_user_agent(w_.ctx, view(v));
    }
    void set_response(std::string_view html) {
        if (w_.set_response) w_.set_response(w_.ctx, view(html));
    }
    /// A final document that is not HTML or text: its bytes (ABI 1.2; a host older than
    /// 1.2 gets nothing, so callers may also set_response a description).
    void set_response_bytes(std::string_view bytes) {
        if (w_.set_response_bytes) w_.set_response_bytes(w_.ctx, view(bytes));
    }
    bool takes_response_bytes() const { return w_.set_response_bytes != nullptr; }
    void add_header(std::string_view lower_name, std::string_view value) {
        if (w_.add_header) w_.add_header(w_.ctx, view(lower_name), view(value));
    }
    void add_cookie(const Cookie& c) {
        if (!w_.add_cookie) return;
        byparr_cookie k{};
        k.struct_size = sizeof k;
        k.name = view(c.name);
        k.value = view(c.value);
        k.domain = view(c.domain);
        k.path = view(c.path);
        k.same_site = view(c.same_site);
        k.expires_s = c.expires_s;
        k.http_only = c.http_only;
        k.secure = c.secure;
        w_.add_cookie(w_.ctx, &k);
    }
    void set_screenshot_png_base64(std::string_view b64) {
        if (w_.set_screenshot_png_base64) w_.set_screenshot_png_base64(w_.ctx, view(b64));
    }
    void set_turnstile_token(std::string_view t) {
        if (w_.set_turnstile_token) w_.set_turnstile_token(w_.ctx, view(t));
    }
    void set_challenge(std::string_view rule_id, std::string_view kind) {
        if (w_.set_challenge) w_.set_challenge(w_.ctx, view(rule_id), view(kind));
    }
    /// Records the failure; return BYPARR_OUTCOME_FAILED from solve() after it.
    byparr_outcome fail(byparr_error_kind kind, std::string_view message) {
        if (w_.set_error) w_.set_error(w_.ctx, kind, view(message));
        return BYPARR_OUTCOME_FAILED;
    }

  private:
    byparr_result_writer w_;
};

/// Host settings available to a component's constructor: the environment variables the
/// plugin declared (byparr_add_plugin(... SETTINGS NAME...)), and only those; an undeclared
/// name reads as unset. The typed getters share one rule (byparr/settings.hpp): unset or
/// empty gives the fallback, an invalid value throws std::invalid_argument naming the
/// setting, which fails create() with that message (the component shows as faulted).
class Config {
  public:
    explicit Config(const byparr_config* c) : c_(read_sized(c)) {}
    /// A setting by name, or `fallback` when unset.
    std::string get(std::string_view key, std::string_view fallback = {}) const {
        if (c_.get == nullptr) return std::string(fallback);
        byparr_str v = c_.get(c_.ctx, view(key));
        return v.data ? std::string(v.data, v.len) : std::string(fallback);
    }
    /// 1/true/yes/on or 0/false/no/off, any case.
    bool get_bool(std::string_view key, bool fallback) const {
        std::string v = get(key);
        bool out = fallback;
        if (!settings::trim(v).empty() && !settings::parse_bool(v, &out))
            invalid(key, v, "a boolean (true/false, yes/no, on/off, 1/0)");
        return out;
    }
    /// A decimal integer within [min, max].
    int64_t get_int(std::string_view key, int64_t fallback,
                    int64_t min = std::numeric_limits<int64_t>::min(),
                    int64_t max = std::numeric_limits<int64_t>::max()) const {
        std::string v = get(key);
        int64_t out = fallback;
        if (!settings::trim(v).empty() && !settings::parse_int(v, min, max, &out))
            invalid(key, v,
                    "an integer from " + std::to_string(min) + " to " + std::to_string(max));
        return out;
    }
    /// A duration: "500ms", "30s", "5m", "2h"; a bare number counts seconds.
    std::chrono::milliseconds get_duration(std::string_view key,
                                           std::chrono::milliseconds fallback) const {
        std::string v = get(key);
        std::chrono::milliseconds out = fallback;
        if (!settings::trim(v).empty() && !settings::parse_duration(v, &out))
            invalid(key, v, "a duration (e.g. 30, 30s, 500ms, 5m, 2h)");
        return out;
    }
    /// A comma-separated list, items trimmed, empty ones dropped; `fallback` when unset.
    std::vector<std::string> get_list(std::string_view key,
                                      std::vector<std::string> fallback = {}) const {
        std::string v = get(key);
        return settings::trim(v).empty() ? fallback : settings::parse_list(v);
    }
    std::string plugin_dir() const { return str(c_.plugin_dir); }
    std::string state_dir() const { return str(c_.state_dir); }

  private:
    [[noreturn]] static void invalid(std::string_view key, const std::string& value,
                                     const std::string& expected) {
        throw std::invalid_argument(std::string(key) + "='" + value + "' is not " + expected);
    }
    byparr_config c_;
};

/// Logging through the host (which applies LOG_LEVEL and format). Valid between
/// load() and unload().
class Log {
  public:
    static void write(byparr_log_level level, std::string_view msg) noexcept {
        const byparr_host_api_v1* h = host();
        if (h != nullptr && h->log != nullptr) h->log(h->host_ctx, level, view(msg));
    }
    static void debug(std::string_view m) noexcept { write(BYPARR_LOG_DEBUG, m); }
    static void info(std::string_view m) noexcept { write(BYPARR_LOG_INFO, m); }
    static void warning(std::string_view m) noexcept { write(BYPARR_LOG_WARNING, m); }
    static void error(std::string_view m) noexcept { write(BYPARR_LOG_ERROR, m); }
    static const byparr_host_api_v1*& host() noexcept {
        static const byparr_host_api_v1* h = nullptr;
        return h;
    }
};

/// One metric sample and the kind of its family (byparr_metric_kind).
struct MetricSample {
    byparr_metric_kind kind = BYPARR_METRIC_GAUGE;
    std::string sample;  // "name{labels} value", without the byparr_ prefix
};

/// What a component offers beyond its kind's required entry points; passed to
/// Registrar::add. Solvers offer sessions unless told otherwise.
struct Features {
    bool sessions = true;
};
/// A solver that keeps no sessions (no browser to keep one in): the host then
/// never picks it for sessions.* and goes on to a solver that can.
inline constexpr Features kNoSessions{false};

inline byparr_outcome unsupported(Error& e, std::string_view what) {
    e.kind = BYPARR_ERROR_UNSUPPORTED;
    e.message = std::string(what) + " is not supported by this component";
    return BYPARR_OUTCOME_FAILED;
}

/// Base of a solver component. Override solve(); sessions are optional.
class Solver {
  public:
    virtual ~Solver() = default;
    virtual byparr_outcome solve(const Request& request, Result& out) = 0;
    virtual byparr_outcome session_create(const std::string& /*id*/, const Proxy& /*proxy*/,
                                          bool& /*existed*/, Error& error) {
        return unsupported(error, "sessions");
    }
    virtual byparr_outcome session_list(std::vector<std::string>& /*ids*/, Error& error) {
        return unsupported(error, "sessions");
    }
    virtual byparr_outcome session_destroy(const std::string& /*id*/, Error& error) {
        return unsupported(error, "sessions");
    }
    virtual void shutdown(uint32_t /*deadline_ms*/) {}
    /// Extra metric samples, e.g. "browser_workers 2" (prefix byparr_ is added), whose
    /// kind is taken from the name: "_total" a counter, anything else a gauge.
    virtual void metrics(std::vector<std::string>& /*lines*/) {}
    /// The same with each sample's kind declared (ABI 1.2); override this one for
    /// counters not named _total, and for histograms. The default reports metrics().
    virtual void metric_samples(std::vector<MetricSample>& samples) {
        std::vector<std::string> lines;
        metrics(lines);
        for (auto& l : lines) {
            std::string_view name = std::string_view(l).substr(0, l.find_first_of("{ "));
            bool counter = name.size() >= 6 && name.substr(name.size() - 6) == "_total";
            samples.push_back(
                {counter ? BYPARR_METRIC_COUNTER : BYPARR_METRIC_GAUGE, std::move(l)});
        }
    }
    /// The UA this solver sends, if known without starting a browser; "" if not.
    virtual std::string user_agent() { return ""; }
};

/// Base of a cookie source.
class CookieSource {
  public:
    virtual ~CookieSource() = default;
    /// Write cookies (and the UA they belong to) for url; NOT_APPLICABLE if none.
    virtual byparr_outcome lookup(const std::string& url, Result& out) = 0;
    virtual void shutdown(uint32_t /*deadline_ms*/) {}
};

/// Base of a proxy provider.
class ProxyProvider {
  public:
    virtual ~ProxyProvider() = default;
    /// Set proxy_url (credentials as userinfo); NOT_APPLICABLE when none is usable.
    virtual byparr_outcome pick(const std::string& url, std::string& proxy_url) = 0;
    virtual void report(const std::string& /*proxy_url*/, const std::string& /*url*/,
                        byparr_outcome /*outcome*/, byparr_error_kind /*error*/) {}
    virtual void shutdown(uint32_t /*deadline_ms*/) {}
};

/// Base of a captcha solver.
class CaptchaSolver {
  public:
    virtual ~CaptchaSolver() = default;
    virtual byparr_outcome solve(const std::string& kind, const std::string& page_url,
                                 const std::string& site_key, uint32_t timeout_ms, Result& out) = 0;
    virtual void shutdown(uint32_t /*deadline_ms*/) {}
};

namespace detail {

inline void write_error(const byparr_list_writer* w, byparr_error_kind kind,
                        std::string_view msg) noexcept {
    byparr_list_writer c = read_sized(w);
    if (c.set_error) c.set_error(c.ctx, kind, view(msg));
}

inline byparr_outcome write_error(const byparr_list_writer* w, const Error& e) noexcept {
    write_error(w, e.kind, e.message);
    return BYPARR_OUTCOME_FAILED;
}

/// Runs f, turning any exception into a FAILED outcome reported through `report`.
template <typename F, typename R>
byparr_outcome guarded(F&& f, R&& report) noexcept {
    try {
        return f();
    } catch (const std::exception& e) {
        report(e.what());
    } catch (...) {
        report("unknown exception");
    }
    return BYPARR_OUTCOME_FAILED;
}

template <typename T>
void* create(void*, const byparr_config* config, const byparr_list_writer* error) noexcept {
    try {
        Config c(config);
        return static_cast<void*>(new T(c));
    } catch (const std::exception& e) {
        write_error(error, BYPARR_ERROR_INTERNAL, std::string("create failed: ") + e.what());
    } catch (...) {
        write_error(error, BYPARR_ERROR_INTERNAL, "create failed: unknown exception");
    }
    return nullptr;
}

template <typename T>
void destroy(void* instance) noexcept {
    try {
        delete static_cast<T*>(instance);
    } catch (...) {  // a throwing destructor must not unwind into the host
    }
}

template <typename T>
void shutdown(void* instance, uint32_t deadline_ms) noexcept {
    try {
        static_cast<T*>(instance)->shutdown(deadline_ms);
    } catch (...) {
    }
}

template <typename T>
byparr_outcome solver_solve(void* instance, const byparr_request* request,
                            const byparr_result_writer* out) noexcept {
    Result result(out);
    return guarded([&] { return static_cast<T*>(instance)->solve(Request(request), result); },
                   [&](std::string_view what) {
                       result.fail(BYPARR_ERROR_INTERNAL,
                                   std::string("solver threw: ") + std::string(what));
                   });
}

template <typename T>
byparr_outcome solver_session_create(void* instance, byparr_str id, const byparr_proxy* proxy,
                                     bool* existed, const byparr_list_writer* error) noexcept {
    return guarded(
        [&] {
            byparr_proxy p = read_sized(proxy);
            Error e;
            bool ex = false;
            byparr_outcome o = static_cast<T*>(instance)->session_create(
                str(id), Proxy{str(p.url), str(p.username), str(p.password), {}}, ex, e);
            if (existed) *existed = ex;
            return o == BYPARR_OUTCOME_FAILED ? write_error(error, e) : o;
        },
        [&](std::string_view what) { write_error(error, BYPARR_ERROR_INTERNAL, what); });
}

template <typename T>
byparr_outcome solver_session_open(void* instance, const byparr_session_spec* spec, bool* existed,
                                   const byparr_list_writer* error) noexcept {
    return guarded(
        [&] {
            byparr_session_spec s = read_sized(spec);
            byparr_proxy p = read_sized(&s.proxy);
            Error e;
            bool ex = false;
            byparr_outcome o = static_cast<T*>(instance)->session_create(
                str(s.session_id),
                Proxy{str(p.url), str(p.username), str(p.password), str(s.timezone)}, ex, e);
            if (existed) *existed = ex;
            return o == BYPARR_OUTCOME_FAILED ? write_error(error, e) : o;
        },
        [&](std::string_view what) { write_error(error, BYPARR_ERROR_INTERNAL, what); });
}

template <typename T>
byparr_outcome solver_session_list(void* instance, const byparr_list_writer* out) noexcept {
    return guarded(
        [&] {
            std::vector<std::string> ids;
            Error e;
            byparr_outcome o = static_cast<T*>(instance)->session_list(ids, e);
            if (o == BYPARR_OUTCOME_FAILED) return write_error(out, e);
            byparr_list_writer w = read_sized(out);
            for (const auto& id : ids)
                if (w.add) w.add(w.ctx, view(id));
            return o;
        },
        [&](std::string_view what) { write_error(out, BYPARR_ERROR_INTERNAL, what); });
}

template <typename T>
byparr_outcome solver_session_destroy(void* instance, byparr_str id,
                                      const byparr_list_writer* error) noexcept {
    return guarded(
        [&] {
            Error e;
            byparr_outcome o = static_cast<T*>(instance)->session_destroy(str(id), e);
            return o == BYPARR_OUTCOME_FAILED ? write_error(error, e) : o;
        },
        [&](std::string_view what) { write_error(error, BYPARR_ERROR_INTERNAL, what); });
}

template <typename T>
void solver_metrics(void* instance, const byparr_list_writer* out) noexcept {
    try {
        std::vector<std::string> lines;
        static_cast<T*>(instance)->metrics(lines);
        byparr_list_writer w = read_sized(out);
        for (const auto& l : lines)
            if (w.add) w.add(w.ctx, view(l));
    } catch (...) {
    }
}

template <typename T>
void solver_metric_samples(void* instance, const byparr_metric_writer* out) noexcept {
    try {
        std::vector<MetricSample> samples;
        static_cast<T*>(instance)->metric_samples(samples);
        byparr_metric_writer w = read_sized(out);
        for (const auto& m : samples)
            if (w.add) w.add(w.ctx, m.kind, view(m.sample));
    } catch (...) {
    }
}

template <typename T>
void solver_user_agent(void* instance, const byparr_list_writer* out) noexcept {
    try {
        std::string ua = static_cast<T*>(instance)->user_agent();
        byparr_list_writer w = read_sized(out);
        if (!ua.empty() && w.add) w.add(w.ctx, view(ua));
    } catch (...) {
    }
}

template <typename T>
byparr_outcome cookie_lookup(void* instance, byparr_str url,
                             const byparr_result_writer* out) noexcept {
    Result result(out);
    return guarded([&] { return static_cast<T*>(instance)->lookup(str(url), result); },
                   [&](std::string_view what) { result.fail(BYPARR_ERROR_INTERNAL, what); });
}

template <typename T>
byparr_outcome proxy_pick(void* instance, byparr_str url, const byparr_list_writer* out) noexcept {
    return guarded(
        [&] {
            std::string proxy;
            byparr_outcome o = static_cast<T*>(instance)->pick(str(url), proxy);
            byparr_list_writer w = read_sized(out);
            if (o == BYPARR_OUTCOME_OK && w.add) w.add(w.ctx, view(proxy));
            return o;
        },
        [&](std::string_view what) { write_error(out, BYPARR_ERROR_INTERNAL, what); });
}

template <typename T>
void proxy_report(void* instance, byparr_str proxy, byparr_str url, byparr_outcome outcome,
                  byparr_error_kind error) noexcept {
    try {
        static_cast<T*>(instance)->report(str(proxy), str(url), outcome, error);
    } catch (...) {
    }
}

template <typename T>
byparr_outcome captcha_solve(void* instance, byparr_str kind, byparr_str page_url,
                             byparr_str site_key, uint32_t timeout_ms,
                             const byparr_result_writer* out) noexcept {
    Result result(out);
    return guarded(
        [&] {
            return static_cast<T*>(instance)->solve(str(kind), str(page_url), str(site_key),
                                                    timeout_ms, result);
        },
        [&](std::string_view what) { result.fail(BYPARR_ERROR_INTERNAL, what); });
}

}  // namespace detail

/// Handed to the plugin's registration function during load(). Each add_* copies
/// the id and description into static storage owned by the plugin, because the
/// host keeps the function pointers (not the strings) for the library's life.
class Registrar {
  public:
    explicit Registrar(const byparr_host_api_v1* host) : host_(host) {}

    /// Registers a component of type T, whose kind follows from its base class
    /// (Solver, CookieSource, ProxyProvider, CaptchaSolver):
    ///     r.add<MySolver>("my-solver", "What it does");
    ///     r.add<ImportSolver>("cookie-import", "...", byparr::sdk::kNoSessions);
    template <typename T>
    bool add(std::string_view id, std::string_view description, Features features = {}) {
        if constexpr (std::is_base_of_v<Solver, T>) {
            byparr_solver_v1 s = common<byparr_solver_v1, T>(id, description);
            s.solve = &detail::solver_solve<T>;
            if (features.sessions) {
                s.session_create = &detail::solver_session_create<T>;
                s.session_list = &detail::solver_session_list<T>;
                s.session_destroy = &detail::solver_session_destroy<T>;
                s.session_open = &detail::solver_session_open<T>;
            }
            s.metrics = &detail::solver_metrics<T>;
            s.metric_samples = &detail::solver_metric_samples<T>;
            s.user_agent = &detail::solver_user_agent<T>;
            return ok(host_->register_solver && host_->register_solver(host_->host_ctx, &s));
        } else if constexpr (std::is_base_of_v<CookieSource, T>) {
            byparr_cookie_source_v1 s = common<byparr_cookie_source_v1, T>(id, description);
            s.lookup = &detail::cookie_lookup<T>;
            return ok(host_->register_cookie_source &&
                      host_->register_cookie_source(host_->host_ctx, &s));
        } else if constexpr (std::is_base_of_v<ProxyProvider, T>) {
            byparr_proxy_provider_v1 s = common<byparr_proxy_provider_v1, T>(id, description);
            s.pick = &detail::proxy_pick<T>;
            s.report = &detail::proxy_report<T>;
            return ok(host_->register_proxy_provider &&
                      host_->register_proxy_provider(host_->host_ctx, &s));
        } else {
            static_assert(
                std::is_base_of_v<CaptchaSolver, T>,
                "T must derive from Solver, CookieSource, ProxyProvider or CaptchaSolver");
            byparr_captcha_solver_v1 s = common<byparr_captcha_solver_v1, T>(id, description);
            s.solve = &detail::captcha_solve<T>;
            return ok(host_->register_captcha_solver &&
                      host_->register_captcha_solver(host_->host_ctx, &s));
        }
    }

    // The names before add<T>(); kept so existing plugins build unchanged.
    template <typename T>
    bool add_solver(std::string_view id, std::string_view description) {
        return add<T>(id, description);
    }
    template <typename T>
    bool add_cookie_source(std::string_view id, std::string_view description) {
        return add<T>(id, description);
    }
    template <typename T>
    bool add_proxy_provider(std::string_view id, std::string_view description) {
        return add<T>(id, description);
    }
    template <typename T>
    bool add_captcha_solver(std::string_view id, std::string_view description) {
        return add<T>(id, description);
    }

    bool all_accepted() const { return all_ok_; }

  private:
    // What every component struct starts with: size, id, description and the
    // lifecycle verbs every kind has.
    template <typename S, typename T>
    S common(std::string_view id, std::string_view description) {
        S s{};
        s.struct_size = sizeof s;
        s.id = keep(id);
        s.description = keep(description);
        s.create = &detail::create<T>;
        s.shutdown = &detail::shutdown<T>;
        s.destroy = &detail::destroy<T>;
        return s;
    }
    byparr_str keep(std::string_view s) {
        // Static storage: the registry copies the strings, but keeping them alive
        // for the library's life costs nothing and forgives hosts that do not.
        static std::vector<std::unique_ptr<std::string>> strings;
        strings.push_back(std::make_unique<std::string>(s));
        return view(*strings.back());
    }
    bool ok(bool accepted) {
        all_ok_ = all_ok_ && accepted;
        return accepted;
    }
    const byparr_host_api_v1* host_;
    bool all_ok_ = true;
};

}  // namespace byparr::sdk

// A static library of plugin code that several plugins link (in tree: the browser solvers'
// byparr_browser_host) defines BYPARR_PLUGIN_LIBRARY: it has no id of its own, and cannot
// emit the entry symbol, which each plugin does once with BYPARR_PLUGIN.
#ifndef BYPARR_PLUGIN_LIBRARY
#ifndef BYPARR_PLUGIN_ID
#error "BYPARR_PLUGIN_ID is not defined: build plugins with byparr_add_plugin()"
#endif
#ifndef BYPARR_PLUGIN_VERSION
#error "BYPARR_PLUGIN_VERSION is not defined: build plugins with byparr_add_plugin()"
#endif

/// Emits the plugin's entry symbol. `register_fn` is `void(byparr::sdk::Registrar&)`
/// and runs during load(); it may throw to refuse loading.
#define BYPARR_PLUGIN(register_fn)                                                              \
    namespace {                                                                                 \
    bool byparr_plugin_load_(const byparr_host_api_v1* host, void** plugin_ctx) noexcept {      \
        ::byparr::sdk::Log::host() = host;                                                      \
        if (plugin_ctx) *plugin_ctx = nullptr;                                                  \
        try {                                                                                   \
            ::byparr::sdk::Registrar r(host);                                                   \
            register_fn(r);                                                                     \
            return r.all_accepted();                                                            \
        } catch (const std::exception& e) {                                                     \
            ::byparr::sdk::Log::error(std::string("load failed: ") + e.what());                 \
        } catch (...) {                                                                         \
            ::byparr::sdk::Log::error("load failed: unknown exception");                        \
        }                                                                                       \
        return false;                                                                           \
    }                                                                                           \
    void byparr_plugin_unload_(void*) noexcept {                                                \
        ::byparr::sdk::Log::host() = nullptr;                                                   \
    }                                                                                           \
    }                                                                                           \
    extern "C" BYPARR_EXPORT const byparr_module_v1* byparr_plugin_query_v1(void) {             \
        static const byparr_module_v1 module = {sizeof(byparr_module_v1), BYPARR_ABI_MAJOR,     \
                                                BYPARR_ABI_MINOR,         BYPARR_PLUGIN_ID,     \
                                                BYPARR_PLUGIN_VERSION,    &byparr_plugin_load_, \
                                                &byparr_plugin_unload_};                        \
        return &module;                                                                         \
    }
#endif  // BYPARR_PLUGIN_LIBRARY

#endif  // BYPARR_PLUGIN_HPP
