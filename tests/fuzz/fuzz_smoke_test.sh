#!/usr/bin/env bash
# Fuzz smoke test: builds the libFuzzer targets of fuzz/ with clang and runs each one briefly.
#
#   tests/fuzz/fuzz_smoke_test.sh BUILD_DIR SOURCE_DIR SECONDS
#
# 1. Configures and builds SOURCE_DIR/fuzz (a standalone CMake project) into BUILD_DIR/fuzz with
#    clang. Exits 77 (ctest SKIP_RETURN_CODE) when clang++ or its libFuzzer/sanitizer runtime is
#    missing (Debian: clang + libclang-rt-14-dev, see packaging/install-deps.sh).
# 2. Replays every file in SOURCE_DIR/fuzz/regressions/<name>/ (except README*) through its target:
#    inputs that once crashed must keep passing.
# 3. Fuzzes each target for SECONDS, starting from its seed corpus fuzz/corpus/<name>/, with
#    -timeout=10 -rss_limit_mb=2048. New inputs go to a temporary copy of the corpus; nothing is
#    written into the source tree.
# Fails if any target crashes, leaks, hits UB, times out or runs out of memory; the reproducer is
# copied to BUILD_DIR/fuzz/artifacts/<name>/ and its path printed.
set -uo pipefail

