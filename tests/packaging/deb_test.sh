#!/usr/bin/env bash
# The .deb as a user gets it: build it with cpack (or take a given one), unpack it into a
# temporary root, check what it ships and depends on, then run the packaged server from
# that root with its packaged plugins (no BYPARR_PLUGIN_PATH) and load a page through it.
#
#   deb_test.sh <build dir> [<byparr_*.deb>]
set -euo pipefail

build="$(cd "${1:?usage: deb_test.sh <build dir> [deb]}" && pwd)"
deb="${2:-}"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck source=lib.sh
source "$here/lib.sh"

for tool in cpack dpkg-deb dpkg-query curl objdump ldconfig; do
    command -v "$tool" >/dev/null || pk_fail "$tool is required (packaging/install-deps.sh)"
done

# --- build the packages ------------------------------------------------------------------
if [[ -z "$deb" ]]; then
    pk_log "cpack -G DEB in $build (output in a temp dir)"
    t0=$SECONDS
    # -B keeps the packages and CPack's staging out of the build dir, so `make package`
    # and this test cannot trip over each other.
    (cd "$build" && cpack -G DEB -B "$pk_tmp/pkg" >"$pk_tmp/cpack.out" 2>"$pk_tmp/cpack.err") ||
        pk_fail "cpack failed: $(tail -n 20 "$pk_tmp/cpack.err")"
    pk_log "cpack took $((SECONDS - t0)) s"
    deb="$(ls "$pk_tmp"/pkg/byparr_*.deb 2>/dev/null | head -1)"
    [[ -n "$deb" ]] || pk_fail "cpack made no byparr_*.deb: $(ls "$pk_tmp/pkg")"
    dev="$(ls "$pk_tmp"/pkg/byparr-dev_*.deb 2>/dev/null | head -1)"
    [[ -n "$dev" ]] || pk_fail "cpack made no byparr-dev_*.deb: $(ls "$pk_tmp/pkg")"
else
    deb="$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"
    dev="$(ls "$(dirname "$deb")"/byparr-dev_*.deb 2>/dev/null | head -1 || true)"
fi
[[ -f "$deb" ]] || pk_fail "no package $deb"
pk_log "$(basename "$deb"): $(du -k "$deb" | cut -f1) KiB"

# --- control data ------------------------------------------------------------------------
field() { dpkg-deb -f "$deb" "$1"; }
version="$(sed -n 's/^CMAKE_PROJECT_VERSION:STATIC=//p' "$build/CMakeCache.txt")"
[[ "$(field Package)" == byparr ]] || pk_fail "Package is '$(field Package)', not byparr"
[[ "$(field Version)" == "$version" ]] || pk_fail "Version '$(field Version)' is not the project's $version"
[[ "$(field Architecture)" == "$(dpkg --print-architecture)" ]] || pk_fail "Architecture is '$(field Architecture)'"
[[ "$(field Section)" == net ]] || pk_fail "Section is '$(field Section)', not net"
[[ "$(basename "$deb")" == "byparr_${version}_$(dpkg --print-architecture).deb" ]] ||
    pk_fail "file name $(basename "$deb") is not byparr_<version>_<arch>.deb"
depends="$(field Depends)"
pk_log "Depends: $depends"
# has_dep <package>: named in Depends, alone or as an alternative (plain string compare:
# names like libstdc++6 are not regular expressions).
has_dep() {
    local item
    while IFS= read -r item; do
        item="${item#"${item%%[![:space:]]*}"}"
        [[ "${item%% *}" == "$1" ]] && return 0
    done < <(tr ',|' '\n\n' <<<"$depends")
    return 1
}
# What no ELF file names: the Chromium helper, fonts, the CA bundle.
for p in libqt6webenginecore6-bin ca-certificates fonts-liberation; do
    has_dep "$p" || pk_fail "Depends lacks $p"
done
# (Outputs are captured before grepping: with pipefail, grep -q closing a pipe early
# would fail the pipeline with SIGPIPE.)
conffiles="$(dpkg-deb -I "$deb" conffiles)"
grep -qx /etc/default/byparr <<<"$conffiles" ||
    pk_fail "/etc/default/byparr is not a conffile (an upgrade would overwrite local settings)"
for s in postinst prerm postrm; do
    dpkg-deb -I "$deb" "$s" >/dev/null 2>&1 || pk_fail "maintainer script $s is missing"
done

