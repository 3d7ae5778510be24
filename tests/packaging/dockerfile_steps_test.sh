#!/usr/bin/env bash
# packaging/Dockerfile without Docker: every RUN in it must call one of the stage scripts,
# and this test runs those same calls, in the same order, outside Docker:
#
#   Dockerfile                                     this test
#   build-stage.sh deps                       ->   build-stage.sh --check deps
#   build-stage.sh build                      ->   build-stage.sh build, BYPARR_BUILD_DIR=<build>
#                                                  (install the existing build; no rebuild)
#   runtime-stage.sh deps                     ->   runtime-stage.sh --check deps
#   runtime-stage.sh install                  ->   runtime-stage.sh --check install
#                                                  (verify the tree runs here; no user made)
#
# into a temporary prefix standing in for /opt/byparr. Then it starts the installed server
# the way the image does (ENTRYPOINT + CMD, with the image's ENV), runs the HEALTHCHECK
# command and `byparrctl plugins list`, loads a page, and stops it with SIGTERM.
#
#   dockerfile_steps_test.sh <build dir>
set -euo pipefail

build="$(cd "${1:?usage: dockerfile_steps_test.sh <build dir>}" && pwd)"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
src="$(cd "$here/../.." && pwd)"
dockerfile="${BYPARR_DOCKERFILE:-$src/packaging/Dockerfile}"  # override: to test the parser
# shellcheck source=lib.sh
source "$here/lib.sh"

