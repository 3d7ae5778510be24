// Challenge detection as data: a rule file (share/byparr/challenges.json plus optional operator
// overrides) says which page facts mean "anti-bot challenge", "blocked" or "captcha", and this
// classifier applies it. Vendors change their pages more often than we release, so the lists live
// in a file an operator can extend without a rebuild.
//
// Self-contained on purpose: this file is compiled into the host's core library and directly
// into the Qt WebEngine worker, so it depends only on the standard library and Poco JSON /
// Foundation (no other core headers, no Qt, no Boost).
//
// Threading: a RuleSet is immutable after parse()/load_files()/merge(); classify() and the other
// const members may be called concurrently from any thread.
#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace byparr::challenge {

enum class Verdict { kNone = 1, kChallenge, kBlocked, kCaptcha };  // zero never valid

// "none", "challenge", "blocked", "captcha"; "invalid" for a value outside the enum.
const char* to_string(Verdict verdict);

// What the browser side observed about the current page. The worker fills this in; the rule set
// only compares it, so the same rules work for any engine.
struct PageFacts {
    std::string url;
    std::string title;
    int status = 0;                              // HTTP status of the main document, 0 = unknown
    std::map<std::string, std::string> headers;  // lower-case names
    std::set<std::string> matched_selectors;     // which of RuleSet::selectors() matched in the DOM
    std::set<std::string> matched_html;  // which of RuleSet::html_markers() the source contains
    std::string body_text;               // first ~4 KiB of document.body.innerText
};

struct Match {
    Verdict verdict = Verdict::kNone;
    std::string rule_id;  // "" when kNone
    std::string kind;     // vendor/kind, e.g. "cloudflare", "turnstile", "cloudflare-1020"
    std::string
        click_selector;  // interactive widgets: where a trusted click should go; "" otherwise
    // blocked/captcha only: the verdict is final once the page has shown it this long without
    // moving on (a marker that a still-running check may also carry). 0: final at once.
    int grace_ms = 0;
};

// Bounds applied to every rule file. Public so tests and the README can refer to one source.
inline constexpr std::size_t kMaxPatternLength = 512;   // regex / literal pattern, in bytes
inline constexpr std::size_t kMaxSelectorLength = 256;  // one CSS selector, in bytes
inline constexpr std::size_t kMaxIdLength = 64;         // rule id and kind
inline constexpr int kMaxGraceMs = 10000;               // a rule's graceMs
// classify() looks at no more than this many bytes of body_text (and kMaxTitleLength of the
// title, kMaxHeaderValueLength of a header value). libstdc++'s std::regex matcher recurses once
// per input character, so an unbounded input could overflow the stack of a worker thread.
inline constexpr std::size_t kMaxBodyTextLength = 4096;
inline constexpr std::size_t kMaxTitleLength = 1024;
inline constexpr std::size_t kMaxHeaderValueLength = 1024;

struct Rule;  // defined in challenge_rules.cpp; holds compiled regexes

class RuleSet {
  public:
    // An empty set: classify() always answers kNone.
    RuleSet();
    ~RuleSet();
    RuleSet(const RuleSet& other);
    RuleSet(RuleSet&& other) noexcept;
    RuleSet& operator=(const RuleSet& other);
    RuleSet& operator=(RuleSet&& other) noexcept;

    // Parse one rule document. On error returns nullopt and sets *error (if non-null) to a
    // message naming the rule index (1-based) / id and field, e.g.
    // "rule #3 ('cf-title'): 'match.title.regex' is not a valid regex: ...".
    static std::optional<RuleSet> parse(std::string_view json_text, std::string* error);

    // Load files in order and merge() each into the result of the previous ones. A missing or
    // unreadable path is an error here (the caller skips optional files that do not exist); the
    // message is prefixed with the path.
    static std::optional<RuleSet> load_files(const std::vector<std::string>& paths,
                                             std::string* error);

    // Apply a later document on top of this one: a rule with an existing id replaces it in place
    // (keeping its position, and so its precedence), "disabled": true removes that id, new ids
    // are appended. Clearance cookie patterns are unioned.
    void merge(const RuleSet& later);

    // All distinct CSS selectors the rules test, in first-use order. The worker evaluates each
    // and reports the ones that matched in PageFacts::matched_selectors.
    const std::vector<std::string>& selectors() const;
    // All distinct literal "html" markers, likewise: the worker searches the document's source
    // (serialised DOM, inline scripts and noscript text included) and reports the ones found in
    // PageFacts::matched_html.
    const std::vector<std::string>& html_markers() const;
    // Clearance cookie name patterns; a trailing '*' matches any suffix ("__ddg*").
    const std::vector<std::string>& clearance_cookies() const;
    bool is_clearance_cookie(std::string_view name) const;

    // A rule applies when all of its "match" conditions hold and none of its "unless" entries
    // does. Precedence: blocked > captcha > challenge > none. Within one verdict a rule that
    // carries a click selector wins (the worker must act on it), then the earlier rule in set
    // order.
    Match classify(const PageFacts& facts) const;

    // Number of active (not disabled) rules.
    size_t size() const;
    // Ids of the active rules in set order (for listing and diagnostics).
    std::vector<std::string> rule_ids() const;

  private:
    void rebuild_selectors();

    std::vector<Rule> rules_;                // active rules, in precedence order
    std::vector<std::string> disabled_ids_;  // tombstones this set applies when merged onto another
    std::vector<std::string> clearance_cookies_;
    std::vector<std::string> selectors_;     // derived from rules_
    std::vector<std::string> html_markers_;  // derived from rules_
};

}  // namespace byparr::challenge
