#include "core/challenge_rules.h"
#include "core/strings.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <fstream>
#include <initializer_list>
// GCC 12 reports -Wmaybe-uninitialized inside libstdc++'s regex compiler when built with the
// sanitizers (a known false positive in std::function moves); keep -Werror sanitizer builds green.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <regex>
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
#include <sstream>
#include <stdexcept>
#include <utility>

#include <Poco/Dynamic/Var.h>
#include <Poco/Exception.h>
#include <Poco/JSON/Array.h>
#include <Poco/JSON/Object.h>
#include <Poco/JSON/Parser.h>

namespace byparr::challenge {

namespace {

// The first run of more than 6 digits that follows a backslash or sits inside
// {...} in a regex pattern, or "" if none. No sane rule needs a back-reference or
// repetition count that large, and libstdc++ overflows on them.
std::string overlong_regex_number(const std::string& p) {
    bool in_braces = false;
    for (size_t i = 0; i < p.size(); ++i) {
        char c = p[i];
        bool counted = false;
        if (c == '\\' && i + 1 < p.size()) {
            if (std::isdigit(static_cast<unsigned char>(p[i + 1]))) {
                counted = true;
                ++i;
            } else {
                ++i;  // an escaped character, never a brace
                continue;
            }
        } else if (c == '{') {
            in_braces = true;
            continue;
        } else if (c == '}') {
            in_braces = false;
            continue;
        } else if (in_braces && std::isdigit(static_cast<unsigned char>(c))) {
            counted = true;
        }
        if (!counted) continue;
        size_t start = i;
        while (i < p.size() && std::isdigit(static_cast<unsigned char>(p[i])))
            ++i;
        if (i - start > 6) return p.substr(start, std::min<size_t>(i - start, 20));
        --i;
    }
    return "";
}

using Poco::Dynamic::Var;
using Poco::JSON::Array;
using Poco::JSON::Object;

constexpr int kFormatVersion = 1;

// Internal only: lets the recursive-descent validation below stop at the first problem with a
// precise message. Nothing escapes parse(): callers get a value and a string.
struct ParseError : std::runtime_error {
    using std::runtime_error::runtime_error;
};

// Cut to at most max_bytes without splitting a UTF-8 sequence, so a regex never sees a dangling
// lead byte that the page did not contain.
std::string_view truncate_utf8(std::string_view text, std::size_t max_bytes) {
    if (text.size() <= max_bytes) return text;
    std::size_t end = max_bytes;
    while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80)
        --end;
    return text.substr(0, end);
}

bool valid_token(std::string_view text) {
    if (text.empty() || text.size() > kMaxIdLength) return false;
    return std::all_of(text.begin(), text.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '_' || c == '.';
    });
}

std::optional<Verdict> verdict_from_string(std::string_view text) {
    if (text == "challenge") return Verdict::kChallenge;
    if (text == "blocked") return Verdict::kBlocked;
    if (text == "captcha") return Verdict::kCaptcha;
    return std::nullopt;
}

// Larger is stronger; see RuleSet::classify.
int rank(Verdict verdict) {
    switch (verdict) {
        case Verdict::kBlocked:
            return 3;
        case Verdict::kCaptcha:
            return 2;
        case Verdict::kChallenge:
            return 1;
        case Verdict::kNone:
            break;
    }
    return 0;
}

}  // namespace

// A string condition: exactly one operator, optionally case-insensitive. Literal patterns are
// lower-cased once at parse so matching only lower-cases the input.
struct TextMatcher {
    enum class Op { kEquals = 1, kPrefix, kContains, kRegex };
    Op op = Op::kEquals;
    std::string pattern;
    bool case_insensitive = false;
    std::regex regex;  // compiled once at parse, only for kRegex

    bool matches(std::string_view text) const {
        if (op == Op::kRegex) {
            try {
                return std::regex_search(text.begin(), text.end(), regex);
            } catch (const std::regex_error&) {
                // error_complexity / error_stack on a pathological input: treat as no match
                // rather than take the worker down; the bounded inputs make this rare.
                return false;
            }
        }
        std::string lowered;
        if (case_insensitive) {
            lowered = ascii_lower(text);
            text = lowered;
        }
        switch (op) {
            case Op::kEquals:
                return text == pattern;
            case Op::kPrefix:
                return text.substr(0, pattern.size()) == pattern;
            case Op::kContains:
                return text.find(pattern) != std::string_view::npos;
            case Op::kRegex:
                break;
        }
        return false;
    }
};

