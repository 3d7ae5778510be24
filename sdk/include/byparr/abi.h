/*
 * Byparr plugin ABI, major version 1.
 *
 * This header is the whole contract between the Byparr host and a plugin. It is
 * pure C (stdint/stddef/stdbool only) so that a plugin may be built with another
 * compiler or C++ standard library than the host.
 *
 * Rules that keep the boundary stable:
 *  - Every struct that crosses it starts with `uint32_t struct_size`, set by the
 *    side that owns it to sizeof(struct) as *it* was compiled. The reader copies
 *    min(struct_size, sizeof known) into a zeroed struct, so structs only ever grow
 *    by appending fields within a major version. Reordering or removing a field
 *    means a new major and a new entry symbol name (byparr_plugin_query_v2).
 *  - Zero is never a valid enum value, so a zero-filled (absent) field means "not set".
 *  - Strings cross as borrowed views (byparr_str): not NUL-terminated, valid only
 *    for the duration of the call that passes them. Copy what you keep.
 *  - Results go out through host-owned writer callbacks: neither side ever frees
 *    memory the other allocated.
 *  - No C++ exception may cross this boundary (the C++ wrapper catches them).
 *  - Units are in names (timeout_ms, expires_s).
 */
#ifndef BYPARR_ABI_H
#define BYPARR_ABI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** ABI major: a plugin built against another major is refused. */
#define BYPARR_ABI_MAJOR 1
/** ABI minor: a plugin built against a newer minor than the host is refused;
 *  an older minor is accepted (its structs are shorter and zero-extended). */
#define BYPARR_ABI_MINOR 2

/** The exported entry symbol of major 1. */
#define BYPARR_ENTRY_SYMBOL_V1 "byparr_plugin_query_v1"

#if defined(_WIN32)
#define BYPARR_EXPORT __declspec(dllexport)
#else
#define BYPARR_EXPORT __attribute__((visibility("default")))
#endif

/** A borrowed, not NUL-terminated string view. {NULL, 0} is the empty/absent string.
 *  Lifetime: valid only during the call in which it is passed. */
typedef struct byparr_str {
    const char* data;
    size_t len;
} byparr_str;

/** Log severities (host maps them to its LOG_LEVEL). */
typedef enum byparr_log_level {
    BYPARR_LOG_DEBUG = 1,
    BYPARR_LOG_INFO = 2,
    BYPARR_LOG_WARNING = 3,
    BYPARR_LOG_ERROR = 4
} byparr_log_level;

/** What a component call concluded. */
typedef enum byparr_outcome {
    /** The component produced a result (a solution, cookies, a proxy, a session op done). */
    BYPARR_OUTCOME_OK = 1,
    /** The component does not handle this request; the host passes it to the next one. */
    BYPARR_OUTCOME_NOT_APPLICABLE = 2,
    /** It tried and failed; the error writer says why (byparr_error_kind). */
    BYPARR_OUTCOME_FAILED = 3
} byparr_outcome;

/** Why a call failed; decides the client message and whether the chain goes on.
 *  A solver that fails on a page still showing a challenge names it with
 *  set_challenge() before returning: with TIMEOUT at a deadline the host cut short
 *  (ESCALATE_AFTER), or with UNSUPPORTED (the page's bot check rejected this
 *  engine), the host hands the rest of the request's time to the next solver of
 *  the chain; UNSUPPORTED with a challenge does not count against the circuit
 *  breaker. */
typedef enum byparr_error_kind {
    BYPARR_ERROR_INTERNAL = 1,        /**< a bug or unexpected state; chain goes on */
    BYPARR_ERROR_TIMEOUT = 2,         /**< the deadline passed; chain stops (see above) */
    BYPARR_ERROR_BLOCKED = 3,         /**< the site blocks this client (e.g. Cloudflare 1020) */
    BYPARR_ERROR_CAPTCHA = 4,         /**< a captcha that needs a person or a captcha solver */
    BYPARR_ERROR_NETWORK = 5,         /**< DNS, connect, TLS failure */
    BYPARR_ERROR_PROXY = 6,           /**< the proxy refused or failed */
    BYPARR_ERROR_INVALID_REQUEST = 7, /**< the request cannot be served as given */
    BYPARR_ERROR_UNKNOWN_SESSION = 8, /**< a named session does not exist */
    BYPARR_ERROR_CANCELLED = 9,       /**< the host cancelled the call (shutdown, client gone) */
    BYPARR_ERROR_UNSUPPORTED = 10     /**< the component cannot do what was asked */
} byparr_error_kind;

