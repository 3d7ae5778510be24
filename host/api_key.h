// API_KEY checks shared by POST /v1 and the status page.
#pragma once

#include <string>
#include <string_view>

namespace byparr {

/// Compares without an early exit, so the time taken says nothing about how much
/// of the key was right.
bool constant_time_equal(std::string_view a, std::string_view b);

/// The key an Authorization header carries: "Bearer <key>", or with
/// `allow_basic` the password of "Basic base64(user:key)" (what a browser sends
/// after its own login prompt, for pages a person opens). "" when none.
std::string key_from_authorization(std::string_view authorization, bool allow_basic);

}  // namespace byparr
