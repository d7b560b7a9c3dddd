#!/bin/sh
# docker compose's `demo` service: what `make run` (deploy/local/demo.sh) sets up, inside
# the compose network: environment `demo` forwarding to the demo-receiver service,
# integration `github-demo` (github-app) and connection `demo-customer` (installation
# 4242); the signing key goes to the receiver (shared /demo volume) so it checks every
# delivery's signature; then a signed curl for the published ingress port is printed
# (`docker compose logs demo`). Runs again harmlessly: what exists is reused.
set -eu
DEMO=/demo
RECEIVER_URL=http://demo-receiver:8490/webhooks
# The first value of "field": "value" in the JSON on stdin (the CLI's --json output).
field() { sed -n "s/^ *\"$1\": \"\\([^\"]*\\)\".*/\\1/p" | head -n 1; }

if [ ! -s "$DEMO/env_id" ]; then
    out=$(hookline env create --name demo --webhook-url "$RECEIVER_URL" --json)
    printf '%s\n' "$out" | field id >"$DEMO/env_id"
    (umask 077 && printf '%s\n' "$out" | field signing_key >"$DEMO/signing_key.tmp")
    mv "$DEMO/signing_key.tmp" "$DEMO/signing_key"
fi
ENV_ID=$(cat "$DEMO/env_id")
if [ ! -s "$DEMO/secret" ]; then
    (umask 077 && head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DEMO/secret")
    hookline integration create --env "$ENV_ID" --key github-demo --provider github-app \
        --secret "$(cat "$DEMO/secret")" >/dev/null
    hookline connection create --env "$ENV_ID" --integration github-demo --id demo-customer \
        --config '{"installation_id": "4242"}' >/dev/null
fi
BODY='{"ref": "refs/heads/main", "repository": {"id": 1296269, "full_name": "octocat/Hello-World"}, "installation": {"id": 4242}}'
echo
echo "hookline demo: environment $ENV_ID, integration github-demo, connection demo-customer"
echo "the demo receiver prints each delivery: docker compose logs -f demo-receiver"
echo "send a signed GitHub webhook:"
echo
printf '%s' "$BODY" | hookline sign --provider github-app --secret "$(cat "$DEMO/secret")" \
    --curl "$HOOKLINE_PUBLIC_URL/webhook/$ENV_ID/github-demo"
