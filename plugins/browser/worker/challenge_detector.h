// The worker's window onto core/challenge_rules: compiled in when the file exists,
// otherwise a detector that never detects (the worker still serves pages).
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

namespace byparr::browser {

enum class PageVerdict { kNone, kChallenge, kBlocked, kCaptcha };

struct PageMatch {
    PageVerdict verdict = PageVerdict::kNone;
    std::string rule_id;
    std::string kind;
    std::string click_selector;
    int grace_ms = 0;  // blocked/captcha: final only after the page showed it this long
};

struct PageFactsIn {
    std::string url;
    std::string title;
    int status = 0;
    std::map<std::string, std::string> headers;
    std::set<std::string> matched_selectors;
    std::set<std::string> matched_html;
    std::string body_text;
};

class ChallengeDetector {
  public:
    ChallengeDetector();
    ~ChallengeDetector();

    // Loads rule files in order; false + *error on failure. No files: detection off.
    bool load(const std::vector<std::string>& files, std::string* error);
    bool enabled() const;
    const std::vector<std::string>& selectors() const;
    const std::vector<std::string>& html_markers() const;
    bool is_clearance_cookie(const std::string& name) const;
    PageMatch classify(const PageFactsIn& facts) const;

  private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace byparr::browser