// The conditions of one "match" (or one "unless" entry): all that are given must hold.
struct Conditions {
    std::optional<TextMatcher> title;
    std::vector<std::string> selectors;                        // any
    std::vector<std::pair<std::string, TextMatcher>> headers;  // all; names lower-case
    std::vector<int> statuses;                                 // any
    std::optional<TextMatcher> body_text;
    std::vector<std::string> html;  // any; literal markers the worker searched the source for

    bool empty() const {
        return !title && selectors.empty() && headers.empty() && statuses.empty() && !body_text &&
               html.empty();
    }

    static bool any_in(const std::vector<std::string>& wanted, const std::set<std::string>& seen) {
        return std::any_of(wanted.begin(), wanted.end(),
                           [&](const std::string& s) { return seen.count(s) != 0; });
    }

    bool matches(const PageFacts& facts, std::string_view title_text, std::string_view body) const {
        if (title && !title->matches(title_text)) return false;
        if (!statuses.empty() &&
            std::find(statuses.begin(), statuses.end(), facts.status) == statuses.end()) {
            return false;
        }
        for (const auto& [name, matcher] : headers) {
            const auto it = facts.headers.find(name);
            if (it == facts.headers.end()) return false;
            if (!matcher.matches(truncate_utf8(it->second, kMaxHeaderValueLength))) return false;
        }
        if (!selectors.empty() && !any_in(selectors, facts.matched_selectors)) return false;
        if (!html.empty() && !any_in(html, facts.matched_html)) return false;
        // Last: the only condition whose cost grows with the page.
        return !body_text || body_text->matches(body);
    }
};

struct Rule {
    std::string id;
    Verdict verdict = Verdict::kNone;
    std::string kind;
    std::string description;
    std::string click;
    bool disabled = false;
    int grace_ms = 0;

    Conditions when;
    std::vector<Conditions> unless;  // any one that holds vetoes the rule

    bool matches(const PageFacts& facts, std::string_view title_text, std::string_view body) const {
        if (!when.matches(facts, title_text, body)) return false;
        return std::none_of(unless.begin(), unless.end(), [&](const Conditions& c) {
            return c.matches(facts, title_text, body);
        });
    }
};

namespace {

// Walks one document with a "where am I" prefix so every message names the rule and the field.
struct DocumentParser {
    static void check_keys(const Object& object, std::initializer_list<std::string_view> allowed,
                           const std::string& where) {
        std::vector<std::string> names;
        object.getNames(names);
        for (const auto& name : names) {
            if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
                std::string list;
                for (const auto& a : allowed) {
                    if (!list.empty()) list += ", ";
                    list += a;
                }
                // A typo must not silently turn a condition off and widen (or kill) the rule.
                throw ParseError(where + "unknown key '" + name + "' (expected one of: " + list +
                                 ")");
            }
        }
    }

    static std::string require_string(const Var& value, const std::string& where,
                                      const std::string& field) {
        if (!value.isString()) throw ParseError(where + "'" + field + "' must be a string");
        return value.extract<std::string>();
    }

    static bool require_bool(const Var& value, const std::string& where, const std::string& field) {
        if (!value.isBoolean()) throw ParseError(where + "'" + field + "' must be true or false");
        return value.extract<bool>();
    }

    static Object::Ptr require_object(const Object& parent, const std::string& key,
                                      const std::string& where, const std::string& field) {
        if (!parent.isObject(key)) throw ParseError(where + "'" + field + "' must be an object");
        return parent.getObject(key);
    }

    static Array::Ptr require_array(const Object& parent, const std::string& key,
                                    const std::string& where, const std::string& field) {
        if (!parent.isArray(key)) throw ParseError(where + "'" + field + "' must be an array");
        return parent.getArray(key);
    }

