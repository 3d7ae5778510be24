// Skeleton of a captcha solver. When a solver meets a captcha that needs a person
// (hCaptcha, reCAPTCHA), Byparr offers it to every enabled captcha solver before
// answering "Captcha detected". Return OK with a token (set_turnstile_token) or
// cookies to have the request succeed; NOT_APPLICABLE to pass.
#include <byparr/plugin.hpp>

namespace {

class CaptchaHook : public byparr::sdk::CaptchaSolver {
  public:
    explicit CaptchaHook(const byparr::sdk::Config& config)
        : api_key_(config.get("CAPTCHA_HOOK_API_KEY")) {}

    byparr_outcome solve(const std::string& kind, const std::string& page_url,
                         const std::string& /*site_key*/, uint32_t /*timeout_ms*/,
                         byparr::sdk::Result& out) override {
        if (api_key_.empty()) return BYPARR_OUTCOME_NOT_APPLICABLE;  // not configured
        byparr::sdk::Log::info("would send a " + kind + " for " + page_url + " to a service");
        // A real hook calls its service here and, on success:
        //   out.set_turnstile_token(token); return BYPARR_OUTCOME_OK;
        return out.fail(BYPARR_ERROR_UNSUPPORTED, "captcha-hook is a skeleton");
    }

  private:
    std::string api_key_;
};

void register_components(byparr::sdk::Registrar& r) {
    r.add<CaptchaHook>("captcha-hook", "Skeleton captcha solver (does nothing)");
}

}  // namespace

BYPARR_PLUGIN(register_components)
