#!/usr/bin/env bash
# The build stage of packaging/Dockerfile, as a script so tests/packaging can run the very
# same steps outside Docker (tests/packaging/dockerfile_steps_test.sh).
#
#   build-stage.sh [--check] deps    install the compile-time packages (install-deps.sh --build);
#                                    --check only verifies they are present
#   build-stage.sh build             configure, build and install Byparr into $BYPARR_PREFIX
#
# Environment:
#   BYPARR_PREFIX     install prefix (default /opt/byparr)
#   BYPARR_SRC        source tree (default: the tree this script is in)
#   BYPARR_BUILD_DIR  reuse this already configured and built tree: install from it, no
#                     configure and no build (the test uses the developer's build dir; it
#                     must not reconfigure it with tests off). Unset in the image.
#   BYPARR_JOBS       parallel jobs (default nproc)
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="${BYPARR_SRC:-$(cd "$here/../.." && pwd)}"
prefix="${BYPARR_PREFIX:-/opt/byparr}"
jobs="${BYPARR_JOBS:-$(nproc)}"

check=0
if [[ "${1:-}" == "--check" ]]; then
    check=1
    shift
fi
step="${1:-}"

log() { echo "build-stage: $*"; }
die() {
    echo "build-stage: $*" >&2
    exit 1
}

# The installed tree the runtime stage copies: fail here, with the missing path, rather
# than at the first request in a container.
check_layout() {
    local p="$1" f
    for f in bin/byparr bin/byparrctl \
        lib/byparr/plugins/webengine/libwebengine.so \
        lib/byparr/plugins/webengine/webengine.plugin.json \
        lib/byparr/plugins/webengine/byparr-webengine-worker \
        share/byparr/challenges.json; do
        [[ -e "$p/$f" ]] || die "installed tree $p lacks $f"
    done
    local m
    for m in "$p"/lib/byparr/plugins/*/*.plugin.json; do
        local d id
        d="$(dirname "$m")"
        id="$(basename "$m" .plugin.json)"
        [[ -f "$d/lib$id.so" ]] || die "plugin manifest $m has no lib$id.so beside it"
    done
}

case "$step" in
    deps)
        if [[ $check -eq 1 ]]; then
            "$src/packaging/install-deps.sh" --build --check
        else
            "$src/packaging/install-deps.sh" --build
        fi
        ;;
    build)
        if [[ -n "${BYPARR_BUILD_DIR:-}" ]]; then
            build="$BYPARR_BUILD_DIR"
            [[ -f "$build/CMakeCache.txt" ]] || die "BYPARR_BUILD_DIR=$build is not a configured build tree"
            log "reusing the built tree $build (no configure, no build)"
        else
            # Release, without tests and benchmarks: nothing in the image runs them, and
            # they would pull googletest and benchmark into the build stage.
            build="$src/build-docker"
            cmake -S "$src" -B "$build" \
                -DCMAKE_BUILD_TYPE=Release \
                -DBYPARR_BUILD_TESTS=OFF \
                -DBYPARR_BUILD_BENCH=OFF \
                -DBYPARR_BUILD_WEBENGINE=ON \
                -DCMAKE_INSTALL_PREFIX="$prefix"
            cmake --build "$build" -j "$jobs"
        fi
        # --prefix at install time relocates a tree configured for another prefix; --strip
        # keeps debug info out of the image. The unit and /etc/default/byparr are
        # EXCLUDE_FROM_ALL (packaging/cpack.cmake), so nothing lands outside the prefix.
        cmake --install "$build" --prefix "$prefix" --strip
        check_layout "$prefix"
        "$prefix/bin/byparr" --version
        log "installed into $prefix"
        ;;
    *)
        echo "usage: build-stage.sh [--check] deps | build-stage.sh build" >&2
        exit 2
        ;;
esac