    static TextMatcher parse_text_matcher(const Object& object, const std::string& where,
                                          const std::string& field) {
        check_keys(object, {"equals", "prefix", "contains", "regex", "caseInsensitive"},
                   where + "'" + field + "': ");
        TextMatcher matcher;
        if (object.has("caseInsensitive")) {
            matcher.case_insensitive =
                require_bool(object.get("caseInsensitive"), where, field + ".caseInsensitive");
        }
        static constexpr std::array<std::pair<std::string_view, TextMatcher::Op>, 4> kOps{{
            {"equals", TextMatcher::Op::kEquals},
            {"prefix", TextMatcher::Op::kPrefix},
            {"contains", TextMatcher::Op::kContains},
            {"regex", TextMatcher::Op::kRegex},
        }};
        int found = 0;
        for (const auto& [name, op] : kOps) {
            const std::string key(name);
            if (!object.has(key)) continue;
            ++found;
            const std::string sub = field + "." + key;
            matcher.op = op;
            matcher.pattern = require_string(object.get(key), where, sub);
            if (matcher.pattern.empty())
                throw ParseError(where + "'" + sub + "' must not be empty");
            if (matcher.pattern.size() > kMaxPatternLength) {
                throw ParseError(where + "'" + sub + "' is longer than " +
                                 std::to_string(kMaxPatternLength) + " bytes");
            }
            if (op == TextMatcher::Op::kRegex) {
                // libstdc++'s regex compiler reads the number of a back-reference
                // or a {n,m} bound into a long without an overflow check (UB; found by
                // the challenge_rules fuzzer): refuse such numbers before it sees them.
                if (auto bad = overlong_regex_number(matcher.pattern); !bad.empty())
                    throw ParseError(where + "'" + sub +
                                     "' has a number too large for a regex: " + bad);
                auto flags = std::regex::ECMAScript | std::regex::optimize;
                if (matcher.case_insensitive) flags |= std::regex::icase;
                try {
                    matcher.regex = std::regex(matcher.pattern, flags);
                } catch (const std::regex_error& e) {
                    throw ParseError(where + "'" + sub + "' is not a valid regex: " + e.what());
                }
            } else if (matcher.case_insensitive) {
                matcher.pattern = ascii_lower(matcher.pattern);
            }
        }
        if (found != 1) {
            throw ParseError(where + "'" + field +
                             "' needs exactly one of equals, prefix, contains, regex");
        }
        return matcher;
    }

    static std::string parse_selector(const Var& value, const std::string& where,
                                      const std::string& field) {
        const std::string raw = require_string(value, where, field);
        const std::string selector(trim(raw));
        if (selector.empty()) throw ParseError(where + "'" + field + "' must not be empty");
        if (selector.size() > kMaxSelectorLength) {
            throw ParseError(where + "'" + field + "' is longer than " +
                             std::to_string(kMaxSelectorLength) + " bytes");
        }
        return selector;
    }

    // A non-empty array of distinct strings, each checked by parse_one.
    template <typename ParseOne>
    static std::vector<std::string> parse_string_list(const Object& parent, const std::string& key,
                                                      const std::string& where,
                                                      const std::string& field,
                                                      ParseOne parse_one) {
        const auto list = require_array(parent, key, where, field);
        if (list->size() == 0) throw ParseError(where + "'" + field + "' must not be empty");
        std::vector<std::string> out;
        for (unsigned i = 0; i < list->size(); ++i) {
            std::string item =
                parse_one(list->get(i), where, field + "[" + std::to_string(i) + "]");
            if (std::find(out.begin(), out.end(), item) == out.end())
                out.push_back(std::move(item));
        }
        return out;
    }

    // An "html" marker: a literal the worker looks for in the document source. Literal only:
    // the source can be megabytes, and std::regex recurses per character.
    static std::string parse_html_marker(const Var& value, const std::string& where,
                                         const std::string& field) {
        std::string marker = require_string(value, where, field);
        if (marker.empty()) throw ParseError(where + "'" + field + "' must not be empty");
        if (marker.size() > kMaxPatternLength) {
            throw ParseError(where + "'" + field + "' is longer than " +
                             std::to_string(kMaxPatternLength) + " bytes");
        }
        return marker;
    }

