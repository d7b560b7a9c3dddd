#!/bin/sh
# `make run`: the local stack with a ready-made demo tenant and a receiver, so one curl
# shows a GitHub webhook go ingress -> Kafka -> router -> forwarder -> your app.
#
# Creates (or reuses) environment `demo` (forwarding to the receiver on port 8490),
# integration `github-demo` (github-app, random secret kept in $STACK_DIR/demo/secret)
# and connection `demo-customer` (installation 4242); prints a signed curl command;
# then follows the daemon logs and the receiver. Ctrl-C stops everything.
set -eu

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
STACK=$ROOT/deploy/local/stack.sh

say() { printf 'demo: %s\n' "$*" >&2; }
die() { say "$*"; exit 1; }

RECEIVER_PID=
TAIL_PID=
CLEANED=
cleanup() {
    [ -z "$CLEANED" ] || return 0
    CLEANED=1
    set +e
    trap - INT TERM EXIT
    # Background jobs of a non-interactive shell ignore Ctrl-C's SIGINT: stop them here.
    for pid in $TAIL_PID $RECEIVER_PID; do kill "$pid" 2>/dev/null; done
    # With `make run | tee ...`, Ctrl-C has killed the reader of our output: writes would
    # fail (or kill us) before the stack is down, so carry on silently then.
    trap '' PIPE
    printf 'demo: stopping the stack\n' >&2 || exec >/dev/null 2>&1
    sh "$STACK" down
}
trap cleanup EXIT
trap 'cleanup; exit 130' INT TERM

sh "$STACK" up
eval "$(sh "$STACK" env)"
HL=$HOOKLINE_BIN_DIR/hookline
DEMO=$HOOKLINE_STACK_DIR/demo
mkdir -p "$DEMO"
RECEIVER_PORT=$((8490 + HOOKLINE_PORT_OFFSET))
RECEIVER_URL=http://127.0.0.1:$RECEIVER_PORT/webhooks

# json_get FIELD: FIELD of the JSON object on stdin ("" when absent or null).
json_get() {
    python3 -c 'import json, sys
v = json.load(sys.stdin).get(sys.argv[1])
print("" if v is None else v)' "$1"
}
# json_pick FIELD VALUE: the first object of the JSON array on stdin whose FIELD is VALUE.
json_pick() {
    python3 -c 'import json, sys
print(next((json.dumps(o) for o in json.load(sys.stdin) if o.get(sys.argv[1]) == sys.argv[2]), ""))' "$1" "$2"
}
# json_has VALUE: true when an object of the JSON array on stdin has VALUE in any field.
json_has() {
    python3 -c 'import json, sys
sys.exit(not any(sys.argv[1] in o.values() for o in json.load(sys.stdin)))' "$1"
}

# ---- environment `demo` ----------------------------------------------------------------
env_json=$("$HL" env list --json | json_pick name demo)
if [ -z "$env_json" ]; then
    env_json=$("$HL" env create --name demo --webhook-url "$RECEIVER_URL" --json)
    (umask 077 && printf '%s\n' "$env_json" | json_get signing_key >"$DEMO/signing_key")
    say "created environment demo"
fi
ENV_ID=$(printf '%s\n' "$env_json" | json_get id)
# `env list` does not show the signing key: use the one kept at creation, or have the
# CLI decrypt it (the stack's HOOKLINE_ENCRYPTION_KEY came with `stack.sh env`).
if [ ! -s "$DEMO/signing_key" ]; then
    (umask 077 && "$HL" env show --env "$ENV_ID" --show-secrets --json | json_get signing_key >"$DEMO/signing_key")
fi
SIGNING_KEY=$(cat "$DEMO/signing_key")

