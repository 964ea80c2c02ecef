#!/usr/bin/env bash
# The pipeline benchmark of issues 4 and 15 (not part of the suite). For each run it starts
# its own redis-server (AOF on, free port, temp dir), `sluice sandbox` (fake Instantly and
# Close) and `sluice serve`, all from the release build, then:
#   bulk200: 200 webhooks from 50 concurrent clients; target: all in Instantly within 3 s
#   bulk   : N webhooks (default 2000) from 50 concurrent clients; ack latency, accepted/s,
#            time until every lead is in the sandbox, Instantly and Close requests and 429s,
#            worst 1 s / 60 s windows, peak RSS and CPU of serve
#            (tests/bench/bench_pipeline.cpp measures); targets for 2000: within 15 s,
#            ≤ 40 Instantly requests, ≤ 60 Close requests, no 429 from either
#   single : the same with `serve --single` and a smaller N (default 600), against N ÷ rate
#   wrk    : ack rate and latency with wrk and tests/bench/wrk_webhooks.lua, 50 connections,
#            twice: serve's dispatcher paused (the intake alone), then delivering meanwhile
#   slow   : `serve --single`, 300 leads, the upstream answers in 2 s for the first ~15 s and
#            then at once (issue 14): the 429s the sandbox served, time to the last lead
#   crash  : `serve --single`, 200 leads; serve SIGKILLed ~8 s into delivery and restarted 1 s
#            later on the same data directory: first webhook -> last lead, against N / rate
#   faults : `serve --single --request-timeout 5s`, 200 leads, 10% 500s and 3% hangs past the
#            timeout, then (~8 s in) a 20 s outage of 503s: first webhook -> last lead, against
#            the floor: outage + N / rate (the repeats the faults force add to it)
# The bulk200, bulk and single runs send lead-less webhooks, as Close does: the run's leads are
# put in the sandbox's Close first and serve looks them up (--inline-leads: the old shape,
# leads inside the webhooks). wrk's webhooks always carry their lead (and are unsigned).
# Every child process and the temp dir are removed on exit, however it ends.
#
#   tests/bench/bench_pipeline.sh [--only bulk200,bulk,single,wrk,slow,crash,faults] ...
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="$ROOT/build/release"
SLUICE="$BUILD/app/sluice"
DRIVER="$BUILD/tests/bench/bench_pipeline"
WRK_SCRIPT="$ROOT/tests/bench/wrk_webhooks.lua"

LEADS=2000
SINGLE_LEADS=600
CONCURRENCY=50
PER_SECOND=10
PER_MINUTE=600
SAFETY=0.8
WRK_DURATION=10s
WRK_CONNECTIONS=50
WRK_THREADS=2
BUILD_FIRST=1
RUNS="bulk200 bulk single wrk slow crash faults"
SLOW_LEADS=300
RECOVERY_LEADS=200
KEEP_LOGS=""
INLINE_LEADS=0
# The real-traffic targets (issue 12; lead-less webhooks, 50 clients, default caps): 200 leads within 3 s;
# 2000 leads within 15 s with at most 40 Instantly and 60 Close requests and no 429.
SMALL_LEADS=200
SMALL_TARGET_S=3
TARGET_LEADS=2000
TARGET_S=15
TARGET_INSTANTLY=40
TARGET_CLOSE=60

usage() {
    cat <<EOF
Usage: tests/bench/bench_pipeline.sh [options]

  --only LIST            runs to do, comma-separated: bulk200,bulk,single,wrk,slow,crash,
                         faults (default all)
  --inline-leads         bulk200, bulk and single webhooks carry their lead (the old test
                         shape, no Close lookup), for comparison; by default they are
                         lead-less, as Close sends them, with the run's leads put in the
                         sandbox's Close before the clock starts (wrk's are always inline)
  --leads N              webhooks in the bulk run (default $LEADS). The real-traffic targets (issue 12)
                         for it hold for $TARGET_LEADS: within $TARGET_S s, at most $TARGET_INSTANTLY Instantly and
                         $TARGET_CLOSE Close requests, no 429 from either. (bulk200: always
                         $SMALL_LEADS webhooks, target within $SMALL_TARGET_S s)
  --single-leads N       webhooks in the single run (default $SINGLE_LEADS; at 8/s that is
                         N ÷ 8 seconds)
  --concurrency N        concurrent clients of the bulk200, bulk and single runs
                         (default $CONCURRENCY)
  --per-second N         sandbox cap and serve --burst-rate (default $PER_SECOND)
  --per-minute N         sandbox cap and serve --rate (default $PER_MINUTE)
  --safety-factor F      serve --safety-factor (default $SAFETY)
  --wrk-duration D       wrk -d (default $WRK_DURATION)
  --wrk-connections N    wrk -c (default $WRK_CONNECTIONS)
  --wrk-threads N        wrk -t (default $WRK_THREADS)
  --no-build             use build/release as it is
  --keep-logs DIR        copy the servers' logs there before cleaning up
  -h, --help             this text