# --- parse the Dockerfile: one instruction per line, continuations joined ---------------
instructions=()
cur=""
while IFS= read -r line || [[ -n "$line" ]]; do
    [[ -z "$cur" && ( "$line" =~ ^[[:space:]]*# || "$line" =~ ^[[:space:]]*$ ) ]] && continue
    if [[ "$line" =~ \\[[:space:]]*$ ]]; then
        cur+="${line%\\*} "
        continue
    fi
    cur+="$line"
    instructions+=("$(echo "$cur" | tr -s ' \t' ' ' | sed 's/^ //; s/ $//')")
    cur=""
done <"$dockerfile"
((${#instructions[@]} > 0)) || pk_fail "no instructions in $dockerfile"

# Stage scripts as the image sees them -> as this repository has them. A script may only be
# run from where a COPY of the same stage put it earlier (or from under a `COPY . <dir>`),
# and install-deps.sh must sit where the script looks for it (../install-deps.sh).
declare -A copied=()
repo_path_of() {  # image path -> repository path, or nothing
    local p="$1" k
    if [[ -n "${copied[$p]:-}" && "${copied[$p]}" != tree ]]; then
        echo "${copied[$p]}"
        return
    fi
    for k in "${!copied[@]}"; do
        if [[ "${copied[$k]}" == tree && "$p" == "$k"* ]]; then
            echo "${p#"$k"}"
            return
        fi
    done
}

steps=()
stage=""
for ins in "${instructions[@]}"; do
    case "$ins" in
        FROM\ *)
            [[ "$ins" =~ ^FROM\ debian:12-slim\ AS\ ([a-z]+)$ ]] ||
                pk_fail "stages must be FROM debian:12-slim AS <name>: '$ins'"
            stage="${BASH_REMATCH[1]}"
            copied=()  # each stage starts from a fresh filesystem
            ;;
        COPY\ --from=*) ;;
        COPY\ *)
            [[ "$ins" =~ ^COPY\ ([^ ]+)\ ([^ ]+)$ ]] || pk_fail "COPY with one source only: '$ins'"
            if [[ "${BASH_REMATCH[1]}" == . ]]; then
                copied["${BASH_REMATCH[2]%/}/"]=tree
            else
                copied["${BASH_REMATCH[2]}"]="${BASH_REMATCH[1]}"
            fi
            ;;
        RUN\ *)
            cmd="${ins#RUN }"
            [[ "$cmd" =~ ^(/[^ ]+/(build|runtime)-stage\.sh)\ (deps|build|install)$ ]] ||
                pk_fail "RUN must call a stage script with one step, nothing else: '$ins'"
            script="${BASH_REMATCH[1]}"
            verb="${BASH_REMATCH[3]}"
            repo="$(repo_path_of "$script")"
            [[ "$repo" == "packaging/docker/$(basename "$script")" ]] ||
                pk_fail "no earlier COPY in this stage puts packaging/docker/$(basename "$script") at $script: '$ins'"
            deps_at="$(dirname "$(dirname "$script")")/install-deps.sh"
            [[ "$(repo_path_of "$deps_at")" == packaging/install-deps.sh ]] ||
                pk_fail "$script looks for install-deps.sh at $deps_at, which no earlier COPY provides"
            [[ ("$stage" == build && "$repo" == */build-stage.sh) ||
                ("$stage" == runtime && "$repo" == */runtime-stage.sh) ]] ||
                pk_fail "$repo runs in stage '$stage'"
            if [[ "$verb" == build ]]; then
                # build-stage.sh builds the tree it sits in: it must be the whole source tree.
                under_tree=0
                for k in "${!copied[@]}"; do
                    [[ "${copied[$k]}" == tree && "$script" == "$k"* ]] && under_tree=1
                done
                ((under_tree)) || pk_fail "$script build: no earlier \`COPY . <dir>\` puts the source tree around it"
            fi
            steps+=("$repo $verb")
            ;;
    esac
done
expected="packaging/docker/build-stage.sh deps|packaging/docker/build-stage.sh build|packaging/docker/runtime-stage.sh deps|packaging/docker/runtime-stage.sh install"
[[ "$(IFS='|'; echo "${steps[*]}")" == "$expected" ]] ||
    pk_fail "RUN steps are '${steps[*]}', expected '$expected' (update this test with the Dockerfile)"

# The runtime stage's configuration.
runtime_part="$(printf '%s\n' "${instructions[@]}" | sed -n '/^FROM .* AS runtime$/,$p')"
grep -qx 'COPY --from=build /opt/byparr /opt/byparr' <<<"$runtime_part" ||
    pk_fail "the runtime stage must COPY --from=build /opt/byparr /opt/byparr"
# No USER: the entrypoint drops from root to PUID:PGID itself (it needs root to do so).
grep -q '^USER ' <<<"$runtime_part" && pk_fail "USER would keep the entrypoint from honouring PUID/PGID"
grep -qx 'ENTRYPOINT \["/usr/bin/tini", *"--", *"/usr/local/bin/byparr-entrypoint"\]' <<<"$runtime_part" ||
    pk_fail "ENTRYPOINT must be tini, then byparr-entrypoint"
grep -qx 'COPY packaging/docker/entrypoint.sh /usr/local/bin/byparr-entrypoint' <<<"$runtime_part" ||
    pk_fail "the runtime stage must COPY packaging/docker/entrypoint.sh to /usr/local/bin/byparr-entrypoint"
grep -qx 'CMD \["/opt/byparr/bin/byparr"\]' <<<"$runtime_part" || pk_fail "CMD must be /opt/byparr/bin/byparr"
healthcheck="$(sed -n 's/^HEALTHCHECK .*CMD //p' <<<"$runtime_part")"
[[ "$healthcheck" == *"/health"* ]] || pk_fail "HEALTHCHECK must probe /health"
declare -A image_env=()
env_line="$(sed -n 's/^ENV //p' <<<"$runtime_part")"
for kv in $env_line; do
    [[ "$kv" =~ ^([A-Z_][A-Z0-9_]*)=(.*)$ ]] || pk_fail "ENV '$kv' is not KEY=value"
    image_env["${BASH_REMATCH[1]}"]="${BASH_REMATCH[2]}"
done
for k in LOG_LEVEL SOLVER_TIMEOUT MAX_CONCURRENT CACHE_DURATION HOST PORT BYPARR_STATE_DIR; do
    [[ -n "${image_env[$k]:-}" ]] || pk_fail "ENV lacks $k"
done
# A misspelt variable would be silently ignored: every ENV name must be one byparr documents.
help="$("$build/bin/byparr" --help)"
for k in "${!image_env[@]}"; do
    grep -qw -- "$k" <<<"$help" || pk_fail "ENV $k is not a setting \`byparr --help\` knows"
done
grep -qx "VOLUME ${image_env[BYPARR_STATE_DIR]}" <<<"$runtime_part" || pk_fail "VOLUME is not the state dir"
grep -qx "EXPOSE ${image_env[PORT]}" <<<"$runtime_part" || pk_fail "EXPOSE is not PORT ${image_env[PORT]}"
pk_log "Dockerfile: ${#steps[@]} RUN steps, all stage scripts; runtime configuration consistent"

# --- run the steps -----------------------------------------------------------------------
prefix="$pk_tmp/opt/byparr"
for step in "${steps[@]}"; do
    script="$src/${step% *}"
    verb="${step#* }"
    case "$step" in
        *"build-stage.sh build") args=("$verb") ;;
        *) args=(--check "$verb") ;;  # never install packages or create users here
    esac
    pk_log "$(basename "$script") ${args[*]}"
    BYPARR_PREFIX="$prefix" BYPARR_BUILD_DIR="$build" BYPARR_STATE_DIR="$pk_tmp/state" \
        "$script" "${args[@]}" >"$pk_tmp/step.out" 2>&1 ||
        pk_fail "'$(basename "$script") ${args[*]}' failed: $(tail -n 30 "$pk_tmp/step.out")"
