#!/bin/sh
# `make bench`: hookline's benchmarks on a stack of their own. They report, they never
# pass or fail on speed: every figure is a ratio against a baseline measured in the same
# run, printed with the command that produced it. Results: build/bench/results.md (the
# raw wrk outputs and JSON next to it). All traffic goes to 127.0.0.1.
#
#   1. ingress, durable accept: signed GitHub App webhooks (wrk, keep-alive) vs the
#      ingress's admin GET /healthz (same libmicrohttpd, no lookup/verify/Kafka)
#   2. the same webhook load with Connection: close vs keep-alive
#   1w. the same with BENCH_WIDE_CONNS (128) connections, many providers at once, vs the
#      trivial responder with as many: the batches fill and the ingress is CPU-bound
#   3. end to end: N signed webhooks sent (bench/send.py), time until the receiver has
#      them all, vs the receiver's own capacity (wrk straight at it) and the sender's
#   3b. the forwarder alone: N webhooks wait in Kafka, then the forwarder starts; its
#      delivery rate vs the receiver's capacity to wrk with as many connections as the
#      forwarder may use per destination (HOOKLINE_FORWARDER_MAX_PER_DESTINATION, 16)
#   3c. the same against an app that answers BENCH_SLOW_MS (200) late: the forwarder's
#      rate vs what that app serves to wrk with the same number of connections
#   3d. end-to-end latency (the sender's due time to the app's receipt) p50/p99/p99.9 at
#      25%, 50% and 90% of the rate measured in 3, offered open-loop (bench/openloop.py)
#   4. idle RSS, peak RSS (VmHWM) and CPU time of each process (the broker's share too)
#   5. profiles (BENCH_PROFILE=1, the default when perf is there): perf samples of the
#      ingress, router, forwarder and broker during an end-to-end load, drawn as flame
#      graphs (bench/flamegraph.py) in build/bench/profile-*.svg, top functions in *.top.txt;
#      after 3c, before 1 and 2
# 3 runs first, on empty topics, after a warm-up of BENCH_WARMUP_N webhooks (the broker's
# JIT compiler is still busy after a few thousand). 1 and 2 run with the router, the
# forwarder and the API (its webhook log) stopped
# (the backlog they write is not delivered meanwhile: ingress and Kafka alone), in
# BENCH_ROUNDS interleaved rounds next to the trivial responder (bench/responder.c: the
# same libmicrohttpd thread model, reads the body, answers 200) and /healthz; each
# round's ratio is of its own pair, the median is reported.
#
# Settings: BENCH_THREADS (2) BENCH_CONNS (32) BENCH_DURATION (10s) BENCH_N (10000)
# BENCH_WARMUP_N (30000) BENCH_WIDE_CONNS (128)
# BENCH_ROUNDS (3) BENCH_SLOW_MS (200; 0 skips 3c) BENCH_SLOW_N (800) BENCH_LAT_SECONDS (10)
# BENCH_PROFILE (1 when perf is installed) BENCH_PROFILE_N (20000), HOOKLINE_PORT_OFFSET
# (50: between the offsets 0, 100, ... 900 that test stacks use, so a bench runs next to
# them). Every load is bounded: wrk by -d and `timeout`, send.py by its count and its
# deadlines, openloop.py by its rate and seconds, perf by the load it samples.
set -eu

ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=$ROOT/bench
OUT=$ROOT/build/bench
export HOOKLINE_STACK_DIR="$ROOT/.stack-bench" HOOKLINE_BIN_DIR="$ROOT/build/release/bin"
export HOOKLINE_PORT_OFFSET="${HOOKLINE_PORT_OFFSET:-50}"
STACK=$ROOT/deploy/local/stack.sh
HL=$HOOKLINE_BIN_DIR/hookline
T=${BENCH_THREADS:-2} C=${BENCH_CONNS:-32} D=${BENCH_DURATION:-10s} N=${BENCH_N:-10000}
WIDE=${BENCH_WIDE_CONNS:-128} WARMUP_N=${BENCH_WARMUP_N:-30000}
ROUNDS=${BENCH_ROUNDS:-3} SLOW_MS=${BENCH_SLOW_MS:-200} SLOW_N=${BENCH_SLOW_N:-800}
LAT_S=${BENCH_LAT_SECONDS:-10} PROFILE_N=${BENCH_PROFILE_N:-20000}
if command -v perf >/dev/null 2>&1; then PROFILE=${BENCH_PROFILE:-1}; else PROFILE=${BENCH_PROFILE:-0}; fi
# The forwarder's requests in flight per destination: the fair baseline's connection count.
PER_DEST=${HOOKLINE_FORWARDER_MAX_PER_DESTINATION:-16}
export HOOKLINE_FORWARDER_MAX_PER_DESTINATION=$PER_DEST
RECEIVER_PORT=$((8490 + HOOKLINE_PORT_OFFSET)) SLOW_PORT=$((8491 + HOOKLINE_PORT_OFFSET))
RESPONDER_PORT=$((8492 + HOOKLINE_PORT_OFFSET))
RECEIVER=http://127.0.0.1:$RECEIVER_PORT SLOW=http://127.0.0.1:$SLOW_PORT RESPONDER=http://127.0.0.1:$RESPONDER_PORT

