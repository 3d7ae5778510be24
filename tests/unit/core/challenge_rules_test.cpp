#include "core/challenge_rules.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "byparr/build_paths.h"

namespace byparr::challenge {
namespace {

const std::string kShippedRules =
    std::string(byparr::build_paths::kSourceDir) + "/share/byparr/challenges.json";

RuleSet parse_or_fail(const std::string& json) {
    std::string error;
    auto set = RuleSet::parse(json, &error);
    EXPECT_TRUE(set.has_value()) << error;
    return set ? *set : RuleSet{};
}

// Parses a document that must fail and returns the message.
std::string parse_error(const std::string& json) {
    std::string error;
    auto set = RuleSet::parse(json, &error);
    EXPECT_FALSE(set.has_value()) << "parsed but should not have: " << json;
    EXPECT_FALSE(error.empty());
    return error;
}

std::string write_temp_file(const std::string& name, const std::string& contents) {
    const auto path = std::filesystem::path(::testing::TempDir()) / name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << contents;
    return path.string();
}

PageFacts page(std::string title, int status = 200) {
    PageFacts facts;
    facts.url = "https://example.org/";
    facts.title = std::move(title);
    facts.status = status;
    return facts;
}

// ---------------------------------------------------------------------------------------------
// The shipped rule file: parsed by the same code, classifying representative pages.

class ShippedRules : public ::testing::Test {
  protected:
    static void SetUpTestSuite() {
        std::string error;
        auto set = RuleSet::load_files({kShippedRules}, &error);
        ASSERT_TRUE(set.has_value()) << error;
        rules_ = new RuleSet(std::move(*set));
    }
    static void TearDownTestSuite() {
        delete rules_;
        rules_ = nullptr;
    }
    void SetUp() override { ASSERT_NE(rules_, nullptr) << "shipped rules failed to load"; }

    static RuleSet* rules_;
};
RuleSet* ShippedRules::rules_ = nullptr;

TEST_F(ShippedRules, LoadsWithSelectorsAndCookies) {
    EXPECT_GE(rules_->size(), 15u);
    const auto& selectors = rules_->selectors();
    const std::set<std::string> distinct(selectors.begin(), selectors.end());
    EXPECT_EQ(distinct.size(), selectors.size()) << "selectors() must not repeat";
    for (const char* expected :
         {"#cf-challenge-running", ".ray_id", "td.info #js_info", "div.vc div.text-box h2",
          "#cf-error-details div.cf-error-overview h1", ".cf-turnstile", "#ddg-captcha"}) {
        EXPECT_EQ(distinct.count(expected), 1u) << expected;
    }
}

TEST_F(ShippedRules, PlainPageIsNone) {
    PageFacts facts = page("Example Domain");
    facts.headers["server"] = "cloudflare";
    facts.body_text = "This domain is for use in illustrative examples in documents.";
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kNone);
    EXPECT_EQ(match.rule_id, "");
    EXPECT_EQ(match.kind, "");
    EXPECT_EQ(match.click_selector, "");
}

TEST_F(ShippedRules, JustAMomentFromCloudflareIsChallenge) {
    PageFacts facts = page("Just a moment...", 503);
    facts.headers["server"] = "cloudflare";
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kChallenge);
    EXPECT_EQ(match.kind, "cloudflare");
    EXPECT_EQ(match.rule_id, "cf-just-a-moment");
    EXPECT_EQ(match.click_selector, "");
}

TEST_F(ShippedRules, ChallengeTitleIsCaseInsensitive) {
    EXPECT_EQ(rules_->classify(page("JUST A MOMENT...")).verdict, Verdict::kChallenge);
    EXPECT_EQ(rules_->classify(page("ddos-guard")).verdict, Verdict::kChallenge);
    EXPECT_EQ(rules_->classify(page("Just a moment")).verdict, Verdict::kNone)
        << "equals, not prefix: the ellipsis is part of the title";
}

TEST_F(ShippedRules, CfMitigatedHeaderNeedsChallengeStatus) {
    PageFacts facts = page("", 403);
    facts.headers["cf-mitigated"] = "challenge";
    EXPECT_EQ(rules_->classify(facts).verdict, Verdict::kChallenge);
    EXPECT_EQ(rules_->classify(facts).rule_id, "cf-mitigated");
    facts.status = 200;
    EXPECT_EQ(rules_->classify(facts).verdict, Verdict::kNone);
}

TEST_F(ShippedRules, Error1020PlainTextIsBlocked) {
    PageFacts facts = page("", 403);
    facts.headers["server"] = "cloudflare";
    facts.body_text = "error code: 1020";
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kBlocked);
    EXPECT_EQ(match.kind, "cloudflare-1020");
}

TEST_F(ShippedRules, AccessDeniedTitleFromCloudflareIs1020) {
    PageFacts facts =
        page("Access denied | www.example.org used Cloudflare to restrict access", 403);
    facts.headers["server"] = "cloudflare";
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kBlocked);
    EXPECT_EQ(match.kind, "cloudflare-1020");
    EXPECT_EQ(match.rule_id, "cf-1020-title");
}

TEST_F(ShippedRules, PageQuotingErrorCodeIsNotBlocked) {
    PageFacts facts = page("Forum: why do I get error 1020?");
    facts.headers["server"] = "cloudflare";
    facts.body_text = "When I open the site I see error code: 1020 and nothing else. Any idea?";
    EXPECT_EQ(rules_->classify(facts).verdict, Verdict::kNone);
}

TEST_F(ShippedRules, RateLimitedByCloudflareIsBlockedAs1015) {
    PageFacts facts =
        page("Access denied | www.example.org used Cloudflare to restrict access", 429);
    facts.headers["server"] = "cloudflare";
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kBlocked);
    EXPECT_EQ(match.kind, "cloudflare-1015");

    PageFacts plain = page("", 429);
    plain.body_text = "error code: 1015";
    EXPECT_EQ(rules_->classify(plain).verdict, Verdict::kBlocked);
    EXPECT_EQ(rules_->classify(plain).kind, "cloudflare-1015");
}

