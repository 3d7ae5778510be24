// libFuzzer target: the <id>.plugin.json manifest parser (core/plugin_manifest.cpp).
#include <cstdint>
#include <string>

#include "core/plugin_manifest.h"
#include "fuzz/fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (byparr::fuzz::too_large(size)) return -1;
    const auto text = byparr::fuzz::as_view(data, size);

    std::string error;
    const auto manifest = byparr::parse_manifest(text, &error);
    if (manifest) {
        // A manifest that parses must carry a valid id (the loader trusts it for paths).
        if (!byparr::is_valid_id(manifest->id)) __builtin_trap();
    } else if (error.empty()) {
        __builtin_trap();  // a rejection always says why
    }
    // A null error pointer must be accepted too.
    byparr::fuzz::consume(byparr::parse_manifest(text, nullptr));
    byparr::fuzz::consume(byparr::is_valid_id(text));
    return 0;
}
