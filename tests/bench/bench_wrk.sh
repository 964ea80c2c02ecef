# The wrk part of tests/bench/bench_pipeline.sh (issues 4 and 15), sourced by it: wrk with
# tests/bench/wrk_webhooks.lua against serve (this build's and --baseline-sluice's, each in a
# fresh stack) and against the floor, tests/bench/floor_server.js (node's http module answering
# 202 and nothing else), under the same settings in the same invocation; Markdown tables that
# set them side by side; issue 15's targets into the targets table at the end. It uses the
# main script's settings, process bookkeeping (PIDS, run_waited, stop_all), start_stack,
# redis_cmd and the proc_* helpers.
# shellcheck shell=bash

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

# cpu_of PID: CPU seconds PID has used so far; 0 for pid 0 (the floor has no Redis, no sandbox).
cpu_of() {
    if [[ $1 -eq 0 ]]; then echo 0; else proc_cpu_s "$1"; fi
}

# A table cell: the three commands most often slower than 5 ms in Redis during the run, Lua
# scripts by name (this build's; a baseline's own scripts show as SHA1s). A plain SADD in
# there means Redis itself was waiting for a core. Needs redis-cli and jq; without them the
# cell is empty and wrk_table leaves the row out.
slowlog_cell() {
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
        | if length == 0 then "none" else join("; ") end' ||
        true
}

# A table cell: where redis-server's time went during the run, from INFO commandstats (reset
# just before it). EVAL/EVALSHA time includes the commands a script calls; the other commands
# are mostly those calls, plus the few Sluice sends directly. So scripts minus the rest is at
# least what the scripts cost by themselves: their arguments turned into Lua strings, Lua, and
# cjson (issue 15). Needs redis-cli; without it the cell is empty and the row is left out.
redis_time_cell() {
    command -v redis-cli >/dev/null || return 0
    redis-cli -p "$1" INFO commandstats 2>/dev/null | tr -d '\r' | awk -F '[:,=]' '
        /^cmdstat_/ {
            name = substr($1, 9); us = 0
            for (k = 2; k < NF; k += 2) if ($k == "usec") us = $(k + 1)
            if (name ~ /^(eval|evalsha|eval_ro|evalsha_ro|fcall|fcall_ro)$/) scripts += us
            else if (name !~ /^(config|info|slowlog)/) rest += us
        }
        END {
            own = scripts > rest ? (scripts - rest) / scripts * 100 : 0
            if (scripts + rest > 0)
                printf "%.2f s in scripts, %.2f s in other commands (mostly called by the scripts): ≥ %.0f%% of script time is the scripts'"'"' own\n",
                    scripts / 1e6, rest / 1e6, own
        }' || true
}

# wrk_load DIR URL CONNECTIONS SERVER_PID REDIS_PID SANDBOX_PID: one wrk run with the
# invocation's threads, duration and request script and CONNECTIONS connections. Writes
# DIR/result, one line of key=value: wrk's numbers, the CPU seconds (utime+stime, from
# /proc/<pid>/stat before and after) each process spent meanwhile, and the server's peak RSS.
wrk_load() {
    local dir=$1 url=$2 connections=$3 server=$4 redis=$5 sandbox=$6 threads=$WRK_THREADS
    local server0 redis0 sandbox0 line
    ((threads <= connections)) || threads=$connections # wrk wants a connection per thread
    write_wrk_lua "$dir/wrk.lua"
    server0=$(cpu_of "$server")
    redis0=$(cpu_of "$redis")
    sandbox0=$(cpu_of "$sandbox")
    run_waited "$dir/wrk.out" wrk -t"$threads" -c"$connections" -d"$WRK_DURATION" \
        --latency -s "$dir/wrk.lua" "$url" || {
        cat "$dir/wrk.out" >&2
        die "wrk failed"
    }
    line=$(grep '^WRK ' "$dir/wrk.out") || {
        cat "$dir/wrk.out" >&2
        die "wrk printed no summary"
    }
    echo "$line server_cpu=$(minus "$(cpu_of "$server")" "$server0")" \
        "redis_cpu=$(minus "$(cpu_of "$redis")" "$redis0")" \
        "sandbox_cpu=$(minus "$(cpu_of "$sandbox")" "$sandbox0")" \
        "rss_mib=$(proc_rss_mib "$server")" >"$dir/result"
}