TEST_F(ShippedRules, RateLimitedByDdosGuardIsBlocked) {
    PageFacts facts = page("429 Too Many Requests", 429);
    facts.headers["server"] = "ddos-guard";
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kBlocked);
    EXPECT_EQ(match.kind, "ddos-guard");
}

TEST_F(ShippedRules, HCaptchaPageIsCaptcha) {
    PageFacts facts = page("Attention needed", 403);
    facts.headers["server"] = "cloudflare";
    facts.matched_selectors = {".h-captcha:not([data-size='invisible'])"};
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kCaptcha);
    EXPECT_EQ(match.kind, "hcaptcha");
    EXPECT_EQ(match.click_selector, "") << "a captcha needs a person, not a click";
}

TEST_F(ShippedRules, HCaptchaInsideChallengePageIsCaptcha) {
    PageFacts facts = page("Just a moment...", 403);
    facts.headers["server"] = "cloudflare";
    facts.matched_selectors = {"iframe[src*='hcaptcha.com']:not([src*='invisible'])",
                               "#cf-challenge-running"};
    EXPECT_EQ(rules_->classify(facts).verdict, Verdict::kCaptcha);
}

TEST_F(ShippedRules, RecaptchaWidgetIsCaptcha) {
    PageFacts facts = page("Security check", 429);
    facts.matched_selectors = {".g-recaptcha:not([data-size='invisible'])"};
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kCaptcha);
    EXPECT_EQ(match.kind, "recaptcha");
}

TEST_F(ShippedRules, DdosGuardCheckIsChallenge) {
    PageFacts facts = page("DDoS-Guard", 403);
    facts.headers["server"] = "ddos-guard";
    facts.matched_selectors = {"#ddg-l10n-title"};
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kChallenge);
    EXPECT_EQ(match.kind, "ddos-guard");

    PageFacts header_only = page("", 403);
    header_only.headers["server"] = "ddos-guard";
    EXPECT_EQ(rules_->classify(header_only).verdict, Verdict::kChallenge);
}

TEST_F(ShippedRules, DdosGuardCaptchaIsCaptcha) {
    PageFacts facts = page("DDoS-Guard", 403);
    facts.headers["server"] = "ddos-guard";
    facts.matched_selectors = {"#ddg-l10n-title", ".ddg-captcha"};
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kCaptcha);
    EXPECT_EQ(match.kind, "ddos-guard");
}

TEST_F(ShippedRules, TurnstileWidgetIsChallengeWithClickSelector) {
    PageFacts facts = page("Just a moment...", 403);
    facts.headers["server"] = "cloudflare";
    facts.matched_selectors = {".cf-turnstile", "#turnstile-wrapper"};
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kChallenge);
    EXPECT_EQ(match.kind, "turnstile");
    EXPECT_EQ(match.rule_id, "turnstile-widget");
    // The checkbox or the widget iframe, never the bare container (it may have no box).
    EXPECT_NE(match.click_selector.find(".cf-turnstile input[type=checkbox]"), std::string::npos);
    EXPECT_NE(match.click_selector.find("iframe[src*='challenges.cloudflare.com']"),
              std::string::npos);
}

TEST_F(ShippedRules, WidgetsOnAnOrdinaryPageAreLeftAlone) {
    // A login form with its own Turnstile or reCAPTCHA is content: FlareSolverr returns it, and
    // failing it as "captcha" or waiting for a widget that never leaves would break indexers.
    for (const char* selector : {".cf-turnstile", ".g-recaptcha:not([data-size='invisible'])",
                                 ".h-captcha:not([data-size='invisible'])"}) {
        PageFacts facts = page("Login", 200);
        facts.headers["server"] = "cloudflare";
        facts.matched_selectors = {selector};
        EXPECT_EQ(rules_->classify(facts).verdict, Verdict::kNone) << selector;
    }
}

TEST_F(ShippedRules, TurnstileOnInterstitialKeepsTheClick) {
    // The managed challenge page matches the generic Cloudflare rules too; the worker still has
    // to learn where to click.
    PageFacts facts = page("Just a moment...", 403);
    facts.headers["server"] = "cloudflare";
    facts.headers["cf-mitigated"] = "challenge";
    facts.matched_selectors = {"#challenge-spinner", "iframe[src*='challenges.cloudflare.com']"};
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kChallenge);
    EXPECT_EQ(match.kind, "turnstile");
    EXPECT_FALSE(match.click_selector.empty());
}

TEST_F(ShippedRules, VerifyButtonIsTheClickTarget) {
    PageFacts facts = page("Just a moment...");
    facts.matched_selectors = {"input[type=button][value='Verify you are human']"};
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kChallenge);
    EXPECT_EQ(match.click_selector, "input[type=button][value='Verify you are human']");
}

TEST_F(ShippedRules, BlockTitleWithChallengeSelectorIsBlocked) {
    PageFacts facts = page("Attention Required! | Cloudflare", 403);
    facts.matched_selectors = {".ray_id", "#cf-challenge-running"};
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kBlocked);
    EXPECT_EQ(match.rule_id, "cf-attention-required");
}

TEST_F(ShippedRules, EverySelectorOnItsOwnIsDetected) {
    // Guards the contract with the worker: every selector it is asked to test can change the
    // verdict, so none is dead weight and none was mistyped between rule and list.
    // 403 because the widget rules only apply to anti-bot responses.
    for (const auto& selector : rules_->selectors()) {
        PageFacts facts = page("Some page", 403);
        facts.matched_selectors = {selector};
        EXPECT_NE(rules_->classify(facts).verdict, Verdict::kNone) << selector;
    }
}

