// cookie-import: cookies a person exported from their browser (Netscape
// cookies.txt or an extension's JSON), dropped into <state>/cookies/ directly or
// with `byparrctl cookies import`. Two components share one store:
//  - cookie source `cookie-import-source`: adds matching cookies (and their UA)
//    to every request before a solver runs;
//  - solver `cookie-import`: answers returnOnlyCookies requests from the store
//    without loading a page.
#include <byparr/plugin.hpp>

#include <filesystem>
#include <map>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "cookie_store.h"

namespace {

using namespace byparr::sdk;
using byparr::cookie_import::CookieStore;
using byparr::cookie_import::ImportedCookie;

std::string watched_dir(const Config& config) {
    std::string state = config.get("BYPARR_STATE_DIR");
    if (state.empty()) {
        // Unset: the host used its default; our own state dir is <state>/plugins/<id>.
        state = std::filesystem::path(config.state_dir()).parent_path().parent_path().string();
    }
    return state + "/cookies";
}

// Both components use one store per folder, so a broken file is reported once.
std::shared_ptr<CookieStore> shared_store(const std::string& dir) {
    static std::mutex mu;
    static std::map<std::string, std::weak_ptr<CookieStore>> stores;
    std::lock_guard<std::mutex> lock(mu);
    if (auto s = stores[dir].lock()) return s;
    auto s = std::make_shared<CookieStore>(dir, [](char level, const std::string& msg) {
        if (level == 'e')
            Log::error(msg);
        else if (level == 'w')
            Log::warning(msg);
        else
            Log::info(msg);
    });
    stores[dir] = s;
    return s;
}

Cookie to_sdk(const ImportedCookie& c) {
    return Cookie{c.name,      c.value,     c.reported_domain(), c.path,
                  c.same_site, c.expires_s, c.http_only,         c.secure};
}

class ImportSource : public CookieSource {
  public:
    explicit ImportSource(const Config& config) : store_(shared_store(watched_dir(config))) {}

    byparr_outcome lookup(const std::string& url, Result& out) override {
        auto m = store_->lookup(url);
        if (m.empty()) return BYPARR_OUTCOME_NOT_APPLICABLE;
        for (const auto& c : m.cookies)
            out.add_cookie(to_sdk(c));
        if (!m.user_agent.empty()) out.set_user_agent(m.user_agent);
        return BYPARR_OUTCOME_OK;
    }

  private:
    std::shared_ptr<CookieStore> store_;
};

class ImportSolver : public Solver {
  public:
    explicit ImportSolver(const Config& config) : store_(shared_store(watched_dir(config))) {}

    byparr_outcome solve(const Request& r, Result& out) override {
        // Without returnOnlyCookies the client wants a page, which only a real
        // solver further down the chain can load, unless it asked for us by name.
        if (!r.return_only_cookies() && !r.named_solver()) return BYPARR_OUTCOME_NOT_APPLICABLE;
        auto m = store_->lookup(r.url);
        if (m.empty()) return BYPARR_OUTCOME_NOT_APPLICABLE;
        out.set_url(r.url);
        out.set_status(200);
        out.set_user_agent(m.user_agent.empty() ? r.user_agent : m.user_agent);
        for (const auto& c : m.cookies)
            out.add_cookie(to_sdk(c));
        return BYPARR_OUTCOME_OK;
    }

    void metrics(std::vector<std::string>& lines) override {
        lines.push_back("cookie_import_files " + std::to_string(store_->file_count()));
    }

  private:
    std::shared_ptr<CookieStore> store_;
};

void register_components(Registrar& r) {
    // No sessions: the host picks the first chain solver that has them for
    // sessions.*, and this one has no browser to keep a session in.
    r.add<ImportSolver>("cookie-import",
                        "Answers returnOnlyCookies requests from imported browser cookies",
                        kNoSessions);
    r.add<ImportSource>("cookie-import-source",
                        "Cookies exported from a browser (cookies.txt or JSON) per site");
}

}  // namespace

BYPARR_PLUGIN(register_components)