/** HTTP method of a solve request. */
typedef enum byparr_method { BYPARR_METHOD_GET = 1, BYPARR_METHOD_POST = 2 } byparr_method;

/** Request flags (bit set). */
enum {
    BYPARR_REQ_RETURN_ONLY_COOKIES = 1u << 0,
    BYPARR_REQ_RETURN_SCREENSHOT = 1u << 1,
    BYPARR_REQ_DISABLE_MEDIA = 1u << 2,
    /** The client named this solver ("solver": "<id>"): answer if at all possible
     *  rather than passing the request on. */
    BYPARR_REQ_NAMED_SOLVER = 1u << 3,
    /** A later solver in the chain takes this request over if this one gives up on
     *  a bot check that failed: fail with BYPARR_ERROR_UNSUPPORTED and set_challenge() as
     *  soon as the check is seen to fail (a challenge that keeps coming back), rather than
     *  spending the budget on it. Without the flag, keep trying until the deadline. A bit
     *  added without a version bump: a plugin that does not know it just keeps trying. */
    BYPARR_REQ_MAY_HAND_OVER = 1u << 4
};

/** A cookie, as given in a request or returned in a result.
 *  All strings are borrowed views (see byparr_str). */
typedef struct byparr_cookie {
    uint32_t struct_size; /**< sizeof(byparr_cookie) as compiled by the writer */
    byparr_str name;
    byparr_str value;
    byparr_str domain;    /**< empty: host-only for the request URL's host */
    byparr_str path;      /**< empty: "/" */
    byparr_str same_site; /**< "Strict", "Lax", "None" or empty (Lax) */
    int64_t expires_s;    /**< epoch seconds; -1 (or 0) for a session cookie */
    bool http_only;
    bool secure;
} byparr_cookie;

/** A proxy. Credentials are secrets: never log them. */
typedef struct byparr_proxy {
    uint32_t struct_size;
    byparr_str url; /**< http://host:port, socks4://, socks5://; empty: no proxy */
    byparr_str username;
    byparr_str password;
} byparr_proxy;

/** Which requests of a page carry the request's headers (ABI 1.2). */
typedef enum byparr_header_scope {
    /** The main document request and its redirects (the default). */
    BYPARR_HEADERS_DOCUMENT = 1,
    /** Every request the page makes to the target URL's site (same registrable domain). */
    BYPARR_HEADERS_SITE = 2
} byparr_header_scope;

/** A request header the client asked to send (ABI 1.2). The host has already refused
 *  the names the browser owns (Host, Content-Length, hop-by-hop, Cookie, User-Agent,
 *  Accept-Language, sec-ch-ua*) and values with line breaks. */
typedef struct byparr_header {
    uint32_t struct_size; /**< sizeof(byparr_header) as compiled by the writer */
    byparr_str name;      /**< as the client spelled it */
    byparr_str value;
} byparr_header;

/** One request as the host validated it. Borrowed for the duration of the call.
 *  Threading: solve() may be called concurrently from several host threads. */
typedef struct byparr_request {
    uint32_t struct_size;
    byparr_method method;
    byparr_str url;               /**< absolute http(s) URL, already validated */
    byparr_str post_data;         /**< application/x-www-form-urlencoded body (POST only) */
    byparr_str session_id;        /**< empty: a fresh, isolated cookie jar */
    byparr_str request_id;        /**< for logs */
    byparr_str user_agent;        /**< a UA this request must keep (cached clearance); empty: any */
    byparr_proxy proxy;           /**< empty url: no proxy */
    const byparr_cookie* cookies; /**< array of cookie_count cookies, each struct_size-tagged */
    size_t cookie_count;
    uint32_t flags;          /**< BYPARR_REQ_* bits */
    uint32_t timeout_ms;     /**< budget from the moment solve() is called */
    uint32_t wait_after_ms;  /**< waitInSeconds * 1000: extra wait after solving */
    uint32_t session_ttl_ms; /**< recreate the named session if older; 0: no limit */
    /** Polled by long-running solvers: returns true once the host gave up on this
     *  request (deadline, shutdown). Thread-safe; cheap; may be called any time
     *  during solve(). */
    bool (*is_cancelled)(void* cancel_ctx);
    void* cancel_ctx;
    /* ABI 1.1 */
    /** The IANA time zone the page should present (Date, Intl), because the request's
     *  proxy named it (its country or zone); empty: the solver's default (TZ). Already
     *  checked to be a zone name; a solver whose engine does not know it fails the
     *  request with BYPARR_ERROR_INVALID_REQUEST. */
    byparr_str timezone;
    /* ABI 1.2 */
    /** Headers to send, in the client's order: array of header_count headers, each
     *  struct_size-tagged (the stride is the first one's struct_size). */
    const byparr_header* headers;
    size_t header_count;
    /** Which requests carry them (byparr_header_scope); 0: BYPARR_HEADERS_DOCUMENT. */
    uint32_t header_scope;
    /** Media type of post_data; empty: application/x-www-form-urlencoded. */
    byparr_str content_type;
    /** FlareSolverr's tabs_till_verify: press Tab this many times, then Space, to reach a
     *  Turnstile widget on the page and report its token (set_turnstile_token); 0: not
     *  asked. */
    uint32_t tabs_till_verify;
} byparr_request;

