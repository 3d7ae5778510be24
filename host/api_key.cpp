#include "host/api_key.h"

#include <Poco/Base64Decoder.h>

#include <sstream>

namespace byparr {

bool constant_time_equal(std::string_view a, std::string_view b) {
    unsigned char diff = a.size() == b.size() ? 0 : 1;
    for (size_t i = 0; i < a.size(); ++i)
        diff |= static_cast<unsigned char>(a[i] ^ (i < b.size() ? b[i] : 0));
    return diff == 0;
}

std::string key_from_authorization(std::string_view authorization, bool allow_basic) {
    if (authorization.substr(0, 7) == "Bearer ") return std::string(authorization.substr(7));
    if (!allow_basic || authorization.substr(0, 6) != "Basic ") return {};
    std::istringstream in{std::string(authorization.substr(6))};
    Poco::Base64Decoder decoder(in);
    std::string credentials;
    try {
        credentials.assign(std::istreambuf_iterator<char>(decoder), {});
    } catch (...) {
        return {};  // not base64: no key
    }
    // Any user name: only the password is checked.
    auto colon = credentials.find(':');
    return colon == std::string::npos ? std::string() : credentials.substr(colon + 1);
}

}  // namespace byparr