# --- contents ----------------------------------------------------------------------------
root="$pk_tmp/root"
dpkg-deb -x "$deb" "$root"
dpkg-deb -c "$deb" >"$pk_tmp/contents.txt"
for f in usr/bin/byparr usr/bin/byparrctl \
    usr/lib/byparr/plugins/webengine/libwebengine.so \
    usr/lib/byparr/plugins/webengine/webengine.plugin.json \
    usr/lib/byparr/plugins/webengine/byparr-webengine-worker \
    usr/share/byparr/challenges.json \
    usr/lib/systemd/system/byparr.service \
    etc/default/byparr; do
    [[ -e "$root/$f" ]] || pk_fail "the package lacks /$f"
done
[[ -x "$root/usr/lib/byparr/plugins/webengine/byparr-webengine-worker" ]] || pk_fail "the worker is not executable"
# Every plugin the build made (fixtures live elsewhere and are never installed) is packaged,
# library and manifest side by side.
for m in "$build"/lib/byparr/plugins/*/*.plugin.json; do
    id="$(basename "$m" .plugin.json)"
    [[ -f "$root/usr/lib/byparr/plugins/$id/$id.plugin.json" ]] || pk_fail "plugin $id: manifest not packaged"
    [[ -f "$root/usr/lib/byparr/plugins/$id/lib$id.so" ]] || pk_fail "plugin $id: lib$id.so not packaged"
    pk_log "plugin $id packaged"
done
if grep -E 'fixture|/tests?/|gtest|benchmark|/include/' "$pk_tmp/contents.txt"; then
    pk_fail "test, benchmark or SDK files in the server package (above)"
fi
# Stripped: RelWithDebInfo binaries in a package would be several times larger.
sections="$(objdump -h "$root/usr/lib/byparr/plugins/webengine/byparr-webengine-worker")"
if grep -q '\.debug_info' <<<"$sections"; then
    pk_fail "the packaged worker is not stripped"
fi

# Each shared library an ELF file in the package needs must come from a package it depends
# on, so installing the .deb on a clean system pulls everything in.
declare -A pkg_of=()
ldcache="$(ldconfig -p)"
while IFS= read -r -d '' f; do
    [[ "$(head -c 4 "$f" | tail -c 3)" == ELF ]] || continue
    for soname in $(objdump -p "$f" | awk '$1 == "NEEDED" {print $2}'); do
        [[ -n "${pkg_of[$soname]:-}" ]] && continue
        path="$(awk -v s="$soname" '$1 == s && /x86-64/ {print $NF; exit}' <<<"$ldcache")"
        [[ -n "$path" ]] || path="$(awk -v s="$soname" '$1 == s {print $NF; exit}' <<<"$ldcache")"
        [[ -n "$path" ]] || pk_fail "$f needs $soname, which is not installed here"
        owner="$(dpkg -S "$path" 2>/dev/null || dpkg -S "$(readlink -f "$path")" 2>/dev/null ||
            dpkg -S "/usr$path" 2>/dev/null || dpkg -S "${path#/usr}" 2>/dev/null || true)"
        owner="${owner%%:*}"
        [[ -n "$owner" ]] || pk_fail "no package owns $path ($soname, needed by $f)"
        pkg_of[$soname]="$owner"
        has_dep "$owner" || pk_fail "$(basename "$f") needs $soname from $owner, which Depends lacks"
    done
done < <(find "$root" -type f -print0)
pk_log "Depends covers the ${#pkg_of[@]} libraries the packaged binaries need"

# --- the SDK package ---------------------------------------------------------------------
if [[ -n "${dev:-}" ]]; then
    [[ "$(dpkg-deb -f "$dev" Package)" == byparr-dev ]] || pk_fail "$(basename "$dev") is not byparr-dev"
    dpkg-deb -c "$dev" >"$pk_tmp/dev-contents.txt"
    for f in ./usr/include/byparr/abi.h ./usr/include/byparr/plugin.hpp \
        ./usr/lib/cmake/ByparrSDK/ByparrSDKConfig.cmake ./usr/lib/cmake/ByparrSDK/ByparrPlugin.cmake; do
        grep -q " $f\$" "$pk_tmp/dev-contents.txt" || pk_fail "byparr-dev lacks ${f#.}"
    done
    pk_log "$(basename "$dev"): $(du -k "$dev" | cut -f1) KiB"
fi

# --- run it ------------------------------------------------------------------------------
ver_out="$("$root/usr/bin/byparr" --version)"
grep -q "byparr $version" <<<"$ver_out" || pk_fail "packaged byparr --version is not $version"
pk_start_site "$build/tests/bin/byparr-test-site"
# Only the packaged tree: no plugin path, worker or rules override may point at the build.
pk_start_server env -u BYPARR_PLUGIN_PATH -u BYPARR_WORKER -u BYPARR_RULES -u SOLVERS \
    LOG_LEVEL=info "$root/usr/bin/byparr"
pk_check_server
pk_stop_server
pk_log "PASS"
