// Our own view of one profile's cookies. Off-the-record profiles emit nothing for
// loadAllCookies(), so the jar is built from cookieAdded/cookieRemoved.
#pragma once

#include <functional>
#include <map>
#include <tuple>

#include <QJsonArray>
#include <QNetworkCookie>
#include <QObject>
#include <QString>
#include <QUrl>

class QWebEngineCookieStore;

namespace byparr::browser {

class CookieJar : public QObject {
    Q_OBJECT
  public:
    CookieJar(QWebEngineCookieStore* store, QObject* parent = nullptr);

    // Sets the request's cookies (contract shape) before the first load. A cookie
    // without domain is host-only for url's host. Returns "" or an error message.
    QString set_request_cookies(const QJsonArray& cookies, const QUrl& url);

    // Cookies that apply to url, in the contract shape.
    QJsonArray cookies_for(const QUrl& url) const;

    int size() const { return static_cast<int>(cookies_.size()); }

    // Deletes every cookie of the profile. `emptied` follows once the store has
    // confirmed each removal (at once if there was none), so a page reused for the
    // next request cannot see a cookie of the last one.
    void clear();

    static QJsonObject to_contract(const QNetworkCookie& c);

  signals:
    void cookie_added(const QNetworkCookie& cookie);
    void emptied();

  private:
    using Key = std::tuple<QByteArray, QString, QString>;  // name, domain, path
    static Key key_of(const QNetworkCookie& c);

    QWebEngineCookieStore* store_;
    std::map<Key, QNetworkCookie> cookies_;
    bool clearing_ = false;
};

}  // namespace byparr::browser
