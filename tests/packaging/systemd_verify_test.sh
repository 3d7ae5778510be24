#!/usr/bin/env bash
# The systemd unit passes `systemd-analyze verify` (unknown keys, bad values, a missing
# ExecStart binary), and /etc/default/byparr documents every setting `byparr --help` lists.
# Exits 77 (skipped) without systemd-analyze.
#
#   systemd_verify_test.sh <build dir>
set -euo pipefail

build="$(cd "${1:?usage: systemd_verify_test.sh <build dir>}" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)"
unit="$src/packaging/systemd/byparr.service"
envfile="$src/packaging/systemd/byparr.env"
tmp="$(mktemp -d /tmp/byparr-systemd-test.XXXXXX)"
trap 'rm -rf "$tmp"' EXIT

fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# --- the environment file ------------------------------------------------------------------
# Every line a comment, blank, or KEY=value as systemd's EnvironmentFile= reads it.
n=0
while IFS= read -r line; do
    n=$((n + 1))
    [[ -z "$line" || "$line" =~ ^# ]] && continue
    [[ "$line" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || fail "byparr.env:$n is not KEY=value: $line"
done <"$envfile"
# Every variable of `byparr --help` is there (commented, with its default), except the
# state dir, which the unit sets and the file must not override.
vars="$("$build/bin/byparr" --help | sed -n '/^Configuration/,$p' |
    grep -oE '^  [A-Z][A-Z0-9_]+(, [A-Z][A-Z0-9_]+)*' | tr ',' '\n' | tr -d ' ')"
[[ -n "$vars" ]] || fail "no variables found in byparr --help"
for v in $vars; do
    if [[ "$v" == BYPARR_STATE_DIR ]]; then
        grep -qx 'Environment=BYPARR_STATE_DIR=/var/lib/byparr' "$unit" || fail "the unit does not set BYPARR_STATE_DIR"
        continue
    fi
    grep -qE "^#? ?$v=" "$envfile" || fail "byparr.env does not document $v (listed by byparr --help)"
done
grep -q '^#QTWEBENGINE_DISABLE_SANDBOX=1' "$envfile" || fail "byparr.env does not document the sandbox escape hatch"
# The file the unit reads is the one the package installs.
grep -qx 'EnvironmentFile=-/etc/default/byparr' "$unit" || fail "the unit does not read /etc/default/byparr"
grep -q 'DESTINATION /etc/default RENAME byparr' "$src/packaging/cpack.cmake" ||
    fail "packaging/cpack.cmake does not install byparr.env as /etc/default/byparr"
echo "byparr.env documents all $(wc -w <<<"$vars") settings of byparr --help"

# --- the unit --------------------------------------------------------------------------------
for k in DynamicUser=yes StateDirectory=byparr NoNewPrivileges=yes ProtectSystem=strict \
    ProtectHome=yes PrivateTmp=yes MemoryMax=1G KillMode=control-group Restart=on-failure \
    TimeoutStopSec=30; do
    grep -qx "$k" "$unit" || fail "the unit lacks $k"
done
# Settings that would break Chromium (see the unit's comments).
for k in MemoryDenyWriteExecute=yes RestrictNamespaces=yes PrivateUsers=yes; do
    if grep -qx "$k" "$unit"; then fail "$k breaks Chromium's JIT or sandbox"; fi
done

if ! command -v systemd-analyze >/dev/null; then
    echo "SKIP: systemd-analyze not installed"
    exit 77
fi
# verify checks that ExecStart= exists; the unit names the packaged /usr/bin/byparr, so
# point it at the built binary in a copy (everything else verified as shipped).
grep -qx 'ExecStart=/usr/bin/byparr' "$unit" || fail "ExecStart is not /usr/bin/byparr"
sed "s|^ExecStart=/usr/bin/byparr|ExecStart=$build/bin/byparr|" "$unit" >"$tmp/byparr.service"
set +e
out="$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no "$tmp/byparr.service" 2>&1)"
rc=$?
set -e
echo "$out"
# Outside a booted system verify also complains about the host (no /run/systemd, other
# units); only what it says about this unit counts.
if grep -F "byparr.service" <<<"$out"; then
    fail "systemd-analyze verify reports problems in byparr.service (above)"
fi
if ((rc != 0)) && ! grep -qiE 'systemd|/run|bus' <<<"$out"; then
    fail "systemd-analyze verify exited $rc"
fi
echo "PASS: systemd-analyze verify byparr.service"