TEST_F(ShippedRules, ClearanceCookiesCoverCloudflareAndDdosGuard) {
    for (const char* name : {"cf_clearance", "__ddg1_", "__ddg2_", "__ddgid_", "__ddgmark_",
                             "__ddg5_", "__ddg8_", "__ddg9_", "__ddg10_"}) {
        EXPECT_TRUE(rules_->is_clearance_cookie(name)) << name;
    }
    for (const char* name :
         {"", "cf_clearance2", "CF_CLEARANCE", "__cf_bm", "x__ddg1_", "session"}) {
        EXPECT_FALSE(rules_->is_clearance_cookie(name)) << name;
    }
}

// Shapes of real vendors' pages (the markers the shipped rules were written from; the
// end-to-end check against the real captures is tests/integration/corpus_test.cpp).

TEST_F(ShippedRules, CloudflareErrorTemplateDoesNotDecideAlone) {
    // The captcha-era page wears the block page's template and title.
    PageFacts captcha = page("Attention Required! | Cloudflare", 403);
    captcha.headers["server"] = "cloudflare";
    captcha.matched_selectors = {"#cf-error-details div.cf-error-overview h1", "#challenge-form",
                                 ".cf-captcha-container"};
    EXPECT_EQ(rules_->classify(captcha).verdict, Verdict::kCaptcha);
    EXPECT_EQ(rules_->classify(captcha).rule_id, "cf-captcha-legacy");

    // The same template on its own, on a refusal status, is the block page.
    PageFacts block = page("Attention Required! | Cloudflare", 403);
    block.matched_selectors = {"#cf-error-details div.cf-error-overview h1"};
    EXPECT_EQ(rules_->classify(block).verdict, Verdict::kBlocked);

    // On a 5xx it is an origin error: the page is returned.
    PageFacts origin = page("example.org | 521: Web server is down", 521);
    origin.headers["server"] = "cloudflare";
    origin.matched_selectors = {"#cf-error-details div.cf-error-overview h1"};
    origin.body_text = "Web server is down Error code 521";
    EXPECT_EQ(rules_->classify(origin).verdict, Verdict::kNone);
}

TEST_F(ShippedRules, ChallengePlatformIsRecognisedUnderAnyTitle) {
    for (const char* marker : {"_cf_chl_opt", "/orchestrate/jsch/", "/orchestrate/chl_page/"}) {
        PageFacts facts = page("Einen Moment bitte\xE2\x80\xA6", 403);
        facts.matched_html = {marker};
        EXPECT_EQ(rules_->classify(facts).verdict, Verdict::kChallenge) << marker;
    }
    // The bot-management beacon on an ordinary page is not a challenge.
    PageFacts beacon = page("Home", 200);
    beacon.headers["server"] = "cloudflare";
    EXPECT_EQ(rules_->classify(beacon).verdict, Verdict::kNone);
}

TEST_F(ShippedRules, OldJsChallengeWithItsDecoyErrorCodeIsAChallenge) {
    // 2020 IUAM page: a site title, #challenge-form, and "Error 1020" in its text.
    PageFacts facts = page("Example shop", 503);
    facts.headers["server"] = "cloudflare";
    facts.matched_selectors = {"#challenge-form", "#cf-content"};
    facts.matched_html = {"jschl_vc"};
    facts.body_text = "Checking your browser before accessing example.org. Error 1020";
    EXPECT_EQ(rules_->classify(facts).verdict, Verdict::kChallenge);
}

TEST_F(ShippedRules, CloudflareBlockCodesAreBlockedInAnyTemplate) {
    PageFacts custom = page("Error \xE2\x80\xA2 Example", 403);
    custom.matched_selectors = {".cf-error-1020"};
    EXPECT_EQ(rules_->classify(custom).verdict, Verdict::kBlocked);

    PageFacts text = page("Access denied | example.org used Cloudflare to restrict access", 403);
    text.body_text = "Error 1009 Ray ID: 1234 Access denied";
    EXPECT_EQ(rules_->classify(text).verdict, Verdict::kBlocked);

    PageFacts minified = page("example.org", 403);
    minified.body_text = "Error1010 Ray ID: 1234";
    EXPECT_EQ(rules_->classify(minified).verdict, Verdict::kBlocked) << "spans without a space";
    minified.body_text = "Error code 1006";
    EXPECT_EQ(rules_->classify(minified).verdict, Verdict::kBlocked);

    PageFacts origin_dns = page("Origin DNS error | example.org | Cloudflare", 530);
    origin_dns.body_text = "Error 1016 Ray ID: 1234 Origin DNS error";
    EXPECT_EQ(rules_->classify(origin_dns).verdict, Verdict::kNone) << "the site is broken";
}

TEST_F(ShippedRules, OtherVendorsHaveRules) {
    struct Case {
        const char* what;
        PageFacts facts;
        Verdict verdict;
    };
    std::vector<Case> cases;
    PageFacts akamai = page("Access Denied", 403);
    akamai.body_text =
        "You don't have permission to access \"/\" on this server. Reference "
        "#18.2f83d717.1611368583.5551b54";
    cases.push_back({"akamai", akamai, Verdict::kBlocked});
    PageFacts sucuri_block = page("Sucuri WebSite Firewall - Access Denied", 403);
    cases.push_back({"sucuri block", sucuri_block, Verdict::kBlocked});
    PageFacts sucuri_js = page("You are being redirected...", 200);
    sucuri_js.matched_html = {"sucuri_cloudproxy_js"};
    cases.push_back({"sucuri js", sucuri_js, Verdict::kChallenge});
    PageFacts px = page("Access to this page has been denied.", 403);
    px.matched_selectors = {"#px-captcha"};
    cases.push_back({"perimeterx", px, Verdict::kCaptcha});
    PageFacts ddg_captcha = page("DDOS-GUARD", 403);
    ddg_captcha.headers["server"] = "ddos-guard";
    ddg_captcha.matched_selectors = {"script[src*='/.well-known/ddos-guard/ddg-captcha-page/']",
                                     "#ddg-captcha"};
    cases.push_back({"ddos-guard captcha", ddg_captcha, Verdict::kCaptcha});
    PageFacts ddg_js = page("DDoS-Guard", 403);
    ddg_js.matched_selectors = {"script[src*='/.well-known/ddos-guard/js-challenge/']"};
    cases.push_back({"ddos-guard js", ddg_js, Verdict::kChallenge});
    PageFacts incapsula = page("", 200);
    incapsula.matched_selectors = {"iframe[src*='_Incapsula_Resource'][src*='incident_id']"};
    cases.push_back({"incapsula incident", incapsula, Verdict::kBlocked});
    PageFacts datadome = page("example.org", 403);
    datadome.matched_html = {"'rt':'c'"};
    cases.push_back({"datadome captcha", datadome, Verdict::kCaptcha});
    PageFacts vercel = page("Vercel Security Checkpoint", 429);
    vercel.headers["x-vercel-mitigated"] = "challenge";
    cases.push_back({"vercel", vercel, Verdict::kChallenge});
    PageFacts anubis = page("Making sure you're not a bot!", 200);
    anubis.matched_selectors = {"#anubis_challenge"};
    cases.push_back({"anubis", anubis, Verdict::kChallenge});
    for (const auto& c : cases)
        EXPECT_EQ(rules_->classify(c.facts).verdict, c.verdict) << c.what;
}

