// Request filters. SecurityInterceptor sits on every profile: only web schemes,
// and never the DevTools port (a page could otherwise drive the browser).
// MediaBlocker sits on a page when the request asked for disableMedia.
#pragma once

#include <QWebEngineUrlRequestInterceptor>

namespace byparr::browser {

class SecurityInterceptor : public QWebEngineUrlRequestInterceptor {
    Q_OBJECT
  public:
    SecurityInterceptor(int devtools_port, QObject* parent = nullptr)
        : QWebEngineUrlRequestInterceptor(parent), devtools_port_(devtools_port) {}
    void interceptRequest(QWebEngineUrlRequestInfo& info) override;

  private:
    int devtools_port_;
};

class MediaBlocker : public QWebEngineUrlRequestInterceptor {
    Q_OBJECT
  public:
    using QWebEngineUrlRequestInterceptor::QWebEngineUrlRequestInterceptor;
    void interceptRequest(QWebEngineUrlRequestInfo& info) override;
};

}  // namespace byparr::browser