# ---- integration `github-demo` --------------------------------------------------------
if "$HL" integration list --env "$ENV_ID" --json | json_has github-demo; then
    [ -s "$DEMO/secret" ] || die "integration github-demo exists but $DEMO/secret is gone: \
run 'sh deploy/local/stack.sh down --purge' for a fresh demo"
else
    [ -s "$DEMO/secret" ] || (umask 077 && python3 -c 'import secrets; print(secrets.token_hex(20))' >"$DEMO/secret")
    "$HL" integration create --env "$ENV_ID" --key github-demo --provider github-app \
        --secret "$(cat "$DEMO/secret")" --json >/dev/null
    say "created integration github-demo"
fi
SECRET=$(cat "$DEMO/secret")
WEBHOOK_URL=$HOOKLINE_PUBLIC_URL/webhook/$ENV_ID/github-demo

# ---- connection `demo-customer` --------------------------------------------------------
if ! "$HL" connection list --env "$ENV_ID" --json | json_has demo-customer; then
    "$HL" connection create --env "$ENV_ID" --integration github-demo --id demo-customer \
        --config '{"installation_id": "4242"}' --json >/dev/null
    say "created connection demo-customer"
fi

# ---- receiver (stands in for the company's app) ------------------------------------------
if python3 -c 'import socket, sys; sys.exit(socket.socket().connect_ex(("127.0.0.1", int(sys.argv[1]))) != 0)' \
    "$RECEIVER_PORT"; then
    die "port $RECEIVER_PORT (demo receiver) is taken; set HOOKLINE_PORT_OFFSET to move the whole stack"
fi
python3 -u "$ROOT/tests/tools/receiver.py" --port "$RECEIVER_PORT" --signing-key "$SIGNING_KEY" \
    --record "$DEMO/received.jsonl" </dev/null &
RECEIVER_PID=$!

# ---- a sample GitHub push and its signed curl ----------------------------------------------
cat >"$DEMO/body.json" <<'EOF'
{"ref": "refs/heads/main", "before": "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
 "after": "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5",
 "repository": {"id": 1296269, "full_name": "octocat/Hello-World", "private": false},
 "pusher": {"name": "octocat", "email": "octocat@github.com"},
 "sender": {"login": "octocat", "id": 1},
 "installation": {"id": 4242},
 "commits": [{"id": "59b20b8d5c6ff8d09518454d4dd8b7b30f095ab5", "message": "Update README",
              "author": {"name": "Monalisa Octocat", "email": "octocat@github.com"}}]}
EOF
CURL=$("$HL" sign --provider github-app --secret "$SECRET" --curl "$WEBHOOK_URL" <"$DEMO/body.json") ||
    CURL="  ('hookline sign' failed: see the error above)"

cat <<EOF

==============================================================================
 hookline demo is running (state in $HOOKLINE_STACK_DIR)
   ingress      $HOOKLINE_PUBLIC_URL   (admin :$HOOKLINE_STACK_INGRESS_ADMIN_PORT)
   router       admin :$HOOKLINE_STACK_ROUTER_ADMIN_PORT      forwarder  admin :$HOOKLINE_STACK_FORWARDER_ADMIN_PORT
   Kafka        $HOOKLINE_KAFKA_BROKERS    PostgreSQL  $HOOKLINE_DATABASE_URL
   receiver     $RECEIVER_URL  (the demo app; records to $DEMO/received.jsonl)
   API+console  $HOOKLINE_API_URL/   (sign in with a key from:
                $HL api-key create --env $ENV_ID --scope write)

 GitHub webhook URL of integration github-demo (connection demo-customer = installation 4242):
   $WEBHOOK_URL

 Send it a signed push (paste into another terminal):

$CURL

 Client settings for the CLI:  . $HOOKLINE_STACK_DIR/env.sh
 Ctrl-C stops everything.
==============================================================================

EOF

tail -n 0 -F "$HOOKLINE_STACK_DIR/ingress.log" "$HOOKLINE_STACK_DIR/router.log" \
    "$HOOKLINE_STACK_DIR/forwarder.log" &
TAIL_PID=$!
# Returns when the receiver dies or a signal's trap runs.
wait "$RECEIVER_PID" || true
say "the receiver exited"
