"""Nango compatibility suite: a connection stored exactly as Nango stores it receives the
webhooks Nango's routing scripts would route to it, through the real pipeline.

Every case is a data file in tests/compat/<provider>/<case>.json (tests/compat/README.md
says what each field means), transcribed from Nango's public routing scripts and their
tests. Here each case gets its own environment (its app on a fresh path of the
receiver), integration and connections; its request is signed with `hookline sign` when
the provider signs, posted to the ingress, and the app must receive it for exactly the
connections the case names, or once unattributed when it names none.

One difference is deliberate: where the webhook names its connection by a part the
signature does not cover (the URL's ?nangoConnectionId=, a body the provider's plain
token does not sign), hookline attributes it only to a connection whose own secret
verifies it (docs/providers.md, "Per-connection secrets"), since anyone holding one
tenant's captured delivery could otherwise re-post it naming another tenant. Nango
stores no such secret; `hookline import nango` lists those connections, and here they get
the integration's secret as their own, as a migrating user would set it."""
import glob
import json
import os
import time

import pytest

from hlsupport import assert_bytes, envelope, post, uid

ROOT = os.path.join(os.path.dirname(__file__), "..", "compat")
CASES = sorted(glob.glob(os.path.join(ROOT, "*", "*.json")))
TIMEOUT = 60


def case_id(path):
    return os.path.relpath(path, ROOT)[:-len(".json")]


def request_body(case):
    """The request's bytes: compact JSON, raw text, or nothing."""
    if "body" in case:
        body = case["body"]
        field = case.get("fresh_timestamp")  # a body-borne timestamp the signature window checks
        if field:
            body = dict(body, **{field: int(time.time() * 1000)})
        return json.dumps(body, separators=(",", ":")).encode()
    return case.get("body_text", "").encode()


def setup(cli, stack, receiver, case):
    """The case's environment, integration and connections; returns (app path, key, URL)."""
    path = f"/app/{uid()}"
    env = cli.env(receiver.url + path)
    key = f"{case['provider']}-{uid()}"
    secret = case.get("secret")
    secret_flag = "--client-secret" if case.get("secret_kind") == "client" else "--secret"
    cli.json("integration", "create", "--env", env["id"], "--key", key, "--provider", case["provider"],
             *([secret_flag, secret] if secret else []))
    named_unsigned = "nangoConnectionId" in case.get("query", "") or "nangoConnectionId" in case.get("body", {})
    for c in case["connections"]:
        cli.connection(env["id"], key, c["id"], c.get("connection_config", {}), c.get("metadata"),
                       secret if named_unsigned else None)
    url = f"{stack.public_url}/webhook/{env['id']}/{key}"
    return path, key, url + ("?" + case["query"] if case.get("query") else "")


def signed_headers(cli, case, url, body):
    headers = {"Content-Type": "application/json"} if body else {}
    headers.update(case.get("headers", {}))
    if case.get("sign", True):
        headers.update(cli.sign(case["provider"], case["secret"], body, "--url", url))
    return headers


def test_compat_cases_exist():
    """The suite covers the providers whose lookups differ from hookline's own."""
    providers = {os.path.basename(os.path.dirname(p)) for p in CASES}
    for provider in ("zoom", "jira", "google-calendar", "google-drive", "airtable", "gitlab", "unauthenticated"):
        assert provider in providers, f"no Nango compatibility case for {provider}"


@pytest.mark.parametrize("path", CASES, ids=case_id)
def test_nango_routes_to_the_same_connections(path, cli, stack, receiver):
    with open(path) as f:
        case = json.load(f)
    app_path, key, url = setup(cli, stack, receiver, case)
    body = request_body(case)
    r = post(url, body, signed_headers(cli, case, url, body))
    assert r.status_code == 200, f"{case_id(path)}: the ingress answered {r.status_code} {r.text[:300]!r}"

    want = sorted(case["routes_to"]) or [None]
    mine = lambda ds: [d for d in ds if d.path == app_path]  # noqa: E731
    got = receiver.wait_for(lambda ds: len(mine(ds)) >= len(want) and mine(ds), TIMEOUT,
                            f"{len(want)} deliveries for {case_id(path)} (to {want})")
    # One webhook's deliveries are published together (one routed message per
    # connection, all before the raw offset is stored): they are all in by now.
    got = mine(receiver.deliveries())
    routed = sorted((json.loads(d.body)["connectionId"] for d in got), key=lambda c: (c is None, c or ""))
    assert routed == want, f"{case_id(path)}: Nango routes to {want}, hookline routed to {routed}"
    if body:
        for d in got:
            cid = json.loads(d.body)["connectionId"]
            assert_bytes(d.body, envelope(case["provider"], key, cid, body),
                         f"{case_id(path)}: the body delivered for {cid}")
