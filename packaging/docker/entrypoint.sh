#!/bin/sh
# The image's entrypoint (after tini): runs CMD as PUID:PGID, the linuxserver.io convention
# Prowlarr users already set, so a bind-mounted state directory keeps its host owner.
#
#   PUID, PGID   numeric ids to run as (default 1000:1000, the image's byparr user).
#                PUID=0 keeps root (Chromium then runs without its sandbox).
#
# Started as another user (docker run --user), it runs CMD unchanged: there are no
# privileges to drop and none to take.
set -eu

if [ "$(id -u)" != 0 ]; then
    exec "$@"
fi

uid="${PUID:-1000}"
gid="${PGID:-1000}"
case "$uid$gid" in
    *[!0-9]*)
        echo "byparr-entrypoint: PUID='$uid' and PGID='$gid' must be numbers" >&2
        exit 78
        ;;
esac
state="${BYPARR_STATE_DIR:-/var/lib/byparr}"
mkdir -p "$state"
# Only when the owner differs, so a start does not walk a large cache every time.
if [ "$(stat -c %u:%g "$state")" != "$uid:$gid" ]; then
    chown -R "$uid:$gid" "$state"
fi
# Qt and Chromium write under $HOME; root's is not the new user's.
case "${HOME:-/root}" in
    /root | "") export HOME="$state" ;;
esac
if [ "$uid" = 0 ]; then
    exec "$@"
fi
exec setpriv --reuid="$uid" --regid="$gid" --clear-groups -- "$@"