    static std::vector<int> parse_statuses(const Object& match, const std::string& where,
                                           const std::string& name) {
        const auto list = require_array(match, "status", where, name + ".status");
        if (list->size() == 0) throw ParseError(where + "'" + name + ".status' must not be empty");
        std::vector<int> statuses;
        for (unsigned i = 0; i < list->size(); ++i) {
            const std::string field = name + ".status[" + std::to_string(i) + "]";
            const Var value = list->get(i);
            long long code = 0;
            try {
                if (!value.isInteger()) throw ParseError("");
                code = value.convert<long long>();
            } catch (const std::exception&) {
                throw ParseError(where + "'" + field + "' must be an integer HTTP status");
            }
            if (code < 100 || code > 599) {
                throw ParseError(where + "'" + field + "' must be an HTTP status (100-599)");
            }
            statuses.push_back(static_cast<int>(code));
        }
        return statuses;
    }

    static std::vector<std::pair<std::string, TextMatcher>> parse_headers(const Object& match,
                                                                          const std::string& where,
                                                                          const std::string& name) {
        const auto headers = require_object(match, "headers", where, name + ".headers");
        std::vector<std::string> names;
        headers->getNames(names);
        if (names.empty()) throw ParseError(where + "'" + name + ".headers' must not be empty");
        std::vector<std::pair<std::string, TextMatcher>> out;
        for (const auto& header : names) {
            const std::string field = name + ".headers." + header;
            // PageFacts carries lower-case names; accept "Server" here so an operator
            // copying from a browser's network panel does not get a rule that never fires.
            const std::string lowered = ascii_lower(trim(header));
            if (lowered.empty())
                throw ParseError(where + "empty header name in '" + name + ".headers'");
            const auto duplicate = std::find_if(out.begin(), out.end(),
                                                [&](const auto& h) { return h.first == lowered; });
            if (duplicate != out.end()) {
                throw ParseError(where + "header '" + lowered + "' is given twice");
            }
            out.emplace_back(
                lowered,
                parse_text_matcher(*require_object(*headers, header, where, field), where, field));
        }
        return out;
    }

    // One "match" object, or one entry of "unless" (name says which, for messages).
    static Conditions parse_conditions(const Object& match, const std::string& where,
                                       const std::string& name) {
        check_keys(match, {"title", "selectors", "headers", "status", "bodyText", "html"},
                   where + "'" + name + "': ");
        Conditions c;
        if (match.has("title")) {
            c.title = parse_text_matcher(*require_object(match, "title", where, name + ".title"),
                                         where, name + ".title");
        }
        if (match.has("bodyText")) {
            c.body_text =
                parse_text_matcher(*require_object(match, "bodyText", where, name + ".bodyText"),
                                   where, name + ".bodyText");
        }
        if (match.has("selectors")) {
            c.selectors =
                parse_string_list(match, "selectors", where, name + ".selectors", parse_selector);
        }
        if (match.has("html")) {
            c.html = parse_string_list(match, "html", where, name + ".html", parse_html_marker);
        }
        if (match.has("status")) c.statuses = parse_statuses(match, where, name);
        if (match.has("headers")) c.headers = parse_headers(match, where, name);
        return c;
    }

