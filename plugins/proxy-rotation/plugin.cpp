// proxy-rotation: gives requests that name no proxy one from a pool.
//   PROXY_LIST           a file (one proxy per line, # comments) or comma-separated
//                        URLs scheme://user:pass@host:port
//   PROXY_STRATEGY       round-robin (default) | sticky-per-site | rotate-on-block
//   PROXY_BENCH_SECONDS  how long a failing proxy sits out (default 300)
#include <byparr/plugin.hpp>

#include <sys/stat.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <stdexcept>

#include "proxy_pool.h"

namespace {

using namespace byparr::sdk;
using namespace byparr::proxy_rotation;

std::vector<std::string> load_list(const std::string& setting) {
    std::string text = setting;
    struct stat st {};
    bool looks_like_path = setting.find("://") == std::string::npos &&
                           setting.find(',') == std::string::npos &&
                           (setting.front() == '/' || setting.front() == '.' ||
                            setting.front() == '~' || ::stat(setting.c_str(), &st) == 0);
    if (looks_like_path) {
        std::ifstream in(setting);
        if (!in) throw std::runtime_error("PROXY_LIST file '" + setting + "' cannot be read");
        std::stringstream buf;
        buf << in.rdbuf();
        text = buf.str();
    }
    std::vector<std::string> out;
    for (const auto& entry : split_proxy_list(text)) {
        std::string error;
        if (auto url = normalise_proxy_url(entry, &error)) {
            out.push_back(*url);
        } else {
            Log::warning("PROXY_LIST: skipping " + error);
        }
    }
    return out;
}

std::chrono::seconds bench_seconds(const Config& config) {
    std::string v = config.get("PROXY_BENCH_SECONDS", "300");
    try {
        size_t used = 0;
        long n = std::stol(v, &used);
        if (used == v.size() && n >= 0 && n <= 86400) return std::chrono::seconds(n);
    } catch (const std::exception&) {
    }
    throw std::runtime_error("PROXY_BENCH_SECONDS='" + v +
                             "' is not a number of seconds (0-86400)");
}

class Rotation : public ProxyProvider {
  public:
    explicit Rotation(const Config& config) {
        std::string strategy_name = config.get("PROXY_STRATEGY");
        auto strategy = parse_strategy(strategy_name);
        if (!strategy)
            throw std::runtime_error("PROXY_STRATEGY='" + strategy_name +
                                     "' is not round-robin, sticky-per-site or rotate-on-block");
        std::string list = config.get("PROXY_LIST");
        std::vector<std::string> proxies;
        if (!list.empty()) proxies = load_list(list);
        pool_ = std::make_unique<ProxyPool>(std::move(proxies), *strategy, bench_seconds(config));
        if (pool_->size() == 0 && !list.empty())
            Log::warning("PROXY_LIST has no usable proxy; requests go without one");
    }

    byparr_outcome pick(const std::string& url, std::string& proxy_url) override {
        auto p = pool_->pick(url);
        if (!p) return BYPARR_OUTCOME_NOT_APPLICABLE;
        proxy_url = *p;
        return BYPARR_OUTCOME_OK;
    }

    void report(const std::string& proxy_url, const std::string& url, byparr_outcome outcome,
                byparr_error_kind error) override {
        Feedback f = Feedback::kOk;
        if (outcome == BYPARR_OUTCOME_FAILED) {
            if (error == BYPARR_ERROR_PROXY || error == BYPARR_ERROR_NETWORK)
                f = Feedback::kProxyFailure;
            else if (error == BYPARR_ERROR_BLOCKED)
                f = Feedback::kBlocked;
            else
                f = Feedback::kOther;
        }
        if (pool_->report(proxy_url, url, f))
            Log::warning("proxy " + redact(proxy_url) + " benched for " +
                         std::to_string(pool_->bench_duration().count()) + " s (" +
                         (f == Feedback::kBlocked ? "blocked" : "proxy/network error") + ")");
    }

  private:
    std::unique_ptr<ProxyPool> pool_;
};

void register_components(Registrar& r) {
    r.add_proxy_provider<Rotation>("proxy-rotation",
                                   "Picks a proxy from PROXY_LIST (round-robin, sticky, "
                                   "rotate-on-block) and benches failing ones");
}

}  // namespace

BYPARR_PLUGIN(register_components)
