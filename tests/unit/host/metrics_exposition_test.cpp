// A strict reader of the Prometheus text format 0.0.4, applying the rules
// `promtool check metrics` applies, run over what the host really serves.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include "byparr/build_paths.h"
#include "core/registry.h"
#include "host/v1_service.h"

namespace byparr {
namespace {

struct Problem {
    int line;
    std::string what;
};

// Returns every violation found; empty means valid.
std::vector<Problem> lint_exposition(const std::string& text) {
    static const std::regex name_re("[a-zA-Z_:][a-zA-Z0-9_:]*");
    static const std::regex label_re("[a-zA-Z_][a-zA-Z0-9_]*");
    std::vector<Problem> out;
    std::map<std::string, std::string> types;
    std::set<std::string> helped, sampled_families;
    std::map<std::string, double> last_bucket, inf_bucket, count;
    std::istringstream in(text);
    std::string line;
    int n = 0;
    auto family_of = [&](const std::string& name) {
        for (const char* suf : {"_bucket", "_count", "_sum"}) {
            std::string s(suf);
            if (name.size() > s.size() && name.ends_with(s)) {
                std::string base = name.substr(0, name.size() - s.size());
                if (types.count(base) && types[base] == "histogram") return base;
            }
        }
        return name;
    };
    if (!text.empty() && text.back() != '\n') out.push_back({0, "no trailing newline"});
    while (std::getline(in, line)) {
        ++n;
        if (line.empty()) continue;
        if (line.rfind("# ", 0) == 0) {
            std::istringstream ls(line.substr(2));
            std::string kind, name, rest;
            ls >> kind >> name;
            std::getline(ls, rest);
            if (!std::regex_match(name, name_re)) out.push_back({n, "bad metric name " + name});
            if (kind == "TYPE") {
                rest.erase(0, rest.find_first_not_of(' '));
                if (types.count(name)) out.push_back({n, "second TYPE for " + name});
                if (sampled_families.count(name))
                    out.push_back({n, "TYPE after samples for " + name});
                static const std::set<std::string> ok{"counter", "gauge", "histogram", "summary",
                                                      "untyped"};
                if (!ok.count(rest)) out.push_back({n, "unknown type " + rest});
                types[name] = rest;
            } else if (kind == "HELP") {
                if (!helped.insert(name).second) out.push_back({n, "second HELP for " + name});
            }
            continue;
        }
        // sample: name{labels} value
        size_t i = 0;
        while (i < line.size() && line[i] != '{' && line[i] != ' ')
            ++i;
        std::string name = line.substr(0, i);
        if (!std::regex_match(name, name_re)) out.push_back({n, "bad sample name " + name});
        std::string le;
        std::string series_labels;
        if (i < line.size() && line[i] == '{') {
            ++i;
            std::set<std::string> seen;
            while (i < line.size() && line[i] != '}') {
                size_t eq = line.find('=', i);
                if (eq == std::string::npos) {
                    out.push_back({n, "label without ="});
                    break;
                }
                std::string lname = line.substr(i, eq - i);
                if (!std::regex_match(lname, label_re))
                    out.push_back({n, "bad label name " + lname});
                if (!seen.insert(lname).second) out.push_back({n, "duplicate label " + lname});
                if (eq + 1 >= line.size() || line[eq + 1] != '"') {
                    out.push_back({n, "unquoted label value"});
                    break;
                }
                size_t j = eq + 2;
                std::string value;
                for (; j < line.size() && line[j] != '"'; ++j) {
                    if (line[j] == '\\') {
                        ++j;
                        if (j >= line.size() ||
                            (line[j] != '\\' && line[j] != '"' && line[j] != 'n'))
                            out.push_back({n, "bad escape in label value"});
                    }
                    value += line[j];
                }
                if (j >= line.size()) {
                    out.push_back({n, "unterminated label value"});
                    break;
                }
                if (lname == "le")
                    le = value;
                else
                    series_labels += lname + "=" + value + ",";
                i = j + 1;
                if (i < line.size() && line[i] == ',') ++i;
            }
            ++i;  // '}'
        }
        if (i >= line.size() || line[i] != ' ') {
            out.push_back({n, "no value"});
            continue;
        }
        std::string value = line.substr(i + 1);
        double v = 0;
        if (value == "+Inf")
            v = INFINITY;
        else if (value == "-Inf")
            v = -INFINITY;
        else if (value != "NaN") {
            char* end = nullptr;
            v = std::strtod(value.c_str(), &end);
            if (end == value.c_str() || *end != '\0') out.push_back({n, "bad value " + value});
        }
        std::string fam = family_of(name);
        if (!types.count(fam)) out.push_back({n, "sample before TYPE: " + name});
        sampled_families.insert(fam);
        if (types[fam] == "counter" && (v < 0 || std::isnan(v)))
            out.push_back({n, "negative counter"});
        if (types[fam] == "counter" && !name.ends_with("_total"))
            out.push_back({n, "counter without _total suffix: " + name});
        std::string key = fam + "|" + series_labels;
        if (name == fam + "_bucket") {
            if (le.empty()) out.push_back({n, "bucket without le"});
            if (last_bucket.count(key) && v < last_bucket[key])
                out.push_back({n, "buckets not cumulative"});
            last_bucket[key] = v;
            if (le == "+Inf") inf_bucket[key] = v;
        }
        if (name == fam + "_count" && types[fam] == "histogram") count[key] = v;
    }
    for (const auto& [key, c] : count) {
        if (!inf_bucket.count(key))
            out.push_back({0, "histogram without +Inf bucket: " + key});
        else if (inf_bucket[key] != c)
            out.push_back({0, "+Inf bucket != _count for " + key});
    }
    return out;
}

TEST(MetricsExposition, LinterCatchesWhatPromtoolCatches) {
    EXPECT_FALSE(lint_exposition("x 1\n").empty());                                     // no TYPE
    EXPECT_FALSE(lint_exposition("# TYPE x counter\nx 1\n").empty());                   // no _total
    EXPECT_FALSE(lint_exposition("# TYPE x_total counter\nx_total{a=b} 1\n").empty());  // unquoted
    EXPECT_FALSE(
        lint_exposition(
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_count 1\n")
            .empty());
    EXPECT_TRUE(
        lint_exposition("# HELP x_total h\n# TYPE x_total counter\nx_total{a=\"q\\\"\"} 1\n")
            .empty());
}

TEST(MetricsExposition, HostMetricsAreValidAfterTraffic) {
    std::string err;
    auto state = std::filesystem::temp_directory_path() / ("byparr-mx-" + std::to_string(getpid()));
    auto cfg = Config::from_map(
        {{"BYPARR_PLUGIN_PATH", std::string(byparr::build_paths::kFixturePluginDir) + "/good"},
         {"BYPARR_STATE_DIR", state.string()},
         {"SOLVERS", "echo-solver"}},
        &err);
    ASSERT_TRUE(cfg) << err;
    Registry reg(*cfg, RegistryOptions{false, {}});
    reg.load_all();
    V1Service svc(reg.config(), reg);
    svc.handle_v1(R"({"cmd":"request.get","url":"http://a.test/"})");
    svc.handle_v1(R"({"cmd":"request.get","url":"http://b.test/challenge"})");
    svc.handle_v1(R"({"cmd":"request.get","url":"http://c.test/block"})");
    svc.handle_v1(R"({"cmd":"request.get","url":"http://c.test/\"quoted\""})");
    svc.handle_v1("{bad json");
    auto text = svc.metrics().body;
    auto problems = lint_exposition(text);
    for (const auto& p : problems)
        ADD_FAILURE() << "line " << p.line << ": " << p.what;
    for (const char* family :
         {"byparr_requests_total", "byparr_request_duration_seconds", "byparr_challenges_total",
          "byparr_queue_depth", "byparr_inflight_requests", "byparr_plugin_state",
          "flaresolverr_request_total"})
        EXPECT_NE(text.find(std::string("# TYPE ") + family + " "), std::string::npos) << family;
    // Plugin metrics carry the kind the plugin declared (ABI 1.2), not a guess.
    EXPECT_NE(text.find("# TYPE byparr_echo_solve_seconds histogram\n"), std::string::npos) << text;
    EXPECT_NE(text.find("# TYPE byparr_echo_solves_total counter\n"), std::string::npos);
    EXPECT_NE(text.find("# TYPE byparr_echo_sessions gauge\n"), std::string::npos);
    std::filesystem::remove_all(state);
}

}  // namespace
}  // namespace byparr
