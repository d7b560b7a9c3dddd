"""What the customer's app receives: the Nango-compatible envelope, byte for byte, signed."""
import json
import random
import time
from urllib.parse import urlsplit

import pytest

from hlsupport import (TIMEOUT, App, Receiver, assert_bytes, github_body, hubspot_event,
                       nango_signature, uid, verify_standard)


def assert_signed(d, env):
    """The delivery carries the headers every delivery must carry, with valid signatures
    for the environment's signing key, checked both as the plain key and as whsec_."""
    assert d.method == "POST"
    assert d.header("Content-Type", "").split(";")[0].strip() == "application/json", d.headers
    assert d.header("X-Nango-Hmac-Sha256") == nango_signature(env["signing_key"], d.body), \
        "X-Nango-Hmac-Sha256 is not hex HMAC-SHA256(signing_key, body)"
    msg_id, ts, sig = (d.header(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature"))
    assert msg_id, "no webhook-id header"
    assert ts and ts.isdigit() and abs(int(ts) - time.time()) < 300, \
        f"webhook-timestamp {ts!r} is not the current time in unix seconds"
    assert verify_standard(env["signing_key"], msg_id, ts, sig, d.body), \
        f"webhook-signature {sig!r} does not verify with the signing key"
    assert verify_standard(env["signing_key_whsec"], msg_id, ts, sig, d.body), \
        f"webhook-signature {sig!r} does not verify with signing_key_whsec (Standard Webhooks libraries)"
    assert d.header("X-Hookline-Verified") == "true"
    assert d.header("X-Hookline-Webhook-Id"), "no X-Hookline-Webhook-Id header"


def by_connection(deliveries):
    out = {}
    for d in deliveries:
        try:
            out[json.loads(d.body)["connectionId"]] = d
        except (ValueError, KeyError, TypeError) as e:
            raise AssertionError(f"a delivery is not an envelope ({e!r}): {d.body[:300]!r}")
    return out


@pytest.mark.parametrize("stored_as", [str, int], ids=["installation_id-string", "installation_id-number"])
def test_github_webhook_is_delivered_exactly(github, stored_as):
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": stored_as(inst + 1)})   # a neighbour that must not match
    conn = github.connect({"installation_id": stored_as(inst)})
    body = github_body(inst)
    headers = {**github.sign(body, event="installation_repositories"),
               "Authorization": "Bearer never-forwarded", "Cookie": "session=never-forwarded"}
    github.send(body, headers)

    d = github.wait_payload(body)[0]
    assert_bytes(d.body, github.expected(conn, body))
    assert_signed(d, github.env)
    assert d.path == urlsplit(github.env["webhook_url"]).path
    assert d.header("X-GitHub-Event") == "installation_repositories"
    assert d.header("X-GitHub-Delivery") == headers["X-GitHub-Delivery"]
    leaked = {"authorization", "cookie"} & set(d.headers)
    assert not leaked, f"credential headers forwarded to the app: {leaked}"


def test_unmatched_github_webhook_is_delivered_with_null_connection(github):
    inst = random.randint(10**6, 10**9)
    github.connect({"installation_id": str(inst)})
    body = github_body(inst + 7)
    github.send(body)

    d = github.wait_payload(body)[0]
    assert_bytes(d.body, github.expected(None, body))
    assert_signed(d, github.env)


def test_hubspot_batch_fans_out_one_delivery_per_portal(hubspot):
    a = random.randint(10**6, 10**8)
    b = a + 1
    conn_a = hubspot.connect({"portalId": str(a)})
    conn_b = hubspot.connect({"portalId": b})
    e1, e2, e3 = hubspot_event(a, 1), hubspot_event(b, 2), hubspot_event(a, 3)
    hubspot.send(b"[" + b",".join([e1, e2, e3]) + b"]")

    want = {conn_a: b"[" + e1 + b"," + e3 + b"]", conn_b: b"[" + e2 + b"]"}
    got = hubspot.receiver.wait_for(lambda rs: len(by_connection(hubspot.mine(rs))) >= 2
                                    and by_connection(hubspot.mine(rs)),
                                    TIMEOUT, f"deliveries for connections {sorted(want)}")
    assert set(got) == set(want), f"deliveries went to connections {list(got)}, expected {list(want)}"
    for conn, payload in want.items():
        assert_bytes(got[conn].body, hubspot.expected(conn, payload))
        assert_signed(got[conn], hubspot.env)
    assert got[conn_a].header("webhook-id") != got[conn_b].header("webhook-id"), \
        "the two connections' deliveries share a webhook-id"
    assert got[conn_a].header("X-Hookline-Webhook-Id") == got[conn_b].header("X-Hookline-Webhook-Id"), \
        "one inbound webhook should keep one X-Hookline-Webhook-Id across its deliveries"


def test_hubspot_batch_of_one_portal_is_delivered_as_the_raw_body(hubspot):
    portal = random.randint(10**6, 10**8)
    conn = hubspot.connect({"portalId": str(portal)})
    body = b"[\n  " + hubspot_event(portal, 1) + b" ,\n  " + hubspot_event(portal, 2) + b"\n]"
    hubspot.send(body)

    d = hubspot.wait_payload(body)[0]
    assert_bytes(d.body, hubspot.expected(conn, body))
    assert_signed(d, hubspot.env)


def test_secondary_url_gets_the_same_delivery(cli, stack, receiver):
    second, second_path = Receiver().start(), f"/secondary/{uid()}"
    try:
        app = App(cli, stack, receiver, "github-app", secondary_url=second.url + second_path)
        assert app.env["secondary_webhook_url"] == second.url + second_path
        inst = random.randint(10**6, 10**9)
        conn = app.connect({"installation_id": inst})
        body = github_body(inst)
        app.send(body)

        for r, path in ((receiver, app.path), (second, second_path)):
            d = app.wait_payload(body, receiver=r, path=path)[0]
            assert_bytes(d.body, app.expected(conn, body))
            assert_signed(d, app.env)
    finally:
        second.stop()