/** Where a solver writes its result. Host-owned; every function copies its
 *  arguments before returning. Valid only during the solve() call it is passed to;
 *  all functions may be called from any thread during that call, but not concurrently
 *  with each other. */
typedef struct byparr_result_writer {
    uint32_t struct_size;
    void* ctx;
    void (*set_url)(void* ctx, byparr_str final_url);
    void (*set_status)(void* ctx, int32_t http_status);
    void (*set_user_agent)(void* ctx, byparr_str user_agent);
    void (*set_response)(void* ctx, byparr_str html);
    void (*add_header)(void* ctx, byparr_str lower_name, byparr_str value);
    void (*add_cookie)(void* ctx, const byparr_cookie* cookie);
    void (*set_screenshot_png_base64)(void* ctx, byparr_str base64);
    void (*set_turnstile_token)(void* ctx, byparr_str token);
    /** A challenge was seen on the way: rule id and kind (e.g. "cf-just-a-moment",
     *  "cloudflare"). Its presence makes the message "Challenge solved!". */
    void (*set_challenge)(void* ctx, byparr_str rule_id, byparr_str kind);
    /** Set the failure reason; only meaningful with BYPARR_OUTCOME_FAILED. */
    void (*set_error)(void* ctx, byparr_error_kind kind, byparr_str message);
    /* ABI 1.2 */
    /** The final document was not HTML or text (a PDF, an image, a download): its bytes,
     *  in place of set_response. The host returns them base64-encoded with
     *  responseEncoding "base64"; the document's content-type goes in add_header. */
    void (*set_response_bytes)(void* ctx, byparr_str bytes);
} byparr_result_writer;

/** Where a component writes a list of strings (session ids) or an error. Host-owned,
 *  same rules as byparr_result_writer. */
typedef struct byparr_list_writer {
    uint32_t struct_size;
    void* ctx;
    void (*add)(void* ctx, byparr_str item);
    void (*set_error)(void* ctx, byparr_error_kind kind, byparr_str message);
} byparr_list_writer;

/** What a session is created with (ABI 1.1). Borrowed for the duration of the call. */
typedef struct byparr_session_spec {
    uint32_t struct_size;
    byparr_str session_id;
    byparr_proxy proxy; /**< empty url: no proxy */
    /** The IANA time zone the session's pages present (from its proxy); empty: the
     *  solver's default. Every request of the session keeps it. */
    byparr_str timezone;
} byparr_session_spec;

/** What a metric family is (ABI 1.2), so the host writes its Prometheus TYPE from the
 *  plugin's word rather than from the sample's name. */
typedef enum byparr_metric_kind {
    BYPARR_METRIC_COUNTER = 1,  /**< only goes up (restarts, pages served) */
    BYPARR_METRIC_GAUGE = 2,    /**< goes up and down (workers, memory) */
    BYPARR_METRIC_HISTOGRAM = 3 /**< a family's _bucket, _sum and _count samples */
} byparr_metric_kind;

/** Where a solver writes its metric samples (ABI 1.2). Host-owned, same rules as
 *  byparr_list_writer. */
typedef struct byparr_metric_writer {
    uint32_t struct_size;
    void* ctx;
    /** One sample in Prometheus sample syntax without the byparr_ prefix
     *  ("browser_workers 2", "page_seconds_bucket{le=\"1\"} 3"), of a family of
     *  `kind`. A histogram's _bucket, _sum and _count samples all say HISTOGRAM; the
     *  family is the name without that suffix. Every sample of a family must say the
     *  same kind. */
    void (*add)(void* ctx, byparr_metric_kind kind, byparr_str sample);
} byparr_metric_writer;