    static Rule parse_rule(const Object& object, std::size_t index) {
        std::string where = "rule #" + std::to_string(index + 1) + ": ";
        Rule rule;
        if (!object.has("id")) throw ParseError(where + "'id' is required");
        rule.id = require_string(object.get("id"), where, "id");
        if (!valid_token(rule.id)) {
            throw ParseError(where + "'id' must be 1-" + std::to_string(kMaxIdLength) +
                             " characters of [A-Za-z0-9._-]");
        }
        where = "rule #" + std::to_string(index + 1) + " ('" + rule.id + "'): ";
        check_keys(object,
                   {"id", "verdict", "kind", "description", "match", "unless", "click", "graceMs",
                    "disabled"},
                   where);

        if (object.has("disabled"))
            rule.disabled = require_bool(object.get("disabled"), where, "disabled");
        // Fields given on a disabled rule are still validated: a broken stub is still a typo.
        if (object.has("verdict")) {
            const std::string text = require_string(object.get("verdict"), where, "verdict");
            const auto verdict = verdict_from_string(text);
            if (!verdict) {
                throw ParseError(where +
                                 "'verdict' must be \"challenge\", \"blocked\" or "
                                 "\"captcha\", not \"" +
                                 text + "\"");
            }
            rule.verdict = *verdict;
        }
        if (object.has("kind")) {
            rule.kind = require_string(object.get("kind"), where, "kind");
            if (!valid_token(rule.kind)) {
                throw ParseError(where + "'kind' must be 1-" + std::to_string(kMaxIdLength) +
                                 " characters of [A-Za-z0-9._-]");
            }
        }
        if (object.has("description")) {
            rule.description = require_string(object.get("description"), where, "description");
        }
        if (object.has("click")) rule.click = parse_selector(object.get("click"), where, "click");
        if (object.has("match")) {
            rule.when =
                parse_conditions(*require_object(object, "match", where, "match"), where, "match");
        }
        if (object.has("unless")) rule.unless = parse_unless(object, where);
        if (object.has("graceMs")) {
            const Var value = object.get("graceMs");
            if (!value.isInteger() || value.convert<long long>() < 0 ||
                value.convert<long long>() > kMaxGraceMs) {
                throw ParseError(where + "'graceMs' must be an integer from 0 to " +
                                 std::to_string(kMaxGraceMs));
            }
            rule.grace_ms = value.convert<int>();
        }
        if (!rule.disabled) check_enabled_rule(rule, object.has("match"), where);
        return rule;
    }

    static std::vector<Conditions> parse_unless(const Object& object, const std::string& where) {
        const auto list = require_array(object, "unless", where, "unless");
        if (list->size() == 0) throw ParseError(where + "'unless' must not be empty");
        std::vector<Conditions> out;
        for (unsigned i = 0; i < list->size(); ++i) {
            const std::string field = "unless[" + std::to_string(i) + "]";
            if (!list->isObject(i)) throw ParseError(where + "'" + field + "' must be an object");
            Conditions veto = parse_conditions(*list->getObject(i), where, field);
            if (veto.empty()) throw ParseError(where + "'" + field + "' has no conditions");
            out.push_back(std::move(veto));
        }
        return out;
    }

    // What a rule in force needs, and what its fields may not say together.
    static void check_enabled_rule(const Rule& rule, bool has_match, const std::string& where) {
        if (rule.verdict == Verdict::kNone) throw ParseError(where + "'verdict' is required");
        if (rule.kind.empty()) throw ParseError(where + "'kind' is required");
        if (!has_match) throw ParseError(where + "'match' is required");
        // A rule without conditions would match every page: certainly a mistake.
        if (rule.when.empty()) throw ParseError(where + "'match' has no conditions");
        // Only a challenge is something we act on; a block cannot be clicked through and a
        // captcha needs a person, so a click there means the verdict is wrong.
        if (!rule.click.empty() && rule.verdict != Verdict::kChallenge) {
            throw ParseError(where + "'click' is only allowed with verdict \"challenge\"");
        }
        // A grace period delays a final answer; a challenge is never final.
        if (rule.grace_ms > 0 && rule.verdict == Verdict::kChallenge) {
            throw ParseError(where +
                             "'graceMs' is only allowed with verdict \"blocked\" or "
                             "\"captcha\"");
        }
    }

    static std::string parse_cookie_pattern(const Var& value, std::size_t index) {
        const std::string field = "clearanceCookies[" + std::to_string(index) + "]";
        const std::string pattern = require_string(value, "", field);
        const auto star = pattern.find('*');
        if (pattern.empty() || pattern == "*" ||
            (star != std::string::npos && star != pattern.size() - 1)) {
            throw ParseError("'" + field +
                             "' must be a cookie name, optionally ending in '*' (got \"" + pattern +
                             "\")");
        }
        return pattern;
    }
};

}  // namespace

