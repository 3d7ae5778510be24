// A minimal Prometheus registry: counters, gauges and histograms with labels,
// rendered in text format 0.0.4. Lock per family; the hot path is one map lookup
// and an atomic-free increment under a short lock (requests are milliseconds, so
// contention is not a concern here).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace byparr {

using Labels = std::vector<std::pair<std::string, std::string>>;

class Metrics {
public:
    void counter(const std::string& name, const std::string& help);
    void gauge(const std::string& name, const std::string& help);
    void histogram(const std::string& name, const std::string& help, std::vector<double> bounds);

    void inc(const std::string& name, const Labels& labels = {}, double by = 1);
    void set(const std::string& name, const Labels& labels, double value);
    void observe(const std::string& name, const Labels& labels, double value);
    /// Gauges computed at scrape time (memory, queue depth…).
    void gauge_fn(const std::string& name, const std::string& help,
                  std::function<std::vector<std::pair<Labels, double>>()> fn);

    double value(const std::string& name, const Labels& labels = {}) const;
    /// Every series of a counter or gauge family with its labels, in label order
    /// (byparrctl stats lists them); empty for an unknown family.
    std::vector<std::pair<Labels, double>> series(const std::string& name) const;
    /// Histogram quantile estimate (linear within a bucket), for byparrctl stats,
    /// over the series `include` accepts (all when unset).
    double quantile(const std::string& name, double q,
                    const std::function<bool(const Labels&)>& include = {}) const;

    std::string render() const;

private:
    struct Hist {
        std::vector<double> counts;  // per bound, non-cumulative, plus +Inf
        double sum = 0;
        double count = 0;
    };
    struct Family {
        std::string type, help;
        std::vector<double> bounds;
        std::map<Labels, double> values;
        std::map<Labels, Hist> hists;
        std::function<std::vector<std::pair<Labels, double>>()> fn;
    };
    mutable std::mutex mu_;
    std::map<std::string, Family> families_;
};

/// Escapes a label value for the text format.
std::string escape_label(const std::string& v);

}  // namespace byparr
