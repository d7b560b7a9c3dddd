#!/bin/sh
# `make chaos`: the chaos harness (tests/chaos/chaos.py) on a stack of its own: a fresh
# stack dir (.stack-chaos), ports +300 unless HOOKLINE_PORT_OFFSET says otherwise, the
# binaries of HOOKLINE_BIN_DIR (the Makefile passes the release or, with SANITIZE=1, the
# sanitizer build). The stack is torn down after the run; with a sanitizer build the
# daemons' logs are searched for reports. Summary: build/chaos/summary.json; the
# daemons' logs are kept in build/chaos/ too.
#
#   sh tests/chaos/run.sh [chaos.py args...]     e.g. --duration 60 --faults router,forwarder,kafka-kill
# Exits 1 when a webhook answered 200 was not delivered, the stack did not come up or a
# sanitizer reported anything.
set -u

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT" || exit 1
STACK="$ROOT/deploy/local/stack.sh"
OUT=$ROOT/build/chaos

export HOOKLINE_STACK_DIR="$ROOT/.stack-chaos"
export HOOKLINE_PORT_OFFSET="${HOOKLINE_PORT_OFFSET:-300}"
export HOOKLINE_BIN_DIR="${HOOKLINE_BIN_DIR:-$ROOT/build/release/bin}"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
# Passes close together, long enough in all (about a minute) to outlast the app's 500s
# and an open circuit: a webhook dead-lettered here would count as lost.
export HOOKLINE_FORWARDER_RETRY_SCHEDULE="${HOOKLINE_FORWARDER_RETRY_SCHEDULE:-1s,2s,4s,8s,15s,30s}"
export HOOKLINE_FORWARDER_CIRCUIT_COOLDOWN_MS="${HOOKLINE_FORWARDER_CIRCUIT_COOLDOWN_MS:-3000}"
unset HOOKLINE_ENCRYPTION_KEY HOOKLINE_ENCRYPTION_OLD_KEYS

say() { printf 'chaos: %s\n' "$*" >&2; }
[ -x "$HOOKLINE_BIN_DIR/hookline" ] || { say "$HOOKLINE_BIN_DIR/hookline not built (make all)"; exit 1; }

sh "$STACK" down --purge || exit 1
mkdir -p "$OUT" || exit 1
keep_logs() {
    for f in "$HOOKLINE_STACK_DIR"/*.log; do
        [ ! -f "$f" ] || cp "$f" "$OUT/stack-$(basename "$f")"
    done
}
trap 'keep_logs; sh "$STACK" down --purge' EXIT
trap 'exit 130' INT TERM # runs the EXIT trap

sh "$STACK" up || { say "the stack did not come up"; exit 1; }
# shellcheck source=/dev/null  # written by stack.sh at run time
. "$HOOKLINE_STACK_DIR/env.sh"

python3 tests/chaos/chaos.py --json "$OUT/summary.json" "$@"
rc=$?

# Stop the daemons here, not in the trap: leak reports are written when they exit.
trap - EXIT
sh "$STACK" down || rc=1
keep_logs
SAN='ERROR: AddressSanitizer|ERROR: LeakSanitizer|LeakSanitizer has encountered|runtime error:'
for name in ingress router forwarder syncer; do
    log=$HOOKLINE_STACK_DIR/$name.log
    grep -q -E "$SAN" "$log" 2>/dev/null || continue
    say "sanitizer report(s) in $log:"
    grep -m 1 -A 40 -E "$SAN" "$log" >&2
    rc=1
done
sh "$STACK" down --purge >/dev/null 2>&1
exit "$rc"
