#include "challenge_detector.h"

#include "core/challenge_rules.h"

namespace byparr::browser {

struct ChallengeDetector::Impl {
    byparr::challenge::RuleSet rules;
    std::vector<std::string> selectors;
    std::vector<std::string> html_markers;
    bool enabled = false;
};

ChallengeDetector::ChallengeDetector() : impl_(std::make_unique<Impl>()) {}
ChallengeDetector::~ChallengeDetector() = default;

bool ChallengeDetector::load(const std::vector<std::string>& files, std::string* error) {
    if (files.empty()) return true;
    auto rules = byparr::challenge::RuleSet::load_files(files, error);
    if (!rules) return false;
    impl_->rules = std::move(*rules);
    impl_->selectors = impl_->rules.selectors();
    impl_->html_markers = impl_->rules.html_markers();
    impl_->enabled = impl_->rules.size() > 0;
    return true;
}

bool ChallengeDetector::enabled() const {
    return impl_->enabled;
}

const std::vector<std::string>& ChallengeDetector::selectors() const {
    return impl_->selectors;
}

const std::vector<std::string>& ChallengeDetector::html_markers() const {
    return impl_->html_markers;
}

bool ChallengeDetector::is_clearance_cookie(const std::string& name) const {
    return impl_->enabled && impl_->rules.is_clearance_cookie(name);
}

PageMatch ChallengeDetector::classify(const PageFactsIn& facts) const {
    PageMatch out;
    if (!impl_->enabled) return out;
    byparr::challenge::PageFacts f;
    f.url = facts.url;
    f.title = facts.title;
    f.status = facts.status;
    f.headers = facts.headers;
    f.matched_selectors = facts.matched_selectors;
    f.matched_html = facts.matched_html;
    f.body_text = facts.body_text;
    auto m = impl_->rules.classify(f);
    using byparr::challenge::Verdict;
    switch (m.verdict) {
        case Verdict::kChallenge:
            out.verdict = PageVerdict::kChallenge;
            break;
        case Verdict::kBlocked:
            out.verdict = PageVerdict::kBlocked;
            break;
        case Verdict::kCaptcha:
            out.verdict = PageVerdict::kCaptcha;
            break;
        default:
            out.verdict = PageVerdict::kNone;
    }
    out.rule_id = m.rule_id;
    out.kind = m.kind;
    out.click_selector = m.click_selector;
    out.grace_ms = m.grace_ms;
    return out;
}

}  // namespace byparr::browser