TEST_F(ShippedRules, IncapsulasInjectedScriptIsAChallengeOnlyOnAnEmptyPage) {
    PageFacts facts = page("", 200);
    facts.matched_selectors = {"script[src*='_Incapsula_Resource?SWJIYLWA=']"};
    EXPECT_EQ(rules_->classify(facts).verdict, Verdict::kChallenge);
    facts.title = "Shop";
    facts.body_text = std::string(2000, 'x');
    EXPECT_EQ(rules_->classify(facts).verdict, Verdict::kNone)
        << "Incapsula injects the script into ordinary pages too";
}

TEST_F(ShippedRules, AnAmbiguousDdosGuardElementWaitsBeforeItIsFinal) {
    PageFacts facts = page("DDoS-Guard", 403);
    facts.matched_selectors = {"#ddg-l10n-title", "#ddg-captcha"};
    const Match match = rules_->classify(facts);
    EXPECT_EQ(match.verdict, Verdict::kCaptcha);
    EXPECT_GT(match.grace_ms, 0) << "an element id alone is no proof while the check runs";
    facts.matched_selectors.insert("script[src*='/.well-known/ddos-guard/ddg-captcha-page/']");
    EXPECT_EQ(rules_->classify(facts).grace_ms, 0) << "the captcha script is the mechanism";
}

TEST_F(ShippedRules, GenericFlareSolverrSelectorsNeedAChallengeStatus) {
    PageFacts facts = page("Shop", 200);
    facts.matched_selectors = {".lds-ring"};
    EXPECT_EQ(rules_->classify(facts).verdict, Verdict::kNone) << "a CSS spinner on a shop";
    facts.status = 503;
    EXPECT_EQ(rules_->classify(facts).verdict, Verdict::kChallenge);
}

// ---------------------------------------------------------------------------------------------
// Classification semantics, on small inline rule sets.

const char* const kPrecedenceRules = R"({"version": 1, "rules": [
  {"id": "c1", "verdict": "challenge", "kind": "k-c1", "match": {"selectors": ["#c"]}},
  {"id": "c2", "verdict": "challenge", "kind": "k-c2", "match": {"selectors": ["#c", "#c2"]}},
  {"id": "click", "verdict": "challenge", "kind": "k-click", "match": {"selectors": ["#w"]},
   "click": "#w"},
  {"id": "cap", "verdict": "captcha", "kind": "k-cap", "match": {"selectors": ["#cap"]}},
  {"id": "blk", "verdict": "blocked", "kind": "k-blk", "match": {"selectors": ["#b"]}}
]})";

PageFacts with_selectors(std::set<std::string> selectors) {
    PageFacts facts = page("t");
    facts.matched_selectors = std::move(selectors);
    return facts;
}

TEST(ChallengeRules, BlockBeatsChallengeWhenBothMatch) {
    const RuleSet rules = parse_or_fail(kPrecedenceRules);
    EXPECT_EQ(rules.classify(with_selectors({"#c", "#b"})).rule_id, "blk");
}

TEST(ChallengeRules, BlockBeatsCaptcha) {
    const RuleSet rules = parse_or_fail(kPrecedenceRules);
    EXPECT_EQ(rules.classify(with_selectors({"#cap", "#b"})).verdict, Verdict::kBlocked);
}

TEST(ChallengeRules, CaptchaBeatsChallenge) {
    const RuleSet rules = parse_or_fail(kPrecedenceRules);
    const Match match = rules.classify(with_selectors({"#w", "#cap", "#c"}));
    EXPECT_EQ(match.verdict, Verdict::kCaptcha);
    EXPECT_EQ(match.click_selector, "");
}

TEST(ChallengeRules, EarlierRuleWinsWithinAVerdict) {
    const RuleSet rules = parse_or_fail(kPrecedenceRules);
    EXPECT_EQ(rules.classify(with_selectors({"#c"})).rule_id, "c1");
    EXPECT_EQ(rules.classify(with_selectors({"#c2"})).rule_id, "c2");
}

TEST(ChallengeRules, RuleWithClickWinsWithinAVerdict) {
    const RuleSet rules = parse_or_fail(kPrecedenceRules);
    const Match match = rules.classify(with_selectors({"#c", "#w"}));
    EXPECT_EQ(match.rule_id, "click");
    EXPECT_EQ(match.kind, "k-click");
    EXPECT_EQ(match.click_selector, "#w");
}

TEST(ChallengeRules, UnrelatedSelectorsDoNotMatch) {
    const RuleSet rules = parse_or_fail(kPrecedenceRules);
    EXPECT_EQ(rules.classify(with_selectors({"#other", ".c"})).verdict, Verdict::kNone);
}

