#include "core/metrics.h"

#include <cmath>
#include <cstdio>

namespace byparr {

std::string escape_label(const std::string& v) {
    std::string o;
    for (char c : v) {
        if (c == '\\') o += "\\\\";
        else if (c == '"') o += "\\\"";
        else if (c == '\n') o += "\\n";
        else o += c;
    }
    return o;
}

namespace {

std::string fmt_num(double v) {
    if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
    if (std::isnan(v)) return "NaN";
    if (v == std::floor(v) && std::fabs(v) < 1e15) return std::to_string(static_cast<long long>(v));
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.9g", v);
    return buf;
}

std::string labels_str(const Labels& l, const std::string& extra_k = "", const std::string& extra_v = "") {
    if (l.empty() && extra_k.empty()) return "";
    std::string s = "{";
    bool first = true;
    for (const auto& [k, v] : l) {
        if (!first) s += ",";
        first = false;
        s += k + "=\"" + escape_label(v) + "\"";
    }
    if (!extra_k.empty()) {
        if (!first) s += ",";
        s += extra_k + "=\"" + extra_v + "\"";
    }
    return s + "}";
}

}  // namespace

void Metrics::counter(const std::string& name, const std::string& help) {
    std::lock_guard l(mu_);
    families_[name] = Family{"counter", help, {}, {}, {}, {}};
}
void Metrics::gauge(const std::string& name, const std::string& help) {
    std::lock_guard l(mu_);
    families_[name] = Family{"gauge", help, {}, {}, {}, {}};
}
void Metrics::histogram(const std::string& name, const std::string& help,
                        std::vector<double> bounds) {
    std::lock_guard l(mu_);
    families_[name] = Family{"histogram", help, std::move(bounds), {}, {}, {}};
}
void Metrics::gauge_fn(const std::string& name, const std::string& help,
                       std::function<std::vector<std::pair<Labels, double>>()> fn) {
    std::lock_guard l(mu_);
    families_[name] = Family{"gauge", help, {}, {}, {}, std::move(fn)};
}

void Metrics::inc(const std::string& name, const Labels& labels, double by) {
    std::lock_guard l(mu_);
    auto it = families_.find(name);
    if (it != families_.end()) it->second.values[labels] += by;
}
void Metrics::set(const std::string& name, const Labels& labels, double value) {
    std::lock_guard l(mu_);
    auto it = families_.find(name);
    if (it != families_.end()) it->second.values[labels] = value;
}
void Metrics::observe(const std::string& name, const Labels& labels, double value) {
    std::lock_guard l(mu_);
    auto it = families_.find(name);
    if (it == families_.end()) return;
    auto& f = it->second;
    auto& h = f.hists[labels];
    if (h.counts.empty()) h.counts.assign(f.bounds.size() + 1, 0);
    size_t i = 0;
    while (i < f.bounds.size() && value > f.bounds[i]) ++i;
    h.counts[i] += 1;
    h.sum += value;
    h.count += 1;
}

double Metrics::value(const std::string& name, const Labels& labels) const {
    std::lock_guard l(mu_);
    auto it = families_.find(name);
    if (it == families_.end()) return 0;
    if (labels.empty() && !it->second.values.count({})) {
        double sum = 0;  // no labels given: the sum over all series
        for (const auto& [k, v] : it->second.values) sum += v;
        return sum;
    }
    auto v = it->second.values.find(labels);
    return v == it->second.values.end() ? 0 : v->second;
}

std::vector<std::pair<Labels, double>> Metrics::series(const std::string& name) const {
    std::lock_guard l(mu_);
    auto it = families_.find(name);
    if (it == families_.end()) return {};
    return {it->second.values.begin(), it->second.values.end()};
}

double Metrics::quantile(const std::string& name, double q,
                         const std::function<bool(const Labels&)>& include) const {
    std::lock_guard l(mu_);
    auto it = families_.find(name);
    if (it == families_.end()) return NAN;
    const auto& f = it->second;
    std::vector<double> counts(f.bounds.size() + 1, 0);
    double total = 0;
    for (const auto& [lab, h] : f.hists) {
        if (include && !include(lab)) continue;
        for (size_t i = 0; i < h.counts.size(); ++i) {
            counts[i] += h.counts[i];
            total += h.counts[i];
        }
    }
    if (total == 0) return NAN;
    double rank = q * total, seen = 0;
    for (size_t i = 0; i < counts.size(); ++i) {
        if (seen + counts[i] >= rank && counts[i] > 0) {
            double lo = i == 0 ? 0 : f.bounds[i - 1];
            double hi = i < f.bounds.size() ? f.bounds[i] : lo;
            return lo + (hi - lo) * ((rank - seen) / counts[i]);
        }
        seen += counts[i];
    }
    return f.bounds.empty() ? NAN : f.bounds.back();
}

std::string Metrics::render() const {
    std::lock_guard l(mu_);
    std::string out;
    out.reserve(8192);
    for (const auto& [name, f] : families_) {
        out += "# HELP " + name + " " + f.help + "\n# TYPE " + name + " " + f.type + "\n";
        if (f.fn) {
            for (const auto& [lab, v] : f.fn()) out += name + labels_str(lab) + " " + fmt_num(v) + "\n";
            continue;
        }
        if (f.type == "histogram") {
            for (const auto& [lab, h] : f.hists) {
                double cum = 0;
                for (size_t i = 0; i <= f.bounds.size(); ++i) {
                    cum += h.counts[i];
                    std::string le = i < f.bounds.size() ? fmt_num(f.bounds[i]) : "+Inf";
                    out += name + "_bucket" + labels_str(lab, "le", le) + " " + fmt_num(cum) + "\n";
                }
                out += name + "_sum" + labels_str(lab) + " " + fmt_num(h.sum) + "\n";
                out += name + "_count" + labels_str(lab) + " " + fmt_num(h.count) + "\n";
            }
            continue;
        }
        for (const auto& [lab, v] : f.values) out += name + labels_str(lab) + " " + fmt_num(v) + "\n";
    }
    return out;
}

}  // namespace byparr
