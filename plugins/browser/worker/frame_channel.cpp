#include "frame_channel.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>

#include <QCoreApplication>
#include <QElapsedTimer>
#include <QJsonDocument>
#include <QJsonParseError>

namespace byparr::browser {

FrameChannel::FrameChannel(int fd, QObject* parent) : QObject(parent), fd_(fd) {
    ::fcntl(fd_, F_SETFD, FD_CLOEXEC);  // Chromium's children must not inherit it
    ::fcntl(fd_, F_SETFL, ::fcntl(fd_, F_GETFL) | O_NONBLOCK);
    read_notifier_ = new QSocketNotifier(fd_, QSocketNotifier::Read, this);
    write_notifier_ = new QSocketNotifier(fd_, QSocketNotifier::Write, this);
    write_notifier_->setEnabled(false);
    connect(read_notifier_, &QSocketNotifier::activated, this, &FrameChannel::on_readable);
    connect(write_notifier_, &QSocketNotifier::activated, this, &FrameChannel::on_writable);
}

FrameChannel::~FrameChannel() {
    if (fd_ >= 0) ::close(fd_);
}

void FrameChannel::send(const QJsonObject& message) {
    if (fd_ < 0) return;
    QByteArray body = QJsonDocument(message).toJson(QJsonDocument::Compact);
    if (body.size() > static_cast<qsizetype>(kMaxFrame)) {
        // The supervisor would drop the connection: answer the id with an error instead.
        QJsonObject error{
            {"kind", "internal"},
            {"message", QStringLiteral("reply too large (%1 bytes)").arg(body.size())}};
        body =
            QJsonDocument(QJsonObject{{"id", message.value("id")}, {"ok", false}, {"error", error}})
                .toJson(QJsonDocument::Compact);
    }
    quint32 n = static_cast<quint32>(body.size());
    char header[4] = {static_cast<char>(n >> 24), static_cast<char>(n >> 16),
                      static_cast<char>(n >> 8), static_cast<char>(n)};
    if (out_offset_ > 0 && out_offset_ == out_.size()) {
        out_.clear();
        out_offset_ = 0;
    }
    out_.append(header, 4);
    out_.append(body);
    try_write();
}

void FrameChannel::try_write() {
    while (fd_ >= 0 && out_offset_ < out_.size()) {
        ssize_t n = ::send(fd_, out_.constData() + out_offset_,
                           static_cast<size_t>(out_.size() - out_offset_), MSG_NOSIGNAL);
        if (n > 0) {
            out_offset_ += n;
            continue;
        }
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            write_notifier_->setEnabled(true);
            return;
        }
        close_with("write failed");
        return;
    }
    out_.clear();
    out_offset_ = 0;
    if (write_notifier_) write_notifier_->setEnabled(false);
}

void FrameChannel::on_writable() {
    try_write();
}

void FrameChannel::flush_blocking(int timeout_ms) {
    QElapsedTimer t;
    t.start();
    while (fd_ >= 0 && out_offset_ < out_.size() && t.elapsed() < timeout_ms) {
        pollfd p{fd_, POLLOUT, 0};
        ::poll(&p, 1, 50);
        try_write();
    }
}

void FrameChannel::on_readable() {
    char buf[65536];
    for (;;) {
        ssize_t n = ::read(fd_, buf, sizeof(buf));
        if (n > 0) {
            in_.append(buf, n);
            continue;
        }
        if (n == 0) {
            close_with(nullptr);
            return;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        close_with("read failed");
        return;
    }
    qsizetype pos = 0;
    while (in_.size() - pos >= 4) {
        auto* p = reinterpret_cast<const unsigned char*>(in_.constData() + pos);
        quint32 len = (quint32(p[0]) << 24) | (quint32(p[1]) << 16) | (quint32(p[2]) << 8) | p[3];
        if (len > kMaxFrame) {
            close_with("frame too large");
            return;
        }
        if (in_.size() - pos - 4 < static_cast<qsizetype>(len)) break;
        QJsonParseError err{};
        QJsonDocument doc = QJsonDocument::fromJson(in_.mid(pos + 4, len), &err);
        pos += 4 + len;
        if (err.error != QJsonParseError::NoError || !doc.isObject()) {
            std::fprintf(stderr, "%s: bad frame: %s\n",
                         qPrintable(QCoreApplication::applicationName()),
                         qPrintable(err.errorString()));
            continue;  // not fatal: the supervisor gets no reply and times out that id
        }
        emit frame_received(doc.object());
        if (fd_ < 0) return;  // a handler closed us
    }
    in_.remove(0, pos);
}

void FrameChannel::close_with(const char* why) {
    if (fd_ < 0) return;
    if (why)
        std::fprintf(stderr, "%s: channel closed: %s\n",
                     qPrintable(QCoreApplication::applicationName()), why);
    read_notifier_->setEnabled(false);
    write_notifier_->setEnabled(false);
    ::close(fd_);
    fd_ = -1;
    emit closed();
}

}  // namespace byparr::browser