/** Host settings a component may read at create() time. Borrowed during create(). */
typedef struct byparr_config {
    uint32_t struct_size;
    /** Look up a setting by name (the host's environment-derived configuration, e.g.
     *  "BROWSER_IDLE_TIMEOUT", "LANG", "BYPARR_STATE_DIR"). Returns {NULL,0} when
     *  unset. The view is valid until destroy() of the component. */
    byparr_str (*get)(void* ctx, byparr_str key);
    void* ctx;
    /** Directory that holds the plugin's own files (manifest, helpers). */
    byparr_str plugin_dir;
    /** Writable directory for this plugin's persistent state (created by the host). */
    byparr_str state_dir;
} byparr_config;

/** A solver: turns a request into a page result (and may back sessions).
 *  Lifecycle: create → (solve | session_*)* → shutdown → destroy.
 *  All function pointers except create, destroy and solve may be NULL. */
typedef struct byparr_solver_v1 {
    uint32_t struct_size;
    byparr_str id;          /**< component id, [a-z0-9-], unique in the host */
    byparr_str description; /**< one line for `byparrctl plugins list` */
    /** Create an instance. Called once, on a host thread, before any other call.
     *  Return NULL and write the reason through `error` to refuse.
     *  The host may first call it in a forked child process (a probe, so a create()
     *  that crashes faults the component instead of taking the host down); the child
     *  then calls shutdown and destroy and exits, and the real create() follows in the
     *  host. So create() may run twice per host start, the probe in a copy of a
     *  multithreaded process where only the calling thread exists: it must not leave
     *  state outside the process (lock files, sockets, child processes) that the second
     *  create() trips over. Applies to every component kind's create(). */
    void* (*create)(void* plugin_ctx, const byparr_config* config, const byparr_list_writer* error);
    /** Serve one request. Called concurrently from many host threads. Must return
     *  by request->timeout_ms (plus a small grace); the host abandons calls that do
     *  not, and faults the component. */
    byparr_outcome (*solve)(void* instance, const byparr_request* request,
                            const byparr_result_writer* out);
    /** sessions.create: make a persistent browser context with its own cookies and
     *  the given proxy. Writes nothing on success; OK with `existed` set if it existed. */
    byparr_outcome (*session_create)(void* instance, byparr_str session_id,
                                     const byparr_proxy* proxy, bool* existed,
                                     const byparr_list_writer* error);
    /** sessions.list: add every live session id. */
    byparr_outcome (*session_list)(void* instance, const byparr_list_writer* out);
    /** sessions.destroy. BYPARR_ERROR_UNKNOWN_SESSION when absent. */
    byparr_outcome (*session_destroy)(void* instance, byparr_str session_id,
                                      const byparr_list_writer* error);
    /** Stop work and free external resources (processes) within deadline_ms.
     *  Called once, before destroy, while no other call is running. */
    void (*shutdown)(void* instance, uint32_t deadline_ms);
    /** Free the instance. Called once, last. */
    void (*destroy)(void* instance);
    /** Optional: write "name value" metric lines (Prometheus sample syntax without
     *  the byparr_ prefix, e.g. "browser_workers 2") for /metrics. */
    void (*metrics)(void* instance, const byparr_list_writer* out);
    /** Optional: add the User-Agent this solver sends, if known without starting a
     *  browser (e.g. cached from an earlier start). Used by GET /. Cheap; any thread. */
    void (*user_agent)(void* instance, const byparr_list_writer* out);
    /* ABI 1.1 */
    /** Optional: sessions.create with everything the session keeps (its proxy and time
     *  zone), so the spec can grow where session_create's arguments cannot. The host
     *  calls it instead of session_create when set. Same rules as session_create. */
    byparr_outcome (*session_open)(void* instance, const byparr_session_spec* spec, bool* existed,
                                   const byparr_list_writer* error);
    /* ABI 1.2 */
    /** Optional: metrics with their kind declared; the host calls it instead of
     *  `metrics` when set. Any thread; must return quickly (the host abandons a call
     *  that does not, and faults the component). */
    void (*metric_samples)(void* instance, const byparr_metric_writer* out);
} byparr_solver_v1;

/** A cookie source: supplies cookies for a URL before a solver runs (e.g. cookies a
 *  person exported from their browser), and optionally the UA they belong to. */