done
# The installed tree must not depend on the build tree (RPATHs, absolute paths).
if grep -rl --binary-files=text "$build" "$prefix/bin" "$prefix/lib/byparr" >/dev/null 2>&1; then
    pk_fail "installed files refer to the build tree: $(grep -rl --binary-files=text "$build" "$prefix/bin" "$prefix/lib/byparr")"
fi

# --- run it as the image does ------------------------------------------------------------
pk_start_site "$build/tests/bin/byparr-test-site"
envs=()
for k in "${!image_env[@]}"; do
    case "$k" in HOST | PORT | BYPARR_STATE_DIR) ;; *) envs+=("$k=${image_env[$k]}") ;; esac
done
# As root, the entrypoint runs the server as PUID:PGID (nobody here), so Chromium keeps its
# sandbox as in the container. That sandbox needs unprivileged user namespaces; where the
# host has none, BROWSER_SANDBOX=auto runs without it (one warning).
entrypoint=()
sandbox=""
if [[ "$(id -u)" -eq 0 ]] && command -v setpriv >/dev/null; then
    pk_run_as=65534
    entrypoint=("$src/packaging/docker/entrypoint.sh")
    envs+=("PUID=$pk_run_as" "PGID=$pk_run_as")
    if setpriv "--reuid=$pk_run_as" "--regid=$pk_run_as" --clear-groups \
        unshare --user --pid --net --fork true 2>/dev/null; then
        sandbox=on
        pk_log "running as uid $pk_run_as (PUID/PGID) with Chromium's sandbox on"
    else
        pk_log "running as uid $pk_run_as (PUID/PGID); no user namespaces here: no sandbox"
    fi
fi
# ENTRYPOINT + CMD with /opt/byparr mapped to the prefix. tini is not PID 1 here:
# TINI_SUBREAPER gives it the same reaping role.
pk_start_server env -u BYPARR_PLUGIN_PATH -u BYPARR_WORKER -u BYPARR_RULES \
    -u SOLVERS -u QTWEBENGINE_DISABLE_SANDBOX "${envs[@]}" TINI_SUBREAPER=1 \
    /usr/bin/tini -- "${entrypoint[@]}" "$prefix/bin/byparr"
if [[ -n "${pk_run_as:-}" ]]; then
    # PUID/PGID honoured: the server itself runs as that user, not as root.
    found=0
    for p in $(pk_marked_pids); do
        [[ "$(cat "/proc/$p/comm" 2>/dev/null)" == byparr ]] || continue
        found=1
        owner="$(awk '/^Uid:/ {print $2 ":" $3}' "/proc/$p/status")"
        [[ "$owner" == "$pk_run_as:$pk_run_as" ]] || pk_fail "byparr runs as uid $owner, not PUID $pk_run_as"
    done
    ((found)) || pk_fail "no byparr process found"
    pk_log "byparr runs as PUID:PGID $pk_run_as:$pk_run_as"
fi
# Docker does not count failures within the HEALTHCHECK's --start-period (30 s): /health is
# 503 until the start-up self-test has loaded a page, so probe as Docker does, within it.
healthy=0
for _ in $(seq 1 60); do
    if PORT="$pk_port" sh -c "$healthcheck" >/dev/null 2>&1; then
        healthy=1
        break
    fi
    sleep 0.5
done
((healthy)) || pk_fail "the HEALTHCHECK command failed for 30 s: $healthcheck"
pk_log "HEALTHCHECK passes"
# `docker exec byparr byparrctl plugins list`: the image's ENV is all it has to find the socket.
BYPARR_STATE_DIR="$pk_tmp/state" "$prefix/bin/byparrctl" plugins list >"$pk_tmp/ctl.out" 2>&1 ||
    pk_fail "byparrctl plugins list failed: $(cat "$pk_tmp/ctl.out")"
grep -q webengine "$pk_tmp/ctl.out" || pk_fail "byparrctl plugins list does not show webengine: $(cat "$pk_tmp/ctl.out")"
pk_log "byparrctl plugins list shows webengine"
pk_check_server
if [[ -n "$sandbox" ]]; then
    # The page above was rendered; its Chromium processes must not have been told to drop
    # the sandbox.
    n=0
    for p in $(pk_marked_pids); do
        cmdline="$(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null || true)"
        [[ "$cmdline" == *QtWebEngineProcess* ]] || continue
        n=$((n + 1))
        [[ "$cmdline" != *--no-sandbox* ]] || pk_fail "Chromium runs unsandboxed as uid $pk_run_as: $cmdline"
    done
    ((n > 0)) || pk_fail "no Chromium process of this server found"
    pk_log "$n Chromium processes, all sandboxed"
fi
pk_stop_server
pk_log "PASS"
