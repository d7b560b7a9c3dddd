#!/bin/sh
# Integration suite: a fresh local stack of the sanitizer build (own stack dir, ports
# +100 so a developer's `make run` stack is untouched), pytest against it, the stack
# torn down, then the daemon logs searched for sanitizer reports.
#
#   sh tests/run-integration.sh [pytest args...]     e.g. -k forwarder -x
# Exits with pytest's status (no tests collected is a failure: a green run must have
# tested something), or 1 if the stack did not come up or a sanitizer reported anything.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT" || exit 1
STACK="$ROOT/deploy/local/stack.sh"

export HOOKLINE_STACK_DIR="$ROOT/.stack-test"
export HOOKLINE_PORT_OFFSET="${HOOKLINE_PORT_OFFSET:-100}" # other worktrees pick another
export HOOKLINE_BIN_DIR="$ROOT/build/asan/bin"
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}"
# Retry passes a second apart, so retries and dead letters happen within a test.
export HOOKLINE_FORWARDER_RETRY_SCHEDULE="${HOOKLINE_FORWARDER_RETRY_SCHEDULE:-1s,1s}"
export HOOKLINE_FORWARDER_CIRCUIT_COOLDOWN_MS="${HOOKLINE_FORWARDER_CIRCUIT_COOLDOWN_MS:-3000}"
# A small per-destination limit, so a test can see it hold (test_concurrency.py).
export HOOKLINE_FORWARDER_MAX_PER_DESTINATION="${HOOKLINE_FORWARDER_MAX_PER_DESTINATION:-4}"
# A small pool, so a slow app's backlog could fill it, and the deferral that stops it.
export HOOKLINE_FORWARDER_MAX_IN_FLIGHT="${HOOKLINE_FORWARDER_MAX_IN_FLIGHT:-40}"
export HOOKLINE_FORWARDER_MAX_QUEUE_WAIT_MS="${HOOKLINE_FORWARDER_MAX_QUEUE_WAIT_MS:-2000}"
# Sync runs retry within a test; a killed syncer's runs come back within seconds.
export HOOKLINE_SYNCER_BACKOFF_MS="${HOOKLINE_SYNCER_BACKOFF_MS:-200}"
export HOOKLINE_SYNCER_BACKOFF_MAX_MS="${HOOKLINE_SYNCER_BACKOFF_MAX_MS:-1000}"
export HOOKLINE_SYNCER_RUN_TIMEOUT_MS="${HOOKLINE_SYNCER_RUN_TIMEOUT_MS:-15000}"
export HOOKLINE_SYNCER_HTTP_TIMEOUT_MS="${HOOKLINE_SYNCER_HTTP_TIMEOUT_MS:-10000}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1}"
# The stack makes its own encryption key (env.sh); a developer's old keys must not leak in.
unset HOOKLINE_ENCRYPTION_KEY HOOKLINE_ENCRYPTION_OLD_KEYS

sh "$STACK" down --purge || exit 1

# A throwaway CA and a certificate for 127.0.0.1 it signed, plus one it did not, for the
# https receivers of test_tls.py; the forwarder trusts that CA only.
TLS=$ROOT/build/test-tls
rm -rf "$TLS" && mkdir -p "$TLS" || exit 1
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$TLS/san.ext"
if ! { openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TLS/ca.key" -out "$TLS/ca.pem" -days 2 \
        -subj /CN=hookline-test-ca &&
    openssl req -newkey rsa:2048 -nodes -keyout "$TLS/server.key" -out "$TLS/server.csr" -subj /CN=localhost &&
    openssl x509 -req -in "$TLS/server.csr" -CA "$TLS/ca.pem" -CAkey "$TLS/ca.key" -CAcreateserial \
        -out "$TLS/server.pem" -days 2 -extfile "$TLS/san.ext" &&
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TLS/untrusted.key" -out "$TLS/untrusted.pem" -days 2 \
        -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1; } >"$TLS/openssl.log" 2>&1; then
    cat "$TLS/openssl.log" >&2
    echo "integration: could not make the test certificates" >&2
    exit 1
fi
export HOOKLINE_FORWARDER_CA_FILE="$TLS/ca.pem" HOOKLINE_TEST_TLS_DIR="$TLS"
# Published keys (test_remote_keys.py): the ingress may fetch them from a loopback key
# server with a certificate of that CA.
export HOOKLINE_REMOTE_KEYS_CA_FILE="$TLS/ca.pem" HOOKLINE_REMOTE_KEYS_ALLOW_CIDRS=127.0.0.1/32 \
    HOOKLINE_REMOTE_KEYS_EXTRA_HOSTS=127.0.0.1
trap 'sh "$STACK" down' EXIT
trap 'exit 130' INT TERM # runs the EXIT trap

if ! sh "$STACK" up; then
    echo "integration: the stack did not come up" >&2
    exit 1
fi
# shellcheck source=/dev/null  # written by stack.sh at run time
. "$HOOKLINE_STACK_DIR/env.sh"
if [ -z "${HOOKLINE_ENCRYPTION_KEY:-}" ]; then
    echo "integration: $HOOKLINE_STACK_DIR/env.sh exports no HOOKLINE_ENCRYPTION_KEY" >&2
    exit 1
fi

python3 -m pytest -ra tests/integration "$@"
rc=$?
[ "$rc" -ne 5 ] || echo "integration: pytest collected no tests" >&2

# Stop the daemons now, not in the trap: leak reports are written when they exit.
trap - EXIT
sh "$STACK" down || rc=1

SAN='ERROR: AddressSanitizer|ERROR: LeakSanitizer|LeakSanitizer has encountered|runtime error:'
found=0
for name in ingress router forwarder syncer api; do
    log=$HOOKLINE_STACK_DIR/$name.log
    grep -q -E "$SAN" "$log" 2>/dev/null || continue
    found=1
    echo "integration: sanitizer report(s) in $log:" >&2
    grep -n -E "$SAN" "$log" >&2
    echo "---- first report in full ----" >&2
    grep -m 1 -A 60 -E "$SAN" "$log" >&2
done
[ "$found" -eq 0 ] || rc=1
exit "$rc"