# wrk_floor NAME CONNECTIONS: wrk against the floor, tests/bench/floor_server.js (node's http
# module answering 202, nothing else), on a port the kernel picks; result in run-wrk-NAME/.
wrk_floor() {
    local dir="$TMP/run-wrk-$1" connections=$2 pid port
    mkdir -p "$dir"
    echo "bench_pipeline: wrk $1 (node's http module answering 202), -c$connections ..." >&2
    node "$FLOOR_SERVER" >"$dir/floor.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    wait_for floor "$pid" 10 grep -q '^PORT [0-9]' "$dir/floor.log"
    port=$(sed -n 's/^PORT //p' "$dir/floor.log")
    wrk_load "$dir" "http://127.0.0.1:$port/instantly/add_lead" "$connections" "$pid" 0 0
    load_average >"$dir/load"
    stop_all
}

# wrk_sluice NAME BINARY alone|delivering CONNECTIONS: wrk against a fresh stack whose serve
# (BINARY's) has its dispatcher paused (the intake's own capacity) or delivers to the sandbox
# meanwhile (the whole process); result in run-wrk-NAME/. A baseline that does not pause
# (older than the control hash) is measured anyway and marked paused=no.
wrk_sluice() {
    local name=$1 binary=$2 variant=$3 connections=$4 dir="$TMP/run-wrk-$1" paused=- delivered
    echo "bench_pipeline: wrk $name ($binary serve), -c$connections ..." >&2
    PAUSE_DISPATCHERS=""
    [[ $variant == alone ]] && PAUSE_DISPATCHERS="bench: intake alone"
    SERVE_SLUICE=$binary
    start_stack "$dir"
    # shellcheck disable=SC2034 # start_stack reads it
    SERVE_SLUICE=""
    if [[ $variant == alone ]]; then
        paused=no
        for _ in $(seq 20); do
            grep -q "paused: $PAUSE_DISPATCHERS" "$dir/serve.log" && { paused=yes; break; }
            sleep 0.1
        done
        [[ $paused == yes || $binary != "$SLUICE" ]] ||
            die "serve's dispatcher did not pause (has the control hash moved from RedisKeys::control()?)"
    fi
    # The wrk script's webhooks name campaign "Bench": make it exist so the dispatcher
    # delivers them, as it would in production.
    curl -sf -H 'Authorization: Bearer sandbox' -H 'Content-Type: application/json' \
        -d '{"name":"Bench","campaign_schedule":{"schedules":[{"name":"Bench","timing":{"from":"09:00","to":"17:00"},"days":{"1":true,"2":true},"timezone":"America/Danmarkshavn"}]}}' \
        "$SANDBOX_URL/api/v2/campaigns" >/dev/null || die "cannot create the campaign 'Bench' in the sandbox"
    redis_cmd "$REDIS_PORT" CONFIG SET slowlog-log-slower-than 5000 >/dev/null
    redis_cmd "$REDIS_PORT" CONFIG SET slowlog-max-len 100000 >/dev/null
    redis_cmd "$REDIS_PORT" CONFIG RESETSTAT >/dev/null
    wrk_load "$dir" "$INTAKE_URL/instantly/add_lead" "$connections" "$SERVE_PID" "$REDIS_PID" "$SANDBOX_PID"
    redis_time_cell "$REDIS_PORT" >"$dir/redis-time"
    delivered=$(curl -sf -H 'Authorization: Bearer sandbox' "$SANDBOX_URL/_sandbox/stats" |
        sed -n 's/.*"leads":\([0-9]*\).*/\1/p')
    sed -i "s/\$/ delivered=${delivered:-?} paused=$paused/" "$dir/result"
    slowlog_cell "$REDIS_PORT" >"$dir/slowlog"
    load_average >"$dir/load"
    stop_all
}