typedef struct byparr_cookie_source_v1 {
    uint32_t struct_size;
    byparr_str id;
    byparr_str description;
    void* (*create)(void* plugin_ctx, const byparr_config* config, const byparr_list_writer* error);
    /** Write matching cookies through out->add_cookie and the UA through
     *  out->set_user_agent. NOT_APPLICABLE when it has none. Concurrent calls. */
    byparr_outcome (*lookup)(void* instance, byparr_str url, const byparr_result_writer* out);
    void (*shutdown)(void* instance, uint32_t deadline_ms);
    void (*destroy)(void* instance);
} byparr_cookie_source_v1;

/** A proxy provider: picks a proxy for a request that has none. */
typedef struct byparr_proxy_provider_v1 {
    uint32_t struct_size;
    byparr_str id;
    byparr_str description;
    void* (*create)(void* plugin_ctx, const byparr_config* config, const byparr_list_writer* error);
    /** Write the chosen proxy URL (with credentials as userinfo) through out->add.
     *  NOT_APPLICABLE when the pool is empty or all proxies are benched. */
    byparr_outcome (*pick)(void* instance, byparr_str url, const byparr_list_writer* out);
    /** Feedback after the request: outcome OK, or FAILED with the error kind
     *  (BYPARR_ERROR_PROXY / BLOCKED bench the proxy). */
    void (*report)(void* instance, byparr_str proxy_url, byparr_str url, byparr_outcome outcome,
                   byparr_error_kind error);
    void (*shutdown)(void* instance, uint32_t deadline_ms);
    void (*destroy)(void* instance);
} byparr_proxy_provider_v1;

/** A captcha solver: offered a page that a solver classified as a captcha.
 *  Writes a token through out->set_turnstile_token (or cookies) on success. */
typedef struct byparr_captcha_solver_v1 {
    uint32_t struct_size;
    byparr_str id;
    byparr_str description;
    void* (*create)(void* plugin_ctx, const byparr_config* config, const byparr_list_writer* error);
    /** kind: "hcaptcha", "recaptcha", "turnstile"…; site_key may be empty. */
    byparr_outcome (*solve)(void* instance, byparr_str kind, byparr_str page_url,
                            byparr_str site_key, uint32_t timeout_ms,
                            const byparr_result_writer* out);
    void (*shutdown)(void* instance, uint32_t deadline_ms);
    void (*destroy)(void* instance);
} byparr_captcha_solver_v1;

/** The host's services, passed to load(). Host-owned and valid until unload()
 *  returns; the function pointers may be called from any thread. */
typedef struct byparr_host_api_v1 {
    uint32_t struct_size;
    uint32_t abi_major;
    uint32_t abi_minor;
    void* host_ctx;
    /** Log a line under the plugin's id. Never pass secrets above DEBUG. */
    void (*log)(void* host_ctx, byparr_log_level level, byparr_str message);
    /** Register components. Only valid during load(). The host copies the struct
     *  (min(struct_size, known)); the struct itself need not outlive the call, but
     *  the function pointers must stay valid while the library is loaded.
     *  Returns true when accepted; false (and logs why) when refused. */
    bool (*register_solver)(void* host_ctx, const byparr_solver_v1* solver);
    bool (*register_cookie_source)(void* host_ctx, const byparr_cookie_source_v1* source);
    bool (*register_proxy_provider)(void* host_ctx, const byparr_proxy_provider_v1* provider);
    bool (*register_captcha_solver)(void* host_ctx, const byparr_captcha_solver_v1* solver);
} byparr_host_api_v1;

/** What the entry symbol returns: a static description of the module.
 *  Returned by byparr_plugin_query_v1(), which must have no side effects. */
typedef struct byparr_module_v1 {
    uint32_t struct_size;
    uint32_t abi_major;  /**< BYPARR_ABI_MAJOR the plugin was built with */
    uint32_t abi_minor;  /**< BYPARR_ABI_MINOR the plugin was built with */
    const char* id;      /**< NUL-terminated, static; must equal the manifest's id */
    const char* version; /**< NUL-terminated, static; must equal the manifest's version */
    /** Register components through host. Called once, on a host thread, after the
     *  ABI checks. *plugin_ctx is passed back to every create() and to unload().
     *  Return false to refuse loading (nothing registered is kept). */
    bool (*load)(const byparr_host_api_v1* host, void** plugin_ctx);
    /** Called once at host shutdown after every component was destroyed. May be NULL. */
    void (*unload)(void* plugin_ctx);
} byparr_module_v1;

/** The entry symbol's type. Exported with C linkage as "byparr_plugin_query_v1". */
typedef const byparr_module_v1* (*byparr_plugin_query_v1_fn)(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* BYPARR_ABI_H */