TEST(ChallengeRules, EmptyRuleSetClassifiesNone) {
    const RuleSet rules;
    EXPECT_EQ(rules.size(), 0u);
    EXPECT_TRUE(rules.selectors().empty());
    EXPECT_EQ(rules.classify(page("Just a moment...", 503)).verdict, Verdict::kNone);
}

TEST(ChallengeRules, AllConditionsOfARuleMustHold) {
    const RuleSet rules = parse_or_fail(R"({"version": 1, "rules": [
      {"id": "r", "verdict": "challenge", "kind": "k", "match": {
        "title": {"equals": "Wait"}, "status": [503, 403],
        "headers": {"server": {"equals": "x"}, "x-id": {"prefix": "ab"}},
        "bodyText": {"contains": "checking"}, "selectors": ["#a", "#b"]}}]})");
    PageFacts facts = page("Wait", 403);
    facts.headers = {{"server", "x"}, {"x-id", "abc"}};
    facts.body_text = "checking your browser";
    facts.matched_selectors = {"#b"};
    EXPECT_EQ(rules.classify(facts).verdict, Verdict::kChallenge);

    auto without = [&](auto change) {
        PageFacts copy = facts;
        change(copy);
        return rules.classify(copy).verdict;
    };
    EXPECT_EQ(without([](PageFacts& f) { f.title = "Wait!"; }), Verdict::kNone);
    EXPECT_EQ(without([](PageFacts& f) { f.status = 200; }), Verdict::kNone);
    EXPECT_EQ(without([](PageFacts& f) { f.status = 0; }), Verdict::kNone)
        << "an unknown status never satisfies a status condition";
    EXPECT_EQ(without([](PageFacts& f) { f.headers.erase("x-id"); }), Verdict::kNone);
    EXPECT_EQ(without([](PageFacts& f) { f.headers["x-id"] = "zab"; }), Verdict::kNone);
    EXPECT_EQ(without([](PageFacts& f) { f.body_text = "welcome"; }), Verdict::kNone);
    EXPECT_EQ(without([](PageFacts& f) { f.matched_selectors.clear(); }), Verdict::kNone);
}

TEST(ChallengeRules, TextOperatorsAndCaseSensitivity) {
    const RuleSet rules = parse_or_fail(R"({"version": 1, "rules": [
      {"id": "eq", "verdict": "blocked", "kind": "k", "match": {"title": {"equals": "Exact"}}},
      {"id": "pre-ci", "verdict": "captcha", "kind": "k",
       "match": {"title": {"prefix": "Hold On", "caseInsensitive": true}}},
      {"id": "re-ci", "verdict": "challenge", "kind": "k",
       "match": {"title": {"regex": "^checking\\s+\\d+$", "caseInsensitive": true}}}]})");
    EXPECT_EQ(rules.classify(page("Exact")).rule_id, "eq");
    EXPECT_EQ(rules.classify(page("exact")).verdict, Verdict::kNone) << "case-sensitive by default";
    EXPECT_EQ(rules.classify(page("  Exact \n")).rule_id, "eq") << "titles are trimmed";
    EXPECT_EQ(rules.classify(page("HOLD ON, please")).rule_id, "pre-ci");
    EXPECT_EQ(rules.classify(page("Please hold on")).verdict, Verdict::kNone);
    EXPECT_EQ(rules.classify(page("CHECKING 42")).rule_id, "re-ci");
    EXPECT_EQ(rules.classify(page("checking 42 now")).verdict, Verdict::kNone);
}

TEST(ChallengeRules, HeaderNamesInRulesAreCaseInsensitive) {
    const RuleSet rules = parse_or_fail(R"({"version": 1, "rules": [
      {"id": "r", "verdict": "challenge", "kind": "k",
       "match": {"headers": {"Server": {"contains": "guard", "caseInsensitive": true}}}}]})");
    PageFacts facts = page("");
    facts.headers["server"] = "DDoS-Guard";
    EXPECT_EQ(rules.classify(facts).verdict, Verdict::kChallenge);
}

TEST(ChallengeRules, BodyTextBeyondTheLimitIsIgnored) {
    const RuleSet rules = parse_or_fail(R"({"version": 1, "rules": [
      {"id": "lit", "verdict": "blocked", "kind": "k", "match": {"bodyText": {"contains": "MARK"}}},
      {"id": "re", "verdict": "challenge", "kind": "k",
       "match": {"bodyText": {"regex": "^(?:a|b)*c"}}}
    ]})");
    PageFacts facts = page("");
    facts.body_text = std::string(kMaxBodyTextLength, 'a') + "MARK c";
    EXPECT_EQ(rules.classify(facts).verdict, Verdict::kNone);
    facts.body_text = std::string(kMaxBodyTextLength - 6, 'a') + "MARK c";
    EXPECT_EQ(rules.classify(facts).rule_id, "lit");

    // libstdc++'s matcher recurses once per character: on a megabyte this pattern overflows the
    // stack unless classify() bounds the input first.
    facts.body_text = std::string(1 << 20, 'a') + "c";
    EXPECT_EQ(rules.classify(facts).verdict, Verdict::kNone);
    facts.body_text = std::string(100, 'a') + "c";
    EXPECT_EQ(rules.classify(facts).rule_id, "re");
}

TEST(ChallengeRules, VerdictNames) {
    EXPECT_STREQ(to_string(Verdict::kNone), "none");
    EXPECT_STREQ(to_string(Verdict::kChallenge), "challenge");
    EXPECT_STREQ(to_string(Verdict::kBlocked), "blocked");
    EXPECT_STREQ(to_string(Verdict::kCaptcha), "captcha");
    EXPECT_STREQ(to_string(static_cast<Verdict>(0)), "invalid");
}

