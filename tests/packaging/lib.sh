# shellcheck shell=bash
# Shared by the packaging tests (sourced, not run): a temp dir removed on exit, the local
# test site, starting byparr on PORT=0, HTTP checks, and proof that nothing outlives it.
#
# The server starts with a marker variable in its environment, which byparr passes on to its
# workers and they to Chromium. After shutdown, any process still carrying it has escaped
# the server's process management: that is a failure, and cleanup kills it.

set -euo pipefail

pk_tmp="$(mktemp -d /tmp/byparr-pkgtest.XXXXXX)"
pk_mark="pkgtest-$$-$RANDOM"  # set in the server's environment only
pk_site_pid=""
pk_site_fd=""
pk_server_pid=""

pk_log() { echo "[$(date +%T)] $*"; }

pk_dump_logs() {
    local f
    for f in "$pk_tmp"/*.out "$pk_tmp"/*.err; do
        [[ -s "$f" ]] || continue
        echo "----- $(basename "$f") (last 40 lines) -----" >&2
        tail -n 40 "$f" >&2
    done
}

pk_fail() {
    echo "FAIL: $*" >&2
    pk_dump_logs
    exit 1
}

# PIDs of live processes whose environment holds this run's marker.
pk_marked_pids() {
    local d pid
    for d in /proc/[0-9]*; do
        pid="${d#/proc/}"
        [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
        # environ is NUL-separated: -z; -s: kernel threads and exited processes have none.
        if grep -qsxzF "BYPARR_PKGTEST_MARK=$pk_mark" "$d/environ"; then
            # Zombies are gone in all but name; their parent reaps them.
            [[ "$(awk '{print $3}' "$d/stat" 2>/dev/null)" == Z ]] && continue
            echo "$pid"
        fi
    done
}

pk_cleanup() {
    local rc=$?
    set +e
    if [[ -n "$pk_site_fd" ]]; then exec {pk_site_fd}>&-; fi  # EOF on stdin stops the site
    if [[ -n "$pk_server_pid" ]] && kill -0 "$pk_server_pid" 2>/dev/null; then
        kill -TERM "$pk_server_pid" 2>/dev/null
        for _ in $(seq 50); do kill -0 "$pk_server_pid" 2>/dev/null || break; sleep 0.2; done
    fi
    local left
    left="$(pk_marked_pids)"
    if [[ -n "$left" ]]; then
        # shellcheck disable=SC2086
        kill -KILL $left 2>/dev/null
    fi
    [[ -n "$pk_site_pid" ]] && kill -KILL "$pk_site_pid" 2>/dev/null
    wait 2>/dev/null
    if [[ -n "${PK_KEEP_TMP:-}" ]]; then
        echo "kept $pk_tmp"
    else
        rm -rf "$pk_tmp"
    fi
    exit "$rc"
}
trap pk_cleanup EXIT
trap 'exit 130' INT TERM

# pk_wait_port <file> <pid> <seconds>: the n of the first "PORT n" line <pid> writes to <file>.
pk_wait_port() {
    local file="$1" pid="$2" secs="$3" line
    local deadline=$((SECONDS + secs))
    while ((SECONDS < deadline)); do
        line="$(grep -m1 -E '^PORT [0-9]+$' "$file" 2>/dev/null || true)"
        if [[ -n "$line" ]]; then
            echo "${line#PORT }"
            return 0
        fi
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

# pk_start_site <byparr-test-site>: sets pk_site_port. Its stdin is a FIFO we hold open;
# closing it (cleanup) makes the site exit on its own.
pk_start_site() {
    local bin="$1"
    [[ -x "$bin" ]] || pk_fail "test site $bin is not built"
    mkfifo "$pk_tmp/site.in"
    "$bin" --bind 127.0.0.1 --port 0 <"$pk_tmp/site.in" >"$pk_tmp/site.out" 2>"$pk_tmp/site.err" &
    pk_site_pid=$!
    exec {pk_site_fd}>"$pk_tmp/site.in"
    pk_site_port="$(pk_wait_port "$pk_tmp/site.out" "$pk_site_pid" 15)" ||
        pk_fail "the test site did not announce its port"
}

# pk_start_server <command...>: runs the command (byparr, or tini -- byparr) with PORT=0 on
# loopback, a private state dir, HOME and XDG_RUNTIME_DIR, and the caller's environment
# otherwise; sets pk_server_pid and pk_port.
pk_start_server() {
    mkdir -p "$pk_tmp/state" "$pk_tmp/home" "$pk_tmp/run"
    chmod 700 "$pk_tmp/run"
    # pk_run_as=<uid>: the caller runs the server as that user (through setpriv).
    if [[ -n "${pk_run_as:-}" ]]; then
        chmod 755 "$pk_tmp"
        chown -R "$pk_run_as:$pk_run_as" "$pk_tmp/state" "$pk_tmp/home" "$pk_tmp/run"
    fi
    BYPARR_PKGTEST_MARK="$pk_mark" HOST=127.0.0.1 PORT=0 BYPARR_ANNOUNCE_PORT=1 \
        BYPARR_STATE_DIR="$pk_tmp/state" HOME="$pk_tmp/home" XDG_RUNTIME_DIR="$pk_tmp/run" \
        "$@" </dev/null >"$pk_tmp/server.out" 2>"$pk_tmp/server.err" &
    pk_server_pid=$!
    pk_port="$(pk_wait_port "$pk_tmp/server.out" "$pk_server_pid" 30)" ||
        pk_fail "the server did not announce its port: $*"
    pk_log "server $pk_server_pid listening on 127.0.0.1:$pk_port"
}

# pk_http <name> <expected status> <curl args...>: body in $pk_tmp/<name>.body, fails on
# another status.
pk_http() {
    local name="$1" want="$2"
    shift 2
    local code
    code="$(curl -sS -o "$pk_tmp/$name.body" -w '%{http_code}' "$@")" || code="curl-error"
    [[ "$code" == "$want" ]] ||
        pk_fail "$name: HTTP $code, expected $want: $(head -c 600 "$pk_tmp/$name.body" 2>/dev/null)"
}

# pk_expect_body <name> <extended regex>
pk_expect_body() {
    grep -qE "$2" "$pk_tmp/$1.body" ||
        pk_fail "$1: body does not match /$2/: $(head -c 600 "$pk_tmp/$1.body")"
}

# The three checks every deployment must pass: /health, GET / and a real page load through
# the default solver (Qt WebEngine) against the local test site.
pk_check_server() {
    local base="http://127.0.0.1:$pk_port"
    # /health is 503 ("starting") until the start-up self-test has loaded a page
    # through the browser: give it the time a cold browser start needs.
    local _
    for _ in $(seq 60); do
        curl -s -o /dev/null -m 5 "$base/health" -w '%{http_code}' | grep -q '^200$' && break
        sleep 0.5
    done
    pk_http health 200 -m 10 "$base/health"
    pk_expect_body health '"status" *: *"ok"'
    pk_expect_body health '"id" *: *"webengine" *, *"ready" *: *true'
    pk_http index 200 -m 30 "$base/"
    pk_expect_body index '"msg" *: *"FlareSolverr is ready!"'
    pk_log "/health (browser self-test passed) and GET / answer"

    local url="http://127.0.0.1:$pk_site_port/plain"
    local t0=$SECONDS
    pk_http solve 200 -m 75 -H 'Content-Type: application/json' \
        --data "{\"cmd\":\"request.get\",\"url\":\"$url\",\"maxTimeout\":60000}" "$base/v1"
    pk_expect_body solve '"status" *: *"ok"'
    pk_expect_body solve 'Hello plain'
    pk_log "request.get $url solved through the webengine plugin in $((SECONDS - t0)) s"
}

# pk_stop_server: SIGTERM, as systemd and docker stop do; the server must exit 0 within 30 s
# and leave no process behind.
pk_stop_server() {
    kill -TERM "$pk_server_pid"
    local rc=0
    for _ in $(seq 300); do
        kill -0 "$pk_server_pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pk_server_pid" 2>/dev/null && pk_fail "the server did not exit within 30 s of SIGTERM"
    wait "$pk_server_pid" || rc=$?
    pk_server_pid=""
    [[ $rc -eq 0 ]] || pk_fail "the server exited with $rc after SIGTERM"
    local left=""
    for _ in $(seq 50); do
        left="$(pk_marked_pids)"
        [[ -z "$left" ]] && break
        sleep 0.2
    done
    if [[ -n "$left" ]]; then
        local p
        for p in $left; do echo "left behind: $p $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)" >&2; done
        pk_fail "processes outlived the server"
    fi
    pk_log "SIGTERM: exited 0, no process left"
}