Each run prints a Markdown table (bulk runs add a timeline of the lookups and lead writes);
the end prints the real-traffic targets (issue 12), met or missed, for the runs that have them. Every table
comes with the load average.

Builds the release preset first (cmake --preset release; cmake --build --preset release -j2
--target sluice bench_pipeline).
Needs redis-server, curl and, for the wrk run, wrk (Debian package 'wrk').
EOF
}

die() {
    echo "bench_pipeline: $*" >&2
    exit 1
}

while [[ $# -gt 0 ]]; do
    case "$1" in
    --only) RUNS=${2//,/ }; shift 2 ;;
    --inline-leads) INLINE_LEADS=1; shift ;;
    --leads) LEADS=$2; shift 2 ;;
    --single-leads) SINGLE_LEADS=$2; shift 2 ;;
    --concurrency) CONCURRENCY=$2; shift 2 ;;
    --per-second) PER_SECOND=$2; shift 2 ;;
    --per-minute) PER_MINUTE=$2; shift 2 ;;
    --safety-factor) SAFETY=$2; shift 2 ;;
    --wrk-duration) WRK_DURATION=$2; shift 2 ;;
    --wrk-connections) WRK_CONNECTIONS=$2; shift 2 ;;
    --wrk-threads) WRK_THREADS=$2; shift 2 ;;
    --no-build) BUILD_FIRST=0; shift ;;
    --keep-logs) KEEP_LOGS=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$1'" ;;
    esac
done
for run in $RUNS; do
    [[ $run =~ ^(bulk200|bulk|single|wrk|slow|crash|faults)$ ]] ||
        die "--only takes bulk200, bulk, single, wrk, slow, crash, faults; not '$run'"
done
for n in "$LEADS" "$SINGLE_LEADS" "$CONCURRENCY" "$PER_SECOND" "$PER_MINUTE" "$WRK_CONNECTIONS" "$WRK_THREADS"; do
    [[ $n =~ ^[1-9][0-9]*$ ]] || die "'$n' is not a positive whole number"
done

# --- prerequisites -------------------------------------------------------------------------
command -v redis-server >/dev/null || die "redis-server is missing (Debian: apt-get install redis-server)"
command -v curl >/dev/null || die "curl is missing (Debian: apt-get install curl)"
if [[ " $RUNS " == *" wrk "* ]] && ! command -v wrk >/dev/null; then
    echo "bench_pipeline: wrk is missing; installing the Debian package 'wrk' with apt-get" >&2
    as_root=()
    [[ $(id -u) -eq 0 ]] || as_root=(sudo -n)
    if [[ $(id -u) -eq 0 ]] || sudo -n true 2>/dev/null; then
        "${as_root[@]}" apt-get install -y wrk >&2 ||
            { "${as_root[@]}" apt-get update >&2 && "${as_root[@]}" apt-get install -y wrk >&2; } ||
            die "apt-get install wrk failed; install it, or leave out the wrk run (--only bulk,single)"
        echo "bench_pipeline: installed wrk" >&2
    else
        die "wrk is missing and I cannot install it without root: run 'sudo apt-get install wrk', or leave out the wrk run (--only bulk,single)"
    fi
fi

if [[ $BUILD_FIRST -eq 1 ]]; then
    echo "Building the release preset (cmake --preset release; cmake --build --preset release -j2 --target sluice bench_pipeline) ..." >&2
    (cd "$ROOT" && cmake --preset release >/dev/null && cmake --build --preset release -j2 --target sluice bench_pipeline >&2) ||
        die "the release build failed"
