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
#   wrk    : ack rate and latency with wrk and tests/bench/wrk_webhooks.lua, 50 connections:
#            serve's dispatcher paused (the intake alone), then delivering meanwhile, then
#            delivering with 10 connections. Each table sets Sluice beside a floor measured in
#            the same invocation with the same wrk settings: tests/bench/floor_server.js, node's
#            `http` module answering 202 and nothing else (issue 15). It prints Sluice ÷ floor
#            for acknowledged/s and p99, and the CPU seconds serve and redis-server spend per
#            1000 webhooks acknowledged (from /proc/<pid>/stat before and after wrk). With
#            --baseline-sluice PATH, a second `sluice` (the code before a change) is measured
#            the same way, its serve in a stack of its own, and gets a column too; build one
#            from any commit with tests/bench/build_baseline.sh:
#              tests/bench/bench_pipeline.sh --only wrk \
#                  --baseline-sluice "$(tests/bench/build_baseline.sh 4e9a193 | tail -n 1)"
#            Issue 15's targets (with delivery running: acknowledged/s ≥ 0.7 × the floor's, p99
#            ≤ the floor's, p99 ≤ 5 ms at 10 connections, serve's CPU per 1000 webhooks about
#            halved against the baseline) join the targets table at the end. The wrk part
#            lives in tests/bench/bench_wrk.sh, which this script sources.
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
#   tests/bench/bench_pipeline.sh [--only bulk200,bulk,single,wrk,slow,crash,faults]
#                                 [--baseline-sluice PATH] ...
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD="$ROOT/build/release"
SLUICE="$BUILD/app/sluice"
DRIVER="$BUILD/tests/bench/bench_pipeline"
WRK_SCRIPT="$ROOT/tests/bench/wrk_webhooks.lua"
FLOOR_SERVER="$ROOT/tests/bench/floor_server.js"
BASELINE_SLUICE="" # --baseline-sluice: a second sluice whose serve the wrk runs measure too

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
# Issue 15's intake targets, with delivery running, against the floor and the baseline
# measured in the same invocation: acknowledged/s ≥ 0.7 × the floor's; p99 ≤ the floor's p99;
# p99 ≤ 5 ms with 10 connections; serve's CPU per 1000 webhooks about halved (≤ 0.55 × the
# baseline's: half, with room for the noise of a shared machine).
TARGET_FLOOR_RATIO=0.7
FEW_CONNECTIONS=10
TARGET_FEW_P99_MS=5
TARGET_CPU_RATIO=0.55

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
  --baseline-sluice PATH a second sluice binary (e.g. built from an older commit with
                         tests/bench/build_baseline.sh COMMIT); the wrk runs measure its serve
                         too, under the same settings, for a column beside this build's and
                         the floor's and for issue 15's CPU target
  --no-build             use build/release as it is
  --keep-logs DIR        copy the servers' logs there before cleaning up
  -h, --help             this text

Each run prints a Markdown table (bulk runs add a timeline of the lookups and lead writes);
the end prints the targets, met or missed, for the runs that have them: the real-traffic
targets (issue 12) and the intake's against the floor (issue 15). Every table comes with the
load average.

The wrk tables set Sluice beside a floor measured in the same invocation with the same wrk
settings: tests/bench/floor_server.js, node's http module answering 202 and nothing else.
They run with $WRK_CONNECTIONS connections (intake alone, then delivering) and with $FEW_CONNECTIONS (delivering).

Builds the release preset first (cmake --preset release; cmake --build --preset release -j2
--target sluice bench_pipeline).
Needs redis-server, curl and, for the wrk run, wrk and node (Debian packages 'wrk' and
'nodejs'; installed with apt-get when run as root or with password-less sudo).
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
    --baseline-sluice) BASELINE_SLUICE=$2; shift 2 ;;
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
if [[ -n $BASELINE_SLUICE ]]; then
    [[ -x $BASELINE_SLUICE && -f $BASELINE_SLUICE ]] ||
        die "--baseline-sluice '$BASELINE_SLUICE' is not an executable file (build one: tests/bench/build_baseline.sh COMMIT)"
    BASELINE_SLUICE=$(realpath "$BASELINE_SLUICE")
    [[ " $RUNS " == *" wrk "* ]] || echo "bench_pipeline: --baseline-sluice is for the wrk run, which --only leaves out" >&2
