#include "solve_job.h"

#include <algorithm>
#include <climits>
#include <cstdio>

#include <QCoreApplication>
#include <QJsonDocument>
#include <QPointer>
#include <QTimeZone>

#include "worker_options.h"

namespace byparr::browser {

namespace {

// After the main document finished loading, check at once: a JS redirect from an
// inline script or onload has already started its navigation by then (loadStarted /
// urlChanged arrive first and stop us), and one starting while the facts script runs
// is caught in on_facts() (page loading again, or check_again_).
constexpr int kSettleMs = 0;
// A document that can still change itself (scripts, frames, meta refresh, inline
// handlers) is answered once it has been quiet this long: no load, URL or title
// change, no DOM mutation, and no request in flight. Results rendered by fetch/XHR, a
// timer that fills the page 300 ms after load, or a location.replace() scheduled then
// must make it into the answer; a pending timer cannot be seen, so the window has to
// be longer than such timers (500 ms is also what Puppeteer and Playwright call
// "network idle"). A static document cannot change, so it settles at once and pays
// nothing.
constexpr int kLiveQuietMs = 500;
// ...but a page that is no challenge and never goes quiet (a ticking clock, a feed
// that keeps rewriting itself, a long poll, a Cloudflare 5xx page that refreshes
// itself without end) is answered this long after it was first seen complete:
// waiting longer buys nothing, and it must not time out. waitInSeconds adds to it.
constexpr int kLiveMaxWaitMs = 1500;
// While waiting for quiet, look again at least this often (bounded by the cap above,
// and only while a request is in flight: no loop runs once the answer is sent).
constexpr int kLivePollMs = 100;
// The loop guard fires this long after the cap, for pages that are always loading
// and so never get a check in; then it waits this long for a complete document before
// it stops the page.
constexpr int kLoopGuardSlackMs = 100;
// With handOver: the challenge back on this many new documents in a row is a failed check.
// Three, because a check that passes navigates once or twice (a two-stage check, a form
// post and its redirect) before the page it guards.
constexpr int kFailedCheckReloads = 3;
constexpr int kForceStopMs = 500;
// A document whose load event has not come this long after its response is looked at as it
// is: one subresource that never answers (a tracker behind DNS that drops the query, a hung
// CDN) holds the load event for ever, and its page is otherwise there to read. A challenge
// found then goes on as usual; anything else is answered instead of timing out.
constexpr int kLoadStallMs = 3000;
constexpr int kLoadStallRecheckMs = 500;  // its document still arriving: look again this soon
// Mid-load signals (title, URL, cookie) come in bursts: coalesce them briefly.
constexpr int kEventCoalesceMs = 15;
constexpr int kAfterClickMs = 150;        // a click's effect (a POST, a DOM change) takes a moment
constexpr int kChallengeRecheckMs = 500;  // DOM-only challenge progress has no signal
constexpr int kMaxClicks = 6;
// tabs_till_verify: how often the widget's hidden input is read after Space, and for how long
// at most (a real Turnstile answers in 1-3 s; a page without a widget must not hold the
// answer long).
constexpr int kTokenPollMs = 200;
constexpr int kTokenWaitMs = 8000;
constexpr int kDocWaitMs = 300;   // see collect()
constexpr int kClickPollMs = 50;  // widget not visible yet: look again this soon
constexpr int kClickPolls = 40;
constexpr int kCheckLostMs = 1000;  // a facts script unanswered this long is presumed lost
// The reply waits this long at most for the page's cookies (an engine that reads them over
// DevTools); past it the answer goes out without them rather than late.
constexpr int kCookieWaitMs = 200;
// The first click goes as soon as the widget is seen; retries back off (a widget may
// stay disabled for a while and clicking it early does no harm).
constexpr int kClickBackoffMs[] = {0, 500, 1000, 2000};
// A challenge that no click rule names: most pass by themselves within a second or
// two, so the first look for a widget waits that long; then attempts back off.
// Attempts alternate between a trusted click on the widget and Tab + Space (what
// FlareSolverr does since Turnstile moved into a closed shadow root).
constexpr int kGenericFirstMs = 1000;
constexpr int kGenericBackoffMs[] = {1500, 2500, 4000};
constexpr int kGenericMaxAttempts = 8;

// One round trip: everything classify() needs, from an isolated world so the page
// cannot see or intercept it. It also leaves a MutationObserver in that world (one per
// document) so later checks learn how long the DOM has been quiet.
// with_page: also the document itself (doctype + outerHTML) and its readyState, for a page
// that keeps navigating: its answer must be taken in the same turn as its verdict.
QString facts_script(const std::vector<std::string>& selectors,
                     const std::vector<std::string>& markers, bool with_page) {
    QJsonArray sels;
    for (const auto& sel : selectors)
        sels.append(QString::fromStdString(sel));
    QJsonArray marks;
    for (const auto& mark : markers)
        marks.append(QString::fromStdString(mark));
    return QStringLiteral(
               "(function(s,x){var m=[],h=[];for(var i=0;i<s.length;i++){try{if(document."
               "querySelector(s[i]))m.push(s[i]);}catch(e){}}"
               "if(x.length){var src='';try{src=document.documentElement?document."
               "documentElement.outerHTML:'';}catch(e){}"
               "for(var j=0;j<x.length;j++){if(src.indexOf(x[j])>=0)h.push(x[j]);}}"
               "var t='';try{t=document.body?document.body.innerText.slice(0,4096):'';}catch(e){}"
               "var k='';try{var e=document.querySelector('input[name=\"cf-turnstile-response\"]');"
               "if(e&&e.value)k=e.value;}catch(e){}"
               "var l=!!document.querySelector('script,iframe,frame,object,embed,"
               "meta[http-equiv=refresh i],[onload],[onpageshow]');"
               "var w=window;if(!w.__byparrMo){w.__byparrT=performance.now();try{w.__byparrMo="
               "new MutationObserver(function(){w.__byparrT=performance.now();});w.__byparrMo."
               "observe(document,{subtree:true,childList:true,characterData:true,attributes:true"
               "});}catch(e){}}"
               "var r={title:document.title,matched:m,html:h,text:t,token:k,live:l,"
               "quiet:Math.floor(performance.now()-w.__byparrT),ready:document.readyState};"
               "if(%3){var d=document.doctype;r.page=(d?new XMLSerializer().serializeToString(d)"
               ":'')+(document.documentElement?document.documentElement.outerHTML:'');}"
               "return r;})(%1,%2)")
        .arg(QString::fromUtf8(QJsonDocument(sels).toJson(QJsonDocument::Compact)),
             QString::fromUtf8(QJsonDocument(marks).toJson(QJsonDocument::Compact)),
             with_page ? QStringLiteral("true") : QStringLiteral("false"));
}

// A visible interactive element in the challenge area that no rule names, for a page
// that is still a challenge: a checkbox (or the label of a custom-drawn one), an ARIA
// checkbox, a widget iframe, then a button. Returns [x, y, description] of a plausible
// point to click (a widget iframe near its left edge, where Turnstile-like boxes draw
// their checkbox), or null. Links are never candidates: they leave the challenge.
QString widget_script() {
    return QStringLiteral(
        "(function(){function box(e){if(!e||e.disabled)return null;var r=e."
        "getBoundingClientRect();if(r.width<8||r.height<8)return null;var st=getComputedStyle(e);"
        "if(st.visibility==='hidden'||st.display==='none'||+st.opacity===0)return null;return r;}"
        "function name(e){return e.tagName.toLowerCase()+(e.id?'#'+e.id:'')+(e.className&&"
        "typeof e.className==='string'?'.'+e.className.trim().split(/\\s+/).join('.'):'');}"
        "function at(e,r,left){return [left?r.left+Math.min(30,r.width/2):r.left+r.width/2,"
        "r.top+r.height/2,name(e)];}"
        "function find(){var q=document.querySelectorAll('input[type=checkbox]');"
        "for(var i=0;i<q.length;i++){var c=q[i];if(c.disabled)continue;var r=box(c);"
        "if(r)return [c,false];var l=c.closest('label')||(c.id&&document.querySelector("
        "'label[for=\"'+CSS.escape(c.id)+'\"]'));if(l&&box(l))return [l,true];}"
        "var sels=['[role=checkbox]','iframe','button','input[type=button]',"
        "'input[type=submit]','[role=button]'];"
        "for(var j=0;j<sels.length;j++){var n=document.querySelectorAll(sels[j]);"
        "for(var k=0;k<n.length;k++){var e=n[k];if(e.closest('a[href]'))continue;"
        "if(sels[j]==='iframe'&&(e.offsetWidth<30||e.offsetHeight<30))continue;"
        "if(box(e))return [e,sels[j]==='iframe'];}}return null;}"
        "var f=find();if(!f)return null;var e=f[0];e.scrollIntoView({block:'center',"
        "inline:'center'});return at(e,e.getBoundingClientRect(),f[1]);})()");
}

QString rect_script(const QString& selector) {
    QJsonArray arg{selector};
    return QStringLiteral(
               "(function(s){var e=document.querySelector(s);if(!e||e.disabled)return null;"
               "e.scrollIntoView({block:'center',inline:'center'});var r=e.getBoundingClientRect();"
               "if(r.width<=0||r.height<=0)return null;"
               "return [r.left+r.width/2,r.top+r.height/2];})(%1[0])")
        .arg(QString::fromUtf8(QJsonDocument(arg).toJson(QJsonDocument::Compact)));
}

bool is_proxy_error(int code, const QString& text) {
    // net_error_list.h: PROXY_CONNECTION_FAILED, TUNNEL_CONNECTION_FAILED,
    // PROXY_AUTH_UNSUPPORTED, PROXY_AUTH_REQUESTED, PROXY_CERTIFICATE_INVALID,
    // SOCKS_CONNECTION_FAILED, SOCKS_CONNECTION_HOST_UNREACHABLE, PROXY_HTTP_1_1_REQUIRED...
    static const int kProxyCodes[] = {-130, -111, -115, -127, -120, -121, -136, -137, -160, -336};
    for (int c : kProxyCodes) {
        if (c == code) return true;
    }
    return text.contains(QLatin1String("PROXY"), Qt::CaseInsensitive) ||
           text.contains(QLatin1String("SOCKS"), Qt::CaseInsensitive) ||
           text.contains(QLatin1String("TUNNEL"), Qt::CaseInsensitive);
}

bool trace_enabled() {
    static const bool on = qEnvironmentVariableIsSet("BYPARR_WORKER_TRACE");
    return on;
}

bool steps_enabled() {
    // The worker inherits the host's environment; below debug nobody reads these lines.
    static const bool on = qgetenv("LOG_LEVEL").trimmed().toLower() == "debug";
    return on;
}

}  // namespace

bool is_raw_document_type(const QString& mime_type) {
    const QString m = mime_type.trimmed().toLower();
    return !m.isEmpty() && m != QLatin1String("text/html") &&
           m != QLatin1String("application/xhtml+xml");
}

bool is_text_document_type(const QString& mime_type) {
    const QString m = mime_type.trimmed().toLower();
    return m.startsWith(QLatin1String("text/")) || m.endsWith(QLatin1String("json")) ||
           m.endsWith(QLatin1String("+xml")) || m == QLatin1String("application/xml") ||
           m == QLatin1String("application/javascript");
}

RawDocument to_raw_document(const RawResponse& raw) {
    RawDocument doc;
    doc.url = QUrl(QString::fromStdString(raw.url));
    doc.status = raw.status;
    doc.mime_type = QString::fromStdString(raw.mime_type);
    doc.headers = raw.headers;
    doc.body = QByteArray::fromStdString(raw.body);
    doc.text = is_text_document_type(doc.mime_type);
    return doc;
}

namespace {

// The client's headers and their scope (PROTOCOL.md): [{"name", "value"}, ...].
bool parse_headers(const QJsonObject& r, SolveRequest& req, QString* error) {
    if (!r.contains("headers")) return true;
    if (!r.value("headers").isArray()) {
        *error = "'headers' must be an array of {name, value}";
        return false;
    }
    for (const QJsonValue& v : r.value("headers").toArray()) {
        const QJsonObject h = v.toObject();
        const QByteArray name = h.value("name").toString().toUtf8();
        const QByteArray value = h.value("value").toString().toUtf8();
        if (name.isEmpty() || value.contains('\r') || value.contains('\n')) {
            *error = "'headers' has an entry without a name or with a line break";
            return false;
        }
        req.headers.append({name, value});
    }
    const QString scope = r.value("headersScope").toString("document");
    if (scope != "document" && scope != "site") {
        *error = "'headersScope' must be \"document\" or \"site\"";
        return false;
    }
    req.headers_site_wide = scope == "site";
    return true;
}

}  // namespace

bool parse_solve_request(const QJsonObject& r, SolveRequest* out, QString* error) {
    SolveRequest& req = *out;
    const QString url = r.value("url").toString();
    req.url = QUrl(url, QUrl::StrictMode);
    const QString scheme = req.url.scheme().toLower();
    if (url.isEmpty() || !req.url.isValid() || (scheme != "http" && scheme != "https") ||
        req.url.host().isEmpty()) {
        *error = QStringLiteral("'url' must be an http(s) URL: '%1'").arg(url);
        return false;
    }
    const QString method = r.value("method").toString("GET").toUpper();
    if (method != "GET" && method != "POST") {
        *error = QStringLiteral("unsupported method '%1'").arg(method);
        return false;
    }
    req.post = method == "POST";
    req.post_data = r.value("postData").toString().toUtf8();
    req.content_type = r.value("contentType").toString().toUtf8();
    if (!parse_headers(r, req, error)) return false;
    req.tabs_till_verify = std::clamp(r.value("tabsTillVerify").toInt(0), 0, 100);
    const double timeout = r.value("timeoutMs").toDouble(60000);
    req.timeout_ms = timeout >= 1 ? static_cast<qint64>(timeout) : 60000;
    req.session = r.value("session").toString();
    if (r.contains("cookies") && !r.value("cookies").isArray() && !r.value("cookies").isNull()) {
        *error = "'cookies' must be an array";
        return false;
    }
    req.cookies = r.value("cookies").toArray();
    req.return_only_cookies = r.value("returnOnlyCookies").toBool(false);
    req.return_screenshot = r.value("returnScreenshot").toBool(false);
    req.disable_media = r.value("disableMedia").toBool(false);
    req.hand_over = r.value("handOver").toBool(false);
    req.wait_ms = std::max<qint64>(0, static_cast<qint64>(r.value("waitMs").toDouble(0)));
    req.max_response_bytes =
        std::max<qint64>(0, static_cast<qint64>(r.value("maxResponseBytes").toDouble(0)));
    req.request_id = r.value("requestId").toString();
    req.proxy = parse_frame_proxy(r);
    const QString zone = r.value("timezone").toString();
    req.timezone = QString::fromStdString(normalize_timezone(zone.toStdString()));
    // Checked here because Chromium 102 ignores an unknown zone without a word once the page
    // has an override (TZ's), and would present the old zone. The system's zone database
    // stands in for the browser's (both are the IANA list). Not isTimeZoneIdAvailable(): it
    // lists only zone.tab's names, and refused links the browser knows (Europe/Kiev).
    if (!zone.isEmpty() &&
        (req.timezone.isEmpty() || !QTimeZone(req.timezone.toUtf8()).isValid())) {
        *error = QStringLiteral("Unknown time zone '%1'").arg(zone);
        return false;
    }
    return true;
}

Proxy parse_frame_proxy(const QJsonObject& fields) {
    const QJsonObject p = fields.value("proxy").toObject();
    const QString url = p.value("url").toString();
    if (url.isEmpty()) return {};
    return Proxy(url.toStdString(), p.value("username").toString().toStdString(),
                 p.value("password").toString().toStdString());
}

void SolveJob::step(const QString& what) const {
    if (!steps_enabled()) return;
    std::fprintf(
        stderr, "%s: debug: req=%s +%lldms %s\n", qPrintable(QCoreApplication::applicationName()),
        qPrintable(request_.request_id.isEmpty() ? QString::number(serial_) : request_.request_id),
        static_cast<long long>(clock_.elapsed()), qPrintable(what));
}

void SolveJob::trace(const char* what, const QString& detail) const {
    if (!trace_enabled()) return;
    std::fprintf(stderr, "[worker %llu +%lldms] %s %s\n", static_cast<unsigned long long>(serial_),
                 static_cast<long long>(clock_.elapsed()), what, qPrintable(detail));
}

SolveJob::SolveJob(quint64 serial, QJsonValue id, SolveRequest request, const SolveContext& ctx)
    : serial_(serial), id_(std::move(id)), request_(std::move(request)), ctx_(ctx) {
    clock_.start();
    for (QTimer* t :
         {&deadline_timer_, &quiet_timer_, &click_timer_, &wait_timer_, &doc_wait_timer_,
          &generic_timer_, &loop_guard_timer_, &cookie_timer_, &stall_timer_}) {
        t->setSingleShot(true);
        t->setTimerType(Qt::PreciseTimer);
    }
    connect(&doc_wait_timer_, &QTimer::timeout, this, &SolveJob::collect);
    connect(&deadline_timer_, &QTimer::timeout, this, [this] { fail("timeout", "Timeout"); });
    connect(&quiet_timer_, &QTimer::timeout, this, &SolveJob::check);
    connect(&click_timer_, &QTimer::timeout, this, &SolveJob::try_click);
    connect(&wait_timer_, &QTimer::timeout, this, &SolveJob::collect);
    connect(&generic_timer_, &QTimer::timeout, this, &SolveJob::try_generic_widget);
    connect(&loop_guard_timer_, &QTimer::timeout, this, &SolveJob::on_loop_guard);
    connect(&stall_timer_, &QTimer::timeout, this, &SolveJob::on_load_stall);
    token_timer_.setSingleShot(true);
    connect(&token_timer_, &QTimer::timeout, this, &SolveJob::poll_turnstile_token);
    deadline_timer_.start(static_cast<int>(std::clamp<qint64>(request_.timeout_ms, 1, INT_MAX)));
}

SolveJob::~SolveJob() {
    if (surface_) disconnect(surface_.get(), nullptr, this, nullptr);
    surface_.reset();
}

std::unique_ptr<PageDriver> SolveJob::release_reusable_surface() {
    if (!finished_ || !replied_ || !surface_ || phase_ == Phase::kPreparing) return nullptr;
    if (failure_kind_ == QLatin1String("timeout") || failure_kind_ == QLatin1String("internal") ||
        failure_kind_ == QLatin1String("cancelled")) {
        return nullptr;
    }
    if (!surface_->renderer_alive()) return nullptr;
    disconnect(surface_.get(), nullptr, this, nullptr);
    return std::move(surface_);
}

int SolveJob::remaining_ms() const {
    return static_cast<int>(std::max<qint64>(0, request_.timeout_ms - clock_.elapsed()));
}

void SolveJob::start(std::unique_ptr<PageDriver> surface) {
    surface_ = std::move(surface);
    if (surface_->is_ready()) {
        begin();
    } else {
        connect(surface_.get(), &PageDriver::ready, this, &SolveJob::begin);
        connect(surface_.get(), &PageDriver::broken, this, [this] {
            surface_.release()->deleteLater();  // inside its own signal
            if (!finished_) emit surface_lost(serial_);
        });
        surface_->hurry();
    }
}

void SolveJob::begin() {
    if (finished_) return;
    trace("begin", surface_->uses() > 0
                       ? QStringLiteral("on a wiped page, use %1").arg(surface_->uses() + 1)
                       : QString());
    PageDriver* page = surface_.get();
    disconnect(page, &PageDriver::ready, this, nullptr);
    QString err = page->set_request_cookies(request_.cookies, request_.url);
    if (!err.isEmpty()) {
        fail("invalid", err);
        return;
    }
    if (request_.disable_media) page->block_media();
    connect(page, &PageDriver::load_changed, this, &SolveJob::on_loading_changed);
    connect(page, &PageDriver::load_finished, this, [this] {
        trace("loadFinished", {});
        activity_clock_.start();
        surface_->keep_focus();
        schedule_check(kSettleMs);
    });
    connect(page, &PageDriver::url_changed, this, [this] {
        surface_->keep_focus();
        activity_clock_.start();
        if (phase_ == Phase::kLoading) schedule_check(kEventCoalesceMs);
    });
    connect(page, &PageDriver::title_changed, this, [this](const QString& title) {
        trace("title", title);
        activity_clock_.start();
        if (phase_ == Phase::kLoading) schedule_check(kEventCoalesceMs);
    });
    connect(page, &PageDriver::cookie_added, this,
            [this](const QString& name, const QString& domain) {
                if (phase_ == Phase::kLoading && challenge_seen_ &&
                    ctx_.detector->is_clearance_cookie(name.toStdString())) {
                    step(QStringLiteral("clearance cookie %1 set for %2").arg(name, domain));
                    schedule_check(kEventCoalesceMs);
                }
            });
    connect(page, &PageDriver::renderer_gone, this,
            [this](const QString& why) { fail("internal", why); });
    connect(page, &PageDriver::document_response, this, &SolveJob::on_document);
    connect(page, &PageDriver::raw_document, this, &SolveJob::on_raw_document);
    // The request's zone is in effect before its first document exists.
    surface_->set_timezone(request_.timezone, [self = QPointer<SolveJob>(this)](QString error) {
        if (!self || self->finished_) return;
        if (!error.isEmpty()) return self->fail("invalid", error);
        self->navigate();
    });
}

void SolveJob::on_document(const DocumentResponse& doc) {
    trace("document", QStringLiteral("%1 %2").arg(doc.status).arg(QString::fromStdString(doc.url)));
    if (doc.redirect) return;  // a hop: the final document follows
    doc_status_ = doc.status;
    doc_headers_ = doc.headers;
    doc_url_ = QString::fromStdString(doc.url);
    // The guard for a load that never ends (kLoadStallMs); any load event stops it.
    if (phase_ == Phase::kLoading && !challenge_current_) stall_timer_.start(kLoadStallMs);
    // A challenge its response already names (Cloudflare's cf-mitigated: challenge) counts as
    // seen at once: a quick one can pass and reload before the first look at its page, and
    // the answer must still say it was solved (the clearance cache keeps only solved ones).
    // Only challenges: a block or captcha needs the page itself to be final.
    if (!challenge_seen_ && phase_ == Phase::kLoading && ctx_.detector->enabled()) {
        PageFactsIn facts;
        facts.url = doc.url;
        facts.status = doc.status;
        facts.headers = doc.headers;
        const PageMatch match = ctx_.detector->classify(facts);
        if (match.verdict == PageVerdict::kChallenge) {
            challenge_seen_ = true;
            challenge_rule_ = QString::fromStdString(match.rule_id);
            challenge_kind_ = QString::fromStdString(match.kind);
            step(QStringLiteral("challenge rule %1 (%2) named by the response headers")
                     .arg(challenge_rule_, challenge_kind_));
        }
    }
    if (phase_ == Phase::kCollecting && doc_wait_timer_.isActive()) {
        doc_wait_timer_.stop();
        collect();
    }
}

void SolveJob::on_raw_document(const RawDocument& doc) {
    if (finished_ || phase_ == Phase::kPreparing) return;
    step(QStringLiteral("the document is %1 (%2 bytes): answered as it came")
             .arg(doc.mime_type)
             .arg(doc.body.size()));
    for (QTimer* t : {&quiet_timer_, &click_timer_, &wait_timer_, &doc_wait_timer_, &generic_timer_,
                      &loop_guard_timer_, &token_timer_, &stall_timer_})
        t->stop();
    doc_status_ = doc.status;
    http_status_ = doc.status;
    doc_headers_ = doc.headers;
    QJsonObject r = base_result();
    if (doc.url.isValid()) r["url"] = doc.url.toString(QUrl::FullyEncoded);
    if (!request_.return_only_cookies) {
        // One byte past the cap, so the host sees the answer was longer and flags the cut.
        const qint64 cap = request_.max_response_bytes;
        QByteArray body = doc.body;
        if (cap > 0 && body.size() > cap + 1) body.truncate(cap + 1);
        if (doc.text)
            r["html"] = QString::fromUtf8(body);
        else
            r["bodyBase64"] = QString::fromLatin1(body.toBase64());
    }
    r["message"] = challenge_seen_ ? "Challenge solved!" : "Challenge not detected!";
    finished_ = true;
    phase_ = Phase::kCollecting;
    deadline_timer_.stop();
    send_reply(QJsonObject{{"id", id_}, {"ok", true}, {"result", r}});
}

void SolveJob::navigate() {
    if (finished_) return;
    phase_ = Phase::kLoading;
    trace("navigate", request_.url.toString());
    surface_->keep_focus();
    Navigation nav;
    nav.url = request_.url;
    nav.post = request_.post;
    nav.body = request_.post_data;
    nav.content_type = request_.content_type;
    nav.headers = request_.headers;
    nav.site_wide = request_.headers_site_wide;
    surface_->navigate(nav);
}

void SolveJob::on_loading_changed(const LoadEvent& info) {
    using State = LoadEvent::State;
    if (phase_ != Phase::kLoading && phase_ != Phase::kWaiting) return;
    // The surface's about:blank marker may report after we took over; never settle on it.
    if (info.url.scheme() == QLatin1String("about")) return;
    surface_->keep_focus();
    stall_timer_.stop();  // it loads again, or its load ended
    load_status_ = info.state;
    trace("loading", QStringLiteral("status=%1 domain=%2 code=%3 http=%4 %5 %6")
                         .arg(static_cast<int>(info.state))
                         .arg(info.error_domain)
                         .arg(info.error_code)
                         .arg(info.http_status)
                         .arg(info.error_string, info.url.toString()));
    if (info.state == State::kStarted) {
        quiet_timer_.stop();
        net_busy_clock_.invalidate();  // its requests belong to the old document
        if (challenge_current_) {
            ++challenge_reloads_;
            step(
                QStringLiteral("the challenge page navigates (reload %1)").arg(loads_started_ + 1));
        }
        // A page that navigates again before any challenge was seen may be a refresh loop
        // whose loads never complete (a meta refresh of 0 s fires before slow subresources
        // are done): the bounded wait starts now, not at a load end that may never come.
        if (++loads_started_ >= 2 && !challenge_current_ && !live_clock_.isValid()) {
            live_clock_.start();
            loop_guard_timer_.start(kLiveMaxWaitMs + kLoopGuardSlackMs);
        }
        return;
    }
    load_seen_ = true;
    activity_clock_.start();
    if (self_stopped_ && info.state == State::kStopped) {
        // Our own stop (the loop guard): what is on screen is the answer, not a failure.
        schedule_check(kSettleMs);
        return;
    }
    // The bounded wait for a non-challenge page starts with its first complete load,
    // and a guard enforces it even when the page never stops loading long enough for a
    // check (a meta refresh of 0 s that the replayed site answers with itself again).
    if (!challenge_current_ && !live_clock_.isValid()) {
        live_clock_.start();
        loop_guard_timer_.start(kLiveMaxWaitMs + kLoopGuardSlackMs);
    }
    error_domain_ = info.error_domain;
    error_code_ = info.error_code;
    error_string_ = info.error_string;
    if (info.http_status > 0) {
        http_status_ = info.http_status;
    } else if (info.state == State::kSucceeded) {
        // Successful loads without an HTTP status (data:, about:) or pre-6.x behaviour.
        if (http_status_ == 0) http_status_ = 200;
    }
    schedule_check(kSettleMs);
}

void SolveJob::schedule_check(int delay_ms) {
    if (finished_ || phase_ != Phase::kLoading) return;
    quiet_timer_.start(delay_ms);
}

void SolveJob::check() {
    if (finished_ || phase_ != Phase::kLoading) return;
    PageDriver* page = surface_.get();
    // loadFinished/loadingChanged re-arms us. A page that keeps navigating is checked even
    // while loading: the facts say whether the script ran in a complete document.
    if ((page->is_loading() && !force_answer_) || !load_seen_) return;
    if (check_running_ && check_clock_.elapsed() < kCheckLostMs) {
        check_again_ = true;
        quiet_timer_.start(kCheckLostMs);  // in case that answer never comes
        return;
    }
    if (load_status_ == LoadEvent::State::kFailed || load_status_ == LoadEvent::State::kStopped) {
        if (!error_domain_.isEmpty()) {
            QString text = error_string_.isEmpty() ? QStringLiteral("load failed") : error_string_;
            QString msg = QStringLiteral("%1 (%2 error %3) loading %4")
                              .arg(text, error_domain_)
                              .arg(error_code_)
                              .arg(request_.url.toString());
            // With a proxy, failed authentication surfaces as an auth error (or as
            // TOO_MANY_RETRIES when stored credentials keep being refused).
            const bool via_proxy = !ctx_.options->proxy.empty() || !request_.proxy.empty();
            const bool auth_failed =
                error_code_ == -375 || error_code_ == -338 || error_code_ == -323;
            if (via_proxy && auth_failed) msg = "Proxy authentication failed: " + msg;
            // An https target refused by the egress guard ends here: CONNECT failures
            // carry no page, so point at where the reason is.
            if (ctx_.options->egress_guard_port > 0 && error_code_ == -111)
                msg += QStringLiteral(
                    " (the connection went through the BLOCK_PRIVATE_TARGETS "
                    "egress guard; the Byparr log says why it failed)");
            fail(is_proxy_error(error_code_, text) || (via_proxy && auth_failed) ? "proxy"
                                                                                 : "network",
                 msg);
            return;
        }
    }
    if (http_status_ == 407) {
        fail("proxy", "Proxy authentication required (HTTP 407)");
        return;
    }
    if (!ctx_.detector->enabled()) {
        settle();
        return;
    }
    check_running_ = true;
    QPointer<SolveJob> self(this);
    // A check that may be the last (forced, or at the cap of a page that never went quiet)
    // takes the document with it: such a page may have navigated again before a separate
    // toHtml() would run. waitInSeconds answers later, so it takes the page then.
    const bool near_cap =
        live_clock_.isValid() && live_clock_.elapsed() >= kLiveMaxWaitMs - kLivePollMs;
    const bool with_page = (force_answer_ || near_cap || page->lags_behind_page()) &&
                           request_.wait_ms == 0 && !request_.return_only_cookies;
    page->run_isolated(
        facts_script(ctx_.detector->selectors(), ctx_.detector->html_markers(), with_page),
        [self](const QVariant& v) {
            if (!self) return;
            self->check_running_ = false;
            self->on_facts(v);
        });
}

void SolveJob::on_facts(const QVariant& v) {
    if (finished_ || phase_ != Phase::kLoading) return;
    // Something happened meanwhile, or the document went away under the script.
    const QVariantMap m = v.toMap();
    // Forced (the loop guard): a complete document seen by the script counts, even if the
    // next navigation has started since.
    // A driver that learns of loads late may run the script in the next document already,
    // before that has loaded: only a complete one counts.
    const QString ready = m.value("ready").toString();
    const bool complete = ready == QLatin1String("complete");
    // Forced (a page that keeps navigating): a parsed document will do, its subresources
    // need not have finished; such a page may never let one reach "complete" before it goes.
    // But not a blank one: a page caught between a self-reload's commit and its parse (seen
    // with Sucuri's cookie page on chromium) shows no title and no text, and would be
    // answered as an ordinary empty page; the next check sees the document itself.
    const bool blank = m.value("title").toString().isEmpty() &&
                       m.value("text").toString().trimmed().isEmpty() &&
                       m.value("matched").toList().isEmpty() && m.value("html").toList().isEmpty();
    const bool usable =
        force_answer_ ? (complete || ready == QLatin1String("interactive")) && !blank
                      : !surface_->is_loading() && (complete || !surface_->lags_behind_page());
    if (check_again_ || !v.isValid() || !usable) {
        const int delay = check_again_ ? 0 : kEventCoalesceMs;
        check_again_ = false;
        schedule_check(delay);
        return;
    }
    PageFactsIn facts;
    facts.url = surface_->url().toString().toStdString();
    facts.title = m.value("title").toString().toStdString();
    facts.status = http_status_ ? http_status_ : doc_status_;
    facts.headers = doc_headers_;
    for (const auto& s : m.value("matched").toList()) {
        facts.matched_selectors.insert(s.toString().toStdString());
    }
    for (const auto& s : m.value("html").toList()) {
        facts.matched_html.insert(s.toString().toStdString());
    }
    facts.body_text = m.value("text").toString().toStdString();
    trace("facts", QString::fromStdString(facts.title + " | " + facts.body_text).left(600));
    QString token = m.value("token").toString();
    if (!token.isEmpty()) turnstile_token_ = token;
    // BLOCK_PRIVATE_TARGETS: the host's egress guard refused the document (a redirect
    // to a private address, or a name that re-resolved to one). The page title is
    // the fallback for when DevTools headers are not there.
    if (facts.status == 403) {
        auto blocked = doc_headers_.find("x-byparr-blocked");
        if (blocked != doc_headers_.end() || facts.title == "Blocked by Byparr") {
            std::string why = blocked != doc_headers_.end() ? blocked->second : facts.body_text;
            fail("invalid",
                 QString::fromStdString("Refused by BLOCK_PRIVATE_TARGETS at connect time: " + why +
                                        " (loading " + facts.url + ")."));
            return;
        }
    }

    PageMatch match = ctx_.detector->classify(facts);
    const QString rule = QString::fromStdString(match.rule_id);
    const QString verdict_name = match.verdict == PageVerdict::kBlocked ? QStringLiteral("blocked")
                                                                        : QStringLiteral("captcha");
    if (match.verdict == PageVerdict::kBlocked || match.verdict == PageVerdict::kCaptcha) {
        // A marker that a check still running may carry too: final only once the page has
        // shown it for the rule's grace period without moving on.
        if (match.grace_ms > 0 && !force_answer_) {
            if (grace_rule_ != match.rule_id) {
                grace_rule_ = match.rule_id;
                grace_clock_.start();
                step(QStringLiteral("rule %1 (%2) seen; final after %3 ms unless the page "
                                    "moves on")
                         .arg(rule, verdict_name)
                         .arg(match.grace_ms));
            }
            if (grace_clock_.elapsed() < match.grace_ms) {
                challenge_current_ = true;
                live_clock_.invalidate();
                loop_guard_timer_.stop();
                quiet_timer_.start(
                    static_cast<int>(std::max<qint64>(1, match.grace_ms - grace_clock_.elapsed())));
                return;
            }
        }
        step(QStringLiteral("rule %1 (%2): %3")
                 .arg(rule, QString::fromStdString(match.kind), verdict_name));
        if (match.verdict == PageVerdict::kBlocked) {
            fail("blocked", QStringLiteral("Blocked page detected (rule %1)").arg(rule),
                 QJsonObject{{"rule", rule}});
        } else {
            fail("captcha", QStringLiteral("Captcha detected (rule %1)").arg(rule),
                 QJsonObject{{"rule", rule}, {"captchaKind", QString::fromStdString(match.kind)}});
        }
        return;
    }
    grace_rule_.clear();
    if (match.verdict == PageVerdict::kNone) {
        if (complete && !self_stopped_ && m.contains(QStringLiteral("page")))
            last_whole_html_ = m.value("page").toString();
        if (challenge_current_) {
            step(QStringLiteral("challenge gone (now %1)").arg(QString::fromStdString(facts.url)));
            challenge_current_ = false;
            challenge_reloads_ = 0;
        }
        if (!live_clock_.isValid()) {
            live_clock_.start();
            loop_guard_timer_.start(kLiveMaxWaitMs + kLoopGuardSlackMs);
        }
        if (m.value("live").toBool() && !force_answer_ && live_clock_.elapsed() < kLiveMaxWaitMs) {
            // Quiet = no load/URL/title change, no DOM mutation, no request in flight.
            const int inflight = surface_->inflight_requests();
            if (inflight > 0) net_busy_clock_.start();
            qint64 quiet =
                std::min<qint64>(activity_clock_.isValid() ? activity_clock_.elapsed() : 0,
                                 m.value("quiet").toLongLong());
            if (net_busy_clock_.isValid()) quiet = std::min(quiet, net_busy_clock_.elapsed());
            if (quiet < kLiveQuietMs) {
                qint64 next = inflight > 0 ? kLivePollMs : kLiveQuietMs - quiet;
                next = std::min<qint64>(next, kLiveMaxWaitMs - live_clock_.elapsed());
                quiet_timer_.start(static_cast<int>(std::max<qint64>(1, next)));
                return;
            }
        }
        if (m.contains(QStringLiteral("page"))) {
            // A page we had to stop mid-load may show a document cut short: the last one
            // seen whole is the better answer (a page that keeps reloading shows the same).
            forced_html_ = self_stopped_ && !last_whole_html_.isEmpty()
                               ? last_whole_html_
                               : m.value("page").toString();
            has_forced_html_ = true;
        }
        if (force_answer_) {
            step(QStringLiteral("answering a page that kept navigating (status %1)")
                     .arg(facts.status));
        } else if (live_clock_.elapsed() >= kLiveMaxWaitMs) {
            step(QStringLiteral("answering a page that did not go quiet within %1 ms")
                     .arg(kLiveMaxWaitMs));
        }
        settle();
        return;
    }

    // A challenge: the page's own script solves it, a click helps it, or the deadline ends it.
    if (request_.hand_over && challenge_reloads_ >= kFailedCheckReloads) {
        // The check keeps coming back: it rejected this browser. Another engine gets the
        // rest of the budget rather than this one spending it on a loop.
        challenge_seen_ = true;
        challenge_rule_ = rule;
        challenge_kind_ = QString::fromStdString(match.kind);
        step(QStringLiteral("challenge %1 came back on %2 new documents: the bot check failed")
                 .arg(rule)
                 .arg(challenge_reloads_));
        fail("check_failed",
             QStringLiteral("The site's bot check failed: challenge %1 came back %2 times")
                 .arg(rule)
                 .arg(challenge_reloads_),
             QJsonObject{{"rule", rule}});
        return;
    }
    if (!challenge_current_ || challenge_rule_ != rule) {
        step(QStringLiteral("challenge rule %1 (%2)%3")
                 .arg(rule, QString::fromStdString(match.kind),
                      match.click_selector.empty() ? QString() : QStringLiteral(", has a click")));
    }
    challenge_current_ = true;
    force_answer_ = false;
    live_clock_.invalidate();  // the content after it gets its own quiet wait
    loop_guard_timer_.stop();
    if (!challenge_clock_.isValid()) challenge_clock_.start();
    challenge_seen_ = true;
    challenge_rule_ = rule;
    challenge_kind_ = QString::fromStdString(match.kind);
    click_selector_ = QString::fromStdString(match.click_selector);
    if (!click_selector_.isEmpty() && !click_timer_.isActive() && clicks_ < kMaxClicks) {
        int backoff = kClickBackoffMs[std::min<int>(clicks_, std::size(kClickBackoffMs) - 1)];
        click_timer_.start(backoff);
    }
    if (click_selector_.isEmpty()) schedule_generic_widget();
    // The page's own script solves it; events re-check, this catches DOM-only progress.
    quiet_timer_.start(kChallengeRecheckMs);
}

void SolveJob::on_loop_guard() {
    if (finished_ || phase_ != Phase::kLoading || challenge_current_) return;
    if (!force_answer_) {
        // Still no answer after the cap: the page keeps navigating (or checks keep losing the
        // race against its reloads), or its load never ended (on_load_stall()). Answer the
        // next complete (or parsed) document it shows, taking its HTML with its verdict; a
        // challenge still gets the rest of the budget.
        force_answer_ = true;
        check_again_ = false;
        schedule_check(0);
        loop_guard_timer_.start(kForceStopMs);
        return;
    }
    // No complete document came in time (its loads never finish): stop it where it is.
    if (surface_->is_loading()) {
        self_stopped_ = true;
        surface_->freeze();
    }
    schedule_check(0);
}

void SolveJob::on_load_stall() {
    if (finished_ || phase_ != Phase::kLoading || challenge_current_) return;
    // Only a parsed document is there to read: one whose own bytes are still arriving (a
    // response that never ends) is not, and keeps waiting, for the deadline if need be.
    surface_->run_isolated(QStringLiteral("document.readyState"), [self = QPointer<SolveJob>(this)](
                                                                      const QVariant& v) {
        if (!self || self->finished_ || self->phase_ != Phase::kLoading ||
            self->challenge_current_ || self->stall_timer_.isActive())
            return;
        const QString state = v.toString();
        if (state != QLatin1String("interactive") && state != QLatin1String("complete")) {
            self->stall_timer_.start(kLoadStallRecheckMs);
            return;
        }
        self->step(QStringLiteral("the document's load has not ended %1 ms after its "
                                  "response: looked at as it is")
                       .arg(kLoadStallMs));
        self->load_seen_ = true;
        self->on_loop_guard();
    });
}

void SolveJob::schedule_generic_widget() {
    if (generic_timer_.isActive() || generic_attempts_ >= kGenericMaxAttempts) return;
    qint64 due = kGenericFirstMs;
    for (int i = 0; i < generic_attempts_; ++i)
        due += kGenericBackoffMs[std::min<int>(i, std::size(kGenericBackoffMs) - 1)];
    generic_timer_.start(static_cast<int>(std::max<qint64>(0, due - challenge_clock_.elapsed())));
}

void SolveJob::try_generic_widget() {
    if (finished_ || phase_ != Phase::kLoading || !challenge_current_ || !click_selector_.isEmpty())
        return;
    if (surface_->is_loading()) {  // the challenge is moving on by itself
        generic_timer_.start(kClickPollMs * 4);
        return;
    }
    QPointer<SolveJob> self(this);
    surface_->run_isolated(widget_script(), [self](const QVariant& v) {
        if (self) self->act_on_widget(v);
    });
}

void SolveJob::act_on_widget(const QVariant& found) {
    if (finished_ || phase_ != Phase::kLoading || !challenge_current_) return;
    const int attempt = ++generic_attempts_;
    const QVariantList w = found.toList();
    if (w.size() != 3) {
        step(QStringLiteral("attempt %1: no visible widget on the challenge yet").arg(attempt));
    } else if (attempt % 2 == 1) {
        const QPoint p(qRound(w[0].toDouble()), qRound(w[1].toDouble()));
        step(QStringLiteral("attempt %1: trusted click on %2 at %3,%4")
                 .arg(attempt)
                 .arg(w[2].toString())
                 .arg(p.x())
                 .arg(p.y()));
        // A person's pointer arrives from somewhere and rests before pressing.
        surface_->click(p - QPoint(11, 7), p, 80);
        schedule_check(kAfterClickMs);
    } else {
        step(QStringLiteral("attempt %1: Tab + Space (widget %2)")
                 .arg(attempt)
                 .arg(w[2].toString()));
        surface_->tab_space();
        schedule_check(kAfterClickMs);
    }
    schedule_generic_widget();
}

void SolveJob::try_click() {
    if (finished_ || phase_ != Phase::kLoading || click_selector_.isEmpty()) return;
    QPointer<SolveJob> self(this);
    surface_->run_isolated(rect_script(click_selector_), [self](const QVariant& v) {
        if (!self || self->finished_ || self->phase_ != Phase::kLoading) return;
        QVariantList xy = v.toList();
        if (xy.size() != 2) {
            // Not laid out, visible or enabled yet: look again soon rather than at
            // the next re-check, the click is what the challenge waits for.
            self->trace("click", "target not visible yet");
            if (++self->click_polls_ <= kClickPolls) self->click_timer_.start(kClickPollMs);
            return;
        }
        self->trace("click", QStringLiteral("%1,%2").arg(xy[0].toDouble()).arg(xy[1].toDouble()));
        QPoint p(qRound(xy[0].toDouble()), qRound(xy[1].toDouble()));
        self->surface_->click(p - QPoint(7, 5), p, 60);
        ++self->clicks_;
        self->schedule_check(kAfterClickMs);
        if (self->clicks_ < kMaxClicks) {
            int backoff =
                kClickBackoffMs[std::min<int>(self->clicks_, std::size(kClickBackoffMs) - 1)];
            self->click_timer_.start(backoff);
        }
    });
}

void SolveJob::settle() {
    if (finished_) return;
    trace("settled", surface_->url().toString());
    quiet_timer_.stop();
    click_timer_.stop();
    generic_timer_.stop();
    loop_guard_timer_.stop();
    phase_ = Phase::kWaiting;
    if (request_.tabs_till_verify > 0 && !tabs_sent_ && turnstile_token_.isEmpty()) {
        try_tabs_till_verify();  // settles again once the token is there (or not coming)
        return;
    }
    if (request_.wait_ms > 0) {
        wait_timer_.start(static_cast<int>(std::min<qint64>(request_.wait_ms, INT_MAX)));
    } else {
        collect();
    }
}

void SolveJob::try_tabs_till_verify() {
    tabs_sent_ = true;
    step(QStringLiteral("tabs_till_verify: %1 Tab, then Space").arg(request_.tabs_till_verify));
    surface_->keep_focus();
    surface_->tab_space(request_.tabs_till_verify);
    token_polls_ = 0;
    token_timer_.start(kTokenPollMs);
}

void SolveJob::poll_turnstile_token() {
    if (finished_) return;
    // Turnstile writes its token into a hidden input of the host page's form.
    static const QString kScript = QStringLiteral(
        "(() => { const i = document.querySelector('input[name=\"cf-turnstile-response\"]');"
        " return i ? String(i.value || '') : ''; })()");
    QPointer<SolveJob> self(this);
    surface_->run_isolated(kScript, [self](const QVariant& v) {
        if (!self || self->finished_) return;
        const QString token = v.toString();
        if (!token.isEmpty()) {
            self->turnstile_token_ = token;
            self->step(QStringLiteral("turnstile token received (%1 chars)").arg(token.size()));
            self->settle();
            return;
        }
        // Stop waiting in time to answer: the page goes back without a token.
        if (++self->token_polls_ * kTokenPollMs >= kTokenWaitMs ||
            self->remaining_ms() < 2 * kTokenPollMs + 500) {
            self->step("no turnstile token came");
            self->settle();
            return;
        }
        self->token_timer_.start(kTokenPollMs);
    });
}

void SolveJob::collect() {
    if (finished_) return;
    phase_ = Phase::kCollecting;
    // Settling no longer waits out a quiet period, so on a busy machine the page can
    // be done before the DevTools thread has handed over the document's status and
    // headers: give them a moment (they are normally long there).
    if (!doc_waited_ && doc_status_ == 0 && surface_->reports_documents()) {
        doc_waited_ = true;
        trace("waiting", "for the document's headers");
        doc_wait_timer_.start(kDocWaitMs);
        return;
    }
    doc_wait_timer_.stop();
    if (request_.return_only_cookies) {
        complete({});
        return;
    }
    if (has_forced_html_) {  // taken with the verdict: the page has moved on since
        complete(forced_html_);
        return;
    }
    QPointer<SolveJob> self(this);
    surface_->to_html([self](const QString& html) {
        if (self) self->complete(html);
    });
}

QJsonObject SolveJob::base_result() const {
    QJsonObject r;
    QUrl url = surface_ ? surface_->url() : request_.url;
    if (url.isEmpty() || url.scheme() == "about") url = request_.url;
    r["url"] = url.toString(QUrl::FullyEncoded);
    r["status"] = http_status_ ? http_status_ : doc_status_;
    QJsonObject headers;
    for (const auto& [k, v] : doc_headers_) {
        headers[QString::fromStdString(k)] = QString::fromStdString(v);
    }
    r["headers"] = headers;
    r["userAgent"] = ctx_.user_agent;
    QJsonObject challenge{{"detected", challenge_seen_}};
    if (challenge_seen_) {
        challenge["rule"] = challenge_rule_;
        challenge["kind"] = challenge_kind_;
    }
    r["challenge"] = challenge;
    r["cookies"] = QJsonArray();  // send_reply() fills them in
    return r;
}

void SolveJob::complete(const QString& html) {
    if (finished_) return;
    QJsonObject r = base_result();
    if (!request_.return_only_cookies) {
        const qint64 cap = request_.max_response_bytes;
        QByteArray utf8;
        if (cap > 0 && html.size() > cap / 3) utf8 = html.toUtf8();  // may be over the cap
        if (cap > 0 && utf8.size() > cap) {
            // One code point past the cap: the host sees the answer was longer than
            // its limit, cuts it there and says so in the solution.
            qsizetype end = cap + 1;
            while (end < utf8.size() && (static_cast<unsigned char>(utf8[end]) & 0xC0) == 0x80)
                ++end;
            utf8.truncate(end);
            r["html"] = QString::fromUtf8(utf8);
            r["htmlCut"] = true;
        } else {
            r["html"] = html;
        }
    }
    if (!turnstile_token_.isEmpty()) r["turnstileToken"] = turnstile_token_;
    r["message"] = challenge_seen_ ? "Challenge solved!" : "Challenge not detected!";
    finished_ = true;
    deadline_timer_.stop();
    trace("complete", {});
    if (!request_.return_screenshot) {
        send_reply(QJsonObject{{"id", id_}, {"ok", true}, {"result", r}});
        return;
    }
    QPointer<SolveJob> self(this);
    surface_->screenshot([self, r](const QByteArray& png) mutable {
        if (!self) return;
        r["screenshot"] = QString::fromLatin1(png.toBase64());
        self->send_reply(QJsonObject{{"id", self->id_}, {"ok", true}, {"result", r}});
    });
}

void SolveJob::send_reply(QJsonObject msg) {
    if (replied_) return;
    auto finish = [this](QJsonObject m) {
        if (replied_) return;
        replied_ = true;
        cookie_timer_.stop();
        emit reply(m);
        emit done(serial_);
    };
    if (!surface_ || !msg.contains("result")) {
        finish(msg);
        return;
    }
    const QUrl url(msg.value("result").toObject().value("url").toString());
    // Past the wait the answer goes without cookies; a late callback then finds replied_.
    connect(&cookie_timer_, &QTimer::timeout, this, [finish, msg] { finish(msg); });
    cookie_timer_.start(kCookieWaitMs);
    QPointer<SolveJob> self(this);
    surface_->cookies_for(url, [self, finish, msg](const QJsonArray& cookies) mutable {
        if (!self) return;
        self->trace("cookies", QString::number(cookies.size()));
        QJsonObject r = msg.value("result").toObject();
        r["cookies"] = cookies;
        msg["result"] = r;
        finish(msg);
    });
}

void SolveJob::fail(const QString& kind, const QString& message, QJsonObject extra) {
    if (finished_) return;
    finished_ = true;
    failure_kind_ = kind;
    trace("fail", kind + ": " + message);

    for (QTimer* t :
         {&deadline_timer_, &quiet_timer_, &click_timer_, &wait_timer_, &doc_wait_timer_,
          &generic_timer_, &loop_guard_timer_, &token_timer_, &stall_timer_}) {
        t->stop();
    }
    if (surface_ && phase_ != Phase::kPreparing) surface_->stop();
    QJsonObject error{{"kind", kind}, {"message", message}};
    for (auto it = extra.begin(); it != extra.end(); ++it)
        error[it.key()] = it.value();
    QJsonObject msg{{"id", id_}, {"ok", false}, {"error", error}};
    if (surface_ && phase_ != Phase::kPreparing) msg["result"] = base_result();
    send_reply(msg);
}

void SolveJob::abort(const QString& kind, const QString& message) {
    fail(kind, message);
}

}  // namespace byparr::browser