fi
[[ -x $SLUICE ]] || die "$SLUICE is missing: build with 'cmake --preset release && cmake --build --preset release -j2'"
[[ -x $DRIVER ]] || die "$DRIVER is missing: build with 'cmake --build --preset release -j2 --target bench_pipeline'"

# --- process bookkeeping -------------------------------------------------------------------
TMP=$(mktemp -d "${TMPDIR:-/tmp}/sluice-bench.XXXXXX")
PIDS=()

# Running and not a zombie (kill -0 succeeds on an exited child nobody has waited for).
alive() {
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $state != Z* ]]
}

stop_pid() {
    local pid=$1
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 100); do
        alive "$pid" || break
        sleep 0.1
    done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

# Stops everything started so far, newest first (serve before the sandbox and Redis it uses).
stop_all() {
    local i
    for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do
        stop_pid "${PIDS[i]}"
    done
    PIDS=()
}

# run_waited OUT CMD...: runs CMD with stdout+stderr to OUT in the background and waits, so
# a signal to this script is handled at once (bash defers traps while a foreground child
# runs) and cleanup stops CMD too. Returns CMD's exit status.
run_waited() {
    local out=$1 pid status=0
    shift
    "$@" >"$out" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait "$pid" || status=$?
    unset 'PIDS[${#PIDS[@]}-1]'
    return "$status"
}

