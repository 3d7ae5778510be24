// The pool of pages for sessionless solves that both browser workers keep (webengine's
// off-the-record profiles, chromium's tabs in contexts of their own): ready ahead of
// requests, wiped and reused after them (PageDriver::recycle()) up to a number of uses,
// sized to the concurrency seen and shrunk back to one page when requests stop. One class,
// so a change to how pages are picked, made or given back reaches both engines.
// Qt thread only.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <vector>

#include <QObject>
#include <QString>
#include <QTimer>

#include "page_driver.h"

namespace byparr::browser {

struct SparePoolPolicy {
    // Pages kept at most (ready or being made or wiped). Each is a renderer at rest.
    size_t max_spares = 5;
    // Pages kept beyond the solves running: one when a wipe takes long enough (a
    // navigation) that a request following at once would otherwise wait for it.
    size_t headroom = 0;
    // Which page a request for a host takes:
    //  - kHostFirst: one whose renderer already serves the host even while its wipe is still
    //    running (a wipe that is ready within a few ms), else a ready fresh one, else any
    //    ready one;
    //  - kReadyFirst: a ready one for the host, else any ready one, else one for the host.
    // Either way, else the page furthest along.
    enum class Pick { kHostFirst, kReadyFirst } pick = Pick::kHostFirst;
    // A page serves this many sessionless solves, wiped between them, then it is closed with
    // its profile or context: what a wipe could miss does not pile up for ever, and a
    // renderer's memory only comes back when it ends.
    int max_page_uses = 20;
};

class SparePool : public QObject {
    Q_OBJECT
  public:
    // make(true) makes a page for the pool, make(false) one a request waits for now.
    using Factory = std::function<std::unique_ptr<PageDriver>(bool spare)>;
    // How many solves run now, sessions' included (the pool is sized to it).
    using Running = std::function<size_t()>;

    SparePool(SparePoolPolicy policy, Factory make, Running running, QObject* parent = nullptr);
    ~SparePool() override;

    // Starts filling the pool (the engine is up).
    void start();
    // A page for a sessionless solve to `host`: a spare, or a new one when none is left.
    // Counts the solve as running until give_back().
    std::unique_ptr<PageDriver> take(const QString& host);
    // The solve that take() served has ended. `page`, when not null and fit, is wiped and
    // kept; otherwise it goes (with its profile or context).
    void give_back(std::unique_ptr<PageDriver> page);
    // Refills up to the target (also after a solve with a session ended).
    void refill();
    // Drops every spare (shutdown); nothing is made after this.
    void clear();

    // Pages taken that had served a solve before (reuse, as it happens).
    quint64 reused() const { return reused_; }
    size_t size() const { return spares_.size(); }

  private:
    void watch(PageDriver* page);
    void shrink();

    SparePoolPolicy policy_;
    Factory make_;
    Running running_;
    // Ready (or being made or wiped) pages, oldest first.
    std::vector<std::unique_ptr<PageDriver>> spares_;
    size_t target_ = 1;
    size_t returning_ = 0;  // sessionless solves running: their pages may come back
    QTimer idle_timer_;
    quint64 reused_ = 0;
    bool started_ = false;
    bool closed_ = false;
};

}  // namespace byparr::browser
