#!/usr/bin/env bash
# Installs the Debian 12 packages Byparr needs to build, test and run.
# Idempotent and non-interactive: does nothing (not even apt-get update) when
# everything is already present, so `make test` stays fast on a warm machine.
#
#   packaging/install-deps.sh              build + test + runtime (default; `make deps`)
#   packaging/install-deps.sh --build      compilers and -dev packages only (image build stage)
#   packaging/install-deps.sh --runtime    runtime libraries only (image runtime stage)
#   ... --check                            install nothing: list what is missing, exit 1 if any
#   ... --list                             print the selected package names and exit
set -euo pipefail

# What the installed binaries need at run time, and nothing to compile with.
# Derived from the NEEDED entries (objdump -p / ldd) of bin/byparr, bin/byparrctl, every
# lib/byparr/plugins/*/lib*.so and byparr-webengine-worker, each library mapped to its
# package with `dpkg -S`. Transitive dependencies (libpocoxml80, libnss3, ...) come with
# these through apt; libc6/libstdc++6/libgcc-s1 are in every Debian image.
# Boost is header-only here (Boost.DLL with BOOST_DLL_USE_STD_FS): no libboost-* at run time.
# runtime-stage.sh re-checks with ldd that every library resolves, so a new dependency
# fails the image build instead of the first request.
runtime_pkgs=(
    # byparr, byparrctl, libwebengine.so, the worker
    libpocofoundation80 libpoconet80 libpocoutil80 libpocojson80 libfmt9
    # core links Poco Data/SQLite/Redis (CMake PUBLIC); --as-needed drops them while no
    # code calls them, but the clearance cache's Redis backend will: keep them installed.
    libpocodata80 libpocodatasqlite80 libpocoredis80
    # core/public_suffix.cpp: libpsl, with its compiled-in list and the newer system one
    libpsl5 publicsuffix
    # byparr-webengine-worker: Qt 6.4 WebEngine (Chromium 102) and the Qt modules it links
    libqt6core6 libqt6gui6 libqt6widgets6 libqt6network6 libqt6test6
    libqt6webenginecore6 libqt6webenginewidgets6
    # QtWebEngineProcess (Chromium's child processes) is in -bin, which libqt6webenginecore6
    # does not depend on; its .pak resources and locales come with libqt6webengine6-data (a
    # dependency). Debian builds Chromium against the system ICU (libicu72): no icudtl.dat.
    # The offscreen platform plugin the worker selects is in libqt6gui6.
    libqt6webenginecore6-bin
    # Pages need fonts to lay out text (and fingerprinting scripts measure them); TLS needs
    # the CA bundle.
    fonts-liberation fonts-dejavu-core fontconfig ca-certificates
    # Container plumbing: tini as PID 1 reaps the Chromium processes a crashed worker leaves
    # behind and forwards SIGTERM; curl is the HEALTHCHECK probe.
    tini curl
    # BROWSER_DISPLAY=xvfb: a private X server per worker, and Mesa's llvmpipe for WebGL.
    xvfb libgl1-mesa-dri
    # The chromium solver: Debian's current Chromium, headful under that Xvfb.
    chromium
)
build_pkgs=(
    build-essential cmake make pkg-config git
    libpoco-dev qt6-base-dev qt6-webengine-dev libqt6opengl6-dev
    libboost-dev libboost-filesystem-dev libfmt-dev libpsl-dev publicsuffix
    dpkg-dev file ca-certificates
    clang libclang-rt-14-dev  # fuzz/: libFuzzer + ASan/UBSan runtimes (tests/fuzz)
)
test_pkgs=(
    libgtest-dev libgmock-dev googletest libbenchmark-dev
    curl redis-server wrk xauth fonts-liberation
    # promtool (tests/integration/monitoring_test.cpp: /metrics, alert rules, dashboard)
    prometheus
    # tests/integration/fingerprint: a real Chromium, headful under Xvfb, is the reference
    # the worker's fingerprint is compared with; npm installs the pinned BotD into the build
    # tree (see the npm note below).
    chromium xvfb
)

mode=all
check=0
list=0
for arg in "$@"; do
    case "$arg" in
        --runtime) mode=runtime ;;
        --build) mode=build ;;
        --check) check=1 ;;
        --list) list=1 ;;
        -h | --help)
            sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
            exit 0
            ;;
        *)
            echo "install-deps: unknown argument '$arg' (see --help)" >&2
            exit 2
            ;;
    esac
done

case "$mode" in
    runtime) pkgs=("${runtime_pkgs[@]}") ;;
    build) pkgs=("${build_pkgs[@]}") ;;
    # The default is a superset of the other two, so a machine that ran `make deps` passes
    # `--runtime --check` too (the packaging tests rely on it).
    all) pkgs=("${build_pkgs[@]}" "${test_pkgs[@]}" "${runtime_pkgs[@]}") ;;
esac
# Drop duplicates, keep the order.
declare -A seen=()
uniq=()
for p in "${pkgs[@]}"; do
    [[ -n "${seen[$p]:-}" ]] && continue
    seen[$p]=1
    uniq+=("$p")
done
pkgs=("${uniq[@]}")

if [[ $list -eq 1 ]]; then
    printf '%s\n' "${pkgs[@]}"
    exit 0
fi

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done
# npm for the fingerprint tests. Not in the list above: a nodejs from elsewhere (NodeSource)
# ships its own npm and conflicts with Debian's package, so only a machine without any npm
# gets Debian's.
if [[ $mode == all ]] && ! command -v npm >/dev/null; then
    missing+=(npm)
fi

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#pkgs[@]} packages present (set: $mode)"
    exit 0
fi

if [[ $check -eq 1 ]]; then
    echo "install-deps: missing $mode packages: ${missing[*]}" >&2
    exit 1
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    if ! command -v sudo >/dev/null; then
        echo "install-deps: not root and no sudo; install as root: ${missing[*]}" >&2
        exit 1
    fi
    SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