# shellcheck disable=SC2317 # invoked by the trap
cleanup() {
    local code=$?
    stop_all
    if [[ -n $KEEP_LOGS ]]; then
        if mkdir -p "$KEEP_LOGS"; then
            for f in "$TMP"/run-*/*.log "$TMP"/run-*/*.md "$TMP"/run-*/*.json "$TMP"/run-*/wrk.out; do
                [[ -f $f ]] && cp "$f" "$KEEP_LOGS/$(basename "$(dirname "$f")")-$(basename "$f")"
            done
        fi
    fi
    rm -rf "$TMP"
    exit "$code"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# A loopback port nobody listens on (checked by connecting; the servers fail loudly if one
# is taken in between).
free_port() {
    local port
    for _ in $(seq 200); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    die "no free loopback port found"
}

# wait_for WHAT PID SECONDS COMMAND...: until COMMAND succeeds; fails if PID died.
wait_for() {
    local what=$1 pid=$2 seconds=$3
    shift 3
    for _ in $(seq $((seconds * 10))); do
        "$@" >/dev/null 2>&1 && return 0
        alive "$pid" || die "$what exited at start-up; its log ends: $(tail -n 20 "$TMP"/run-*/"$what".log 2>/dev/null)"
        sleep 0.1
    done
    die "$what did not come up within $seconds s"
}

# shellcheck disable=SC2317 # invoked through wait_for
redis_ping() {
    local reply
    exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
    printf 'PING\r\n' >&3
    read -r -t 2 reply <&3 || true
    exec 3>&-
    [[ $reply == +PONG* ]]
}

REDIS_PID=0 REDIS_PORT=0 SANDBOX_PID=0 SERVE_PID=0 SANDBOX_URL="" INTAKE_URL=""
PAUSE_DISPATCHERS="" # a reason: serve's dispatchers start paused

# start_stack DIR [serve flags...]: redis-server, sandbox and serve, each on a free port.
start_stack() {
    local dir=$1
    shift
    mkdir -p "$dir/redis" "$dir/serve"
    local redis_port sandbox_port serve_port
    redis_port=$(free_port)
    REDIS_PORT=$redis_port
    redis-server --port "$redis_port" --bind 127.0.0.1 --dir "$dir/redis" --appendonly yes \
        --save '' --daemonize no --logfile "$dir/redis.log" &
    REDIS_PID=$!
    PIDS+=("$REDIS_PID")
    wait_for redis "$REDIS_PID" 10 redis_ping "$redis_port"

    sandbox_port=$(free_port)
    "$SLUICE" sandbox --port "$sandbox_port" --per-second "$PER_SECOND" \
        --per-minute "$PER_MINUTE" --quiet >"$dir/sandbox.log" 2>&1 &
    SANDBOX_PID=$!
    PIDS+=("$SANDBOX_PID")
    SANDBOX_URL="http://127.0.0.1:$sandbox_port"
    wait_for sandbox "$SANDBOX_PID" 10 curl -sf -H 'Authorization: Bearer sandbox' "$SANDBOX_URL/_sandbox/stats"

    if [[ -n $PAUSE_DISPATCHERS ]]; then
        # The pause flag every dispatcher reads before its first read: RedisKeys::control()
        # of the default namespace, field "paused" = reason (run_wrk checks serve obeyed).
        [[ $(redis_cmd "$redis_port" HSET sluice:default:control paused "$PAUSE_DISPATCHERS") == :* ]] ||
            die "cannot set the pause flag in Redis"
    fi

    serve_port=$(free_port)
    SERVE_CMD=("$SLUICE" serve
        --listen "127.0.0.1:$serve_port" --instantly-url "$SANDBOX_URL" --close-url "$SANDBOX_URL"
        --redis "redis://127.0.0.1:$redis_port/0" --rate "$PER_MINUTE/min"
        --burst-rate "$PER_SECOND/s" --safety-factor "$SAFETY" --data-dir "$dir/serve" "$@")
    SERVE_LOG="$dir/serve.log"
    INTAKE_URL="http://127.0.0.1:$serve_port"
    start_serve
}

SERVE_CMD=() SERVE_LOG=""
# start_serve: (re)starts serve as start_stack set it up (same port, same data directory).
start_serve() {
    INSTANTLY_API_KEY=sandbox CLOSE_API_KEY=sandbox "${SERVE_CMD[@]}" >>"$SERVE_LOG" 2>&1 &
    SERVE_PID=$!
    PIDS+=("$SERVE_PID")
    wait_for serve "$SERVE_PID" 30 curl -sf "$INTAKE_URL/healthz"
}

# sandbox_control METHOD PATH JSON: the sandbox's control API (faults, outage).
sandbox_control() {
    curl -sf -X "$1" -H 'Authorization: Bearer sandbox' -H 'Content-Type: application/json' \
        -d "$3" "$SANDBOX_URL/_sandbox/$2" >/dev/null || die "sandbox control $1 $2 failed"
}

load_average() {
    # "load average: 0.52, 0.40, 0.31" out of uptime, and who else is compiling.
    local others
    others=$(pgrep -c -x 'cc1plus|ld|ninja' 2>/dev/null || true)
    echo "load average $(uptime | sed 's/.*load average: //') (1/5/15 min; ${others:-0} compiler/linker processes running)"
}

FAILED=0
DRIVER_ARGS=(--concurrency "$CONCURRENCY" --per-second "$PER_SECOND" --per-minute "$PER_MINUTE"
    --safety-factor "$SAFETY")
[[ $INLINE_LEADS -eq 1 ]] && DRIVER_ARGS+=(--inline-leads)
TARGETS="$TMP/targets.md" # rows of the final targets table, from the drivers' TARGET lines
TARGET_LOADS=()           # the load average after each run with targets

# run_driver NAME MODE LEADS [driver flags...]: one driver run against a fresh stack; NAME
# names the run (its directory and log lines), MODE is serve's (bulk or single).
run_driver() {
    local name=$1 mode=$2 leads=$3 dir="$TMP/run-$1"
    shift 3
    local flags=()
    [[ $mode == single ]] && flags=(--single)
    start_stack "$dir" "${flags[@]}"
    echo "" && echo "Before the $name run: $(load_average)"
    local status=0
    run_waited "$dir/driver.out" "$DRIVER" --intake "$INTAKE_URL" --sandbox "$SANDBOX_URL" \
        --mode "$mode" --leads "$leads" --serve-pid "$SERVE_PID" --redis-pid "$REDIS_PID" \
        --sandbox-pid "$SANDBOX_PID" --json "$dir/result.json" \
        --requests-out "$dir/requests.json" "${DRIVER_ARGS[@]}" "$@" || status=$?
    grep -v -e '^RESULT ' -e '^TARGET ' "$dir/driver.out" | tee "$dir/table.md"
    if [[ $status -ne 0 ]]; then
        FAILED=1
        echo "bench_pipeline: the $name run did not deliver everything; serve's log ends:" >&2
        tail -n 30 "$dir/serve.log" >&2
    fi
    local after
    after=$(load_average)
    echo "" && echo "After the $name run: $after"
    if grep -q '^TARGET ' "$dir/driver.out"; then
        sed -n 's/^TARGET //p' "$dir/driver.out" >>"$TARGETS"
        TARGET_LOADS+=("After the $name run: $after")
    fi
    stop_all
}

print_targets() {
    [[ -s $TARGETS ]] || return 0
    local shape="lead-less webhooks, leads looked up in the sandbox's Close"
    [[ $INLINE_LEADS -eq 1 ]] && shape="leads inline in the webhooks (--inline-leads: for comparison; the targets are set for lead-less webhooks)"
    echo ""
    echo "### The real-traffic targets (issue 12): $CONCURRENCY concurrent clients, caps $PER_SECOND/s and $PER_MINUTE/min, safety factor $SAFETY, $shape"
    echo ""
    echo "| target | measured | verdict |"
    echo "|---|---|---|"
    cat "$TARGETS"
    echo ""
    local line
    for line in "${TARGET_LOADS[@]}"; do
        echo "$line"
    done
}

# write_wrk_lua FILE: the request script plus a done() hook printing wrk's numbers in one line.
write_wrk_lua() {
    cat "$WRK_SCRIPT" - >"$1" <<'EOF'

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_us=%d p50_us=%d p95_us=%d p99_us=%d max_us=%d non2xx=%d socket_errors=%d timeouts=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, e.status, e.connect + e.read + e.write, e.timeout))
end
EOF
}