if [[ $# -ne 3 ]]; then
    echo "usage: $0 BUILD_DIR SOURCE_DIR SECONDS" >&2
    exit 2
fi
build_root=$(cd "$1" && pwd) || exit 2
src=$(cd "$2" && pwd) || exit 2
seconds=$3
fuzz_build="$build_root/fuzz"
artifacts_out="$fuzz_build/artifacts"

say() { echo "fuzz-smoke: $*"; }

work=$(mktemp -d "${TMPDIR:-/tmp}/byparr-fuzz.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT

# ---- 1. Toolchain probe: skip (77) rather than fail when clang or libFuzzer is not installed.
cxx=${BYPARR_FUZZ_CXX:-clang++}
cc=${BYPARR_FUZZ_CC:-clang}
if ! command -v "$cxx" >/dev/null 2>&1; then
    say "SKIP: $cxx not found (install clang and libclang-rt-14-dev)"
    exit 77
fi
if ! command -v "$cc" >/dev/null 2>&1; then cc=$cxx; fi
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
    >"$work/probe.cpp"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$work/probe.cpp" -o "$work/probe" \
    >"$work/probe.log" 2>&1; then
    say "SKIP: $cxx cannot link -fsanitize=fuzzer,address,undefined (install libclang-rt-14-dev):"
    sed 's/^/    /' "$work/probe.log" | head -5
    exit 77
fi

# ---- Build.
configure() {
    cmake -S "$src/fuzz" -B "$fuzz_build" -DCMAKE_CXX_COMPILER="$cxx" -DCMAKE_C_COMPILER="$cc" \
        >"$work/configure.log" 2>&1
}
if ! configure; then
    # A cache from another compiler or source path cannot be reconfigured in place: start over.
    rm -rf "$fuzz_build/CMakeCache.txt" "$fuzz_build/CMakeFiles"
    if ! configure; then
        say "FAIL: configuring $src/fuzz"
        cat "$work/configure.log"
        exit 1
    fi
fi
jobs=$(nproc 2>/dev/null || echo 2)
build_start=$SECONDS
if ! cmake --build "$fuzz_build" -j "$jobs" >"$work/build.log" 2>&1; then
    say "FAIL: building the fuzz targets"
    grep -E -A5 'error|Error' "$work/build.log" | head -80
    exit 1
fi
say "built in $((SECONDS - build_start)) s"

targets=()
if [[ -f "$fuzz_build/fuzz_targets.txt" ]]; then
    mapfile -t targets <"$fuzz_build/fuzz_targets.txt"
else
    for f in "$fuzz_build"/*_fuzzer; do [[ -x $f ]] && targets+=("$(basename "$f")"); done
fi
if [[ ${#targets[@]} -eq 0 ]]; then
    say "FAIL: no fuzz targets were built"
    exit 1
fi

export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1"

# libFuzzer's own default -error_exitcode is 77, which ctest would read as "skipped": pin the
# codes, and never pass a fuzzer's status through as this script's.
common_flags=(-timeout=10 -rss_limit_mb=2048 -error_exitcode=1 -timeout_exitcode=1)

failed=()

# Copies the crash/leak/timeout/oom files of a failed run to the build tree and names them.
report_artifacts() {
    local name=$1 dir=$2 exe=$3
    local found=0
    mkdir -p "$artifacts_out/$name"
    for a in "$dir"/*; do
        [[ -f $a ]] || continue
        found=1
        cp "$a" "$artifacts_out/$name/"
        local kept="$artifacts_out/$name/$(basename "$a")"
        say "  artifact: $kept ($(stat -c %s "$a") bytes)"
        say "  reproduce: $exe $kept"
        say "  keep it:   cp $kept $src/fuzz/regressions/$name/"
        head -c 512 "$a" | od -A d -c | head -12 | sed 's/^/      /'
    done
    [[ $found -eq 1 ]] || say "  (no artifact file was written; see the log above)"
}

for exe_name in "${targets[@]}"; do
    [[ -n $exe_name ]] || continue
    name=${exe_name%_fuzzer}
    exe="$fuzz_build/$exe_name"
    tdir="$work/$name"
    mkdir -p "$tdir/corpus" "$tdir/artifacts"

    # ---- 2. Regressions: replay each file once.
    regressions=()
    if [[ -d $src/fuzz/regressions/$name ]]; then
        while IFS= read -r -d '' f; do regressions+=("$f"); done < <(
            find "$src/fuzz/regressions/$name" -type f ! -name 'README*' ! -name '.*' -print0 | sort -z)
    fi
    # One process per file, so every input that fails again is named, not just the first.
    bad=0
    for f in "${regressions[@]}"; do
        if ! (cd "$tdir" && "$exe" "${common_flags[@]}" -artifact_prefix="$tdir/artifacts/" "$f") \
            >"$tdir/regression.log" 2>&1; then
            bad=$((bad + 1))
            say "FAIL: $name: regression input fails again: $f"
            say "  reproduce: $exe $f"
            grep -E 'ERROR:|runtime error|SUMMARY|^ +#[0-3] ' "$tdir/regression.log" | head -n 8 | sed 's/^/    /'
        fi
    done
    if [[ ${#regressions[@]} -gt 0 ]]; then
        if [[ $bad -gt 0 ]]; then
            failed+=("$name ($bad of ${#regressions[@]} regression inputs)")
            continue  # the fuzzer would only rediscover the same bug
        fi
        say "$name: ${#regressions[@]} regression input(s) pass"
    fi

    # ---- 3. Fuzz from a temporary copy of the seed corpus.
    if [[ -d $src/fuzz/corpus/$name ]]; then
        cp -R "$src/fuzz/corpus/$name/." "$tdir/corpus/"
    fi
    seeds=$(find "$tdir/corpus" -type f | wc -l)
    # A fixed seed and run count make CI deterministic: a new finding shows up when
    # someone changes code or corpus, not at random on an unrelated submission.
    # Longer, random fuzzing: see fuzz/README.md.
    if (cd "$tdir" && "$exe" "${common_flags[@]}" -seed=1 -runs=50000 -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$tdir/artifacts/" "$tdir/corpus") >"$tdir/fuzz.log" 2>&1; then
        runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$tdir/fuzz.log")
        rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$tdir/fuzz.log")
        cov=$(grep -E '^#[0-9]+' "$tdir/fuzz.log" | tail -n 1 | grep -oE 'cov: [0-9]+ ft: [0-9]+')
        corpus_now=$(find "$tdir/corpus" -type f | wc -l)
        say "$name: ok, ${runs:-?} runs in ${seconds} s (${rate:-?}/s), ${cov:-cov ?}, corpus $seeds -> $corpus_now"
    else
        say "FAIL: $name crashed (log tail follows)"
        tail -n 80 "$tdir/fuzz.log"
        report_artifacts "$name" "$tdir/artifacts" "$exe"
        failed+=("$name")
    fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
    say "FAILED: ${failed[*]}"
    exit 1
fi
say "all ${#targets[@]} targets passed"
exit 0
