// Length-prefixed JSON frames over the inherited socket (PROTOCOL.md "Framing").
// Driven by QSocketNotifier on the Qt thread: no reader thread, no locking.
#pragma once

#include <QByteArray>
#include <QJsonObject>
#include <QObject>
#include <QSocketNotifier>

namespace byparr::browser {

class FrameChannel : public QObject {
    Q_OBJECT
  public:
    static constexpr quint32 kMaxFrame = 64u << 20;

    explicit FrameChannel(int fd, QObject* parent = nullptr);
    ~FrameChannel() override;

    void send(const QJsonObject& message);
    // Writes whatever is still queued, blocking up to timeout_ms (used at exit).
    void flush_blocking(int timeout_ms);
    bool is_open() const { return fd_ >= 0; }

  signals:
    void frame_received(const QJsonObject& message);
    void closed();

  private:
    void on_readable();
    void on_writable();
    void try_write();
    void close_with(const char* why);

    int fd_;
    QSocketNotifier* read_notifier_ = nullptr;
    QSocketNotifier* write_notifier_ = nullptr;
    QByteArray in_;
    QByteArray out_;
    qsizetype out_offset_ = 0;
};

}  // namespace byparr::browser