fi

# --- prerequisites -------------------------------------------------------------------------
command -v redis-server >/dev/null || die "redis-server is missing (Debian: apt-get install redis-server)"
command -v curl >/dev/null || die "curl is missing (Debian: apt-get install curl)"
# need_for_wrk COMMAND PACKAGE: installs the Debian package that brings COMMAND, if it is
# missing, with apt-get as root or through password-less sudo; otherwise says how.
need_for_wrk() {
    local command=$1 package=$2 as_root=()
    command -v "$command" >/dev/null && return 0
    echo "bench_pipeline: $command is missing; installing the Debian package '$package' with apt-get" >&2
    [[ $(id -u) -eq 0 ]] || as_root=(sudo -n)
    if [[ $(id -u) -eq 0 ]] || sudo -n true 2>/dev/null; then
        "${as_root[@]}" apt-get install -y "$package" >&2 ||
            { "${as_root[@]}" apt-get update >&2 && "${as_root[@]}" apt-get install -y "$package" >&2; } ||
            die "apt-get install $package failed; install it, or leave out the wrk run (--only bulk,single)"
        command -v "$command" >/dev/null || die "the package '$package' brought no '$command'"
        echo "bench_pipeline: installed $package" >&2
    else
        die "$command is missing and I cannot install it without root: run 'sudo apt-get install $package', or leave out the wrk run (--only bulk,single)"
    fi
}
if [[ " $RUNS " == *" wrk "* ]]; then
    need_for_wrk wrk wrk
    need_for_wrk node nodejs # the floor: tests/bench/floor_server.js
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
SERVE_SLUICE=""      # the sluice whose serve start_stack starts (empty: this build's)

# start_stack DIR [serve flags...]: redis-server, sandbox and serve, each on a free port. The
# sandbox is always this build's; serve is SERVE_SLUICE's when set (the baseline).
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
    SERVE_CMD=("${SERVE_SLUICE:-$SLUICE}" serve
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
TARGETS="$TMP/targets.md" # rows of the final targets table: the drivers' TARGET lines, wrk's
TARGET_LOADS=()           # the load average after each run with targets
TARGET_SETTINGS=()        # what the rows of each issue were measured under, a line per issue
# add_target_setting LINE: once per issue, however many runs share it.
add_target_setting() {
    local line
    for line in "${TARGET_SETTINGS[@]}"; do
        [[ $line == "$1" ]] && return 0
    done
    TARGET_SETTINGS+=("$1")
}

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
        local shape="lead-less webhooks, leads looked up in the sandbox's Close"
        [[ $INLINE_LEADS -eq 1 ]] && shape="leads inline in the webhooks (--inline-leads: for comparison; the targets are set for lead-less webhooks)"
        add_target_setting "Real traffic (issue 12): $CONCURRENCY concurrent clients, caps $PER_SECOND/s and $PER_MINUTE/min, safety factor $SAFETY, $shape"
    fi
    stop_all
}

print_targets() {
    [[ -s $TARGETS ]] || return 0
    local setting
    echo ""
    echo "### Targets, met or missed"
    echo ""
    for setting in "${TARGET_SETTINGS[@]}"; do
        echo "- $setting"
    done
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

proc_rss_mib() { awk '/^VmHWM:/ { printf "%.1f", $2 / 1024 }' "/proc/$1/status"; }
proc_cpu_s() {
    awk -v hz="$(getconf CLK_TCK)" '{ sub(/.*\) /, ""); printf "%.2f", ($12 + $13) / hz }' "/proc/$1/stat"
}
minus() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }

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

# shellcheck source=tests/bench/bench_wrk.sh
source "$ROOT/tests/bench/bench_wrk.sh" # write_wrk_lua, wrk_load, wrk_floor, wrk_sluice, wrk_table, run_wrk

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
    wrk) run_wrk ;;
    slow | crash | faults) run_recovery "$run" ;;
    esac
done
print_targets
exit "$FAILED"