TEST(ChallengeRules, SelectorsAreDistinctInFirstUseOrder) {
    const RuleSet rules = parse_or_fail(R"({"version": 1, "rules": [
      {"id": "a", "verdict": "challenge", "kind": "k", "match": {"selectors": ["#x", " #y "]}},
      {"id": "b", "verdict": "blocked", "kind": "k", "match": {"selectors": ["#z", "#x"]}}]})");
    EXPECT_EQ(rules.selectors(), (std::vector<std::string>{"#x", "#y", "#z"}));
}

// ---------------------------------------------------------------------------------------------
// Parse errors: each names the rule and the field, so an operator can fix the file.

TEST(ChallengeRulesParse, BadJsonIsRejected) {
    const std::string error = parse_error(R"({"version": 1, "rules": [)");
    EXPECT_NE(error.find("invalid JSON"), std::string::npos) << error;
    EXPECT_NE(parse_error("[]").find("top level"), std::string::npos);
}

TEST(ChallengeRulesParse, UnknownRuleKeyNamesRuleAndKey) {
    const std::string error = parse_error(R"({"version": 1, "rules": [
      {"id": "ok", "verdict": "challenge", "kind": "k", "match": {"selectors": ["#a"]}},
      {"id": "typo", "verdict": "challenge", "kind": "k", "match": {"selectors": ["#a"]},
       "clik": "#a"}]})");
    EXPECT_NE(error.find("rule #2 ('typo')"), std::string::npos) << error;
    EXPECT_NE(error.find("'clik'"), std::string::npos) << error;
}

TEST(ChallengeRulesParse, UnknownMatchKeyIsRejected) {
    const std::string error = parse_error(R"({"version": 1, "rules": [
      {"id": "m", "verdict": "challenge", "kind": "k",
       "match": {"title": {"equals": "x"}, "selector": ["#a"]}}]})");
    EXPECT_NE(error.find("rule #1 ('m')"), std::string::npos) << error;
    EXPECT_NE(error.find("'selector'"), std::string::npos) << error;
}

TEST(ChallengeRulesParse, UnknownMatcherKeyIsRejected) {
    const std::string error = parse_error(R"({"version": 1, "rules": [
      {"id": "m", "verdict": "challenge", "kind": "k",
       "match": {"title": {"equals": "x", "caseInsensitve": true}}}]})");
    EXPECT_NE(error.find("'caseInsensitve'"), std::string::npos) << error;
}

TEST(ChallengeRulesParse, UnknownTopLevelKeyIsRejected) {
    const std::string error = parse_error(R"({"version": 1, "rule": []})");
    EXPECT_NE(error.find("'rule'"), std::string::npos) << error;
}

TEST(ChallengeRulesParse, BadRegexNamesRuleAndField) {
    const std::string error = parse_error(R"({"version": 1, "rules": [
      {"id": "a", "verdict": "blocked", "kind": "k", "match": {"title": {"equals": "x"}}},
      {"id": "b", "verdict": "blocked", "kind": "k", "match": {"title": {"equals": "y"}}},
      {"id": "cf-title", "verdict": "challenge", "kind": "k",
       "match": {"title": {"regex": "(unclosed"}}}
    ]})");
    EXPECT_NE(error.find("rule #3 ('cf-title')"), std::string::npos) << error;
    EXPECT_NE(error.find("'match.title.regex' is not a valid regex"), std::string::npos) << error;
}

TEST(ChallengeRulesParse, OverlongPatternIsRejected) {
    const std::string long_regex(kMaxPatternLength + 1, 'a');
    const std::string error =
        parse_error(R"({"version": 1, "rules": [{"id": "r", "verdict": "blocked",
      "kind": "k", "match": {"bodyText": {"regex": ")" +
                    long_regex + R"("}}}]})");
    EXPECT_NE(error.find("'match.bodyText.regex' is longer than"), std::string::npos) << error;
}

TEST(ChallengeRulesParse, RuleWithoutConditionsIsRejected) {
    std::string error = parse_error(R"({"version": 1, "rules": [
      {"id": "empty", "verdict": "challenge", "kind": "k", "match": {}}]})");
    EXPECT_NE(error.find("rule #1 ('empty')"), std::string::npos) << error;
    EXPECT_NE(error.find("no conditions"), std::string::npos) << error;

    error = parse_error(R"({"version": 1, "rules": [
      {"id": "nomatch", "verdict": "challenge", "kind": "k"}]})");
    EXPECT_NE(error.find("rule #1 ('nomatch'): 'match' is required"), std::string::npos) << error;

    error = parse_error(R"({"version": 1, "rules": [
      {"id": "emptylist", "verdict": "challenge", "kind": "k", "match": {"selectors": []}}]})");
    EXPECT_NE(error.find("'match.selectors' must not be empty"), std::string::npos) << error;
}

TEST(ChallengeRulesParse, MatcherNeedsExactlyOneOperator) {
    std::string error = parse_error(R"({"version": 1, "rules": [{"id": "two", "verdict": "blocked",
      "kind": "k", "match": {"title": {"equals": "a", "prefix": "a"}}}]})");
    EXPECT_NE(error.find("'match.title' needs exactly one of"), std::string::npos) << error;
    error = parse_error(R"({"version": 1, "rules": [{"id": "none", "verdict": "blocked",
      "kind": "k", "match": {"headers": {"server": {"caseInsensitive": true}}}}]})");
    EXPECT_NE(error.find("'match.headers.server' needs exactly one of"), std::string::npos)
        << error;
}

TEST(ChallengeRulesParse, RequiredFieldsAndValuesAreChecked) {
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"verdict": "blocked", "kind": "k",
      "match": {"status": [403]}}]})")
                  .find("rule #1: 'id' is required"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"id": "v", "verdict": "none", "kind": "k",
      "match": {"status": [403]}}]})")
                  .find("rule #1 ('v'): 'verdict'"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"id": "k", "verdict": "blocked",
      "match": {"status": [403]}}]})")
                  .find("'kind' is required"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"id": "s", "verdict": "blocked", "kind": "k",
      "match": {"status": [403, 99]}}]})")
                  .find("'match.status[1]'"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"id": "s", "verdict": "blocked", "kind": "k",
      "match": {"status": ["403"]}}]})")
                  .find("'match.status[0]' must be an integer"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"id": "bad id!", "verdict": "blocked",
      "kind": "k", "match": {"status": [403]}}]})")
                  .find("rule #1: 'id' must be"),
              std::string::npos);
}

