#!/usr/bin/env bash
# Installs the Debian 12 packages Byparr needs to build, test and run.
# Idempotent and non-interactive: does nothing (not even apt-get update) when
# everything is already present, so `make test` stays fast on a warm machine.
#
#   packaging/install-deps.sh           build + test dependencies (default)
#   packaging/install-deps.sh --runtime runtime libraries only (container stage)
set -euo pipefail

runtime_pkgs=(
    libpoco-dev libqt6webenginecore6 libqt6webenginewidgets6 libqt6widgets6 libqt6gui6
    libboost-filesystem1.74.0 libfmt9 qt6-webengine-dev libqt6test6 libpsl5
    publicsuffix ca-certificates fonts-liberation
)
build_pkgs=(
    build-essential cmake make pkg-config git
    libpoco-dev qt6-base-dev qt6-webengine-dev libqt6opengl6-dev
    libboost-dev libboost-filesystem-dev libfmt-dev libpsl-dev publicsuffix
    libgtest-dev libgmock-dev googletest libbenchmark-dev
    curl redis-server wrk dpkg-dev file xauth fonts-liberation ca-certificates
)

if [[ "${1:-}" == "--runtime" ]]; then
    pkgs=("${runtime_pkgs[@]}")
else
    pkgs=("${build_pkgs[@]}")
fi

missing=()
for p in "${pkgs[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing+=("$p")
    fi
done

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "install-deps: all ${#pkgs[@]} packages present"
    exit 0
fi

echo "install-deps: installing ${missing[*]}"
SUDO=""
if [[ $(id -u) -ne 0 ]]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
