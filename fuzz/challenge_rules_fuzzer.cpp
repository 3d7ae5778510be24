// libFuzzer target: the challenge rule file parser (core/challenge_rules.cpp), then classify()
// on a fixed page (a Cloudflare interstitial) with every rule set that parses, plus merge() onto
// itself.
#include <cstdint>
#include <string>

#include "core/challenge_rules.h"
#include "fuzz/fuzz_common.h"

namespace {

using byparr::challenge::PageFacts;
using byparr::challenge::RuleSet;

const PageFacts& fixed_page() {
    static const PageFacts page = [] {
        PageFacts p;
        p.url = "https://www.example.com/cdn-cgi/challenge-platform/h/b/orchestrate/jsch/v1";
        p.title = "Just a moment...";
        p.status = 403;
        p.headers = {{"server", "cloudflare"},
                     {"cf-ray", "8c1a2b3c4d5e6f70-AMS"},
                     {"content-type", "text/html; charset=UTF-8"},
                     {"cf-mitigated", "challenge"}};
        p.matched_selectors = {"#challenge-form", "#cf-challenge-running",
                               "iframe[src*=\"challenges.cloudflare.com\"]"};
        p.body_text =
            "www.example.com\nVerifying you are human. This may take a few seconds.\n"
            "www.example.com needs to review the security of your connection before "
            "proceeding.\nRay ID: 8c1a2b3c4d5e6f70\nPerformance & security by Cloudflare";
        return p;
    }();
    return page;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (byparr::fuzz::too_large(size)) return -1;
    const auto text = byparr::fuzz::as_view(data, size);

    std::string error;
    auto rules = RuleSet::parse(text, &error);
    if (!rules) {
        if (error.empty()) __builtin_trap();
        return 0;
    }
    const auto match = rules->classify(fixed_page());
    byparr::fuzz::consume(std::string(byparr::challenge::to_string(match.verdict)));
    if (match.verdict == byparr::challenge::Verdict::kNone && !match.rule_id.empty()) {
        __builtin_trap();
    }
    byparr::fuzz::consume(rules->classify(PageFacts{}));  // an empty page
    byparr::fuzz::consume(rules->selectors());
    byparr::fuzz::consume(rules->rule_ids());
    byparr::fuzz::consume(rules->is_clearance_cookie("cf_clearance"));
    byparr::fuzz::consume(rules->is_clearance_cookie(""));

    RuleSet merged = *rules;  // copy, then merge the document onto itself
    merged.merge(*rules);
    if (merged.size() != rules->size()) __builtin_trap();  // same ids replace in place
    byparr::fuzz::consume(merged.classify(fixed_page()));
    return 0;
}