proc_rss_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
proc_cpu_s() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

# A table row: the three commands most often slower than 5 ms in Redis during the run, Lua
# scripts by name. (A plain SADD in there means Redis itself was waiting for a core.) Needs
# redis-cli and jq; without them the row is left out.
slowlog_row() {
    command -v redis-cli >/dev/null && command -v jq >/dev/null || return 0
    local port=$1 names="" f
    for f in "$ROOT"/resources/lua/*.lua; do
        names+="$(sha1sum <"$f" | cut -c1-40)=$(basename "$f" .lua) "
    done
    redis-cli -p "$port" --json SLOWLOG GET 100000 2>/dev/null | jq -r --arg names "$names" '
        ($names | split(" ") | map(select(length > 0) | split("=") | {(.[0]): .[1]}) | add) as $n
        | map({us: .[2], cmd: (if (.[3][0] | ascii_upcase) == "EVALSHA"
                               then "EVALSHA " + ($n[.[3][1]] // .[3][1]) else .[3][0] end)})
        | map(select(.us >= 5000)) | group_by(.cmd) | sort_by(-length) | .[:3]
        | map("\(.[0].cmd): \(length) × (mean \(map(.us) | add / length / 100 | round / 10) ms, longest \(map(.us) | max / 100 | round / 10) ms)")
        | "| Redis commands that blocked Redis ≥ 5 ms (SLOWLOG) | \(if length == 0 then "none" else join("; ") end) | |"' ||
        true
}

# A Redis command over /dev/tcp (no redis-cli needed); prints the first reply line.
redis_cmd() {
    local port=$1 crlf=$'\r\n' req reply arg
    shift
    req="*$#$crlf"
    for arg in "$@"; do req+="\$${#arg}$crlf$arg$crlf"; done
    exec 3<>"/dev/tcp/127.0.0.1/$port" || return 1
    printf '%s' "$req" >&3
    read -r -t 2 reply <&3 || true
    exec 3>&-
    echo "${reply%$'\r'}"
}

# run_wrk alone|delivering: wrk against a fresh serve whose dispatcher is paused (the
# intake's own capacity) or delivers to the sandbox at the same time (the whole process).
run_wrk() {
    local variant=$1 dir="$TMP/run-wrk-$1" title
    PAUSE_DISPATCHERS=""
    if [[ $variant == alone ]]; then
        PAUSE_DISPATCHERS="bench: intake alone"
        title="intake alone (dispatcher paused through the control hash)"
    else
        title="intake while the dispatcher delivers to the sandbox"
    fi
    start_stack "$dir"
    if [[ $variant == alone ]]; then
        local waited
        for waited in $(seq 20); do
            grep -q "paused: $PAUSE_DISPATCHERS" "$dir/serve.log" && break
            [[ $waited -eq 20 ]] && die "serve's dispatcher did not pause (has the control hash moved from RedisKeys::control()?)"
            sleep 0.1
        done
    fi
    # The wrk script's webhooks name campaign "Bench": make it exist so the dispatcher
    # delivers them, as it would in production.
    curl -sf -H 'Authorization: Bearer sandbox' -H 'Content-Type: application/json' \
        -d '{"name":"Bench","campaign_schedule":{"schedules":[{"name":"Bench","timing":{"from":"09:00","to":"17:00"},"days":{"1":true,"2":true},"timezone":"America/Danmarkshavn"}]}}' \
        "$SANDBOX_URL/api/v2/campaigns" >/dev/null || die "cannot create the campaign 'Bench' in the sandbox"
    redis_cmd "$REDIS_PORT" CONFIG SET slowlog-log-slower-than 5000 >/dev/null
    redis_cmd "$REDIS_PORT" CONFIG SET slowlog-max-len 100000 >/dev/null
    write_wrk_lua "$dir/wrk.lua"
    echo "" && echo "Before the wrk run ($variant): $(load_average)"
    local serve0 redis0 sandbox0
    serve0=$(proc_cpu_s "$SERVE_PID")
    redis0=$(proc_cpu_s "$REDIS_PID")
    sandbox0=$(proc_cpu_s "$SANDBOX_PID")
    run_waited "$dir/wrk.out" wrk -t"$WRK_THREADS" -c"$WRK_CONNECTIONS" -d"$WRK_DURATION" \
        --latency -s "$dir/wrk.lua" "$INTAKE_URL/instantly/add_lead" || {
        cat "$dir/wrk.out" >&2
        die "wrk failed"
    }
    local line delivered
    line=$(grep '^WRK ' "$dir/wrk.out") || {
        cat "$dir/wrk.out" >&2
        die "wrk printed no summary"
    }
    delivered=$(curl -sf -H 'Authorization: Bearer sandbox' "$SANDBOX_URL/_sandbox/stats" |
        sed -n 's/.*"leads":\([0-9]*\).*/\1/p')
    echo ""
    echo "### wrk, $title: -t$WRK_THREADS -c$WRK_CONNECTIONS -d$WRK_DURATION, every webhook distinct"
    echo ""
    {
        awk -v rss="$(proc_rss_mib "$SERVE_PID")" \
            -v serve="$(minus "$(proc_cpu_s "$SERVE_PID")" "$serve0")" \
            -v redis="$(minus "$(proc_cpu_s "$REDIS_PID")" "$redis0")" \
            -v sandbox="$(minus "$(proc_cpu_s "$SANDBOX_PID")" "$sandbox0")" \
            -v delivered="${delivered:-?}" '{
            for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
            rps = v["requests"] / (v["duration_us"] / 1e6)
            p99 = v["p99_us"] / 1000
            print "| measure | value | target |"
            print "|---|---|---|"
            printf "| requests (non-2xx, socket errors, timeouts) | %d (%d, %d, %d) | all 2xx |\n", v["requests"], v["non2xx"], v["socket_errors"], v["timeouts"]
            printf "| webhooks acknowledged per second | %.0f | ≥ 15000: %s |\n", rps, (rps >= 15000 && v["non2xx"] == 0) ? "met" : "**missed**"
            printf "| ack latency p50 / p95 / p99 / max | %.2f / %.2f / %.2f / %.2f ms | p99 ≤ 10 ms: %s |\n", v["p50_us"] / 1000, v["p95_us"] / 1000, p99, v["max_us"] / 1000, p99 <= 10 ? "met" : "**missed**"
            printf "| leads in the sandbox when wrk ended | %s | |\n", delivered
            printf "| serve peak RSS (VmHWM) | %s MiB | ≤ 60 MiB: %s |\n", rss, rss <= 60 ? "met" : "**missed**"
            printf "| CPU s during the run: serve / redis-server / sandbox | %s / %s / %s | |\n", serve, redis, sandbox
        }' <<<"$line"
        slowlog_row "$REDIS_PORT"
    } | tee "$dir/table.md"
    echo "" && echo "After the wrk run ($variant): $(load_average)"
    stop_all
}

