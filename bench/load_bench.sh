#!/usr/bin/env bash
# Load benchmark of the host without a browser (echo-solver fixture plugin):
#  1. throughput of cached returnOnlyCookies answers under wrk,
#  2. the concurrency gate at 3x MAX_CONCURRENT (every request answered, waves of N).
# Loopback only, bounded in time; prints numbers.
#   bench/load_bench.sh [BUILD_DIR]
set -euo pipefail
build=${1:-build}
build=$(cd "$build" && pwd)
work=$(mktemp -d)
pid=""
cleanup() {
    [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT
command -v wrk >/dev/null || { echo "wrk is not installed (packaging/install-deps.sh installs it)"; exit 1; }

exec {out}< <(PORT=0 HOST=127.0.0.1 BYPARR_ANNOUNCE_PORT=1 LOG_LEVEL=error MAX_CONCURRENT=5 \
    MAX_QUEUE=100 BYPARR_PLUGIN_PATH="$build/tests/plugins/good" SOLVERS=echo-solver \
    BYPARR_STATE_DIR="$work/state" exec "$build/bin/byparr")
pid=$!
read -r -t 20 line <&$out
port=${line#PORT }
base="http://127.0.0.1:$port"

echo "== cached returnOnlyCookies under wrk (2 threads, 16 connections, 10 s)"
curl -sS -m 10 -X POST "$base/v1" -d '{"cmd":"request.get","url":"http://bench.test/challenge"}' >/dev/null
cat >"$work/post.lua" <<'LUA'
wrk.method = "POST"
wrk.body = '{"cmd":"request.get","url":"http://bench.test/","returnOnlyCookies":true}'
wrk.headers["Content-Type"] = "application/json"
LUA
wrk -t2 -c16 -d10s --latency -s "$work/post.lua" "$base/v1" | sed -n '/Latency Distribution/,/Transfer/p;/Requests\/sec/p'

echo
echo "== gate: 15 concurrent 300 ms solves with MAX_CONCURRENT=5"
start=$(date +%s%N)
pids=()
for i in $(seq 1 15); do
    curl -sS -m 30 -o "$work/r$i" -w '%{http_code} %{time_total}\n' -X POST "$base/v1" \
        -d "{\"cmd\":\"request.get\",\"url\":\"http://site$i.test/sleep300\"}" >"$work/t$i" &
    pids+=($!)
done
wait "${pids[@]}"
end=$(date +%s%N)
ok=$(cat "$work"/t* | awk '$1==200' | wc -l)
echo "answered 200: $ok of 15; wall time $(( (end - start) / 1000000 )) ms (3 waves of 300 ms = 900 ms ideal)"
echo "per-request times (s):" $(cat "$work"/t* | awk '{print $2}' | sort -n | tr '\n' ' ')
