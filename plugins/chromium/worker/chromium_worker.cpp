#include "chromium_worker.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include <QCoreApplication>
#include <QJsonDocument>
#include <QPointer>

#include "frame_channel.h"
#include "frame_ops.h"

namespace byparr::browser {

namespace {

// The tab pool (spare_pool.h). A tab is a context, a window, a renderer and an attached
// session: making one costs ~300 ms of CPU across the browser's processes (measured). Its
// wipe navigates (~50-100 ms), so one tab more than run at once is kept, and a ready tab
// is taken before one that is still being wiped for the same host.
constexpr SparePoolPolicy kPoolPolicy{.max_spares = 6,
                                      .headroom = 1,
                                      .pick = SparePoolPolicy::Pick::kReadyFirst,
                                      .max_page_uses = 20};
constexpr int kIdentityTimeoutMs = 15000;

QString to_json(const QJsonObject& o) {
    return QString::fromUtf8(QJsonDocument(o).toJson(QJsonDocument::Compact));
}

}  // namespace

ChromiumWorker::ChromiumWorker(const WorkerOptions& options, FrameChannel* channel, int read_fd,
                               int write_fd, bool headless)
    : options_(options),
      channel_(channel),
      client_(std::make_unique<DevToolsClient>(read_fd, write_fd)),
      headless_(headless),
      pool_(
          kPoolPolicy, [this](bool) { return make_page({}); }, [this] { return book_.running(); }),
      book_(channel, &pool_, [this](const Proxy& proxy) { return make_context(proxy); }) {
    connect(channel_, &FrameChannel::frame_received, this, &ChromiumWorker::on_frame);
    connect(channel_, &FrameChannel::closed, this, [this] { shutdown(false); });
}

ChromiumWorker::~ChromiumWorker() {
    book_.clear();  // the contexts are disposed of over the client
    pool_.clear();
    client_.reset();  // no DevTools callback runs after this
}

bool ChromiumWorker::start(std::string* error) {
    if (!detector_.load(options_.rule_files, error)) return false;
    client_->start();
    QPointer<ChromiumWorker> self(this);
    client_->command(
        "Browser.getVersion", "",
        [self](std::string json, std::string err) {
            QMetaObject::invokeMethod(
                QCoreApplication::instance(),
                [self, json, err] {
                    if (!self) return;
                    if (!err.empty()) {
                        std::fprintf(stderr,
                                     "byparr-chromium-worker: the browser does not answer on its "
                                     "DevTools pipe: %s\n",
                                     err.c_str());
                        QCoreApplication::exit(3);
                        return;
                    }
                    self->on_identity(
                        QJsonDocument::fromJson(QByteArray::fromStdString(json)).object());
                },
                Qt::QueuedConnection);
        },
        kIdentityTimeoutMs);
    return true;
}

void ChromiumWorker::on_identity(const QJsonObject& version) {
    // A window on a display: Chromium already is the Chrome it says (UA, client hints, header
    // order), so nothing is overridden. Headless says "HeadlessChrome": that token goes, with
    // client hints to match.
    QString ua = version.value("userAgent").toString();
    identity_.emulate = headless_;
    identity_.intercept_documents = false;  // a current Chromium keeps hints on redirects
    identity_.timezone = options_.timezone;
    identity_.locale = options_.lang;
    if (headless_) {
        ua.replace(QLatin1String("HeadlessChrome/"), QLatin1String("Chrome/"));
        identity_.user_agent = ua.toStdString();
        // No Accept-Language in the override: that would move the header up to the UA's place,
        // where Chrome sends it last. --lang gives the profile the same one a window has.
        identity_.accept_language.clear();
        identity_.platform = "Linux x86_64";
        identity_.product_brand.clear();  // Debian's Chromium lists only "Chromium", headful too
        const QString product = version.value("product").toString();  // "Chrome/156.0.1.2"
        if (product.contains('/')) identity_.full_version = product.section('/', 1).toStdString();
    }
    user_agent_ = ua;
    ctx_.options = &options_;
    ctx_.detector = &detector_;
    ctx_.user_agent = user_agent_;
    started_ = true;
    channel_->send(QJsonObject{
        {"op", "ready"}, {"pid", static_cast<qint64>(::getpid())}, {"userAgent", user_agent_}});
    pool_.start();
}

std::unique_ptr<CdpPage> ChromiumWorker::make_page(const std::string& context_id,
                                                   const Proxy& proxy) {
    CdpPageOptions o;
    o.client = client_.get();
    o.router = this;
    o.identity = identity_;
    o.headless = headless_;
    const Proxy& creds = proxy.empty() ? options_.proxy : proxy;
    o.proxy_username = creds.username;
    o.proxy_password = creds.password;
    if (context_id.empty()) {
        // Each sessionless solve in a context of its own, with its own proxy, or the worker's
        // (or the egress guard) set on it.
        o.new_context = true;
        if (!proxy.empty()) {
            o.proxy_server = proxy.url;
            // Behind the egress guard, the host sends the context's route through it: loopback
            // too must take it (Chromium sends loopback around a proxy by default).
            if (options_.egress_guard_port > 0) o.proxy_bypass_list = "<-loopback>";
            // Wiped and reused, it would serve the next request through this one's proxy.
            o.reusable = false;
        } else if (options_.egress_guard_port > 0) {
            o.proxy_server = "http://127.0.0.1:" + std::to_string(options_.egress_guard_port);
            o.proxy_bypass_list = "<-loopback>";
        } else if (!options_.proxy.empty()) {
            o.proxy_server = options_.proxy.url;
        }
    } else {
        o.browser_context_id = context_id;
    }
    return std::make_unique<CdpPage>(std::move(o));
}

std::shared_ptr<ChromiumWorker::Context> ChromiumWorker::make_context(const Proxy& proxy) {
    auto ctx = std::make_shared<Context>();
    ctx->client = client_.get();
    ctx->proxy = proxy;
    QJsonObject c;
    if (!proxy.empty()) {
        c["proxyServer"] = QString::fromStdString(proxy.url);
        if (options_.egress_guard_port > 0) c["proxyBypassList"] = "<-loopback>";  // as above
    } else if (options_.egress_guard_port > 0) {
        c["proxyServer"] = QStringLiteral("http://127.0.0.1:%1").arg(options_.egress_guard_port);
        c["proxyBypassList"] = "<-loopback>";
    } else if (!options_.proxy.empty()) {
        c["proxyServer"] = QString::fromStdString(options_.proxy.url);
    }
    std::weak_ptr<Context> weak = ctx;
    DevToolsClient* client = client_.get();
    client_->command(
        "Target.createBrowserContext", to_json(c).toStdString(),
        [this, weak, client](std::string json, std::string err) {
            const std::string id = QJsonDocument::fromJson(QByteArray::fromStdString(json))
                                       .object()
                                       .value("browserContextId")
                                       .toString()
                                       .toStdString();
            QMetaObject::invokeMethod(
                this,
                [weak, id, err, client] {
                    auto ctx = weak.lock();
                    if (!ctx) {  // the session went before its context came
                        if (!id.empty())
                            client->command("Target.disposeBrowserContext",
                                            "{\"browserContextId\":\"" + id + "\"}",
                                            [](std::string, std::string) {});
                        return;
                    }
                    ctx->id = id;
                    if (id.empty())
                        ctx->error = QString::fromStdString(err.empty() ? "no context id" : err);
                    auto waiters = std::move(ctx->waiters);
                    ctx->waiters.clear();
                    for (auto& w : waiters)
                        w();
                },
                Qt::QueuedConnection);
        },
        CdpPage::kCreateTimeoutMs);
    return ctx;
}

ChromiumWorker::Context::~Context() {
    if (!id.empty() && client)
        client->command("Target.disposeBrowserContext", "{\"browserContextId\":\"" + id + "\"}",
                        [](std::string, std::string) {});
}

void ChromiumWorker::on_frame(const QJsonObject& m) {
    FrameHooks hooks;
    hooks.solve = [this](const QJsonValue& id, const QJsonObject& r) { handle_solve(id, r); };
    book_.add_hooks(hooks, [this] { shutdown(true); });
    dispatch_frame(m, *channel_, book_.jobs(), shutting_down_, hooks);
}

void ChromiumWorker::handle_solve(const QJsonValue& id, const QJsonObject& r) {
    if (!started_) {
        browser::reply_error(*channel_, id, "internal", "the browser is still starting");
        return;
    }
    SolveRequest req;
    QString invalid;
    if (!parse_solve_request(r, &req, &invalid)) {
        browser::reply_error(*channel_, id, "invalid", invalid);
        return;
    }
    const Proxy proxy = req.proxy;
    std::shared_ptr<Context> context;
    if (!req.session.isEmpty()) context = book_.session(req.session);
    const QString host = req.url.host().toLower();
    SolveJob* job = book_.open(
        this, id, std::move(req), ctx_, context, [this](quint64 serial) { on_job_done(serial); },
        [this, proxy] { return make_page({}, proxy); });
    if (context) {
        QPointer<SolveJob> guard(job);
        auto begin = [this, guard, context] {
            if (!guard || guard->finished()) return;
            if (!context->error.isEmpty()) {
                guard->abort("internal",
                             "The session's browser context could not be made: " + context->error);
                return;
            }
            guard->start(make_page(context->id, context->proxy));
        };
        if (context->id.empty() && context->error.isEmpty()) {
            context->waiters.push_back(begin);
        } else {
            begin();
        }
        return;
    }
    // Its own proxy: a context made with it, used once (the pool's have the worker's).
    if (!proxy.empty()) {
        job->start(make_page({}, proxy));
        return;
    }
    book_.start_pooled(job, host);
}

void ChromiumWorker::on_job_done(quint64 serial) {
    book_.close(serial, shutting_down_);
}

void ChromiumWorker::browser_gone() {
    std::fprintf(stderr, "byparr-chromium-worker: the browser exited\n");
    for (auto& [serial, job] : book_.jobs())
        job->abort("internal", "The browser process ended during the solve");
    channel_->flush_blocking(500);
    QCoreApplication::exit(4);
}

void ChromiumWorker::shutdown(bool reply_to_solves) {
    if (shutting_down_) return;
    shutting_down_ = true;
    book_.end(reply_to_solves);
    pool_.clear();
    if (reply_to_solves) channel_->flush_blocking(500);
    QCoreApplication::exit(0);
}

}  // namespace byparr::browser