# wrk_table TITLE CONNECTIONS alone|delivering COLUMN...: one Markdown table of wrk runs side
# by side. A COLUMN is KIND:NAME, KIND sluice (this build), baseline or floor (exactly one),
# NAME a wrk_sluice or wrk_floor run. Rates count acknowledged webhooks (2xx) only; ratios
# are against the floor's column. The target column judges this build's column: issue 4's
# absolute targets with WRK_CONNECTIONS, issue 15's relative ones when delivering, which also
# go to the targets table at the end.
wrk_table() {
    local title=$1 connections=$2 variant=$3 column kind name first=""
    shift 3
    echo ""
    echo "### wrk, $title: -t$WRK_THREADS -c$connections -d$WRK_DURATION, every webhook distinct; floor measured alongside with the same settings"
    for column in "$@"; do
        [[ $column == sluice:* ]] && first=${column#sluice:}
    done
    echo ""
    for column in "$@"; do
        kind=${column%%:*} name=${column#*:}
        printf '%s\t%s\t%s\t%s\n' "$kind" "$(cat "$TMP/run-wrk-$name/result")" \
            "$(cat "$TMP/run-wrk-$name/slowlog" 2>/dev/null || true)" \
            "$(cat "$TMP/run-wrk-$name/redis-time" 2>/dev/null || true)"
    done | awk -F '\t' -v c="$connections" -v main_c="$WRK_CONNECTIONS" -v few_c="$FEW_CONNECTIONS" \
        -v delivering="$([[ $variant == delivering ]] && echo 1 || echo 0)" \
        -v floor_ratio="$TARGET_FLOOR_RATIO" -v few_p99="$TARGET_FEW_P99_MS" \
        -v cpu_ratio="$TARGET_CPU_RATIO" -v targets="$TARGETS" '
        function verdict(met) { return met ? "met" : "**missed**" }
        function label(i) {
            return kind[i] == "sluice" ? "Sluice" : kind[i] == "baseline" ? "baseline" : "floor (node http, 202)"
        }
        function per1000(cpu, i) { return acked[i] > 0 ? cpu / acked[i] * 1000 : 0 }
        function ratio(a, b) { return b > 0 ? sprintf("%.2f", a / b) : "?" }
        function cell(r, i,    fl) {
            fl = kind[i] == "floor"
            if (r == "requests") return sprintf("%d (%d, %d, %d)", v[i, "requests"], v[i, "non2xx"], v[i, "socket_errors"], v[i, "timeouts"])
            if (r == "rate") return sprintf("%.0f", rate[i])
            if (r == "rate_ratio") return fl ? "1" : ratio(rate[i], rate[f])
            if (r == "latency") return sprintf("%.2f / %.2f / %.2f / %.2f ms", v[i, "p50_us"] / 1000, v[i, "p95_us"] / 1000, p99[i], v[i, "max_us"] / 1000)
            if (r == "p99_ratio") return fl ? "1" : ratio(p99[i], p99[f])
            if (r == "delivered") return fl ? "—" : v[i, "delivered"] (v[i, "paused"] == "no" ? " (did not pause)" : "")
            if (r == "rss") return v[i, "rss_mib"] " MiB" (fl ? " (node)" : "")
            if (r == "cpu") return fl ? v[i, "server_cpu"] " (node) / — / —" : v[i, "server_cpu"] " / " v[i, "redis_cpu"] " / " v[i, "sandbox_cpu"]
            if (r == "server_per1000") return sprintf("%.3f s", per1000(v[i, "server_cpu"], i)) (fl ? " (node)" : "")
            if (r == "redis_per1000") return fl ? "—" : sprintf("%.3f s", per1000(v[i, "redis_cpu"], i))
            if (r == "slowlog") return fl ? "—" : slow[i]
            if (r == "redis_time") return fl ? "—" : rtime[i]
        }
        function row(what, r, target,    i, line) {
            line = "| " what
            for (i = 1; i <= n; i++) line = line " | " cell(r, i)
            print line " | " target " |"
        }
        function also(a, b) { return a == "" ? b : b == "" ? a : a "; " b }
        {
            n++
            kind[n] = $1
            slow[n] = $3
            if ($3 != "") slowlogs = 1
            rtime[n] = $4
            if ($4 != "") rtimes = 1
            m = split($2, kv, " ")
            for (k = 2; k <= m; k++) {
                e = index(kv[k], "=")
                v[n, substr(kv[k], 1, e - 1)] = substr(kv[k], e + 1)
            }
            acked[n] = v[n, "requests"] - v[n, "non2xx"]
            rate[n] = acked[n] / (v[n, "duration_us"] / 1e6)
            p99[n] = v[n, "p99_us"] / 1000
            if (kind[n] == "floor") f = n
            if (kind[n] == "sluice") s = n
            if (kind[n] == "baseline") b = n
        }
        END {
            main = c == main_c
            issue15 = delivering && main
            few = delivering && c == few_c
            cpu_s = per1000(v[s, "server_cpu"], s)
            if (b) cpu_b = per1000(v[b, "server_cpu"], b)
            line = "| measure"
            for (i = 1; i <= n; i++) line = line " | " label(i)
            print line " | target |"
            line = "|---"
            for (i = 0; i <= n; i++) line = line "|---"
            print line "|"
            row("requests (non-2xx, socket errors, timeouts)", "requests",
                "all 2xx: " verdict(v[s, "non2xx"] + v[s, "socket_errors"] + v[s, "timeouts"] == 0))
            row("webhooks acknowledged (2xx) per second", "rate",
                main ? "≥ 15000 (issue 4): " verdict(rate[s] >= 15000) : "")
            row("acknowledged per second ÷ the floor'"'"'s", "rate_ratio",
                issue15 ? "≥ " floor_ratio " (issue 15): " verdict(rate[s] >= floor_ratio * rate[f]) : "")
            row("ack latency p50 / p95 / p99 / max", "latency",
                also(main ? "p99 ≤ 10 ms (issue 4): " verdict(p99[s] <= 10) : "",
                     few ? "p99 ≤ " few_p99 " ms (issue 15): " verdict(p99[s] <= few_p99) : ""))
            row("ack p99 ÷ the floor'"'"'s", "p99_ratio",
                issue15 ? "≤ 1 (issue 15): " verdict(p99[s] <= p99[f]) : "")
            row("leads in the sandbox when wrk ended", "delivered", "")
            row("server peak RSS (VmHWM)", "rss", "serve ≤ 60 MiB (issue 4): " verdict(v[s, "rss_mib"] <= 60))
            row("CPU s during the run: server / redis-server / sandbox", "cpu", "")
            row("server CPU per 1000 webhooks acknowledged", "server_per1000",
                !issue15 ? "" : b ? "≤ " cpu_ratio " × the baseline'"'"'s (issue 15): " verdict(cpu_s <= cpu_ratio * cpu_b) : "about half the baseline'"'"'s (issue 15): no --baseline-sluice")
            row("redis-server CPU per 1000 webhooks acknowledged", "redis_per1000", "")
            if (slowlogs) row("Redis commands that blocked Redis ≥ 5 ms (SLOWLOG)", "slowlog", "")
            if (rtimes) row("Redis time in scripts and in commands (INFO commandstats)", "redis_time", "")

            what = "Intake (issue 15), wrk -c" c " delivering: "
            if (issue15) {
                printf "| %sacknowledged per second ≥ %s × the floor'"'"'s | %.0f/s = %s × %.0f/s | %s |\n", what, floor_ratio,
                    rate[s], ratio(rate[s], rate[f]), rate[f], verdict(rate[s] >= floor_ratio * rate[f]) >>targets
                printf "| %sack p99 ≤ the floor'"'"'s p99 | %.2f ms vs %.2f ms (%s ×) | %s |\n", what,
                    p99[s], p99[f], ratio(p99[s], p99[f]), verdict(p99[s] <= p99[f]) >>targets
            }
            if (few)
                printf "| %sack p99 ≤ %s ms | %.2f ms (the floor'"'"'s: %.2f ms) | %s |\n", what, few_p99,
                    p99[s], p99[f], verdict(p99[s] <= few_p99) >>targets
            if (issue15) {
                if (b)
                    printf "| %sserve'"'"'s CPU per 1000 webhooks about halved: ≤ %s × the baseline'"'"'s | %.3f s vs %.3f s (%s ×) | %s |\n", what,
                        cpu_ratio, cpu_s, cpu_b, ratio(cpu_s, cpu_b), verdict(cpu_s <= cpu_ratio * cpu_b) >>targets
                else
                    printf "| %sserve'"'"'s CPU per 1000 webhooks about halved against the code before | %.3f s; no baseline given (--baseline-sluice PATH) | not measured |\n", what, cpu_s >>targets
            }
        }' | tee "$TMP/run-wrk-$first/table.md"
    echo ""
    local loads="" label
    for column in "$@"; do
        kind=${column%%:*} name=${column#*:}
        case $kind in
        sluice) label=Sluice ;;
        baseline) label=baseline ;;
        *) label=floor ;;
        esac
        loads+="${loads:+; }$label: $(sed 's/^load average //' "$TMP/run-wrk-$name/load")"
    done
    echo "Load average after each run: $loads"
    [[ " $* " == *" baseline:"* ]] && echo "Baseline: serve of $BASELINE_SLUICE (the sandbox is this build's)."
    if [[ $variant == delivering ]]; then # its issue 15 rows went to the targets table
        TARGET_LOADS+=("After the wrk run delivering with $connections connections: $(sed 's/^load average //' "$TMP/run-wrk-$first/load")")
    fi
    return 0
}

