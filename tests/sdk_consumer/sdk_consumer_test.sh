#!/usr/bin/env bash
# The SDK as a stranger uses it: install it from the build tree into an empty
# prefix, build each example against that prefix alone, then load the result
# into a running byparr and have it answer a request.
set -euo pipefail
build_dir=$1
src_dir=$2
work=$(mktemp -d)
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cmake --install "$build_dir" --prefix "$work/prefix" --component sdk >/dev/null
test -f "$work/prefix/include/byparr/abi.h"
test -f "$work/prefix/lib/cmake/ByparrSDK/ByparrSDKConfig.cmake"

for ex in hello-solver captcha-hook; do
    # A fresh copy outside the source tree: nothing of the project but the prefix.
    cp -r "$src_dir/sdk/examples/$ex" "$work/$ex"
    cmake -S "$work/$ex" -B "$work/$ex/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
    cmake --build "$work/$ex/build" >/dev/null
done
# A third party's plugin, written here and now: it reads settings whose names exist nowhere
# in Byparr (made up per run), declared with SETTINGS, through every typed getter.
tag="STRANGER_$$_$RANDOM"
mkdir -p "$work/stranger"
cat >"$work/stranger/CMakeLists.txt" <<CM
cmake_minimum_required(VERSION 3.16)
project(stranger LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 17)
find_package(ByparrSDK 1 REQUIRED)
byparr_add_plugin(stranger ID stranger VERSION 0.0.1 CAPABILITIES solver
    SETTINGS ${tag}_TEXT ${tag}_ON ${tag}_N ${tag}_WAIT ${tag}_HOSTS
    SOURCES stranger.cpp OUTPUT_DIRECTORY \${CMAKE_BINARY_DIR}/plugins)
target_compile_definitions(stranger PRIVATE TAG="${tag}")
CM
cat >"$work/stranger/stranger.cpp" <<'CPP'
#include <byparr/plugin.hpp>
namespace {
class Stranger : public byparr::sdk::Solver {
public:
    explicit Stranger(const byparr::sdk::Config& c) {
        const std::string t = TAG;
        std::string hosts;
        for (const auto& h : c.get_list(t + "_HOSTS")) hosts += "[" + h + "]";
        page_ = "text=" + c.get(t + "_TEXT") + " on=" + (c.get_bool(t + "_ON", false) ? "1" : "0") +
                " n=" + std::to_string(c.get_int(t + "_N", 0)) +
                " wait=" + std::to_string(c.get_duration(t + "_WAIT", std::chrono::seconds(0)).count()) +
                " hosts=" + hosts;
    }
    byparr_outcome solve(const byparr::sdk::Request& r, byparr::sdk::Result& out) override {
        out.set_url(r.url);
        out.set_status(200);
        out.set_response(page_);
        return BYPARR_OUTCOME_OK;
    }
private:
    std::string page_;
};
void register_components(byparr::sdk::Registrar& r) { r.add_solver<Stranger>("stranger", "reads made-up settings"); }
}  // namespace
BYPARR_PLUGIN(register_components)
CPP
cmake -S "$work/stranger" -B "$work/stranger/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null
cmake --build "$work/stranger/build" >/dev/null
grep -q "\"${tag}_TEXT\"" "$work/stranger/build/plugins/stranger/stranger.plugin.json" ||
    { echo "settings not in the manifest"; cat "$work/stranger/build/plugins/stranger/stranger.plugin.json"; exit 1; }

test -f "$work/hello-solver/build/plugins/hello/libhello.so"
test -f "$work/hello-solver/build/plugins/hello/hello.plugin.json"
test -f "$work/captcha-hook/build/plugins/captcha-hook/libcaptcha-hook.so"

# An SDK of another major must not satisfy find_package(ByparrSDK 2).
mkdir -p "$work/v2"
cat >"$work/v2/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.16)
project(v2 LANGUAGES CXX)
find_package(ByparrSDK 2 QUIET)
if(ByparrSDK_FOUND)
    message(FATAL_ERROR "ByparrSDK 1 accepted for a request of major 2")
endif()
CM
cmake -S "$work/v2" -B "$work/v2/build" -DCMAKE_PREFIX_PATH="$work/prefix" >/dev/null

# Both plugins on the path; the hello solver enabled through SOLVERS.
mkdir -p "$work/plugins"
cp -r "$work/hello-solver/build/plugins/hello" "$work/plugins/"
cp -r "$work/captcha-hook/build/plugins/captcha-hook" "$work/plugins/"
cp -r "$work/stranger/build/plugins/stranger" "$work/plugins/"
exec {out}< <(exec env PORT=0 HOST=127.0.0.1 BYPARR_ANNOUNCE_PORT=1 LOG_LEVEL=warning \
    BYPARR_PLUGIN_PATH="$work/plugins" BYPARR_STATE_DIR="$work/state" SOLVERS=hello,stranger \
    HELLO_GREETING="Greetings from outside" "${tag}_TEXT=made up" "${tag}_ON=yes" "${tag}_N=-7" \
    "${tag}_WAIT=2m" "${tag}_HOSTS=a.test, b.test" "$build_dir/bin/byparr")
server_pid=$!
read -r -t 20 line <&$out
port=${line#PORT }
[[ "$port" =~ ^[0-9]+$ ]] || { echo "no port announced: $line"; exit 1; }

reply=$(curl -sS -m 20 -X POST "http://127.0.0.1:$port/v1" -H 'Content-Type: application/json' \
    -d '{"cmd":"request.get","url":"http://example.test/hello"}')
echo "$reply" | grep -q '"status":"ok"' || { echo "bad reply: $reply"; exit 1; }
echo "$reply" | grep -q 'Greetings from outside' || { echo "plugin config not applied: $reply"; exit 1; }
# The stranger's settings, which the server has never heard of, reached it, parsed.
reply=$(curl -sS -m 20 -X POST "http://127.0.0.1:$port/v1" -H 'Content-Type: application/json' \
    -d '{"cmd":"request.get","url":"http://example.test/x","solver":"stranger"}')
echo "$reply" | grep -q 'text=made up on=1 n=-7 wait=120000 hosts=\[a.test\]\[b.test\]' ||
    { echo "stranger's settings not passed: $reply"; exit 1; }
# byparrctl shows what it reads (set or not; never the values).
info=$("$build_dir/bin/byparrctl" --state-dir "$work/state" plugins info stranger)
echo "$info" | grep -q "${tag}_TEXT (set)" || { echo "plugins info lacks settings: $info"; exit 1; }
echo "$info" | grep -q "made up" && { echo "plugins info shows a value: $info"; exit 1; }
# The captcha hook registered as a captcha solver, listed by the admin endpoint.
plugins=$(curl -sS -m 5 --unix-socket "$work/state/admin.sock" http://admin/plugins)
echo "$plugins" | grep -q '"id":"captcha-hook"' || { echo "captcha hook not loaded: $plugins"; exit 1; }
echo "$plugins" | grep -q '"kind":"captcha-solver"' || { echo "captcha hook kind missing: $plugins"; exit 1; }
echo "sdk consumer: 1 passed, 0 failed"
