// Shared helpers for the libFuzzer targets in fuzz/ (see fuzz/README.md).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace byparr::fuzz {

// Inputs above this are ignored: every parser under test sits behind a body or file limit far
// below it, and large inputs only slow the fuzzer down.
inline constexpr std::size_t kMaxInputBytes = 64 * 1024;

inline bool too_large(std::size_t size) { return size > kMaxInputBytes; }

inline std::string_view as_view(const uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// Keeps a computed value observable so the optimizer cannot drop the call that made it.
template <class T>
inline void consume(const T& value) {
    asm volatile("" : : "r"(&value) : "memory");
}

}  // namespace byparr::fuzz
