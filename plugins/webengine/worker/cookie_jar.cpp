#include "cookie_jar.h"

#include <QDateTime>
#include <QHostAddress>
#include <QJsonObject>
#include <QWebEngineCookieStore>

namespace byparr::browser {

CookieJar::CookieJar(QWebEngineCookieStore* store, QObject* parent)
    : QObject(parent), store_(store) {
    connect(store_, &QWebEngineCookieStore::cookieAdded, this, [this](const QNetworkCookie& c) {
        cookies_[key_of(c)] = c;
        emit cookie_added(c);
    });
    connect(store_, &QWebEngineCookieStore::cookieRemoved, this, [this](const QNetworkCookie& c) {
        cookies_.erase(key_of(c));
        if (clearing_ && cookies_.empty()) {
            clearing_ = false;
            emit emptied();
        }
    });
}

void CookieJar::clear() {
    store_->deleteAllCookies();
    if (cookies_.empty()) {
        QMetaObject::invokeMethod(this, &CookieJar::emptied, Qt::QueuedConnection);
    } else {
        clearing_ = true;
    }
}

CookieJar::Key CookieJar::key_of(const QNetworkCookie& c) {
    return {c.name(), c.domain(), c.path().isEmpty() ? QStringLiteral("/") : c.path()};
}

QString CookieJar::set_request_cookies(const QJsonArray& cookies, const QUrl& url) {
    for (const auto& v : cookies) {
        if (!v.isObject()) return QStringLiteral("cookies: each entry must be an object");
        QJsonObject o = v.toObject();
        QString name = o.value("name").toString();
        if (name.isEmpty()) return QStringLiteral("cookies: 'name' is mandatory");
        QNetworkCookie c(name.toUtf8(), o.value("value").toString().toUtf8());
        QString domain = o.value("domain").toString();
        // Chromium refuses a Domain attribute naming an IP; host-only is what is meant.
        if (!domain.isEmpty() && QHostAddress(domain).isNull()) c.setDomain(domain);
        c.setPath(o.value("path").toString("/").isEmpty() ? "/" : o.value("path").toString("/"));
        c.setSecure(o.value("secure").toBool(false));
        c.setHttpOnly(o.value("httpOnly").toBool(false));
        double expiry = o.value("expiry").toDouble(-1);
        if (expiry <= 0) expiry = o.value("expires").toDouble(-1);
        if (expiry > 0) {
            c.setExpirationDate(QDateTime::fromSecsSinceEpoch(static_cast<qint64>(expiry)));
        }
        QString same_site = o.value("sameSite").toString().toLower();
        if (same_site == "strict") {
            c.setSameSitePolicy(QNetworkCookie::SameSite::Strict);
        } else if (same_site == "none") {
            c.setSameSitePolicy(QNetworkCookie::SameSite::None);
        } else if (same_site == "lax") {
            c.setSameSitePolicy(QNetworkCookie::SameSite::Lax);
        }
        QUrl origin = url;
        if (!domain.isEmpty() && !QHostAddress(domain).isNull()) origin.setHost(domain);
        store_->setCookie(c, origin);
    }
    return {};
}

static bool domain_matches(const QString& cookie_domain, const QString& host) {
    if (cookie_domain.isEmpty()) return false;
    if (cookie_domain.startsWith('.')) {
        QString bare = cookie_domain.mid(1);
        return host.compare(bare, Qt::CaseInsensitive) == 0 ||
               host.endsWith(cookie_domain, Qt::CaseInsensitive);
    }
    return host.compare(cookie_domain, Qt::CaseInsensitive) == 0;
}

static bool path_matches(const QString& cookie_path, const QString& request_path) {
    QString cp = cookie_path.isEmpty() ? QStringLiteral("/") : cookie_path;
    QString rp = request_path.isEmpty() ? QStringLiteral("/") : request_path;
    if (rp == cp) return true;
    if (!rp.startsWith(cp)) return false;
    return cp.endsWith('/') || rp.at(cp.size()) == '/';
}

static bool is_loopback_host(const QString& host) {
    if (host.compare("localhost", Qt::CaseInsensitive) == 0) return true;
    QHostAddress a(host);
    return !a.isNull() && a.isLoopback();
}

QJsonArray CookieJar::cookies_for(const QUrl& url) const {
    QJsonArray out;
    const QString host = url.host();
    const bool secure_ok = url.scheme() == "https" || is_loopback_host(host);
    const qint64 now = QDateTime::currentSecsSinceEpoch();
    for (const auto& [key, c] : cookies_) {
        if (!domain_matches(c.domain(), host)) continue;
        if (!path_matches(c.path(), url.path())) continue;
        if (c.isSecure() && !secure_ok) continue;
        if (!c.isSessionCookie() && c.expirationDate().toSecsSinceEpoch() <= now) continue;
        out.append(to_contract(c));
    }
    return out;
}

QJsonObject CookieJar::to_contract(const QNetworkCookie& c) {
    QJsonObject o;
    QString name = QString::fromUtf8(c.name());
    QString value = QString::fromUtf8(c.value());
    o["name"] = name;
    o["value"] = value;
    o["domain"] = c.domain();
    o["path"] = c.path().isEmpty() ? QStringLiteral("/") : c.path();
    const bool session = c.isSessionCookie();
    const qint64 expires = session ? -1 : c.expirationDate().toSecsSinceEpoch();
    o["expires"] = static_cast<double>(expires);
    o["size"] = static_cast<int>(c.name().size() + c.value().size());
    o["httpOnly"] = c.isHttpOnly();
    o["secure"] = c.isSecure();
    o["session"] = session;
    switch (c.sameSitePolicy()) {
        case QNetworkCookie::SameSite::Strict:
            o["sameSite"] = "Strict";
            break;
        case QNetworkCookie::SameSite::None:
            o["sameSite"] = "None";
            break;
        default:
            o["sameSite"] = "Lax";
    }
    if (!session) o["expiry"] = static_cast<double>(expires);
    return o;
}

}  // namespace byparr::browser
