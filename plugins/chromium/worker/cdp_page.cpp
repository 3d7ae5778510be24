#include "cdp_page.h"

#include <algorithm>
#include <cstdio>
#include <utility>

#include <QJsonArray>
#include <QJsonDocument>
#include <QMetaObject>
#include <QRandomGenerator>

namespace byparr::browser {

namespace {

QString to_json(const QJsonObject& o) {
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

QJsonObject parse_object(const std::string& json) {
    return QJsonDocument::fromJson(QByteArray::fromStdString(json)).object();
}

// Runs fn(page) on the Qt thread, if the page still exists by then; else orphan().
template <typename F, typename G = void (*)()>
void on_qt(
    QObject* router, const std::shared_ptr<QPointer<CdpPage>>& guard, F fn, G orphan = [] {}) {
    QMetaObject::invokeMethod(
        router,
        [guard, fn = std::move(fn), orphan = std::move(orphan)]() mutable {
            if (CdpPage* self = *guard) {
                fn(self);
            } else {
                orphan();
            }
        },
        Qt::QueuedConnection);
}

// net::ERR_* names as DevTools reports them -> Chromium's codes (net_error_list.h), for the
// solve loop's proxy and authentication checks, which Qt WebEngine reports by code.
int net_error_code(const QString& text) {
    static const std::map<QString, int> kCodes = {
        {"net::ERR_ABORTED", -3},
        {"net::ERR_TIMED_OUT", -7},
        {"net::ERR_CONNECTION_CLOSED", -100},
        {"net::ERR_CONNECTION_RESET", -101},
        {"net::ERR_CONNECTION_REFUSED", -102},
        {"net::ERR_NAME_NOT_RESOLVED", -105},
        {"net::ERR_ADDRESS_UNREACHABLE", -109},
        {"net::ERR_TUNNEL_CONNECTION_FAILED", -111},
        {"net::ERR_PROXY_AUTH_UNSUPPORTED", -115},
        {"net::ERR_CONNECTION_TIMED_OUT", -118},
        {"net::ERR_SOCKS_CONNECTION_FAILED", -120},
        {"net::ERR_SOCKS_CONNECTION_HOST_UNREACHABLE", -121},
        {"net::ERR_PROXY_AUTH_REQUESTED", -127},
        {"net::ERR_PROXY_CONNECTION_FAILED", -130},
        {"net::ERR_PROXY_CERTIFICATE_INVALID", -136},
        {"net::ERR_NAME_RESOLUTION_FAILED", -137},
        {"net::ERR_UNEXPECTED_PROXY_AUTH", -323},
        {"net::ERR_EMPTY_RESPONSE", -324},
        {"net::ERR_INVALID_AUTH_CREDENTIALS", -338},
        {"net::ERR_TOO_MANY_RETRIES", -375},
    };
    auto it = kCodes.find(text);
    if (it != kCodes.end()) return it->second;
    if (text.startsWith("net::ERR_CERT_")) return -200;
    return -2;  // ERR_FAILED
}

QString net_error_domain(const QString& text) {
    if (text.contains("NAME_NOT_RESOLVED") || text.contains("NAME_RESOLUTION")) return "dns";
    if (text.startsWith("net::ERR_CERT_") || text.contains("SSL")) return "certificate";
    return "connection";
}

// A DevTools cookie -> the contract's cookie object (PROTOCOL.md "solution").
QJsonObject contract_cookie(const QJsonObject& c) {
    QJsonObject o;
    o["name"] = c.value("name");
    o["value"] = c.value("value");
    o["domain"] = c.value("domain");
    o["path"] = c.value("path");
    const bool session = c.value("session").toBool(true);
    const double expires = c.value("expires").toDouble(-1);
    o["expires"] = session ? -1 : expires;
    o["size"] = c.value("size").toInt();
    o["httpOnly"] = c.value("httpOnly").toBool();
    o["secure"] = c.value("secure").toBool();
    o["session"] = session;
    o["sameSite"] = c.value("sameSite").toString("Lax");
    if (!session) o["expiry"] = static_cast<qint64>(expires);
    return o;
}

}  // namespace

CdpPage::CdpPage(CdpPageOptions options)
    : options_(std::move(options)), guard_(std::make_shared<QPointer<CdpPage>>(this)) {
    setup_timer_.setSingleShot(true);
    stop_timer_.setSingleShot(true);
    connect(&stop_timer_, &QTimer::timeout, this, [this] {
        if (stop_pending_) report_load_end();
    });
    connect(&setup_timer_, &QTimer::timeout, this,
            [this] { fail_setup("the browser did not open a tab in time"); });
    wipe_timer_.setSingleShot(true);
    connect(&wipe_timer_, &QTimer::timeout, this, [this] { wiped_one(false); });
    setup_timer_.start(kCreateTimeoutMs);
    if (!options_.new_context) {
        create_target();
        return;
    }
    QJsonObject c{{"disposeOnDetach", true}};
    if (!options_.proxy_server.empty()) {
        c["proxyServer"] = QString::fromStdString(options_.proxy_server);
        if (!options_.proxy_bypass_list.empty())
            c["proxyBypassList"] = QString::fromStdString(options_.proxy_bypass_list);
    }
    auto guard = guard_;
    QObject* router = options_.router;
    DevToolsClient* client = options_.client;
    client->command(
        "Target.createBrowserContext", to_json(c).toStdString(),
        [guard, router, client](std::string json, std::string error) {
            const std::string id =
                parse_object(json).value("browserContextId").toString().toStdString();
            on_qt(
                router, guard,
                [id, error](CdpPage* self) {
                    if (!error.empty() || id.empty())
                        return self->fail_setup(QStringLiteral("Target.createBrowserContext: %1")
                                                    .arg(QString::fromStdString(error)));
                    self->options_.browser_context_id = id;
                    self->options_.owns_context = true;
                    self->create_target();
                },
                [client, id] {  // the page went first: the context must not stay behind
                    if (!id.empty())
                        client->command("Target.disposeBrowserContext",
                                        "{\"browserContextId\":\"" + id + "\"}",
                                        [](std::string, std::string) {});
                });
        },
        kCreateTimeoutMs);
}

void CdpPage::create_target() {
    QJsonObject p{{"url", "about:blank"}};
    // Its own window (placed and sized in place_window()).
    if (!options_.headless) p["newWindow"] = true;
    if (!options_.browser_context_id.empty())
        p["browserContextId"] = QString::fromStdString(options_.browser_context_id);
    auto guard = guard_;
    QObject* router = options_.router;
    DevToolsClient* client = options_.client;
    client->command(
        "Target.createTarget", to_json(p).toStdString(),
        [guard, router, client](std::string json, std::string error) {
            const std::string id = parse_object(json).value("targetId").toString().toStdString();
            on_qt(
                router, guard,
                [id, error](CdpPage* self) {
                    if (!error.empty() || id.empty())
                        return self->fail_setup(QStringLiteral("Target.createTarget: %1")
                                                    .arg(QString::fromStdString(error)));
                    self->created(id);
                },
                [client, id] {
                    if (!id.empty())
                        client->command("Target.closeTarget", "{\"targetId\":\"" + id + "\"}",
                                        [](std::string, std::string) {});
                });
        },
        kCreateTimeoutMs);
}

CdpPage::~CdpPage() {
    if (session_) session_->detach();
    DevToolsClient* client = options_.client;
    // Disposing of the context closes its tabs and drops everything the site left in it.
    if (options_.owns_context && !options_.browser_context_id.empty()) {
        client->command("Target.disposeBrowserContext",
                        "{\"browserContextId\":\"" + options_.browser_context_id + "\"}",
                        [](std::string, std::string) {});
    } else if (!target_id_.empty()) {
        client->command("Target.closeTarget", "{\"targetId\":\"" + target_id_ + "\"}",
                        [](std::string, std::string) {});
    }
}

void CdpPage::fail_setup(const QString& why) {
    if (ready_ || !failure_.isEmpty()) return;
    failure_ = why;
    alive_ = false;
    setup_timer_.stop();
    emit broken();
}

void CdpPage::created(const std::string& target_id) {
    target_id_ = target_id;
    auto guard = guard_;
    QObject* router = options_.router;
    options_.client->attach_target(
        target_id, options_.identity, kCreateTimeoutMs,
        [guard, router](std::shared_ptr<DevToolsSession> session, std::string error) {
            on_qt(
                router, guard,
                [session, error](CdpPage* self) {
                    if (!session)
                        return self->fail_setup(
                            QStringLiteral("attach: %1").arg(QString::fromStdString(error)));
                    self->attached(session);
                },
                [session] {
                    if (session) session->detach();  // orphaned
                });
        });
}

void CdpPage::attached(std::shared_ptr<DevToolsSession> session) {
    session_ = std::move(session);
    zone_ = options_.identity.timezone;  // attach applied it
    auto guard = guard_;
    QObject* router = options_.router;
    session_->on_event([guard, router](const std::string& method, const std::string& json) {
        on_qt(router, guard,
              [m = QString::fromStdString(method), p = parse_object(json)](CdpPage* self) {
                  self->on_event(m, p);
              });
    });
    // Documents that are not HTML, taken at their response by the session's I/O thread.
    session_->take_raw_responses();
    session_->on_raw_response([guard, router](const RawResponse& raw) {
        RawDocument doc = to_raw_document(raw);
        on_qt(router, guard, [doc](CdpPage* self) { emit self->raw_document(doc); });
    });
    session_->on_document_response([guard, router](const DocumentResponse& doc) {
        on_qt(router, guard, [doc](CdpPage* self) {
            emit self->document_response(doc);
            if (doc.redirect) return;
            self->doc_delivered_ = true;
            if (self->stop_pending_) self->report_load_end();
        });
    });
    // Several windows are open at once and only one has the focus; challenge scripts check
    // document.hasFocus().
    send("Emulation.setFocusEmulationEnabled", {{"enabled", true}});
    send("Inspector.enable", {});
    send("Page.enable", {}, [this](const QJsonObject&, const QString& error) {
        if (!error.isEmpty()) return fail_setup("Page.enable: " + error);
        place_window();
    });
}

// A window Chromium opens over DevTools is not always laid out by the time a page asks for
// outerWidth or screenX (a page read them equal to the inner size and 0 in one run of ten):
// set its bounds and wait for that before the page is ready. Headless has no window.
void CdpPage::place_window() {
    auto done = [this] {
        setup_timer_.stop();
        ready_ = true;
        emit ready();
    };
    if (options_.headless) return done();
    auto guard = guard_;
    QObject* router = options_.router;
    DevToolsClient* client = options_.client;
    const QJsonObject bounds{{"left", options_.window_x},
                             {"top", options_.window_y},
                             {"width", options_.window_width},
                             {"height", options_.window_height},
                             {"windowState", "normal"}};
    client->command("Browser.getWindowForTarget", "{\"targetId\":\"" + target_id_ + "\"}",
                    [guard, router, client, bounds, done](std::string json, std::string) {
                        const int window = parse_object(json).value("windowId").toInt();
                        if (window == 0) return on_qt(router, guard, [done](CdpPage*) { done(); });
                        const QJsonObject p{{"windowId", window}, {"bounds", bounds}};
                        client->command("Browser.setWindowBounds", to_json(p).toStdString(),
                                        [guard, router, done](std::string, std::string) {
                                            on_qt(router, guard, [done](CdpPage*) { done(); });
                                        });
                    });
}

void CdpPage::report_load_end() {
    stop_pending_ = false;
    stop_timer_.stop();
    LoadEvent e;
    e.url = url_;
    e.http_status = doc_status_;
    if (!load_error_.isEmpty()) {
        e.state = LoadEvent::State::kFailed;
        e.error_string = load_error_;
        e.error_code = net_error_code(load_error_);
        e.error_domain = net_error_domain(load_error_);
    } else {
        e.state = LoadEvent::State::kSucceeded;
    }
    emit load_changed(e);
    emit load_finished();
}

void CdpPage::send(const char* method, const QJsonObject& params, Reply cb, int timeout_ms) {
    if (!session_) {
        if (cb) cb({}, QStringLiteral("no DevTools session"));
        return;
    }
    auto guard = guard_;
    QObject* router = options_.router;
    session_->send(
        method, to_json(params).toStdString(),
        [guard, router, cb = std::move(cb)](std::string json, std::string error) {
            if (!cb) return;
            on_qt(router, guard, [cb, json, error](CdpPage*) {
                cb(parse_object(json), QString::fromStdString(error));
            });
        },
        timeout_ms);
}

void CdpPage::on_event(const QString& method, const QJsonObject& p) {
    const QString main = QString::fromStdString(target_id_);  // the main frame's id
    if (method == "Page.frameStartedLoading") {
        // Frozen: what starts now is failed at its request and never replaces the page.
        if (p.value("frameId").toString() != main || !armed_ || frozen_) return;
        loading_ = true;
        LoadEvent e;
        e.state = LoadEvent::State::kStarted;
        e.url = url_;
        emit load_changed(e);
    } else if (method == "Page.frameNavigated") {
        const QJsonObject frame = p.value("frame").toObject();
        if (frame.contains("parentId")) return;
        world_context_ = 0;
        if (wipe_stage_ == WipeStage::kLeaving &&
            frame.value("url").toString() + frame.value("urlFragment").toString() == marker_) {
            wipe_stores();
            return;
        }
        const QString url = frame.value("url").toString() + frame.value("urlFragment").toString();
        // Chromium's error page is not where the client asked to go: keep the URL it asked for.
        if (!url.startsWith("chrome-error:")) url_ = QUrl(url);
        emit url_changed();
    } else if (method == "Page.navigatedWithinDocument") {
        if (p.value("frameId").toString() != main) return;
        // A tab still on about:blank reaches the marker without leaving its document.
        if (wipe_stage_ == WipeStage::kLeaving && p.value("url").toString() == marker_) {
            wipe_stores();
            return;
        }
        url_ = QUrl(p.value("url").toString());
        emit url_changed();
    } else if (method == "Page.frameStoppedLoading") {
        if (p.value("frameId").toString() != main || !loading_ || !armed_) return;
        loading_ = false;
        // The solve classifies the page as soon as it hears of the load end, and rules read
        // the document's headers (cf-mitigated, Server): those come through the DevTools
        // client's own queue, which may still hold them. Wait for them, briefly.
        if (!doc_delivered_ && load_error_.isEmpty()) {
            stop_pending_ = true;
            stop_timer_.start(kHeadersWaitMs);
            return;
        }
        report_load_end();
    } else if (method == "Network.requestWillBeSent") {
        if (p.value("type").toString() != "Document") return;
        // Every frame's, for the wipe: an iframe's origin can store things too.
        const QUrl doc(p.value("request").toObject().value("url").toString());
        if (doc.scheme() == QLatin1String("http") || doc.scheme() == QLatin1String("https"))
            origins_.insert(doc.adjusted(QUrl::RemovePath | QUrl::RemoveQuery |
                                         QUrl::RemoveFragment | QUrl::RemoveUserInfo)
                                .toString());
        if (p.value("frameId").toString() != main || frozen_ || recycling_) return;
        main_requests_.insert(p.value("requestId").toString());
        if (!armed_) {
            // Our navigation's first request: from here its load events are ours. A start
            // that came before it (the frame starts loading as the request goes out) is
            // reported now.
            armed_ = true;
            if (!loading_) {
                loading_ = true;
                LoadEvent e;
                e.url = url_;
                emit load_changed(e);
            }
        }
        // A new navigation (not a redirect hop of the last one) starts with no error.
        if (!p.contains("redirectResponse")) {
            load_error_.clear();
            doc_status_ = 0;
            doc_delivered_ = false;
            stop_pending_ = false;
            stop_timer_.stop();
        }
    } else if (method == "Network.responseReceived") {
        if (p.value("type").toString() != "Document" || p.value("frameId").toString() != main)
            return;
        doc_status_ = p.value("response").toObject().value("status").toInt();
    } else if (method == "Network.loadingFailed") {
        if (!main_requests_.count(p.value("requestId").toString())) return;
        // Cancelled: replaced by another navigation or stopped by us, not a failure.
        if (!p.value("canceled").toBool()) load_error_ = p.value("errorText").toString();
    } else if (method == "Network.responseReceivedExtraInfo") {
        // Set-Cookie is only in the raw headers; a clearance cookie makes the solve look again.
        const QJsonObject h = p.value("headers").toObject();
        for (auto it = h.begin(); it != h.end(); ++it) {
            if (it.key().compare("set-cookie", Qt::CaseInsensitive) != 0) continue;
            for (const QString& line : it.value().toString().split('\n')) {
                const QString name = line.section('=', 0, 0).trimmed();
                if (!name.isEmpty()) emit cookie_added(name, QString());
            }
        }
    } else if (method == "Fetch.requestPaused") {
        on_request_paused(p);
    } else if (method == "Fetch.authRequired") {
        on_auth_required(p);
    } else if (method == "Inspector.targetCrashed") {
        alive_ = false;
        emit renderer_gone(QStringLiteral("Renderer process crashed"));
    } else if (method == "Target.detachedFromTarget") {
        alive_ = false;
        session_.reset();
        emit renderer_gone(QStringLiteral("The browser tab went away (the browser exited?)"));
    }
}

QString CdpPage::set_request_cookies(const QJsonArray& cookies, const QUrl& url) {
    QJsonArray list;
    for (int i = 0; i < cookies.size(); ++i) {
        const QJsonObject c = cookies[i].toObject();
        const QString name = c.value("name").toString();
        if (name.isEmpty()) return QStringLiteral("cookie %1 has no name").arg(i);
        QJsonObject k{{"name", name}, {"value", c.value("value").toString()}};
        if (c.value("domain").toString().isEmpty()) {
            k["url"] = url.toString();
        } else {
            k["domain"] = c.value("domain").toString();
            k["path"] = c.value("path").toString("/");
        }
        k["secure"] = c.value("secure").toBool();
        k["httpOnly"] = c.value("httpOnly").toBool();
        const QString same_site = c.value("sameSite").toString();
        if (same_site == "Strict" || same_site == "Lax" || same_site == "None")
            k["sameSite"] = same_site;
        const double expiry = c.value("expiry").toDouble(c.value("expires").toDouble(-1));
        if (expiry > 0) k["expires"] = expiry;
        list.append(k);
    }
    if (list.isEmpty()) return {};
    setup_step("Network.setCookies", {{"cookies", list}});
    return {};
}

void CdpPage::setup_step(const char* method, const QJsonObject& params) {
    ++pending_setup_;
    // A reply that comes after the page was recycled belongs to an earlier request: it must
    // not count down (or start) the next request's navigation.
    send(method, params,
         [this, method, generation = setup_generation_](const QJsonObject&, const QString& e) {
             if (generation != setup_generation_) return;
             if (!e.isEmpty())
                 std::fprintf(stderr, "byparr-chromium-worker: %s: %s\n", method, qPrintable(e));
             if (--pending_setup_ == 0 && after_setup_) std::exchange(after_setup_, nullptr)();
         });
}

void CdpPage::navigate(const Navigation& nav) {
    url_ = nav.url;
    last_host_ = nav.url.host().toLower();
    armed_ = false;
    loading_ = false;
    stop_pending_ = false;
    stop_timer_.stop();
    load_error_.clear();
    doc_status_ = 0;
    post_pending_ = nav.post;
    post_url_ = nav.url;
    post_body_ = nav.body;
    post_type_ = nav.content_type.isEmpty() ? QByteArray("application/x-www-form-urlencoded")
                                            : nav.content_type;
    headers_ = nav.headers;
    headers_host_ = nav.site_wide && !nav.headers.isEmpty() ? nav.url.host().toLower() : QString();
    const bool auth = !options_.proxy_username.empty();
    QJsonArray patterns;
    // Every request (auth: challenges are only raised while Fetch is on, and
    // on_request_paused() lets them go; site-wide headers: any type may need them).
    if (auth || !headers_host_.isEmpty()) {
        patterns.append(QJsonObject{{"urlPattern", "*"}, {"requestStage", "Request"}});
    } else {
        if (nav.post || !headers_.isEmpty())
            patterns.append(QJsonObject{
                {"urlPattern", "*"}, {"resourceType", "Document"}, {"requestStage", "Request"}});
        if (block_media_) {
            for (const char* type : {"Image", "Media", "Font", "Stylesheet"})
                patterns.append(QJsonObject{
                    {"urlPattern", "*"}, {"resourceType", type}, {"requestStage", "Request"}});
        }
    }
    // Documents at their response: one that is not HTML (a PDF, JSON, a download) is taken
    // whole before Chromium renders it in a viewer or turns the navigation into a download.
    patterns.append(QJsonObject{
        {"urlPattern", "*"}, {"resourceType", "Document"}, {"requestStage", "Response"}});
    setup_step("Fetch.enable", {{"patterns", patterns}, {"handleAuthRequests", auth}});
    // The cookies and interception must be in place before the first request goes out.
    if (pending_setup_ > 0) {
        after_setup_ = [this] { start_navigation(); };
    } else {
        start_navigation();
    }
}

void CdpPage::start_navigation() {
    send("Page.navigate", {{"url", url_.toString(QUrl::FullyEncoded)}},
         [this](const QJsonObject& r, const QString& error) {
             const QString text = error.isEmpty() ? r.value("errorText").toString() : error;
             if (text.isEmpty() || text == "net::ERR_ABORTED") return;
             load_error_ = text;
             // The navigation failed as a whole: report it now rather than wait for the
             // error page's own load events. Its late ones are then ignored (not loading).
             if (!loading_) {
                 LoadEvent started;
                 started.url = url_;
                 emit load_changed(started);
             }
             loading_ = false;
             armed_ = true;
             LoadEvent failed;
             failed.state = LoadEvent::State::kFailed;
             failed.url = url_;
             failed.error_string = text;
             failed.error_code = net_error_code(text);
             failed.error_domain = net_error_domain(text);
             emit load_changed(failed);
             emit load_finished();
         });
}

QJsonArray CdpPage::with_client_headers(const QJsonObject& h,
                                        const QByteArray& content_type) const {
    auto replaced = [&](const QString& name) {
        if (!content_type.isEmpty() && name.compare("content-type", Qt::CaseInsensitive) == 0)
            return true;
        for (const auto& [n, v] : headers_)
            if (name.compare(QString::fromUtf8(n), Qt::CaseInsensitive) == 0) return true;
        return false;
    };
    // The paused request's headers come as a sorted object: back in Chrome's order first.
    std::vector<std::pair<QString, QString>> own;
    for (auto it = h.begin(); it != h.end(); ++it)
        if (!replaced(it.key())) own.emplace_back(it.key(), it.value().toString());
    if (!content_type.isEmpty()) own.emplace_back("Content-Type", QString::fromUtf8(content_type));
    std::stable_sort(own.begin(), own.end(), [](const auto& a, const auto& b) {
        return DevToolsClient::chrome_header_rank(a.first.toStdString()) <
               DevToolsClient::chrome_header_rank(b.first.toStdString());
    });
    QJsonArray headers;
    for (const auto& [name, value] : own)
        headers.append(QJsonObject{{"name", name}, {"value", value}});
    // After the browser's own, in the client's order: they go on the wire in this order.
    for (const auto& [n, v] : headers_)
        headers.append(
            QJsonObject{{"name", QString::fromUtf8(n)}, {"value", QString::fromUtf8(v)}});
    return headers;
}

void CdpPage::on_request_paused(const QJsonObject& p) {
    // Response-stage pauses are the session's (take_raw_responses()).
    if (p.contains("responseStatusCode") || p.contains("responseErrorReason")) return;
    const QString id = p.value("requestId").toString();
    const QString type = p.value("resourceType").toString();
    if (frozen_ && type == "Document") {
        send("Fetch.failRequest", {{"requestId", id}, {"errorReason", "Aborted"}});
        return;
    }
    if (block_media_ &&
        (type == "Image" || type == "Media" || type == "Font" || type == "Stylesheet")) {
        send("Fetch.failRequest", {{"requestId", id}, {"errorReason", "BlockedByClient"}});
        return;
    }
    const QJsonObject request = p.value("request").toObject();
    const QUrl url(request.value("url").toString());
    const QJsonObject h = request.value("headers").toObject();
    if (post_pending_ && type == "Document" && url == post_url_) {
        // Page.navigate can only GET: the first request of the navigation becomes the POST.
        post_pending_ = false;
        send("Fetch.continueRequest", {{"requestId", id},
                                       {"method", "POST"},
                                       {"postData", QString::fromLatin1(post_body_.toBase64())},
                                       {"headers", with_client_headers(h, post_type_)}});
        return;
    }
    // The client's headers: on the main document and its redirect hops, or on every request
    // to the target's host (headersScope "site").
    const bool main_doc =
        type == "Document" && p.value("frameId").toString() == QString::fromStdString(target_id_);
    const bool site = !headers_host_.isEmpty() && url.host().toLower() == headers_host_;
    if (!headers_.isEmpty() && (main_doc || site)) {
        send("Fetch.continueRequest", {{"requestId", id}, {"headers", with_client_headers(h, {})}});
        return;
    }
    send("Fetch.continueRequest", {{"requestId", id}});
}

void CdpPage::on_auth_required(const QJsonObject& p) {
    const QString id = p.value("requestId").toString();
    const bool proxy = p.value("authChallenge").toObject().value("source").toString() == "Proxy";
    // One try per request: refused credentials end in the 407 the solve reports.
    const bool answer = proxy && auth_tries_[id]++ == 0 && !options_.proxy_username.empty();
    QJsonObject response{{"response", answer ? "ProvideCredentials" : "CancelAuth"}};
    if (answer) {
        response["username"] = QString::fromStdString(options_.proxy_username);
        response["password"] = QString::fromStdString(options_.proxy_password);
    }
    send("Fetch.continueWithAuth", {{"requestId", id}, {"authChallengeResponse", response}});
}

void CdpPage::set_timezone(const QString& zone, std::function<void(QString error)> done) {
    const std::string want = zone.isEmpty() ? options_.identity.timezone : zone.toStdString();
    if (want.empty() || want == zone_ || !session_) {
        done(QString());
        return;
    }
    send("Emulation.setTimezoneOverride", {{"timezoneId", QString::fromStdString(want)}},
         [this, want, done](const QJsonObject&, const QString& error) {
             if (error.isEmpty()) zone_ = want;
             done(error.isEmpty() ? QString()
                                  : QStringLiteral("The browser refused time zone '%1': %2")
                                        .arg(QString::fromStdString(want), error));
         });
}

void CdpPage::stop() {
    send("Page.stopLoading", {});
}

// Page.stopLoading alone does not hold a self-refreshing page: its next meta refresh or
// script navigation starts right after. With every document request failed from here, the
// page stays on what it shows, and the solve can answer it.
void CdpPage::freeze() {
    frozen_ = true;
    QJsonArray patterns{QJsonObject{
        {"urlPattern", "*"}, {"resourceType", "Document"}, {"requestStage", "Request"}}};
    if (!options_.proxy_username.empty())
        patterns = QJsonArray{QJsonObject{{"urlPattern", "*"}, {"requestStage", "Request"}}};
    send("Fetch.enable",
         {{"patterns", patterns}, {"handleAuthRequests", !options_.proxy_username.empty()}},
         [this](const QJsonObject&, const QString&) { stop(); });
}

void CdpPage::recycle() {
    ready_ = false;
    recycling_ = true;
    ++uses_;
    wipes_pending_ = 0;
    reset_navigation_state();
    marker_ = QStringLiteral("about:blank#byparr-%1")
                  .arg(QRandomGenerator::global()->generate64(), 16, 16, QLatin1Char('0'));
    wipe_timer_.start(kWipeTimeoutMs);
    // Interception of the last request (POST, proxy authentication, disableMedia, a
    // frozen page) must not hold the next one's requests.
    send("Fetch.disable", {});
    // sessionStorage belongs to the tab, outlives the document, and can only be cleared
    // while a frame of its origin is there: before leaving the page. An origin without a
    // frame now (an earlier redirect hop) fails with "Frame not found": not a failure.
    if (!origins_.empty()) {
        wipe_stage_ = WipeStage::kSessionStorage;
        for (const QString& origin : origins_)
            send_wipe(
                "DOMStorage.clear",
                {{"storageId", QJsonObject{{"securityOrigin", origin}, {"isLocalStorage", false}}}},
                /*must_succeed=*/false);
        return;
    }
    leave_for_blank();
}

void CdpPage::reset_navigation_state() {
    stop_timer_.stop();
    stop_pending_ = false;
    doc_delivered_ = false;
    loading_ = false;
    armed_ = false;
    load_error_.clear();
    doc_status_ = 0;
    main_requests_.clear();
    // world_context_ stays: the document is the same until the wipe leaves it, and the
    // world it already has saves the wipe a Page.createIsolatedWorld round trip.
    ++setup_generation_;
    pending_setup_ = 0;
    after_setup_ = nullptr;
    block_media_ = false;
    post_pending_ = false;
    post_body_.clear();
    post_type_.clear();
    headers_.clear();
    headers_host_.clear();
    frozen_ = false;
    auth_tries_.clear();
}

void CdpPage::leave_for_blank() {
    // The old document must be gone (no script left to set a cookie or store something)
    // before the stores are wiped: Page.frameNavigated to the marker -> wipe_stores().
    wipe_stage_ = WipeStage::kLeaving;
    auto by_browser = [this] {
        send("Page.navigate", {{"url", marker_}}, [this](const QJsonObject& r, const QString& e) {
            if (!e.isEmpty() || r.contains("errorText")) wiped_one(false);
        });
    };
    // Navigated from the page itself, about:blank stays in the site's renderer, which the
    // next request for the site then reuses. From the browser (Page.navigate) it is a new
    // browsing instance: two renderer launches per reuse, ~150 ms of CPU (measured).
    // An error page has no world to run it in: then from the browser after all.
    run_isolated(QStringLiteral("location.replace('%1'),true").arg(marker_),
                 [this, by_browser](const QVariant& v) {
                     if (wipe_stage_ == WipeStage::kLeaving && !v.toBool()) by_browser();
                 });
}

void CdpPage::wipe_stores() {
    if (wipe_stage_ != WipeStage::kLeaving) return;
    wipe_stage_ = WipeStage::kStores;
    wipes_pending_ = 0;
    // Right after a cross-process navigation this can answer "Not attached to an active
    // page"; a page cannot read the entries anyway (only history.length).
    send_wipe("Page.resetNavigationHistory", {}, false);
    // The page's session speaks for its own browser context: these clear that context only.
    send_wipe("Network.clearBrowserCookies", {}, true);
    send_wipe("Network.clearBrowserCache", {}, true);
    for (const QString& origin : origins_)
        send_wipe("Storage.clearDataForOrigin", {{"origin", origin}, {"storageTypes", "all"}},
                  true);
    origins_.clear();
}

void CdpPage::send_wipe(const char* method, const QJsonObject& params, bool must_succeed) {
    ++wipes_pending_;
    send(method, params, [this, must_succeed, method](const QJsonObject&, const QString& error) {
        if (!error.isEmpty() && must_succeed)
            std::fprintf(stderr, "byparr-chromium-worker: wipe: %s: %s\n", method,
                         qPrintable(error));
        wiped_one(error.isEmpty() || !must_succeed);
    });
}

void CdpPage::wiped_one(bool ok) {
    if (!recycling_) return;
    if (!ok) {
        // Isolation cannot be vouched for: the worker discards the page and its context.
        recycling_ = false;
        wipe_stage_ = WipeStage::kNone;
        wipe_timer_.stop();
        alive_ = false;
        failure_ = QStringLiteral("the wipe before reuse was not confirmed");
        emit broken();
        return;
    }
    if (--wipes_pending_ > 0) return;
    if (wipe_stage_ == WipeStage::kSessionStorage) return leave_for_blank();
    if (wipe_stage_ != WipeStage::kStores) return;  // leaving: frameNavigated goes on
    recycling_ = false;
    wipe_stage_ = WipeStage::kNone;
    wipe_timer_.stop();
    url_ = QUrl();
    ready_ = true;
    emit ready();
}

int CdpPage::inflight_requests() const {
    return session_ ? session_->inflight_requests() : -1;
}

void CdpPage::run_isolated(const QString& script, ScriptCallback cb) {
    eval_in_world(script, std::move(cb), false);
}

void CdpPage::eval_in_world(const QString& script, ScriptCallback cb, bool retried) {
    if (!session_) {
        cb(QVariant());
        return;
    }
    if (world_context_ == 0) {
        send("Page.createIsolatedWorld",
             {{"frameId", QString::fromStdString(target_id_)}, {"worldName", "byparr"}},
             [this, script, cb](const QJsonObject& r, const QString& error) {
                 const int ctx = r.value("executionContextId").toInt();
                 if (!error.isEmpty() || ctx == 0) return cb(QVariant());
                 world_context_ = ctx;
                 eval_in_world(script, cb, true);
             });
        return;
    }
    send("Runtime.evaluate",
         {{"expression", script},
          {"contextId", world_context_},
          {"returnByValue", true},
          {"awaitPromise", true}},
         [this, script, cb, retried, ctx = world_context_](const QJsonObject& r,
                                                           const QString& error) {
             if (!error.isEmpty()) {
                 // The document went away with its world: once more in a new one.
                 if (world_context_ == ctx) world_context_ = 0;
                 if (!retried) return eval_in_world(script, cb, true);
                 return cb(QVariant());
             }
             if (r.contains("exceptionDetails")) return cb(QVariant());
             const QJsonObject value = r.value("result").toObject();
             cb(value.contains("value") ? value.value("value").toVariant() : QVariant());
         });
}

void CdpPage::to_html(std::function<void(const QString& html)> cb) {
    run_isolated(QStringLiteral("(function(){var d=document.doctype;return (d?new "
                                "XMLSerializer().serializeToString(d):'')+(document."
                                "documentElement?document.documentElement.outerHTML:'');})()"),
                 [cb](const QVariant& v) { cb(v.toString()); });
}

void CdpPage::screenshot(std::function<void(const QByteArray& png)> cb) {
    send("Page.captureScreenshot", {{"format", "png"}}, [cb](const QJsonObject& r, const QString&) {
        cb(QByteArray::fromBase64(r.value("data").toString().toLatin1()));
    });
}

void CdpPage::click(QPoint from, QPoint at, int hold_ms) {
    auto mouse = [](const char* type, QPoint p) {
        return QJsonObject{{"type", type}, {"x", p.x()}, {"y", p.y()}};
    };
    send("Input.dispatchMouseEvent", mouse("mouseMoved", from));
    send("Input.dispatchMouseEvent", mouse("mouseMoved", at));
    QJsonObject press = mouse("mousePressed", at);
    press["button"] = "left";
    press["buttons"] = 1;
    press["clickCount"] = 1;
    send("Input.dispatchMouseEvent", press);
    QJsonObject release = mouse("mouseReleased", at);
    release["button"] = "left";
    release["clickCount"] = 1;
    QTimer::singleShot(hold_ms, this,
                       [this, release] { send("Input.dispatchMouseEvent", release); });
}

void CdpPage::tab_space(int tabs) {
    auto key = [](const char* type, const char* k, const char* code, int vk) {
        return QJsonObject{{"type", type},
                           {"key", k},
                           {"code", code},
                           {"windowsVirtualKeyCode", vk},
                           {"nativeVirtualKeyCode", vk}};
    };
    for (int i = 0; i < std::max(1, tabs); ++i) {  // in order on one session
        send("Input.dispatchKeyEvent", key("rawKeyDown", "Tab", "Tab", 9));
        send("Input.dispatchKeyEvent", key("keyUp", "Tab", "Tab", 9));
    }
    QTimer::singleShot(40, this, [this, key] {
        QJsonObject down = key("keyDown", " ", "Space", 32);
        down["text"] = " ";
        send("Input.dispatchKeyEvent", down);
        send("Input.dispatchKeyEvent", key("keyUp", " ", "Space", 32));
    });
}

void CdpPage::cookies_for(const QUrl& url, std::function<void(const QJsonArray&)> cb) {
    if (!session_) {
        cb({});
        return;
    }
    send("Network.getCookies", {{"urls", QJsonArray{url.toString(QUrl::FullyEncoded)}}},
         [cb](const QJsonObject& r, const QString&) {
             QJsonArray out;
             for (const auto& c : r.value("cookies").toArray())
                 out.append(contract_cookie(c.toObject()));
             cb(out);
         });
}

}  // namespace byparr::browser