const char* to_string(Verdict verdict) {
    switch (verdict) {
        case Verdict::kNone:
            return "none";
        case Verdict::kChallenge:
            return "challenge";
        case Verdict::kBlocked:
            return "blocked";
        case Verdict::kCaptcha:
            return "captcha";
    }
    return "invalid";
}

RuleSet::RuleSet() = default;
RuleSet::~RuleSet() = default;
RuleSet::RuleSet(const RuleSet& other) = default;
RuleSet::RuleSet(RuleSet&& other) noexcept = default;
RuleSet& RuleSet::operator=(const RuleSet& other) = default;
RuleSet& RuleSet::operator=(RuleSet&& other) noexcept = default;

std::optional<RuleSet> RuleSet::parse(std::string_view json_text, std::string* error) {
    const auto fail = [&](const std::string& message) -> std::optional<RuleSet> {
        if (error) *error = message;
        return std::nullopt;
    };

    Var root;
    try {
        Poco::JSON::Parser parser;
        root = parser.parse(std::string(json_text));
    } catch (const Poco::Exception& e) {
        return fail("invalid JSON: " + e.displayText());
    } catch (const std::exception& e) {
        return fail(std::string("invalid JSON: ") + e.what());
    }
    if (root.type() != typeid(Object::Ptr)) return fail("the top level must be a JSON object");

    try {
        const Object& top = *root.extract<Object::Ptr>();
        DocumentParser::check_keys(top, {"version", "description", "clearanceCookies", "rules"},
                                   "top level: ");
        if (!top.has("version")) return fail("'version' is required (use 1)");
        const Var version = top.get("version");
        if (!version.isInteger() || version.convert<int>() != kFormatVersion) {
            return fail("unsupported 'version' " + version.toString() + " (this build reads 1)");
        }

        RuleSet set;
        if (top.has("clearanceCookies")) {
            const auto list =
                DocumentParser::require_array(top, "clearanceCookies", "", "clearanceCookies");
            for (unsigned i = 0; i < list->size(); ++i) {
                std::string pattern = DocumentParser::parse_cookie_pattern(list->get(i), i);
                if (std::find(set.clearance_cookies_.begin(), set.clearance_cookies_.end(),
                              pattern) == set.clearance_cookies_.end()) {
                    set.clearance_cookies_.push_back(std::move(pattern));
                }
            }
        }
        if (top.has("rules")) {
            const auto list = DocumentParser::require_array(top, "rules", "", "rules");
            std::set<std::string> seen;
            for (unsigned i = 0; i < list->size(); ++i) {
                if (!list->isObject(i)) {
                    throw ParseError("rule #" + std::to_string(i + 1) + ": must be an object");
                }
                Rule rule = DocumentParser::parse_rule(*list->getObject(i), i);
                if (!seen.insert(rule.id).second) {
                    // Within one file a second rule with the same id is a copy-paste slip;
                    // replacing by id is what override files are for.
                    throw ParseError("rule #" + std::to_string(i + 1) + " ('" + rule.id +
                                     "'): duplicate id in the same file");
                }
                if (rule.disabled) {
                    set.disabled_ids_.push_back(rule.id);
                } else {
                    set.rules_.push_back(std::move(rule));
                }
            }
        }
        set.rebuild_selectors();
        return set;
    } catch (const ParseError& e) {
        return fail(e.what());
    } catch (const Poco::Exception& e) {
        return fail("invalid rule document: " + e.displayText());
    } catch (const std::exception& e) {
        return fail(std::string("invalid rule document: ") + e.what());
    }
}

std::optional<RuleSet> RuleSet::load_files(const std::vector<std::string>& paths,
                                           std::string* error) {
    RuleSet result;
    for (const auto& path : paths) {
        std::ifstream in(path, std::ios::binary);
        if (!in) {
            if (error) *error = path + ": cannot open";
            return std::nullopt;
        }
        std::ostringstream text;
        text << in.rdbuf();
        if (in.bad()) {
            if (error) *error = path + ": read error";
            return std::nullopt;
        }
        std::string message;
        auto set = parse(text.str(), &message);
        if (!set) {
            if (error) *error = path + ": " + message;
            return std::nullopt;
        }
        result.merge(*set);
    }
    return result;
}