TEST(ChallengeRulesParse, ClickIsOnlyForChallenges) {
    const std::string error = parse_error(R"({"version": 1, "rules": [{"id": "cap",
      "verdict": "captcha", "kind": "hcaptcha", "match": {"selectors": [".h-captcha"]},
      "click": ".h-captcha"}]})");
    EXPECT_NE(error.find("rule #1 ('cap'): 'click' is only allowed"), std::string::npos) << error;
}

TEST(ChallengeRulesParse, DuplicateIdInOneFileIsRejected) {
    const std::string error = parse_error(R"({"version": 1, "rules": [
      {"id": "d", "verdict": "blocked", "kind": "k", "match": {"status": [403]}},
      {"id": "d", "verdict": "blocked", "kind": "k", "match": {"status": [429]}}]})");
    EXPECT_NE(error.find("rule #2 ('d'): duplicate id"), std::string::npos) << error;
}

TEST(ChallengeRulesParse, VersionMustBeOne) {
    EXPECT_NE(parse_error(R"({"rules": []})").find("'version' is required"), std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 2, "rules": []})").find("unsupported 'version' 2"),
              std::string::npos);
}

TEST(ChallengeRulesParse, CookieGlobOnlyAsSuffix) {
    EXPECT_NE(
        parse_error(R"({"version": 1, "clearanceCookies": ["a*b"]})").find("'clearanceCookies[0]'"),
        std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "clearanceCookies": ["ok", "*"]})")
                  .find("'clearanceCookies[1]'"),
              std::string::npos);
}

TEST(ChallengeRulesParse, NullErrorPointerIsAllowed) {
    EXPECT_FALSE(RuleSet::parse("{", nullptr).has_value());
    EXPECT_TRUE(RuleSet::parse(R"({"version": 1})", nullptr).has_value());
}

// ---------------------------------------------------------------------------------------------
// Overrides: later files replace, disable and append by id.

const char* const kBaseRules = R"({"version": 1, "clearanceCookies": ["cf_clearance"], "rules": [
  {"id": "one", "verdict": "challenge", "kind": "k1", "match": {"selectors": ["#one"]}},
  {"id": "two", "verdict": "challenge", "kind": "k2", "match": {"selectors": ["#two"]}},
  {"id": "three", "verdict": "blocked", "kind": "k3", "match": {"selectors": ["#three"]}}]})";

TEST(ChallengeRulesMerge, LaterRuleReplacesSameIdInPlace) {
    RuleSet rules = parse_or_fail(kBaseRules);
    rules.merge(parse_or_fail(R"({"version": 1, "rules": [
      {"id": "two", "verdict": "captcha", "kind": "k2b", "match": {"selectors": ["#two-b"]}}]})"));
    EXPECT_EQ(rules.rule_ids(), (std::vector<std::string>{"one", "two", "three"}));
    EXPECT_EQ(rules.classify(with_selectors({"#two"})).verdict, Verdict::kNone);
    const Match match = rules.classify(with_selectors({"#two-b"}));
    EXPECT_EQ(match.verdict, Verdict::kCaptcha);
    EXPECT_EQ(match.kind, "k2b");
    EXPECT_EQ(rules.selectors(), (std::vector<std::string>{"#one", "#two-b", "#three"}));
}

TEST(ChallengeRulesMerge, DisabledRuleIsRemovedById) {
    RuleSet rules = parse_or_fail(kBaseRules);
    rules.merge(parse_or_fail(R"({"version": 1, "rules": [{"id": "one", "disabled": true}]})"));
    EXPECT_EQ(rules.size(), 2u);
    EXPECT_EQ(rules.classify(with_selectors({"#one"})).verdict, Verdict::kNone);
    EXPECT_EQ(std::count(rules.selectors().begin(), rules.selectors().end(), "#one"), 0);
}

TEST(ChallengeRulesMerge, NewIdsAreAppendedAndCookiesUnioned) {
    RuleSet rules = parse_or_fail(kBaseRules);
    rules.merge(parse_or_fail(R"({"version": 1, "clearanceCookies": ["cf_clearance", "sucuri_*"],
      "rules": [{"id": "four", "verdict": "challenge", "kind": "k4",
                 "match": {"title": {"equals": "Sucuri WebSite Firewall - Access Denied"}}}]})"));
    EXPECT_EQ(rules.rule_ids(), (std::vector<std::string>{"one", "two", "three", "four"}));
    EXPECT_EQ(rules.classify(page("Sucuri WebSite Firewall - Access Denied")).rule_id, "four");
    EXPECT_EQ(rules.clearance_cookies(), (std::vector<std::string>{"cf_clearance", "sucuri_*"}));
    EXPECT_TRUE(rules.is_clearance_cookie("sucuri_cloudproxy_uuid_abc"));
}

TEST(ChallengeRulesMerge, LaterFileCanReAddADisabledId) {
    RuleSet rules = parse_or_fail(kBaseRules);
    rules.merge(parse_or_fail(R"({"version": 1, "rules": [{"id": "one", "disabled": true}]})"));
    rules.merge(parse_or_fail(R"({"version": 1, "rules": [
      {"id": "one", "verdict": "blocked", "kind": "k1b", "match": {"selectors": ["#one"]}}]})"));
    EXPECT_EQ(rules.rule_ids(), (std::vector<std::string>{"two", "three", "one"}));
    EXPECT_EQ(rules.classify(with_selectors({"#one"})).verdict, Verdict::kBlocked);
}

