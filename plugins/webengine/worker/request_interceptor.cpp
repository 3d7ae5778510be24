#include "request_interceptor.h"

#include <QHostAddress>
#include <QUrl>

namespace byparr::browser {

void SecurityInterceptor::interceptRequest(QWebEngineUrlRequestInfo& info) {
    const QUrl url = info.requestUrl();
    const QString scheme = url.scheme().toLower();
    static const QStringList kAllowed{"http", "https", "ws", "wss", "data", "blob", "about"};
    if (!kAllowed.contains(scheme)) {
        info.block(true);
        return;
    }
    if (devtools_port_ > 0 && url.port() == devtools_port_) {
        const QString host = url.host().toLower();
        QHostAddress addr(host);
        // Any local address reaches the listener; names could resolve there too.
        if (host == "localhost" || host.endsWith(".localhost") || addr.isNull() ||
            addr.isLoopback() || addr == QHostAddress::AnyIPv4 || addr == QHostAddress::AnyIPv6) {
            info.block(true);
        }
    }
}

void MediaBlocker::interceptRequest(QWebEngineUrlRequestInfo& info) {
    switch (info.resourceType()) {
        case QWebEngineUrlRequestInfo::ResourceTypeImage:
        case QWebEngineUrlRequestInfo::ResourceTypeStylesheet:
        case QWebEngineUrlRequestInfo::ResourceTypeFontResource:
        case QWebEngineUrlRequestInfo::ResourceTypeMedia:
        case QWebEngineUrlRequestInfo::ResourceTypeFavicon:
            info.block(true);
            break;
        default:
            break;
    }
}

}  // namespace byparr::browser
