#include "spare_pool.h"

#include <algorithm>

namespace byparr::browser {

namespace {

// Pages being made (or wiped) at once: renderer launches and DevTools attaches contend for
// the same two cores and the browser's UI thread, so the first is ready sooner when they do
// not all start together. While solves run, one at a time: their own pages come first.
constexpr size_t kMaxPreparing = 2;
// BROWSER_POOL_IDLE_TIMEOUT (s, default 30): this long without a request, the pool starts
// shrinking to one warm page. Each spare is a renderer held at rest; the next burst re-grows
// the pool.
int idle_ms() {
    static const int ms = [] {
        bool ok = false;
        const int s = qEnvironmentVariableIntValue("BROWSER_POOL_IDLE_TIMEOUT", &ok);
        return ok && s >= 1 && s <= 86400 ? s * 1000 : 30000;
    }();
    return ms;
}
// While shrinking, one page is ended per this interval: ending a renderer costs the browser
// ~10-15 ms of CPU, and ending four at once put a 50-60 ms step into an otherwise idle 10 s.
// A burst that comes back meanwhile still finds the pages not yet ended.
constexpr int kShrinkStepMs = 10000;

}  // namespace

SparePool::SparePool(SparePoolPolicy policy, Factory make, Running running, QObject* parent)
    : QObject(parent), policy_(policy), make_(std::move(make)), running_(std::move(running)) {
    idle_timer_.setSingleShot(true);
    connect(&idle_timer_, &QTimer::timeout, this, &SparePool::shrink);
}

SparePool::~SparePool() = default;

void SparePool::start() {
    started_ = true;
    refill();
}

void SparePool::refill() {
    if (!started_ || closed_) return;
    size_t preparing = 0;
    for (const auto& p : spares_)
        preparing += p->is_ready() ? 0 : 1;
    const size_t cap = running_() > 0 ? 1 : kMaxPreparing;
    // Pages of running sessionless solves come back to the pool when they end.
    while (spares_.size() + returning_ < target_ && preparing < cap) {
        spares_.push_back(make_(true));
        ++preparing;
        watch(spares_.back().get());
    }
}

void SparePool::watch(PageDriver* page) {
    // Chained, not polled: each page that becomes ready lets the next start.
    connect(page, &PageDriver::ready, this, &SparePool::refill, Qt::QueuedConnection);
    connect(page, &PageDriver::broken, this, [this, page] {
        auto it = std::find_if(spares_.begin(), spares_.end(),
                               [page](const auto& p) { return p.get() == page; });
        if (it == spares_.end()) return;
        it->release()->deleteLater();  // we are inside its own signal
        spares_.erase(it);
        QTimer::singleShot(0, this, &SparePool::refill);
    });
}

std::unique_ptr<PageDriver> SparePool::take(const QString& host) {
    // Sized for the concurrency seen, so the next burst finds its pages made.
    target_ =
        std::clamp<size_t>(std::max(target_, running_() + policy_.headroom), 1, policy_.max_spares);
    idle_timer_.start(idle_ms());
    auto pick = [this](auto pred) {
        return std::find_if(spares_.begin(), spares_.end(),
                            [&](const auto& p) { return pred(*p); });
    };
    auto for_host = [&](const PageDriver& p) { return p.uses() > 0 && p.last_host() == host; };
    auto ready = [](const PageDriver& p) { return p.is_ready(); };
    auto it = spares_.end();
    if (policy_.pick == SparePoolPolicy::Pick::kHostFirst) {
        it = pick(for_host);
        if (it == spares_.end())
            it = pick([](const PageDriver& p) {
                return p.is_ready() && p.uses() == 0;  // a site-less renderer takes any site
            });
        if (it == spares_.end()) it = pick(ready);
    } else {
        it = pick([&](const PageDriver& p) { return p.is_ready() && for_host(p); });
        if (it == spares_.end()) it = pick(ready);
        if (it == spares_.end()) it = pick(for_host);
    }
    if (it == spares_.end() && !spares_.empty()) it = spares_.begin();  // furthest along
    std::unique_ptr<PageDriver> page;
    if (it != spares_.end()) {
        page = std::move(*it);
        spares_.erase(it);
        disconnect(page.get(), nullptr, this, nullptr);
    } else {
        page = make_(false);
    }
    if (page->uses() > 0) ++reused_;
    ++returning_;
    // Refill now: the page made overlaps this solve, not the next one.
    QTimer::singleShot(0, this, &SparePool::refill);
    return page;
}

void SparePool::give_back(std::unique_ptr<PageDriver> page) {
    if (returning_ > 0) --returning_;
    if (page && !closed_ && page->reusable() && page->uses() + 1 < policy_.max_page_uses &&
        spares_.size() < target_) {
        page->recycle();
        watch(page.get());
        spares_.push_back(std::move(page));
    }
    page.reset();  // not kept: its profile or context goes with it
    if (spares_.size() < target_) QTimer::singleShot(0, this, &SparePool::refill);
}

void SparePool::shrink() {
    if (spares_.size() > 1) spares_.pop_back();  // the newest first: the oldest is surely ready
    target_ = std::max<size_t>(1, spares_.size());
    if (spares_.size() > 1) idle_timer_.start(kShrinkStepMs);
}

void SparePool::clear() {
    closed_ = true;
    idle_timer_.stop();
    spares_.clear();
}

}  // namespace byparr::browser
