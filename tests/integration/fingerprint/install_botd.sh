#!/usr/bin/env bash
# Test set-up for the BotD test (ctest fixture Fingerprint.InstallBotd): installs the pinned
# @fingerprintjs/botd (package.json + package-lock.json with its integrity hash, in
# tests/fixtures/fingerprint/npm) into the build tree with `npm ci`. Idempotent: does nothing
# when the pinned version is already there. Fails loudly (never skips) when npm or the
# registry is missing, so the BotD test cannot pass by not running.
#
#   install_botd.sh SOURCE_NPM_DIR BUILD_NPM_DIR
set -euo pipefail
src=$1
dst=$2
want=$(sed -n 's/.*"@fingerprintjs\/botd": "\([^"]*\)".*/\1/p' "$src/package.json")
have_file="$dst/node_modules/@fingerprintjs/botd/package.json"
if [[ -f "$have_file" && -f "$dst/node_modules/@fingerprintjs/botd/dist/botd.esm.js" ]] &&
    grep -q "\"version\": \"$want\"" "$have_file" &&
    cmp -s "$src/package-lock.json" "$dst/package-lock.json"; then
    echo "install_botd: @fingerprintjs/botd $want already in $dst"
    exit 0
fi
if ! command -v npm >/dev/null; then
    echo "install_botd: npm not found; run packaging/install-deps.sh (it installs npm)" >&2
    exit 1
fi
mkdir -p "$dst"
cp "$src/package.json" "$src/package-lock.json" "$dst/"
# --ignore-scripts: nothing from the registry runs here; no audit/fund calls either.
if ! timeout 180 npm ci --prefix "$dst" --ignore-scripts --no-audit --no-fund \
    --loglevel=error >&2; then
    echo "install_botd: 'npm ci' of @fingerprintjs/botd@$want failed (is the npm registry" \
        "reachable?)" >&2
    exit 1
fi
test -f "$dst/node_modules/@fingerprintjs/botd/dist/botd.esm.js"
echo "install_botd: installed @fingerprintjs/botd $want into $dst"