# run_recovery slow|crash|faults: issue 14's recovery scenarios, one `serve --single` each;
# the driver measures (time to the last lead, 429s, exactly once) while this script injects
# the trouble at about the right moment (the driver seeds the leads and waits ~1 s before its
# first webhook; timings below are from the driver's start).
run_recovery() {
    local name=$1 dir="$TMP/run-$1" leads=$RECOVERY_LEADS flags=(--single) floor
    local rate
    rate=$(awk -v s="$PER_SECOND" -v m="$PER_MINUTE" -v f="$SAFETY" 'BEGIN { r = s; if (m / 60 < r) r = m / 60; printf "%.2f", r * f }')
    case $name in
    slow) leads=$SLOW_LEADS ;;
    faults) flags+=(--request-timeout 5s) ;;
    esac
    start_stack "$dir" "${flags[@]}"
    case $name in
    slow) sandbox_control PUT faults '{"latency_ms":2000}' ;;
    faults) sandbox_control PUT faults '{"error_rate":0.10,"hang_rate":0.03,"hang_ms":120000}' ;;
    esac
    echo "" && echo "Before the $name run: $(load_average)"
    "$DRIVER" --intake "$INTAKE_URL" --sandbox "$SANDBOX_URL" --mode single --leads "$leads" \
        --serve-pid "$SERVE_PID" --redis-pid "$REDIS_PID" --sandbox-pid "$SANDBOX_PID" \
        --json "$dir/result.json" --requests-out "$dir/requests.json" "${DRIVER_ARGS[@]}" \
        >"$dir/driver.out" 2>&1 &
    local driver=$!
    PIDS+=("$driver")
    case $name in
    slow)
        sleep 17
        sandbox_control PUT faults '{"latency_ms":0}'
        floor="N ÷ rate = $leads ÷ $rate s (the slow start adds its 15 s only where it delays sends)"
        ;;
    crash)
        sleep 10
        kill -KILL "$SERVE_PID"
        wait "$SERVE_PID" 2>/dev/null || true
        echo "serve SIGKILLed at $(date -u +%T); restarted 1 s later" >>"$SERVE_LOG"
        sleep 1
        start_serve
        floor="N ÷ rate = $leads ÷ $rate s; issue 14's bound: within 5 s of it"
        ;;
    faults)
        sleep 10
        sandbox_control PUT faults '{"error_rate":0,"hang_rate":0}'
        sandbox_control POST outage '{"duration_ms":20000}'
        floor="20 s outage + N ÷ rate = 20 + $leads ÷ $rate s (+ the repeats the faults force); issue 14's bound: within 10 s of it"
        ;;
    esac
    local status=0
    wait "$driver" || status=$?
    echo ""
    echo "### $name: $floor"
    echo ""
    grep -v -e '^RESULT ' -e '^TARGET ' "$dir/driver.out" | tee "$dir/table.md"
    if [[ $status -ne 0 ]]; then
        FAILED=1
        echo "bench_pipeline: the $name run did not deliver everything; serve's log ends:" >&2
        tail -n 30 "$SERVE_LOG" >&2
    fi
    echo "" && echo "After the $name run: $(load_average)"
    stop_all
}