TEST(ChallengeRulesMerge, DisabledStubIsStillValidated) {
    const std::string error =
        parse_error(R"({"version": 1, "rules": [{"id": "one", "disabled": true, "verdit": "x"}]})");
    EXPECT_NE(error.find("rule #1 ('one'): unknown key 'verdit'"), std::string::npos) << error;
}

TEST(ChallengeRulesMerge, LoadFilesAppliesOverridesInOrder) {
    const std::string override_path = write_temp_file("challenges-override.json", R"({
      "version": 1,
      "rules": [
        {"id": "cf-just-a-moment", "disabled": true},
        {"id": "lds-ring-off", "verdict": "challenge", "kind": "site",
         "match": {"title": {"equals": "Mirror is busy"}}}
      ]})");
    std::string error;
    const auto rules = RuleSet::load_files({kShippedRules, override_path}, &error);
    ASSERT_TRUE(rules.has_value()) << error;
    EXPECT_EQ(rules->classify(page("Just a moment...")).verdict, Verdict::kNone);
    EXPECT_EQ(rules->classify(page("Mirror is busy")).rule_id, "lds-ring-off");
    EXPECT_EQ(rules->rule_ids().back(), "lds-ring-off");
}

TEST(ChallengeRulesMerge, LoadFilesNamesTheFailingPath) {
    std::string error;
    const std::string missing = ::testing::TempDir() + "/does-not-exist.json";
    EXPECT_FALSE(RuleSet::load_files({kShippedRules, missing}, &error).has_value());
    EXPECT_NE(error.find(missing), std::string::npos) << error;

    const std::string broken = write_temp_file("challenges-broken.json", R"({"version": 1,
      "rules": [{"id": "x", "verdict": "challenge", "kind": "k",
                 "match": {"bodyText": {"regex": "["}}}]})");
    EXPECT_FALSE(RuleSet::load_files({kShippedRules, broken}, &error).has_value());
    EXPECT_NE(error.find(broken + ": rule #1 ('x'): 'match.bodyText.regex'"), std::string::npos)
        << error;
}

// ---------------------------------------------------------------------------------------------
// html markers, unless and graceMs.

TEST(ChallengeRules, HtmlMarkersAreListedAndMatchedAsReported) {
    const RuleSet rules = parse_or_fail(R"({"version": 1, "rules": [
      {"id": "h", "verdict": "challenge", "kind": "k", "match": {"html": ["_opt", "x'y"]}}]})");
    EXPECT_EQ(rules.html_markers(), (std::vector<std::string>{"_opt", "x'y"}));
    PageFacts facts = page("t");
    EXPECT_EQ(rules.classify(facts).verdict, Verdict::kNone);
    facts.matched_html = {"x'y"};
    EXPECT_EQ(rules.classify(facts).rule_id, "h");
}

TEST(ChallengeRules, UnlessVetoesARuleAndItsSelectorsAreListed) {
    const RuleSet rules = parse_or_fail(R"({"version": 1, "rules": [
      {"id": "tpl", "verdict": "blocked", "kind": "k", "match": {"selectors": ["#tpl"]},
       "unless": [{"selectors": ["#form"]}, {"html": ["token"], "status": [403]}]},
      {"id": "form", "verdict": "challenge", "kind": "k", "match": {"selectors": ["#form"]}}]})");
    EXPECT_EQ(rules.selectors(), (std::vector<std::string>{"#tpl", "#form"}));
    EXPECT_EQ(rules.html_markers(), (std::vector<std::string>{"token"}));
    EXPECT_EQ(rules.classify(with_selectors({"#tpl"})).rule_id, "tpl");
    EXPECT_EQ(rules.classify(with_selectors({"#tpl", "#form"})).rule_id, "form");
    // An unless entry holds only when all its conditions do.
    PageFacts facts = with_selectors({"#tpl"});
    facts.matched_html = {"token"};
    EXPECT_EQ(rules.classify(facts).rule_id, "tpl") << "status 200, so the veto does not hold";
    facts.status = 403;
    EXPECT_EQ(rules.classify(facts).verdict, Verdict::kNone);
}

TEST(ChallengeRules, GraceIsCarriedForFinalVerdictsOnly) {
    const RuleSet rules = parse_or_fail(R"({"version": 1, "rules": [
      {"id": "g", "verdict": "captcha", "kind": "k", "match": {"selectors": ["#g"]},
       "graceMs": 1200}]})");
    EXPECT_EQ(rules.classify(with_selectors({"#g"})).grace_ms, 1200);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"id": "g", "verdict": "challenge",
      "kind": "k", "match": {"selectors": ["#g"]}, "graceMs": 10}]})")
                  .find("'graceMs' is only allowed"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"id": "g", "verdict": "blocked",
      "kind": "k", "match": {"selectors": ["#g"]}, "graceMs": 10001}]})")
                  .find("'graceMs' must be an integer"),
              std::string::npos);
}

TEST(ChallengeRules, BadHtmlAndUnlessAreRefusedWithTheirField) {
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"id": "a", "verdict": "blocked",
      "kind": "k", "match": {"html": [""]}}]})")
                  .find("'match.html[0]' must not be empty"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"id": "a", "verdict": "blocked",
      "kind": "k", "match": {"html": [3]}}]})")
                  .find("'match.html[0]' must be a string"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"id": "a", "verdict": "blocked",
      "kind": "k", "match": {"title": {"equals": "x"}}, "unless": [{}]}]})")
                  .find("'unless[0]' has no conditions"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"id": "a", "verdict": "blocked",
      "kind": "k", "match": {"title": {"equals": "x"}}, "unless": [{"tite": {}}]}]})")
                  .find("unknown key 'tite'"),
              std::string::npos);
    EXPECT_NE(parse_error(R"({"version": 1, "rules": [{"id": "a", "verdict": "blocked",
      "kind": "k", "match": {"title": {"equals": "x"}}, "unless": []}]})")
                  .find("'unless' must not be empty"),
              std::string::npos);
}

}  // namespace
}  // namespace byparr::challenge