void RuleSet::merge(const RuleSet& later) {
    for (const auto& id : later.disabled_ids_) {
        rules_.erase(
            std::remove_if(rules_.begin(), rules_.end(), [&](const Rule& r) { return r.id == id; }),
            rules_.end());
        // Keep the tombstone so merging this set onto another one still removes the rule.
        if (std::find(disabled_ids_.begin(), disabled_ids_.end(), id) == disabled_ids_.end()) {
            disabled_ids_.push_back(id);
        }
    }
    for (const auto& rule : later.rules_) {
        // A later file re-adding an id cancels an earlier tombstone for it.
        disabled_ids_.erase(std::remove(disabled_ids_.begin(), disabled_ids_.end(), rule.id),
                            disabled_ids_.end());
        const auto it = std::find_if(rules_.begin(), rules_.end(),
                                     [&](const Rule& r) { return r.id == rule.id; });
        if (it != rules_.end()) {
            *it = rule;
        } else {
            rules_.push_back(rule);
        }
    }
    for (const auto& pattern : later.clearance_cookies_) {
        if (std::find(clearance_cookies_.begin(), clearance_cookies_.end(), pattern) ==
            clearance_cookies_.end()) {
            clearance_cookies_.push_back(pattern);
        }
    }
    rebuild_selectors();
}

void RuleSet::rebuild_selectors() {
    selectors_.clear();
    html_markers_.clear();
    std::set<std::string_view> seen_selectors;
    std::set<std::string_view> seen_markers;
    const auto collect = [&](const Conditions& c) {
        for (const auto& selector : c.selectors) {
            if (seen_selectors.insert(selector).second) selectors_.push_back(selector);
        }
        for (const auto& marker : c.html) {
            if (seen_markers.insert(marker).second) html_markers_.push_back(marker);
        }
    };
    for (const auto& rule : rules_) {
        collect(rule.when);
        for (const auto& veto : rule.unless)
            collect(veto);
    }
}

const std::vector<std::string>& RuleSet::selectors() const {
    return selectors_;
}

const std::vector<std::string>& RuleSet::html_markers() const {
    return html_markers_;
}

const std::vector<std::string>& RuleSet::clearance_cookies() const {
    return clearance_cookies_;
}

bool RuleSet::is_clearance_cookie(std::string_view name) const {
    if (name.empty()) return false;
    return std::any_of(clearance_cookies_.begin(), clearance_cookies_.end(),
                       [&](const std::string& pattern) {
                           if (!pattern.empty() && pattern.back() == '*') {
                               const std::string_view stem(pattern.data(), pattern.size() - 1);
                               return name.substr(0, stem.size()) == stem;
                           }
                           return name == pattern;
                       });
}

Match RuleSet::classify(const PageFacts& facts) const {
    // Chromium already collapses whitespace in document.title; trimming here keeps hand-built
    // facts (tests, other engines) and equals/prefix rules in agreement.
    const std::string_view title = truncate_utf8(trim(facts.title), kMaxTitleLength);
    const std::string_view body = truncate_utf8(facts.body_text, kMaxBodyTextLength);

    const Rule* best = nullptr;
    for (const auto& rule : rules_) {
        if (best) {
            const int have = rank(best->verdict);
            const int candidate = rank(rule.verdict);
            // Skip rules that cannot improve on the current answer before paying for regexes.
            if (candidate < have) continue;
            if (candidate == have && (!best->click.empty() || rule.click.empty())) continue;
        }
        if (rule.matches(facts, title, body)) best = &rule;
    }

    Match match;
    if (best) {
        match.verdict = best->verdict;
        match.rule_id = best->id;
        match.kind = best->kind;
        match.click_selector = best->click;
        match.grace_ms = best->grace_ms;
    }
    return match;
}

size_t RuleSet::size() const {
    return rules_.size();
}

std::vector<std::string> RuleSet::rule_ids() const {
    std::vector<std::string> ids;
    ids.reserve(rules_.size());
    for (const auto& rule : rules_)
        ids.push_back(rule.id);
    return ids;
}

}  // namespace byparr::challenge