echo "# Sluice pipeline benchmark"
echo ""
echo "$(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo unknown) on $(nproc) cores, $(date -u '+%Y-%m-%d %H:%M UTC');" \
    "caps $PER_SECOND/s and $PER_MINUTE/min, serve safety factor $SAFETY;" \
    "$([[ $INLINE_LEADS -eq 1 ]] && echo "bulk and single webhooks carry their lead (--inline-leads)" ||
        echo "bulk and single webhooks are lead-less (leads looked up in the sandbox's Close)")"
for run in $RUNS; do
    case "$run" in
    bulk200) run_driver bulk200 bulk "$SMALL_LEADS" --target-seconds "$SMALL_TARGET_S" ;;
    bulk)
        if [[ $LEADS -eq $TARGET_LEADS ]]; then
            run_driver bulk bulk "$LEADS" --target-seconds "$TARGET_S" \
                --target-instantly-requests "$TARGET_INSTANTLY" \
                --target-close-requests "$TARGET_CLOSE" --target-no-429
        else
            run_driver bulk bulk "$LEADS" # the real-traffic targets (issue 12) are for $TARGET_LEADS leads
        fi
        ;;
    single) run_driver single single "$SINGLE_LEADS" ;;
    wrk)
        run_wrk alone
        run_wrk delivering
        ;;
    slow | crash | faults) run_recovery "$run" ;;
    esac
done
print_targets
exit "$FAILED"