# run_wrk: wrk with WRK_CONNECTIONS against the intake alone and while delivering, then with
# FEW_CONNECTIONS while delivering. Every table measures this build's serve, the baseline's
# (with --baseline-sluice) and the floor one after another, each in a fresh stack; the
# floor's run sits between the runs it is set beside, so the machine's load drifts least.
run_wrk() {
    local main=$WRK_CONNECTIONS few=$FEW_CONNECTIONS alone=() delivering=() fewer=()
    local baseline="no baseline (--baseline-sluice PATH)"
    [[ -n $BASELINE_SLUICE ]] && baseline="the baseline's serve ($BASELINE_SLUICE)"
    add_target_setting "Intake (issue 15): wrk -t$WRK_THREADS -d$WRK_DURATION with tests/bench/wrk_webhooks.lua (every webhook distinct, lead inline, unsigned), serve delivering meanwhile; the floor (node's http module answering 202) and $baseline measured in the same invocation with the same settings"
    wrk_sluice "alone-c$main" "$SLUICE" alone "$main"
    alone+=("sluice:alone-c$main")
    if [[ -n $BASELINE_SLUICE ]]; then
        wrk_sluice "baseline-alone-c$main" "$BASELINE_SLUICE" alone "$main"
        alone+=("baseline:baseline-alone-c$main")
    fi
    wrk_floor "floor-c$main" "$main"
    wrk_table "intake alone (dispatcher paused through the control hash)" "$main" alone \
        "${alone[@]}" "floor:floor-c$main"

    wrk_sluice "delivering-c$main" "$SLUICE" delivering "$main"
    delivering+=("sluice:delivering-c$main")
    if [[ -n $BASELINE_SLUICE ]]; then
        wrk_sluice "baseline-delivering-c$main" "$BASELINE_SLUICE" delivering "$main"
        delivering+=("baseline:baseline-delivering-c$main")
    fi
    wrk_table "intake while the dispatcher delivers to the sandbox" "$main" delivering \
        "${delivering[@]}" "floor:floor-c$main"

    [[ $few -ne $main ]] || return 0 # --wrk-connections 10: the table above has it
    wrk_floor "floor-c$few" "$few"
    wrk_sluice "delivering-c$few" "$SLUICE" delivering "$few"
    fewer+=("sluice:delivering-c$few")
    if [[ -n $BASELINE_SLUICE ]]; then
        wrk_sluice "baseline-delivering-c$few" "$BASELINE_SLUICE" delivering "$few"
        fewer+=("baseline:baseline-delivering-c$few")
    fi
    wrk_table "intake while the dispatcher delivers to the sandbox, $few connections (issue 15's p99 target)" \
        "$few" delivering "${fewer[@]}" "floor:floor-c$few"
}