say() { printf 'bench: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }
command -v wrk >/dev/null || die "wrk not found (Debian: apt-get install wrk)"
[ -x "$HL" ] || die "$HL not built (make all)"
RESPONDER_BIN=$ROOT/build/bench-tools/responder
mkdir -p "$(dirname "$RESPONDER_BIN")"
cc -O2 -Wall -Wextra -o "$RESPONDER_BIN" "$B/responder.c" $(pkg-config --cflags --libs libmicrohttpd) ||
    die "cannot build bench/responder.c"

RECEIVER_PID= RECEIVER_PIDS=
cleanup() {
    trap - EXIT INT TERM
    set +e
    for pid in $RECEIVER_PIDS; do kill "$pid" 2>/dev/null; done
    for f in "$HOOKLINE_STACK_DIR"/*.log; do # the daemons' last words, kept past the purge
        [ ! -f "$f" ] || tail -n 500 "$f" >"$OUT/stack-$(basename "$f")"
    done
    sh "$STACK" down --purge
}
trap cleanup EXIT
trap 'exit 130' INT TERM

rm -rf "$OUT" && mkdir -p "$OUT"
: >"$OUT/commands.txt"

# quote ARGS...: the arguments as a shell would need them typed.
quote() {
    for a; do
        case $a in '' | *[!A-Za-z0-9_./:=,@%+-]*) printf "'%s' " "$a" ;; *) printf '%s ' "$a" ;; esac
    done
}
# run LABEL CMD...: prints and records the command, runs it, keeps its output.
run() {
    label=$1
    shift
    printf '%s: %s\n' "$label" "$(quote "$@")" | tee -a "$OUT/commands.txt" >&2
    "$@" >"$OUT/$label.txt" 2>&1 || { cat "$OUT/$label.txt" >&2; die "$label failed"; }
}
# bench_wrk LABEL BODY HEADERS WRK_ARGS...: one bounded wrk run with bench/wrk.lua
# (BODY, HEADERS: files, or "" for a GET).
bench_wrk() {
    label=$1 body=$2 headers=$3
    shift 3
    run "$label" env BENCH_BODY="$body" BENCH_HEADERS="$headers" \
        timeout 120 wrk --timeout 5s --latency -s "$B/wrk.lua" "$@"
    sed -n 's/^BENCH_JSON //p' "$OUT/$label.txt" >"$OUT/$label.json"
}
# stack ARGS...: stack.sh, recorded with the other commands.
stack() {
    echo "stack: sh $STACK $*" >>"$OUT/commands.txt"
    sh "$STACK" "$@"
}
pid_of() { cat "$HOOKLINE_STACK_DIR/$1.pid" 2>/dev/null || true; }
# The stack's PostgreSQL server process (its backends are its children).
postgres_pid() { head -n 1 "$(cat "$HOOKLINE_STACK_DIR/pg.path" 2>/dev/null)/data/postmaster.pid" 2>/dev/null || true; }
ticks_of() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{print $12 + $13}'; }
# snapshot TAG: time, CPU ticks (utime+stime), VmHWM and VmRSS (kB) of each process, to
# procs.txt. postgres: the server and its backends together (ticks summed; the memory is
# the server process's own), since the webhook log, the duplicate claims and the attempt
# log all cost CPU there.
snapshot() {
    now=$(date +%s.%N)
    for name in ingress router forwarder syncer api kafka postgres receiver; do
        case $name in receiver) pid=$RECEIVER_PID ;; postgres) pid=$(postgres_pid) ;; *) pid=$(pid_of "$name") ;; esac
        [ -n "$pid" ] && [ -r "/proc/$pid/stat" ] || continue
        ticks=$(ticks_of "$pid")
        if [ "$name" = postgres ]; then
            for child in $(ps -o pid= --ppid "$pid"); do ticks=$((ticks + $(ticks_of "$child" || echo 0))); done
        fi
        hwm=$(awk '/^VmHWM/ {print $2}' "/proc/$pid/status")
        rss=$(awk '/^VmRSS/ {print $2}' "/proc/$pid/status")
        echo "$1 $now $name $pid $ticks $hwm $rss" >>"$OUT/procs.txt"
    done
}
# profile LOAD...: runs LOAD while perf samples the ingress, router, forwarder and broker
# (cpu-clock, 199 Hz, DWARF call chains), then draws each one's flame graph.
profile() {
    echo "profile: perf record -e cpu-clock -F 199 --call-graph dwarf,8192 -p PID (ingress router forwarder kafka) during: $(quote "$@")" >>"$OUT/commands.txt"
    perf_pids=
    for name in ingress router forwarder kafka; do
        pid=$(pid_of "$name")
        [ -n "$pid" ] || continue
        perf record -q -e cpu-clock -F 199 --call-graph dwarf,8192 -p "$pid" -o "$OUT/profile-$name.data" \
            >"$OUT/profile-$name.log" 2>&1 &
        perf_pids="$perf_pids $!"
    done
    sleep 1
    "$@" >"$OUT/profile-load.txt" 2>&1 || say "profile load failed: $(tail -n 3 "$OUT/profile-load.txt")"
    for pid in $perf_pids; do kill -INT "$pid" 2>/dev/null || true; done
    for pid in $perf_pids; do wait "$pid" || true; done
    # The broker's JIT-compiled methods get names from the map the JVM writes on request.
    command -v jcmd >/dev/null 2>&1 && jcmd "$(pid_of kafka)" Compiler.perfmap >/dev/null 2>&1 || true
    for name in ingress router forwarder kafka; do
        [ -s "$OUT/profile-$name.data" ] || continue
        perf script --no-inline -i "$OUT/profile-$name.data" 2>/dev/null |
            python3 "$B/flamegraph.py" --title "hookline-$name during $(quote "$@" | sed "s|$ROOT/||g" | cut -c1-60)..." \
                --svg "$OUT/profile-$name.svg" --top "$OUT/profile-$name.top.txt"
        rm -f "$OUT/profile-$name.data"
    done
    rm -f "/tmp/perf-$(pid_of kafka).map"
}

# ---- stack, receiver, tenant ------------------------------------------------------------
say "starting the bench stack in $HOOKLINE_STACK_DIR (port offset $HOOKLINE_PORT_OFFSET)"
sh "$STACK" down --purge >/dev/null 2>&1 || true # leftovers of an interrupted run
echo "# HOOKLINE_STACK_DIR=$HOOKLINE_STACK_DIR HOOKLINE_PORT_OFFSET=$HOOKLINE_PORT_OFFSET \
HOOKLINE_BIN_DIR=$HOOKLINE_BIN_DIR" >>"$OUT/commands.txt"
stack up
. "$HOOKLINE_STACK_DIR/env.sh"
INGRESS_ADMIN=http://127.0.0.1:$HOOKLINE_STACK_INGRESS_ADMIN_PORT

# start_receiver PORT [ARGS]: bench/receiver.py in the background, once it answers.
start_receiver() {
    echo "setup: python3 $B/receiver.py --port $*" >>"$OUT/commands.txt"
    python3 "$B/receiver.py" --port "$@" >"$OUT/receiver-$1.log" 2>&1 &
    RECEIVER_PIDS="$RECEIVER_PIDS $!"
    i=0
    until curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$1/stats" 2>/dev/null; do
        [ "$i" -lt 50 ] || die "receiver did not start: $(cat "$OUT/receiver-$1.log")"
        sleep 0.1
        i=$((i + 1))
    done
}
# tenant NAME URL: an environment forwarding to URL, a github-app integration `github`
# signed with $SECRET and a connection for installation 42; prints the webhook URL.
tenant() {
    env_id=$("$HL" env create --name "$1" --webhook-url "$2" --json | json_get id)
    "$HL" integration create --env "$env_id" --key github --provider github-app --secret "$SECRET" --json >/dev/null
    "$HL" connection create --env "$env_id" --integration github --id bench-customer \
        --config '{"installation_id":"42"}' --json >/dev/null
    cat >>"$OUT/commands.txt" <<EOF
setup: $HL env create --name $1 --webhook-url $2 --json   # -> $env_id
setup: $HL integration create --env $env_id --key github --provider github-app --secret $SECRET --json
setup: $HL connection create --env $env_id --integration github --id bench-customer --config '{"installation_id":"42"}' --json
EOF
    echo "$HOOKLINE_PUBLIC_URL/webhook/$env_id/github"
}
json_get() { python3 -c 'import json, sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"; }

start_receiver "$RECEIVER_PORT"
RECEIVER_PID=${RECEIVER_PIDS# }
echo "setup: $RESPONDER_BIN $RESPONDER_PORT ${HOOKLINE_INGRESS_THREADS:-2}" >>"$OUT/commands.txt"
"$RESPONDER_BIN" "$RESPONDER_PORT" "${HOOKLINE_INGRESS_THREADS:-2}" >"$OUT/responder.log" 2>&1 &
RECEIVER_PIDS="$RECEIVER_PIDS $!"
SECRET=bench-secret-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
WEBHOOK=$(tenant bench "$RECEIVER/hook")

# A ~1 KB GitHub push for installation 42, and its headers (signed by `hookline sign`).
python3 -c 'import json
commits = [{"id": "%040x" % i, "message": "Update README (%d)" % i,
            "author": {"name": "Monalisa Octocat", "email": "octocat@github.com"}} for i in range(4)]
print(json.dumps({"ref": "refs/heads/main", "before": "0" * 40, "after": "%040x" % 3,
                  "repository": {"id": 1296269, "full_name": "octocat/Hello-World", "private": False},
                  "pusher": {"name": "octocat", "email": "octocat@github.com"},
                  "sender": {"login": "octocat", "id": 1}, "installation": {"id": 42},
                  "commits": commits}, separators=(",", ":")))' >"$OUT/body.json"
{
    echo "X-GitHub-Event: push"
    echo "X-GitHub-Delivery: 72d3162e-cc78-11e3-81ab-4c9367dc0958"
    "$HL" sign --provider github-app --secret "$SECRET" <"$OUT/body.json"
} >"$OUT/headers.txt"
echo "setup: X-GitHub-Event/X-GitHub-Delivery + $HL sign --provider github-app --secret $SECRET <$OUT/body.json >$OUT/headers.txt" >>"$OUT/commands.txt"
say "body $(wc -c <"$OUT/body.json") bytes, webhook URL $WEBHOOK"

sleep 2 # the daemons settle after their start and the tenant's first lookups
snapshot idle

# Smoke test, then a warm-up (the broker's JIT, the caches): N webhooks end to end, not measured.
run smoke timeout 60 python3 "$B/send.py" --url "$WEBHOOK" --body "$OUT/body.json" \
    --headers "$OUT/headers.txt" --receiver "$RECEIVER" -n 1 -c 1 --deliver-timeout 30
grep -q '"complete": true' "$OUT/smoke.txt" ||
    die "the first webhook did not make it through: $(cat "$OUT/smoke.txt"); logs in $HOOKLINE_STACK_DIR"
run warmup timeout 600 python3 "$B/send.py" --url "$WEBHOOK" --body "$OUT/body.json" \
    --headers "$OUT/headers.txt" --receiver "$RECEIVER" -n "$WARMUP_N" -c "$C"

# ---- 3. end to end (first: nothing undelivered waits in the topics) ---------------------
bench_wrk receiver "$OUT/body.json" "" -t"$T" -c"$C" -d"$D" "$RECEIVER/wrk"
bench_wrk receiver_c1 "$OUT/body.json" "" -t1 -c1 -d"$D" "$RECEIVER/wrk"
bench_wrk receiver_cdest "$OUT/body.json" "" -t"$T" -c"$PER_DEST" -d"$D" "$RECEIVER/wrk"
run sender timeout 120 python3 "$B/send.py" --url "$RECEIVER/wrk" --body "$OUT/body.json" \
    --headers "$OUT/headers.txt" --receiver "$RECEIVER" -n "$N" -c "$C" --deliver-timeout 0
snapshot pipeline_start
run pipeline timeout 600 python3 "$B/send.py" --url "$WEBHOOK" --body "$OUT/body.json" \
    --headers "$OUT/headers.txt" --receiver "$RECEIVER" -n "$N" -c "$C"
snapshot pipeline_end

# ---- 3d. end-to-end latency, open loop at fractions of the rate measured in 3 -------------
MAX_RATE=$(python3 -c 'import json, sys; print(json.loads(open(sys.argv[1]).read().strip().splitlines()[-1])["delivered_per_s"])' "$OUT/pipeline.txt")
for pct in 25 50 90; do
    rate=$(python3 -c "print(round($MAX_RATE * $pct / 100, 1))")
    curl -fsS -o /dev/null "$RECEIVER/reset"
    run "latency.$pct" timeout 300 python3 "$B/openloop.py" --url "$WEBHOOK" --body "$OUT/body.json" \
        --headers "$OUT/headers.txt" --receiver "$RECEIVER" --rate "$rate" --seconds "$LAT_S" -c 100
done

# ---- 3b. the forwarder alone: N webhooks wait in Kafka, then it starts -------------------
stack stop forwarder
run backlog timeout 600 python3 "$B/send.py" --url "$WEBHOOK" --body "$OUT/body.json" \
    --headers "$OUT/headers.txt" --receiver "$RECEIVER" -n "$N" -c "$C" --deliver-timeout 0
curl -fsS -o /dev/null "$RECEIVER/reset"
stack start forwarder
snapshot drain_start
run drain timeout 600 python3 "$B/send.py" --drain --receiver "$RECEIVER" -n "$N"
snapshot drain_end
curl -fsS "http://127.0.0.1:$HOOKLINE_STACK_FORWARDER_ADMIN_PORT/metrics" >"$OUT/forwarder.metrics"

# ---- 3c. the forwarder alone against a slower app (each answer SLOW_MS late) ---------------
if [ "$SLOW_MS" != 0 ]; then
    start_receiver "$SLOW_PORT" --delay-ms "$SLOW_MS"
    SLOW_WEBHOOK=$(tenant bench-slow "$SLOW/hook")
    bench_wrk slow_c1 "$OUT/body.json" "" -t1 -c1 -d5s "$SLOW/wrk"
    bench_wrk slow "$OUT/body.json" "" -t"$T" -c"$PER_DEST" -d5s "$SLOW/wrk"
    stack stop forwarder
    run slow_backlog timeout 600 python3 "$B/send.py" --url "$SLOW_WEBHOOK" --body "$OUT/body.json" \
        --headers "$OUT/headers.txt" --receiver "$SLOW" -n "$SLOW_N" -c "$C" --deliver-timeout 0
    curl -fsS -o /dev/null "$SLOW/reset"
    stack start forwarder
    run slow_drain timeout 600 python3 "$B/send.py" --drain --receiver "$SLOW" -n "$SLOW_N"
fi
# ---- 5. profiles (perf's own cost touches no figure: the loads measured ran before or after) --
if [ "$PROFILE" = 1 ]; then
    curl -fsS -o /dev/null "$RECEIVER/reset"
    profile timeout 600 python3 "$B/send.py" --url "$WEBHOOK" --body "$OUT/body.json" \
        --headers "$OUT/headers.txt" --receiver "$RECEIVER" -n "$PROFILE_N" -c "$C" --deliver-timeout 120
fi
curl -fsS "http://127.0.0.1:$HOOKLINE_STACK_ROUTER_ADMIN_PORT/metrics" >"$OUT/router.metrics"
stack stop router
stack stop forwarder
# The API's webhook log reads every raw webhook into PostgreSQL (api/weblog.c): with it
# running, "the ingress alone" would also measure a consumer, its fetches and the
# database on the same cores. Its cost is in the end-to-end columns (api, postgres).
stack stop api

# ---- 1 and 2. ingress, in interleaved rounds (a noisy machine drifts) ----------------------
bench_wrk warmup_webhook "$OUT/body.json" "$OUT/headers.txt" -t"$T" -c"$C" -d5s "$WEBHOOK"
r=1
while [ "$r" -le "$ROUNDS" ]; do
    bench_wrk "responder.$r" "$OUT/body.json" "$OUT/headers.txt" -t"$T" -c"$C" -d"$D" "$RESPONDER/webhook"
    bench_wrk "healthz.$r" "" "" -t"$T" -c"$C" -d"$D" "$INGRESS_ADMIN/healthz"
    snapshot "webhook_start.$r"
    bench_wrk "webhook.$r" "$OUT/body.json" "$OUT/headers.txt" -t"$T" -c"$C" -d"$D" "$WEBHOOK"
    snapshot "webhook_end.$r"
    bench_wrk "webhook_close.$r" "$OUT/body.json" "$OUT/headers.txt" -t"$T" -c"$C" -d"$D" \
        -H "Connection: close" "$WEBHOOK"
    # 1w: many providers at once (WIDE connections): batches fill, the ingress is CPU-bound.
    bench_wrk "responder_wide.$r" "$OUT/body.json" "$OUT/headers.txt" -t"$T" -c"$WIDE" -d"$D" "$RESPONDER/webhook"
    snapshot "wide_start.$r"
    bench_wrk "webhook_wide.$r" "$OUT/body.json" "$OUT/headers.txt" -t"$T" -c"$WIDE" -d"$D" "$WEBHOOK"
    snapshot "wide_end.$r"
    r=$((r + 1))
done
snapshot end
curl -fsS "$INGRESS_ADMIN/metrics" >"$OUT/ingress.metrics"


BENCH_SLOW_MS=$SLOW_MS BENCH_PER_DEST=$PER_DEST BENCH_WIDE_CONNS=$WIDE python3 "$B/report.py" "$OUT" | tee "$OUT/results.md"
say "results in $OUT/results.md"
