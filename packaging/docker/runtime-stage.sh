#!/usr/bin/env bash
# The runtime stage of packaging/Dockerfile, as a script so tests/packaging can run the very
# same steps outside Docker (tests/packaging/dockerfile_steps_test.sh).
#
#   runtime-stage.sh deps              install the runtime packages, drop apt's lists
#   runtime-stage.sh install           verify /opt/byparr runs here, create the byparr user
#                                      (uid/gid 1000) and its state dir, put byparrctl on PATH
#   runtime-stage.sh --check deps      only verify the runtime packages are present
#   runtime-stage.sh --check install   only verify the installed tree runs here (every
#                                      library resolves, Chromium's helper and resources
#                                      are in place); creates no user, writes nothing
#
# Without --check this changes the system (users, /var/lib, /usr/local/bin, apt lists): it
# is meant for the image build. Tests and hosts use --check.
#
# Environment: BYPARR_PREFIX (default /opt/byparr), BYPARR_STATE_DIR (default /var/lib/byparr).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
prefix="${BYPARR_PREFIX:-/opt/byparr}"
state_dir="${BYPARR_STATE_DIR:-/var/lib/byparr}"
uid=1000

check=0
if [[ "${1:-}" == "--check" ]]; then
    check=1
    shift
fi
step="${1:-}"

log() { echo "runtime-stage: $*"; }
die() {
    echo "runtime-stage: $*" >&2
    exit 1
}

# Everything the installed tree needs at run time is here. ldd catches a library the
# runtime package list forgot; the rest is what no ELF file names.
check_runtime() {
    [[ -x "$prefix/bin/byparr" ]] || die "$prefix/bin/byparr is missing"
    local f out missing=0
    while IFS= read -r -d '' f; do
        # ELF files only (manifests sit beside the libraries); `file` is not in the image.
        [[ "$(head -c 4 "$f" | tail -c 3)" == ELF ]] || continue
        # Output captured first: with pipefail, grep -q leaving early would SIGPIPE ldd and
        # turn a match into a failed pipeline.
        out="$(ldd "$f" 2>&1 || true)"
        if grep -q 'not found' <<<"$out"; then
            echo "runtime-stage: $f: $(grep 'not found' <<<"$out" | tr -s ' \t' ' ' | tr '\n' ';')" >&2
            missing=1
        fi
    done < <(find "$prefix/bin" "$prefix/lib/byparr/plugins" -type f -print0)
    [[ $missing -eq 0 ]] || die "unresolved libraries (add their packages to install-deps.sh --runtime)"

    # Chromium's child processes, its resources and locales (libqt6webenginecore6-bin,
    # libqt6webengine6-data), and the headless platform plugin the worker selects.
    local qwp=/usr/lib/qt6/libexec/QtWebEngineProcess
    [[ -x "$qwp" ]] || die "$qwp is missing (libqt6webenginecore6-bin)"
    out="$(ldd "$qwp" 2>&1 || true)"
    if grep -q 'not found' <<<"$out"; then die "$qwp has unresolved libraries: $out"; fi
    [[ -f /usr/share/qt6/resources/qtwebengine_resources.pak ]] ||
        die "Qt WebEngine resources are missing (libqt6webengine6-data)"
    [[ -f /usr/share/qt6/translations/qtwebengine_locales/en-US.pak ]] ||
        die "Qt WebEngine locales are missing (libqt6webengine6-data)"
    compgen -G "/usr/lib/*/qt6/plugins/platforms/libqoffscreen.so" >/dev/null ||
        die "the Qt offscreen platform plugin is missing (libqt6gui6)"
    [[ -s /etc/ssl/certs/ca-certificates.crt ]] || die "no CA bundle (ca-certificates)"
    out="$(fc-list 2>/dev/null || true)"
    [[ -n "$out" ]] || die "no fonts (fonts-liberation)"
    # The chromium solver's browser and its display (it loads as unavailable without them).
    [[ -x /usr/bin/chromium ]] || die "Chromium is missing (chromium: the chromium solver)"
    command -v Xvfb >/dev/null || die "Xvfb is missing (xvfb: the chromium solver's display)"
    command -v tini >/dev/null || die "tini (PID 1) is missing"
    command -v curl >/dev/null || die "curl (HEALTHCHECK) is missing"
    "$prefix/bin/byparr" --version >/dev/null || die "$prefix/bin/byparr does not start"
}

case "$step" in
    deps)
        if [[ $check -eq 1 ]]; then
            "$here/../install-deps.sh" --runtime --check
        else
            "$here/../install-deps.sh" --runtime
            # A smaller image; the lists are fetched again by whoever installs more.
            apt-get clean
            rm -rf /var/lib/apt/lists/*
        fi
        ;;
    install)
        check_runtime
        if [[ $check -eq 1 ]]; then
            log "installed tree $prefix runs here (check only: no user, no symlink)"
            exit 0
        fi
        # uid 1000 is what most hosts give their first user, so a bind-mounted state dir
        # created by that user is writable without a chown.
        if ! getent group byparr >/dev/null; then
            taken="$(getent group "$uid" | cut -d: -f1 || true)"
            [[ -z "$taken" ]] || die "gid $uid is taken by group '$taken'"
            groupadd --gid "$uid" byparr
        fi
        if ! getent passwd byparr >/dev/null; then
            taken="$(getent passwd "$uid" | cut -d: -f1 || true)"
            [[ -z "$taken" ]] || die "uid $uid is taken by user '$taken'"
            useradd --uid "$uid" --gid byparr --no-create-home --home-dir "$state_dir" \
                --shell /usr/sbin/nologin byparr
        fi
        [[ "$(id -u byparr)" == "$uid" ]] || die "user byparr exists with uid $(id -u byparr), not $uid"
        # The state dir doubles as HOME (Chromium and Qt caches). Created here so a named
        # volume is initialised from it with byparr's ownership.
        install -d -o byparr -g byparr -m 0750 "$state_dir"
        # `docker exec byparr byparrctl plugins list`: on PATH, and it finds the admin
        # socket through BYPARR_STATE_DIR (set in the image's ENV).
        ln -sfn "$prefix/bin/byparrctl" /usr/local/bin/byparrctl
        log "user byparr ($uid), state dir $state_dir, /usr/local/bin/byparrctl"
        ;;
    *)
        echo "usage: runtime-stage.sh [--check] deps|install" >&2
        exit 2
        ;;
esac
